// THE SCHEDULE for CUDA GPUs. Separate from the algorithm (Lower.cpp) and
// from the CPU schedule (ScheduleCpu.cpp).
#pragma once

#include "lower/Lower.h"

namespace cnnc {

// Every stage that the CPU schedule computes on its own becomes a GPU
// kernel: its pure dimensions fused and tiled over blocks of threads, each
// thread running its reductions in a fixed order. The convolutions (forward
// and data gradient) are tiled: register runs of output columns per
// thread, and the input window of each block staged in shared memory.
void scheduleCuda(Lowered& lowered, const Graph& graph, const Halide::Target& target);
void scheduleUpdateCuda(LoweredUpdate& update, const Halide::Target& target);

}  // namespace cnnc
