#include "emit/Objects.h"

#include <Halide.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

namespace cnnc {

int availableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

namespace {

// One job, its failure said on stderr; false then.
bool runJob(const ObjectJob& job, bool verbose) {
  const auto start = std::chrono::steady_clock::now();
  try {
    job.compile();
  } catch (const Halide::Error& e) {
    fmt::print(stderr, "cnnc: error: compiling {} failed in Halide: {}\n", job.name, e.what());
    return false;
  } catch (const std::exception& e) {
    fmt::print(stderr, "cnnc: error: compiling {} failed: {}\n", job.name, e.what());
    return false;
  }
  if (verbose)
    fmt::print(stderr, "cnnc: compiled {} in {:.2f} s\n", job.name,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return true;
}

// A job in a child process, which leaves with _exit: the parent's
// destructors (its temporary folder) are not the child's to run.
pid_t startJob(const ObjectJob& job, bool verbose) {
  const pid_t pid = fork();
  if (pid == 0) {
    const bool ok = runJob(job, verbose);
    std::fflush(stderr);
    _exit(ok ? 0 : 1);
  }
  return pid;
}

// Whether a finished child compiled its job; says why not.
bool succeeded(int status, const std::string& name) {
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0;  // a failure said its message
  if (WIFSIGNALED(status))
    fmt::print(stderr, "cnnc: error: compiling {} died of signal {} ({})\n", name, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
  return false;
}

}  // namespace

// Each job in a process of its own, forked from this one after lowering:
// Halide numbers the names it makes up (loops, closures, GPU kernels) from
// counters in the process, so a job's code depends only on the state it is
// forked from, not on which jobs ran before it or where. The trainer is
// then the same file whatever `jobs` is, and so are its OpenCL kernels'
// sources (pocl caches compiled kernels by their source).
bool compileObjects(std::vector<ObjectJob> work, int jobs, bool verbose) {
  std::stable_sort(work.begin(), work.end(), [](const ObjectJob& a, const ObjectJob& b) { return a.size > b.size; });
  std::fflush(stdout);
  std::fflush(stderr);
  std::map<pid_t, std::string> running;
  bool ok = true;
  size_t next = 0;
  while (running.size() > 0 || (ok && next < work.size())) {
    if (ok && next < work.size() && running.size() < static_cast<size_t>(std::max(jobs, 1))) {
      const pid_t pid = startJob(work[next], verbose);
      if (pid > 0) {
        running[pid] = work[next++].name;
        continue;
      }
      if (running.empty()) {  // no process at all: this one compiles it
        fmt::print(stderr, "cnnc: warning: cannot start a compiling process ({}); compiling in this one\n",
                   std::strerror(errno));
        ok = runJob(work[next++], verbose);
        continue;
      }
      jobs = static_cast<int>(running.size());  // as many as there are
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      fmt::print(stderr, "cnnc: error: waiting for the compiling processes: {}\n", std::strerror(errno));
      return false;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;  // not one of ours
    ok = succeeded(status, it->second) && ok;  // after a failure, no new job: the running ones finish
    running.erase(it);
  }
  return ok;
}

}  // namespace cnnc
