// bias_bwd: a bias's gradient, dy summed over all but the channel axis
// (conv2d's and linear's rules emit it).
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

// dy (c, x, y, n) or (o, n) -> db (c); images sum per sample first, so
// that the batch's sum is of N numbers in a fixed order. Per sample, the
// rows are summed first, each a contiguous run of channels and columns
// (vectors whatever the channel count), then the columns: as one sum over
// the pixels, a layer of 6 channels accumulated 4-lane vectors through
// memory, pixel by pixel (LeNet-5's c1 bias: 0.54 ms a step).
void lower(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func dy = cx.func(op.operands[0]);
  RDom b(0, d.N, name + "_batch");
  Func out(name);
  out(c) = 0.0f;
  if (d.image) {
    RDom rows(0, d.H, name + "_rows"), columns(0, d.W, name + "_columns");
    Func perColumn(name + "_per_column"), part(name + "_per_sample");
    perColumn(c, x, n) = 0.0f;
    perColumn(c, x, n) += dy(c, x, rows, n);
    part(c, n) = 0.0f;
    part(c, n) += perColumn(c, columns, n);
    out(c) += part(c, b);
    LoweredOp& l = cx.add(op, out);
    l.partial = part;
    l.partialAcc = perColumn;
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
