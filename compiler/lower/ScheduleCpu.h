// THE SCHEDULE for CPUs (AVX-512, AVX2, or whatever the target's vectors
// are), chosen from the shapes. Separate from the algorithm (Lower.cpp).
#pragma once

#include "fuse/Fuse.h"
#include "lower/Lower.h"

namespace cnnc {

// Schedules every Func of a lowered step. Reductions run in a fixed order
// and parallel loops only split pure dimensions, so results do not depend
// on the number of threads. `pipeline` says which pipeline the Funcs will
// be compiled into: training computes the loss's gradient in the loss's
// loop (evaluation has no gradient to compute it with).
enum class PipelineKind { Training, Evaluation };
// `fma`: the units the register tiles keep busy (cnnc --fma).
void scheduleCpu(Lowered& lowered, const Graph& graph, const Halide::Target& target, PipelineKind pipeline,
                 const FmaUnits& fma = {});
void scheduleUpdateCpu(LoweredUpdate& update, const Halide::Target& target);

// The Funcs each kernel of `fusion` computes at root, by kernel index, once
// `lowered` is scheduled: each is a loop nest of its own, and together they
// are the kernel's work (what is computed inside them is part of theirs).
// `train --profile` times them through Halide's trace events.
std::vector<std::vector<Halide::Func>> rootFuncsByKernel(const Lowered& lowered, const Graph& graph,
                                                         const Fusion& fusion);

// By kernel index: the kernel whose loop over the samples computes it
// (evaluation's samplesTogether), or the kernel itself.
std::vector<int> hostKernels(const Lowered& lowered, const Graph& graph, const Fusion& fusion);

}  // namespace cnnc
