// Compiling a trainer's pipelines to object files, several at once.
// LLVM's code generation is most of cnnc's time (models/cifar10.cnn: 62
// pipelines, 30 s of 34 s on one core), and each pipeline compiles alone:
// each in a process forked after lowering, `jobs` at a time, the largest
// first. A job's code depends only on the state it is forked from, so the
// trainer is the same file whatever `jobs` is (tests/lit/trainer/jobs.test).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace cnnc {

struct ObjectJob {
  std::string name;               // the pipeline's function name, for messages
  size_t size = 0;                // an estimate of its work (its stages): the largest go first
  std::function<void()> compile;  // writes its object (and header); throws Halide::Error
};

// The processors this process may run on (its CPU affinity), at least 1.
int availableCpus();

// Runs every job, each in a child process, `jobs` of them at once; false
// after a message on stderr when any job fails (the running ones finish,
// no new one starts). `verbose` prints each job's time.
bool compileObjects(std::vector<ObjectJob> work, int jobs, bool verbose);

}  // namespace cnnc
