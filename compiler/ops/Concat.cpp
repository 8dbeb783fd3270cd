// concat (language v2): the value a stage's layer receives and the outputs
// of the stages it names, joined in that order along channels (images:
// heights and widths equal) or features (vectors), as torch.cat(dim=1).
// A copy kernel; its gradient is one slice of dy per input (concat_bwd).
#include <fmt/format.h>

#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;

namespace {

ShapeResult shape(const Attrs&, const std::vector<Shape>& in) {
  Shape out = in[0];
  for (size_t k = 1; k < in.size(); ++k) {
    if (in[k].size() != in[0].size()) return {{}, "images and vectors", std::to_string(k)};
    if (!std::equal(in[k].begin() + 1, in[k].end(), in[0].begin() + 1))
      return {{}, "different heights and widths", std::to_string(k)};
    out[0] += in[k][0];
  }
  return {out, "", ""};
}

// Input k's gradient: its channels (features) of dy.
void grad(GradBuilder& b, const Op& op) {
  const int dy = b.gradOf(op.result);
  const Graph& g = b.graph();
  int64_t offset = 0;
  for (int k = 0; k < op.inputs; ++k) {
    const int input = op.operands[k];
    if (b.needsGrad(input)) {
      Attrs a;
      a.set("offset", AttrValue::integer(offset));
      b.emit(OpKind::ConcatBwd, {dy}, op, input, a);
    }
    offset += g.tensors[input].shape[1];
  }
}

// out (c, ...) = input k (c - its offset, ...) where its channels are. On
// the CPU, one update per input over its channels, with no pure stage: a
// copy of dense vectors. As one select over clamped channels each vector
// gathered from every input (inception's concat: 0.42 ms of its 2.67 ms
// step, 1 ns an element).
void lower(LowerContext& cx, const Op& op) {
  std::vector<Var> v = cx.vars(op.result);
  std::vector<Var> rest(v.begin() + 1, v.end());
  const Var c = v[0];
  if (cx.cpuLoops()) {
    Func out(cx.name(op));
    out(v) = undef<float>();
    int offset = 0;
    for (int k = 0; k < op.inputs; ++k) {
      const int channels = static_cast<int>(cx.graph().tensors[op.operands[k]].shape[1]);
      RDom r(0, channels, fmt::format("{}_piece{}", cx.name(op), k));
      std::vector<Expr> to{r + offset}, from{r};
      to.insert(to.end(), rest.begin(), rest.end());
      from.insert(from.end(), rest.begin(), rest.end());
      out(to) = cx.func(op.operands[k])(from);
      offset += channels;
    }
    cx.add(op, out);
    return;
  }
  Expr value = 0.0f;
  int offset = static_cast<int>(cx.graph().tensors[op.result].shape[1]);
  for (int k = op.inputs - 1; k >= 0; --k) {  // innermost select first
    const int channels = static_cast<int>(cx.graph().tensors[op.operands[k]].shape[1]);
    offset -= channels;
    std::vector<Expr> at{clamp(c - offset, 0, channels - 1)};
    at.insert(at.end(), rest.begin(), rest.end());
    Expr here = cx.func(op.operands[k])(at);
    value = k == op.inputs - 1 ? here : select(c < offset + channels, here, value);
  }
  Func out(cx.name(op));
  out(v) = value;
  cx.add(op, out);
}

// dy (c + offset, ...) for one input.
void lowerBackward(LowerContext& cx, const Op& op) {
  std::vector<Var> v = cx.vars(op.result);
  std::vector<Expr> at(v.begin(), v.end());
  at[0] = at[0] + static_cast<int>(op.attrs.integer("offset"));
  Func out(cx.name(op));
  out(v) = cx.func(op.operands[0])(at);
  cx.add(op, out);
}

}  // namespace

std::vector<OpInfo> concatOps() {
  OpInfo concat{OpKind::Concat, "concat"};
  concat.isLayer = true;
  concat.takesStages = true;
  concat.inferShape = shape;
  concat.grad = grad;
  concat.lower = lower;
  concat.loops = LoopNest::Pieces;

  // A slice, read once per element: computed inside its readers where the
  // cost rule allows (as an activation is), else a kernel gathering rows.
  OpInfo slice{OpKind::ConcatBwd, "concat_bwd"};
  slice.fuse = FuseAs::Elementwise;
  slice.evalCost = 1;
  slice.inferShape = ops::sameShape;
  slice.lower = lowerBackward;
  slice.loops = LoopNest::Gather;
  return {concat, slice};
}

}  // namespace cnnc
