// flatten (nn.Flatten): C x H x W -> C*H*W in PyTorch's order, and its
// gradient, the reshape back.
#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

ShapeResult shape(const Attrs&, const std::vector<Shape>& in) { return {{numElements(in[0])}, "", ""}; }

void grad(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op))) b.emit(OpKind::FlattenBwd, {b.gradOf(op.result)}, op, ops::input(op));
}

// in (c, x, y, n) -> out (f, n), f in PyTorch's C,H,W order
void lowerForward(LowerContext& cx, const Op& op) {
  Dims d = cx.dims(op.operands[0]);
  Func in = cx.func(op.operands[0]), out(cx.name(op));
  if (d.image)
    out(i, n) = in(i / (d.H * d.W), i % d.W, (i / d.W) % d.H, n);
  else
    out(i, n) = in(i, n);
  cx.add(op, out);
}

void lowerBackward(LowerContext& cx, const Op& op) {
  Dims d = cx.dims(op.result);
  Func dy = cx.func(op.operands[0]), out(cx.name(op));
  if (d.image)
    out(c, x, y, n) = dy((c * d.H + y) * d.W + x, n);
  else
    out(i, n) = dy(i, n);
  cx.add(op, out);
}

}  // namespace

std::vector<OpInfo> flattenOps() {
  OpInfo flatten{OpKind::Flatten, "flatten"};
  flatten.isLayer = true;
  flatten.inferShape = shape;
  flatten.grad = grad;
  flatten.lower = lowerForward;
  flatten.loops = LoopNest::Transpose;

  OpInfo back{OpKind::FlattenBwd, "flatten_bwd"};
  back.fuse = FuseAs::RoutedGradient;
  back.lower = lowerBackward;
  back.loops = LoopNest::Gather;
  return {flatten, back};
}

}  // namespace cnnc
