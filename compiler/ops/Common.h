// What the op files share: the rows each file adds to the table, operand
// accessors for layers, and rules several ops use.
#pragma once

#include <vector>

#include "ir/Ops.h"
#include "lower/Lower.h"

namespace cnnc {

// Each op file's rows (compiler/ops/<File>.cpp), gathered by Table.cpp.
std::vector<OpInfo> conv2dOps();
std::vector<OpInfo> biasOps();
std::vector<OpInfo> activationOps();
std::vector<OpInfo> addOps();
std::vector<OpInfo> concatOps();
std::vector<OpInfo> poolOps();
std::vector<OpInfo> flattenOps();
std::vector<OpInfo> linearOps();
std::vector<OpInfo> softmaxOps();
std::vector<OpInfo> batchNormOps();
std::vector<OpInfo> dropoutOps();
std::vector<OpInfo> lossOps();
std::vector<OpInfo> optimizerOps();

namespace ops {

// A layer's operands: its data inputs, then weight, then bias.
inline int input(const Op& op) { return op.operands[0]; }
inline int weight(const Op& op) { return op.operands[op.inputs]; }
inline bool hasBias(const Op& op) { return op.operands.size() > static_cast<size_t>(op.inputs) + 1; }
inline int bias(const Op& op) { return op.operands[op.inputs + 1]; }

// The per-sample shape of an IR tensor's shape (the batch dimension dropped).
inline Shape perSample(const Shape& batched) { return Shape(batched.begin() + 1, batched.end()); }

ShapeResult sameShape(const Attrs& attrs, const std::vector<Shape>& in);

// Evaluation folds a batch norm into the convolution before it (the
// scale into the weights, the shift into the bias, once per call): the
// batch norm that alone reads `conv`'s result in the forward pass, or
// null. The folded batch norm passes its input through.
const Op* batchNormAfter(const Graph& g, const Op& conv);
// A batch norm's evaluation transform, y = x scale + shift, per channel
// from its running statistics (lower/Lower.h: NormStats).
NormStats evaluationTransform(LowerContext& cx, const Op& batchNorm);

// A sliding window's attributes (kernel, stride, padding) as Halide's
// dimensions name them: x (width) first.
struct Window {
  int KW, KH, SX, SY, PX, PY;
};
inline Window windowOf(const Attrs& a) {
  const auto k = a.pair("kernel"), s = a.pair("stride"), p = a.pair("padding");
  return {int(k[1]), int(k[0]), int(s[1]), int(s[0]), int(p[1]), int(p[0])};
}

// A sliding window (conv2d, pools): the output shape, or why there is none.
ShapeResult slideWindow(const Attrs& attrs, const Shape& in, int64_t channels);

}  // namespace ops
}  // namespace cnnc
