// THE SCHEDULE for GPUs, one for every GPU API Halide compiles to: CUDA
// (NVIDIA) and OpenCL (AMD, Intel, and pocl on the CPU, which the tests
// run it on). Separate from the algorithm (Lower.cpp) and from the CPU
// schedule (ScheduleCpu.cpp). Where a choice differs between the APIs,
// the comment beside it says so.
#pragma once

#include "lower/Lower.h"

namespace cnnc {

// Every stage that the CPU schedule computes on its own becomes a GPU
// kernel: its pure dimensions fused and tiled over blocks of threads, each
// thread running its reductions in a fixed order. The convolutions (forward
// and data gradient) are tiled: register runs of output columns per
// thread, and the input window of each block staged in shared memory.
void scheduleGpu(Lowered& lowered, const Graph& graph, const Halide::Target& target);
void scheduleUpdateGpu(LoweredUpdate& update, const Halide::Target& target);

}  // namespace cnnc
