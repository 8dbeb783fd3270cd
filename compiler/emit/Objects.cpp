#include "emit/Objects.h"

#include <Halide.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>

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

// A worker process: jobs from the shared counter until none is left or one
// fails. Leaves with _exit: the parent's destructors (its temporary folder)
// are not the child's to run.
[[noreturn]] void worker(const std::vector<ObjectJob>& work, std::atomic<size_t>& next, bool verbose) {
  for (size_t i; (i = next.fetch_add(1)) < work.size();)
    if (!runJob(work[i], verbose)) {
      next.store(work.size());  // the others stop after their current job
      std::fflush(stderr);
      _exit(1);
    }
  std::fflush(stderr);
  _exit(0);
}

}  // namespace

bool compileObjects(std::vector<ObjectJob> work, int jobs, bool verbose) {
  std::stable_sort(work.begin(), work.end(), [](const ObjectJob& a, const ObjectJob& b) { return a.size > b.size; });
  jobs = std::clamp(jobs, 1, static_cast<int>(std::max<size_t>(work.size(), 1)));
  if (jobs == 1) {
    for (const ObjectJob& job : work)
      if (!runJob(job, verbose)) return false;
    return true;
  }
  void* shared = mmap(nullptr, sizeof(std::atomic<size_t>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return compileObjects(std::move(work), 1, verbose);
  auto* next = new (shared) std::atomic<size_t>(0);
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> workers;
  for (int w = 0; w < jobs; ++w) {
    const pid_t pid = fork();
    if (pid == 0) worker(work, *next, verbose);
    if (pid < 0) {
      fmt::print(stderr, "cnnc: warning: cannot start a compiling process ({}); {} at once\n",
                 std::strerror(errno), workers.size() + 1);
      break;
    }
    workers.push_back(pid);
  }
  // Without any worker, this process compiles them all.
  bool ok = workers.empty() ? compileObjects(work, 1, verbose) : true;
  for (pid_t pid : workers) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (WIFSIGNALED(status))
        fmt::print(stderr, "cnnc: error: a compiling process died of signal {} ({})\n", WTERMSIG(status),
                   strsignal(WTERMSIG(status)));
      ok = false;
    }
  }
  munmap(shared, sizeof(std::atomic<size_t>));
  return ok;
}

}  // namespace cnnc
