// emit: Halide pipelines -> AOT objects + generated glue C++ -> one
// standalone trainer executable (no Halide, LLVM or Python needed to run).
#pragma once

#include <string>
#include <vector>

#include "fuse/Fuse.h"
#include "ir/IR.h"
#include "lower/Pipelines.h"
#include "plan/Plan.h"

namespace cnnc {

struct EmitOptions {
  std::string output;         // the trainer's path
  std::string compiler = "";  // C++ compiler; empty: $CXX or c++
  bool verbose = false;       // print each command, and each pipeline's compile time
  int jobs = 1;               // pipelines compiled at once (emit/Objects.h)
  bool distributed = false;   // link the MPI collective (runtime/Mpi.h)
};

// What the stages before emit made: the differentiated graph, its kernels
// and memory plan, the targets, and the pipelines lowered and scheduled for
// the CPU and for each GPU API (in targets.gpus order).
struct Compiled {
  const Graph& graph;
  const Fusion& fusion;
  const MemoryPlan& plan;
  const Targets& targets;
  Pipelines& cpu;
  std::vector<Pipelines>& gpus;
};

// Builds the trainer. Everything is written in a temporary folder and the
// executable moved into place at the end, so on failure nothing is left at
// `options.output`. Returns false after printing what went wrong.
bool buildTrainer(const Compiled& compiled, const EmitOptions& options);

// The glue C++ that links the pipelines to the runtime (also kept in
// generated/<model>/glue.cpp).
std::string glueSource(const Compiled& compiled, bool distributed = false);

}  // namespace cnnc
