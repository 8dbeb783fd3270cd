// THE SCHEDULE for CUDA GPUs. Separate from the algorithm (Lower.cpp) and
// from the CPU schedule (ScheduleCpu.cpp).
#pragma once

#include "lower/Lower.h"

namespace cnnc {

// Every stage that the CPU schedule computes on its own becomes a GPU
// kernel: its pure dimensions fused and tiled over blocks of threads, each
// thread running its reductions in a fixed order. First version: correct
// and everything on the device; tuned tiles (shared memory for the
// convolutions) come with issue 8's follow-up.
void scheduleCuda(Lowered& lowered, const Halide::Target& target);
void scheduleUpdateCuda(LoweredUpdate& update, const Halide::Target& target);

}  // namespace cnnc
