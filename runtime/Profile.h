// What `train --profile` reports, and the memory Halide's kernels use.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "Model.h"

namespace cnnc_rt {

// Halide's scratch buffers (the intermediates a pipeline allocates on each
// call) come from a pool: a freed block goes back to its thread's last few
// or to a free list for its size, and the next request of that size takes
// it. The first step allocates; later steps reuse, so a training step in
// steady state asks the system allocator for nothing (tested: tests/lit/trainer/profile.test).
void installScratchPool();
struct ScratchStats {
  uint64_t systemAllocs = 0;   // blocks taken from the system allocator
  uint64_t bytesHeld = 0;      // pool size: blocks in use or free
};
ScratchStats scratchStats();

// Calls to the C allocator so far, when a counting allocator is preloaded
// (tests/fault/count_malloc.c defines cnnc_heap_allocations); -1 otherwise.
int64_t heapAllocations();

// The FMA peak of this machine's cores, single precision, GFLOP/s: a
// register-resident multiply-add loop on every core (about 0.2 s).
double measurePeakGflops(int threads);

// Time and work per kernel over a run.
class Profile {
 public:
  explicit Profile(bool on) : on_(on) {}
  bool on() const { return on_; }
  // Index of a kernel row (in first-seen order).
  int kernel(const std::string& name, double flopsPerCall);
  void add(int kernel, double seconds, double flopsScale = 1);
  // The table: calls, total and per-call ms, GFLOP/s and % of `peak`.
  void print(double peakGflops, int threads) const;
  double seconds(const std::string& name) const;

 private:
  struct Row {
    std::string name;
    double flopsPerCall = 0;
    int64_t calls = 0;
    double seconds = 0, flops = 0;
  };
  bool on_;
  std::vector<Row> rows_;
};

// Time per kernel inside the pipelines (cnnc --emit=fused), from Halide's
// trace events: cnnc marks the Funcs each kernel computes at root, and
// Halide reports entering and leaving the production of each. The handler
// is installed for every command (else Halide would print the events) and
// returns at once unless `start` was called.
enum class Traced { None, Training, Evaluation };
// A Func's name without the "$N" Halide appends to repeated names, which
// differ between pipelines (and may sit inside a wrapper's name:
// "f$1_in_g"): how the trainer's tables (cnnc) and the events match.
inline std::string funcKey(const std::string& name) {
  std::string key;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '$') {
      key += name[i];
      continue;
    }
    while (i + 1 < name.size() && name[i + 1] >= '0' && name[i + 1] <= '9') ++i;
  }
  return key;
}
void installKernelTrace();
void startKernelProfile(const std::vector<KernelSpec>& training, const std::vector<KernelSpec>& evaluation);
// Which pipeline the next calls run (their kernels' rows).
void traceInto(Traced pipeline);
// Per kernel of each pipeline that ran: calls, ms, GFLOP/s, % of `peak`,
// and the share of the pipeline's own time (`trainSeconds`, `evalSeconds`).
void printKernelProfile(double peakGflops, double trainSeconds, double evalSeconds);

// Times a call into `profile` when profiling is on.
template <typename F>
auto timed(Profile& profile, int kernel, double flopsScale, F&& call) {
  if (!profile.on()) return call();
  auto start = std::chrono::steady_clock::now();
  auto result = call();
  profile.add(kernel, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), flopsScale);
  return result;
}

}  // namespace cnnc_rt
