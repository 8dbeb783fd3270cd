// bias_bwd: a bias's gradient, dy summed over all but the channel axis
// (conv2d's and linear's rules emit it).
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

// dy (c, x, y, n) or (o, n) -> db (c); images sum per sample first, so
// that the batch's sum is of N numbers in a fixed order.
void lower(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func dy = cx.func(op.operands[0]);
  RDom b(0, d.N, name + "_batch");
  Func out(name);
  out(c) = 0.0f;
  if (d.image) {
    RDom r(0, d.W, 0, d.H, name + "_r");
    Func part(name + "_per_sample");
    part(c, n) = 0.0f;
    part(c, n) += dy(c, r.x, r.y, n);
    out(c) += part(c, b);
    cx.add(op, out).partial = part;
  } else {
    out(c) += dy(c, b);
    cx.add(op, out);
  }
}

}  // namespace

std::vector<OpInfo> biasOps() {
  OpInfo bias{OpKind::BiasBwd, "bias_bwd"};
  bias.lower = lower;
  bias.loops = LoopNest::ChannelSum;
  return {bias};
}

}  // namespace cnnc
