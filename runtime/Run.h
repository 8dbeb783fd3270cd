// What one command of a trainer works with, passed down instead of kept in
// globals: the model, the pipelines it calls (CPU or a GPU's), where it
// prints, and the counters `train --profile` reports. Also what train,
// eval and predict share: choosing the device, and evaluating a split.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "Device.h"
#include "DeviceCopies.h"
#include "Model.h"
#include "Profile.h"
#include "Session.h"

namespace cnnc_rt {

// Standard output: nothing with --quiet; a live progress line only on a terminal.
class Console {
 public:
  Console(bool quiet, bool terminal) : quiet_(quiet), live_(!quiet && terminal) {}
  bool live() const { return live_; }
  template <typename... Args>
  void say(const char* format, Args... args) const {
    if (quiet_) return;
    std::printf(format, args...);
    std::fflush(stdout);
  }
  // epoch 1/9 [=======>      ] 31,232/60,000  loss 0.2140  5,210 img/s  ETA 6 s
  // (at most ten times a second).
  void progress(int64_t epoch, int64_t epochs, int64_t done, int64_t count, double loss,
                std::chrono::steady_clock::time_point start);

 private:
  bool quiet_, live_;
  std::chrono::steady_clock::time_point lastProgress_{};
};

// The scratch pool grows while the kernels meet each scratch size (and
// each thread's share) for the first time; the call that last grew it says
// when the steady state began.
struct PoolGrowth {
  int64_t trainCalls = 0, evalCalls = 0;
  int64_t lastTrain = 0, lastEval = 0;  // 1-based call numbers; 0 = never
  // With a counting allocator preloaded: calls to it inside training steps
  // after the first kWarmSteps of the run.
  int64_t heapInSteps = 0;
  // Copies between the host and the GPU inside training steps (from the
  // start of the step to the loss read back after the update).
  DeviceCopies stepCopies;
  static constexpr int64_t kWarmSteps = 10;
};

struct Run {
  Run(const ModelSpec& s, Console c) : spec(s), console(c) {}
  const ModelSpec& spec;
  Console console;
  Kernels kernels;          // after choose()
  Profile profile{false};   // train --profile: nothing is counted or timed without it
  PoolGrowth growth;
  // Seconds of collectives inside the training steps (train --profile on
  // a distributed trainer); the rest of ranks->seconds() is evaluation's
  // and the checkpoints'.
  double stepCollectives = 0;
  Collective* ranks = nullptr;  // a distributed trainer's job (mpirun); null in one process
};

// --device: sets run.kernels and prints the choice; false after an error.
bool choose(Run& run, const std::string& device);

// A pipeline call's status; with --profile on a GPU, once the device has
// finished it (kernel launches return before the kernels end, so the time
// would otherwise land in whatever waits next).
int finished(const Run& run, int status, halide_buffer_t* written);

// A pipeline's status turned into a message naming it; false on failure.
bool check(int status, const char* what);
// A failed copy to or from the GPU: says what and why; returns 1.
int deviceFailed(const char* what);

struct EvalResult {
  double loss = 0, accuracy = 0;
};

// Evaluates the whole split; with `confusion` (classes x classes, rows the
// labels) also counts each prediction, and with `scores` keeps every
// sample's output (classes per sample). In a distributed run (run.ranks)
// without them, each rank evaluates every N-th batch and the sums are
// gathered.
bool evaluate(Run& run, Session& s, Session::Data& data, EvalResult& result, std::vector<int64_t>* confusion = nullptr,
              std::vector<float>* scores = nullptr);

}  // namespace cnnc_rt
