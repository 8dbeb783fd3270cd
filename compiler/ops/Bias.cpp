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
  Dims d = cx.dims(op.operands[0]);
  ChannelSums sums = channelSums(cx.func(op.operands[0]), d, Expr(), cx.name(op));
  LoweredOp& l = cx.add(op, sums.total);
  l.partial = sums.perSample;
  l.partialAcc = sums.perColumn;
}

}  // namespace

std::vector<OpInfo> biasOps() {
  OpInfo bias{OpKind::BiasBwd, "bias_bwd"};
  bias.lower = lower;
  bias.loops = LoopNest::ChannelSum;
  return {bias};
}

}  // namespace cnnc
