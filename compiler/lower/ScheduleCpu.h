// THE SCHEDULE for CPUs (AVX-512, AVX2, or whatever the target's vectors
// are), chosen from the shapes. Separate from the algorithm (Lower.cpp).
#pragma once

#include "lower/Lower.h"

namespace cnnc {

// Schedules every Func of a lowered step. Reductions run in a fixed order
// and parallel loops only split pure dimensions, so results do not depend
// on the number of threads.
void scheduleCpu(Lowered& lowered, const Graph& graph, const Halide::Target& target);
void scheduleUpdateCpu(LoweredUpdate& update, const Halide::Target& target);

}  // namespace cnnc
