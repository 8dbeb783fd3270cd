// fuse: which ops run together as one kernel.
//
// A kernel is one loop nest that writes its result to memory (in Halide: a
// stage computed at root). An elementwise activation or its gradient (relu,
// sigmoid, tanh and their backward ops) is computed on the fly inside the
// kernels that read it, from what it reads, where that costs less than
// writing it and reading it back: the count is each reader's evaluations
// per element (1 for convolutions, which stage their inputs; the output
// features for a linear layer; the windows covering an element for a
// pool) times the op's cost (tanh and sigmoid call exp). So relus land in
// the kernels that consume them, while a tanh that a linear layer would
// recompute 84 times is a kernel of its own. After a pooling or flatten gradient it
// is the other way round: that gradient is computed inside the activation
// gradient that follows it, and that kernel writes the gradient the
// layer's backward kernels read (once each, instead of recomputing it from
// two tensors); one that no activation gradient follows (a maxpool's after
// a relu, reading the index the forward kept) is computed inside its
// readers where that recomputes little. Convolutions, pooling, flatten (a layout change), linear
// layers, losses and their backward ops are kernels; the loss and its
// gradient are one kernel (one loop over the samples: the log-sum-exp, the
// loss, the prediction and the gradient of each sample together); a
// maxpool's index joins the pool's kernel, and a direct convolution that
// only such a pool reads is computed inside it, row by row (never
// written); the optimizer is one kernel over the flat parameter arena.
#pragma once

#include <string>
#include <vector>

#include "fuse/Winograd.h"
#include "ir/IR.h"

namespace cnnc {

struct Kernel {
  int root = -1;            // the op whose result the kernel writes (an index into graph.ops)
  std::vector<int> fused;   // ops computed inside it (elementwise ones, a convolution), producers first
  std::vector<int> reads;   // tensors it reads from memory
  std::vector<int> also;    // ops whose results it writes too (a loss's gradient, a maxpool's index)
};

struct Fusion {
  std::vector<Kernel> kernels;  // in execution order (one per op that is neither inlined nor joined)
  std::vector<bool> inlined;    // by op index: computed inside its consumers
  std::vector<int> kernelOf;    // by op index: the kernel that computes it (-1: inlined)
  // By op index: the pool inside whose kernel a direct convolution is
  // computed row by row while inlined (its op index; -1: not such a
  // convolution).
  std::vector<int> insidePool;
  // By op index: a convolution pass's Winograd tile m (fuse/Winograd.h;
  // 0: direct convolution, and every other op). CPU pipelines only.
  std::vector<int> winograd;
  // The multiply-add units the choices and the CPU schedules are for.
  FmaUnits fma;
};

Fusion fuse(const Graph& graph, ConvAlgorithm conv = ConvAlgorithm::Auto, const FmaUnits& fma = {});

// --emit=fused: one line per kernel, with what it computes and reads.
std::string printFused(const Graph& graph, const Fusion& fusion);

}  // namespace cnnc
