// softmax (nn.Softmax over the features) and its gradient, only reached
// with the mse loss (cross-entropy reads the logits before a final softmax).
#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

// Each sample's row is read once per class.
int64_t readsRow(const Graph& g, const Op&, int) { return g.classes; }

// -> y * (dy - sum(dy * y))
void grad(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op))) b.emit(OpKind::SoftmaxBwd, {b.gradOf(op.result), op.result}, op, ops::input(op));
}

void lowerForward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func in = cx.func(op.operands[0]), out(name);
  RDom r(0, d.F, name + "_r");
  Func m(name + "_max"), e(name + "_exp"), s(name + "_sum");
  m(n) = maxOf(d.F, [&](Expr t) { return in(t, n); }, name + "_m");
  e(o, n) = exp(in(o, n) - m(n));
  s(n) = sum(e(r, n));
  out(o, n) = e(o, n) / s(n);
  cx.add(op, out).rowSum = s;
}

void lowerBackward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func dy = cx.func(op.operands[0]), y = cx.func(op.operands[1]), out(name);
  RDom r(0, d.F, name + "_r");
  Func dot(name + "_dot");
  dot(n) = sum(dy(r, n) * y(r, n));
  out(o, n) = y(o, n) * (dy(o, n) - dot(n));
  cx.add(op, out).rowSum = dot;
}

}  // namespace

std::vector<OpInfo> softmaxOps() {
  OpInfo softmax{OpKind::Softmax, "softmax"};
  softmax.isLayer = true;
  softmax.input = "vector";
  softmax.lastOnly = true;
  softmax.inferShape = ops::sameShape;
  softmax.grad = grad;
  softmax.readsPerElement = readsRow;
  softmax.lower = lowerForward;
  softmax.loops = LoopNest::Rows;

  OpInfo back{OpKind::SoftmaxBwd, "softmax_bwd"};
  back.readsPerElement = readsRow;
  back.lower = lowerBackward;
  back.loops = LoopNest::Rows;
  return {softmax, back};
}

}  // namespace cnnc
