// What an op's lowering (its row's `lower`, in compiler/ops/) works with:
// the Funcs of the tensors lowered so far, and helpers that several ops
// share. Layouts are those of lower/Lower.h: activations (c, x, y, n) for
// an IR [N, C, H, W], (f, n) for [N, F]; conv weights (kx, ky, ci, co),
// linear weights (f, o).
#pragma once

#include <Halide.h>

#include <functional>
#include <string>

#include "lower/Lower.h"

namespace cnnc {

// The loop variables every lowering names its Funcs' dimensions with.
namespace loopvars {
inline Halide::Var c{"c"}, x{"x"}, y{"y"}, n{"n"}, i{"i"}, o{"o"};
inline Halide::Var kx{"kx"}, ky{"ky"}, ci{"ci"}, co{"co"};
}  // namespace loopvars

// A tensor's sizes: an image batch N x C x H x W or a vector batch N x F.
struct Dims {
  int N = 0, C = 0, H = 0, W = 0;  // images
  int F = 0;                       // vectors
  bool image = false;
};

class LowerContext {
 public:
  LowerContext(const Graph& graph, Lowered& lowered);

  const Graph& graph() const { return g_; }
  Lowered& lowered() { return L_; }
  const Tensor& tensor(int id) const { return g_.tensors[id]; }
  Dims dims(int tensor) const;
  // The Func of a tensor lowered so far (an input, a parameter, a result).
  Halide::Func& func(int tensor) { return L_.tensors[tensor]; }
  // The loop variables of a tensor's Func: (c, x, y, n) or (i, n).
  std::vector<Halide::Var> vars(int tensor) const;
  // `conv1_0_conv2d`: the name of the Func computing op's result; the
  // names of its helper Funcs extend it.
  std::string name(const Op& op) const;
  // Records op's lowering with `out` as its result; fill in the rest.
  LoweredOp& add(const Op& op, Halide::Func out);
  // Batch sample n's label (clamped to the classes), and how many samples
  // of the batch are real (the rest pad the last batch of an epoch).
  Halide::Expr label(Halide::Expr n) const;
  // The index in the split of batch sample n.
  Halide::Expr sample(Halide::Expr n) const;
  Halide::Expr valid() const { return L_.valid; }
  Halide::Expr noise() const { return L_.noise; }
  Mode mode() const { return L_.mode; }
  // The Winograd tile fuse chose for a convolution pass (0: direct).
  int winogradTile(const Op& op) const { return L_.winograd.empty() ? 0 : L_.winograd[&op - g_.ops.data()]; }
  // Whether the pipeline gets the CPU's own schedules: a strided data
  // gradient is computed by phase there, a concat copies its inputs piece
  // by piece.
  bool cpuLoops() const { return L_.cpuLoops; }
  // A convolution's zero-padded input, `in` extended beyond its W x H.
  // For the CPU schedules, which compute it per sample: zeros, then `in`
  // over the interior, row by row, so that the copy loads dense vectors
  // also when it is vectorised along x (one or two channels; padded()'s
  // clamped reads were gathers: a byte at a time from MNIST's pixels).
  // Otherwise padded() (a GPU block computes only its window of it).
  Halide::Func zeroPadded(const Halide::Func& in, const Dims& d, const std::string& name) const;
  // The lowering of the forward op that owns parameter `param` (a backward
  // op's layer; internalError if none does).
  LoweredOp& owner(int param);
  // Records `f` as the training step's new value of buffer `tensor`.
  void setBuffer(int tensor, Halide::Func f);

 private:
  // One more update of the model input's padded copy `p`: prefetches of
  // the next samples' pixels (Lower.cpp).
  void prefetchNextSamples(Halide::Func& p) const;

  const Graph& g_;
  Lowered& L_;
  Halide::Func sample_{"sample"}, label_{"label"};
};

// The channels a convolution's re-laid weight is defined over: fewer than
// 16 rounded up to a power of two, the extra ones zero, so that a CPU
// schedule can compute 6 channels as one vector of 8 (ScheduleDirect.cpp).
int paddedChannels(int channels);

// `in` (c, x, y, n) extended beyond its W x H with `value` (the padding).
Halide::Func padded(const Halide::Func& in, const Dims& d, Halide::Expr value, const std::string& name);

// The maximum of term(0) .. term(count - 1), and the index of its first
// maximum (row-major order of a window: PyTorch's choice among equal
// values; `best`, where given, gets the maximum too). Small windows become
// a tree of max() or a chain of selects with no loop, which is fast and
// which Halide's propagate_adjoints can differentiate; large ones a
// reduction.
Halide::Expr maxOf(int count, const std::function<Halide::Expr(Halide::Expr)>& term, const std::string& name);
Halide::Expr argmaxOf(int count, const std::function<Halide::Expr(Halide::Expr)>& term, const std::string& name,
                      Halide::Expr* best = nullptr);

// Sums per channel of term (c, x, y, n) or (c, n) over the first
// `samples` samples of the batch, or all of them when `samples` is
// undefined (lower/Lower.h: ChannelSums).
ChannelSums channelSums(const Halide::Func& term, const Dims& d, Halide::Expr samples, const std::string& name);

// Samples whose weight gradients are summed in one partial sum: the largest
// divisor of the batch up to `most` (8 chunks of 8 at batch 64).
int samplesPerChunk(int batch, int most = 8);
// The Halide type of a tensor's elements.
Halide::Type halideType(DType dtype);
// A Winograd weight gradient's partial sums, each over a run of
// `chunks / partials` chunks in order: at least 2 (the threads of a
// 2-core machine), a quarter of the chunks on larger batches.
int weightGradientPartials(int chunks);

}  // namespace cnnc
