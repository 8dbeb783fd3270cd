// batchnorm (nn.BatchNorm2d on CxHxW, nn.BatchNorm1d on vectors) and its
// gradients. Per channel, y = x scale + shift, as PyTorch's CPU kernel
// computes it: in training scale = weight / sqrt(var + eps) and shift =
// bias - mean scale from the batch's mean and biased variance (two passes:
// the mean, then the squared deviations), which also update the running
// statistics; in evaluation the same from the running statistics. In
// training the statistics are an op of their own (batchnorm_stats, added
// by the gradient rule, as PyTorch keeps save_mean and save_invstd): a
// kernel computes them once per step into a tensor of 2 x C floats, which
// the normalisation and its gradients read. The normalisation is
// elementwise, computed inside the kernels that read it (fuse). Padding
// samples of a partial last batch take no part: the statistics are over
// the `valid` samples, and their gradients are zero.
#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"
#include "support/Invariant.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

// Weight ones, bias zeros, running_mean zeros, running_var ones.
std::vector<ParamSpec> params(const Attrs&, const Shape& in) {
  const Shape c{in[0]};
  return {{"weight", c, Init::Ones}, {"bias", c, Init::Zeros}, {"running_mean", c, Init::Zeros, true},
          {"running_var", c, Init::Ones, true}};
}

enum Operand { kX, kWeight, kBias, kRunningMean, kRunningVar, kStats };
// batchnorm_stats's operands: the batch norm's input and running statistics.
enum StatsOperand { kStatsX, kStatsMean, kStatsVar };

// The statistics of batch norm `op` (in g.ops) as an op before it,
// batchnorm_stats(x, running_mean, running_var) -> NAME.stats, which the
// batch norm reads as its last operand: computed once per step instead of
// again in every kernel that normalises or differentiates (resnet's stem:
// six times over its 6.4 MB input, 15% of the step). Returns the tensor.
int keepStatistics(Graph& g, const Op& op) {
  size_t i = 0;
  while (i < g.ops.size() && !(g.ops[i].phase == Phase::Forward && g.ops[i].result == op.result)) ++i;
  require(i < g.ops.size(), "a batch norm's gradient rule finds its op");
  const Shape& x = g.tensors[op.operands[kX]].shape;
  const int stats = g.addTensor({g.tensors[op.result].name + ".stats", {2, x[1]}, DType::F32, op.loc},
                                TensorRole::Activation);
  Op keep{OpKind::BatchNormStats, {op.operands[kX], op.operands[kRunningMean], op.operands[kRunningVar]},  // StatsOperand
          stats, op.attrs, op.loc, op.stage, op.layerIndex, Phase::Forward};
  g.ops[i].operands.push_back(stats);
  g.ops.insert(g.ops.begin() + static_cast<std::ptrdiff_t>(i), keep);
  return stats;
}

// dweight = sum(dy xhat), dbias = sum(dy) (bias_bwd), then dx from both;
// each reads the statistics the forward kept.
void grad(GradBuilder& b, const Op& op) {
  const int stats = keepStatistics(b.graph(), op);
  const int dy = b.gradOf(op.result), x = op.operands[kX], w = op.operands[kWeight], bias = op.operands[kBias];
  const int dw = b.emit(OpKind::BatchNormBwdWeight, {dy, x, w, stats}, op, w);
  const int db = b.emit(OpKind::BiasBwd, {dy}, op, bias);
  if (b.needsGrad(x)) b.emit(OpKind::BatchNormBwdData, {dy, x, w, dw, db, stats}, op, x, op.attrs);
}

// The values each channel's statistics are over: valid x H x W.
Expr countOf(LowerContext& cx, const Dims& d) {
  return cast<float>(cx.valid()) * float(d.image ? d.H * d.W : 1);
}

// A per-channel value at x's element v.
Expr at(const Func& f, const std::vector<Var>& v) { return f(v[0]); }

// The forward op whose result is `tensor`, or null.
const Op* producerOf(const Graph& g, int tensor) {
  for (const Op& op : g.ops)
    if (op.phase == Phase::Forward && op.result == tensor) return &op;
  return nullptr;
}

// The batch's statistics of x (operand 0), over the valid samples: the
// mean, then the sum of squared deviations from it (PyTorch's two
// passes); their per-sample and per-column sums are s.sum and s.squares.
NormStats batchStatistics(LowerContext& cx, const Op& op, const std::string& name) {
  const Dims d = cx.dims(op.operands[kStatsX]);
  const std::vector<Var> v = cx.vars(op.operands[kStatsX]);
  Func in = cx.func(op.operands[kStatsX]);
  NormStats s;
  s.sum = channelSums(in, d, cx.valid(), name + "_sum");
  s.mean = Func(name + "_mean");
  s.mean(c) = s.sum.total(c) / countOf(cx, d);
  Func deviation(name + "_deviation");
  deviation(v) = (in(v) - at(s.mean, v)) * (in(v) - at(s.mean, v));
  s.squares = channelSums(deviation, d, cx.valid(), name + "_squares");
  return s;
}

// batchnorm_stats -> (c, 0) the mean, (c, 1) the summed squared
// deviations; and the running statistics' next values, (1 - momentum)
// running + momentum batch, the variance unbiased.
void lowerStats(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Func out(name);
  Var k("k");
  if (cx.mode() == Mode::Evaluation) {  // read by nothing: evaluation normalises with the running statistics
    out(c, k) = 0.0f;
    cx.add(op, out);
    return;
  }
  NormStats s = batchStatistics(cx, op, name);
  out(c, k) = select(k == 0, s.mean(c), s.squares.total(c));
  const Expr count = countOf(cx, cx.dims(op.operands[kStatsX]));
  const float momentum = static_cast<float>(op.attrs.number("momentum"));
  Func runningMean = cx.func(op.operands[kStatsMean]), runningVar = cx.func(op.operands[kStatsVar]);
  Func newMean(funcName(cx.tensor(op.operands[kStatsMean]).name) + "_next");
  Func newVar(funcName(cx.tensor(op.operands[kStatsVar]).name) + "_next");
  newMean(c) = (1.0f - momentum) * runningMean(c) + momentum * s.mean(c);
  newVar(c) = (1.0f - momentum) * runningVar(c) + momentum * (s.squares.total(c) / max(count - 1.0f, 1.0f));
  cx.setBuffer(op.operands[kStatsMean], newMean);
  cx.setBuffer(op.operands[kStatsVar], newVar);
  cx.add(op, out).norm = s;
}

void lowerForward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  const Op* producer = producerOf(cx.graph(), op.operands[kX]);
  if (cx.mode() == Mode::Evaluation && producer && producer->kind == OpKind::Conv2d &&
      ops::batchNormAfter(cx.graph(), *producer) == &op) {
    // Folded into the convolution (Conv2d.cpp): its result is this one's.
    Func in = cx.func(op.operands[kX]), out(name);
    out(cx.vars(op.result)) = in(cx.vars(op.result));
    cx.add(op, out);
    return;
  }
  const Dims d = cx.dims(op.operands[kX]);
  const std::vector<Var> v = cx.vars(op.result);
  Func in = cx.func(op.operands[kX]);
  NormStats s;
  if (cx.mode() == Mode::Evaluation) {
    s = ops::evaluationTransform(cx, op);
  } else {
    // The statistics the batchnorm_stats op kept (grad adds it).
    require(op.operands.size() > kStats, "a batch norm in training reads its kept statistics");
    Func w = cx.func(op.operands[kWeight]), b = cx.func(op.operands[kBias]), kept = cx.func(op.operands[kStats]);
    const float eps = static_cast<float>(op.attrs.number("eps"));
    s.mean = Func(name + "_mean");
    s.mean(c) = kept(c, 0);
    s.invStd = Func(name + "_inv_std");
    s.invStd(c) = 1.0f / sqrt(kept(c, 1) / countOf(cx, d) + eps);
    s.scale = Func(name + "_scale");
    s.shift = Func(name + "_shift");
    s.scale(c) = w(c) * s.invStd(c);
    s.shift(c) = b(c) - s.mean(c) * s.scale(c);
  }
  Func out(name);
  out(v) = in(v) * at(s.scale, v) + at(s.shift, v);
  cx.add(op, out).norm = s;
}

// dweight (c) = sum over the valid samples of dy (x - mean) invStd.
void lowerWeight(LowerContext& cx, const Op& op) {
  const NormStats& s = cx.owner(op.operands[2]).norm;
  const Dims d = cx.dims(op.operands[0]);
  const std::vector<Var> v = cx.vars(op.operands[0]);
  Func dy = cx.func(op.operands[0]), x = cx.func(op.operands[1]);
  Func term(cx.name(op) + "_term");
  term(v) = dy(v) * ((x(v) - at(s.mean, v)) * at(s.invStd, v));
  ChannelSums sums = channelSums(term, d, cx.valid(), cx.name(op));
  LoweredOp& l = cx.add(op, sums.total);
  l.partial = sums.perSample;
  l.partialAcc = sums.perColumn;
}

// dx = scale (dy - dbias / M - xhat dweight / M) for the valid samples, 0
// for the padding (PyTorch's batch_norm_backward).
void lowerData(LowerContext& cx, const Op& op) {
  const NormStats& s = cx.owner(op.operands[2]).norm;
  const Dims d = cx.dims(op.result);
  const std::vector<Var> v = cx.vars(op.result);
  Func dy = cx.func(op.operands[0]), x = cx.func(op.operands[1]);
  Func dw = cx.func(op.operands[3]), db = cx.func(op.operands[4]);
  const Expr count = countOf(cx, d);
  Expr xhat = (x(v) - at(s.mean, v)) * at(s.invStd, v);
  Expr dx = at(s.scale, v) * (dy(v) - at(db, v) / count - xhat * (at(dw, v) / count));
  Func out(cx.name(op));
  out(v) = select(v.back() < cx.valid(), dx, 0.0f);
  cx.add(op, out);
}

}  // namespace

namespace ops {

const Op* batchNormAfter(const Graph& g, const Op& conv) {
  if (conv.kind != OpKind::Conv2d || conv.phase != Phase::Forward) return nullptr;
  if (conv.result == g.output || conv.result == g.logits) return nullptr;
  const Op* reader = nullptr;
  for (const Op& op : g.ops) {
    if (op.phase != Phase::Forward || op.kind == OpKind::BatchNormStats) continue;  // the statistics: training's
    for (int t : op.operands)
      if (t == conv.result) {
        if (reader && reader != &op) return nullptr;
        reader = &op;
      }
  }
  return reader && reader->kind == OpKind::BatchNorm && reader->operands[kX] == conv.result ? reader : nullptr;
}

NormStats evaluationTransform(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Func w = cx.func(op.operands[kWeight]), b = cx.func(op.operands[kBias]);
  Func runningMean = cx.func(op.operands[kRunningMean]), runningVar = cx.func(op.operands[kRunningVar]);
  const float eps = static_cast<float>(op.attrs.number("eps"));
  NormStats s;
  s.scale = Func(name + "_scale");
  s.shift = Func(name + "_shift");
  s.scale(c) = w(c) * (1.0f / sqrt(runningVar(c) + eps));
  s.shift(c) = b(c) - runningMean(c) * s.scale(c);
  return s;
}

}  // namespace ops

std::vector<OpInfo> batchNormOps() {
  OpInfo bn{OpKind::BatchNorm, "batchnorm"};
  bn.isLayer = true;
  bn.args = {{"eps", ArgType::Number, false, "1e-5", 0}, {"momentum", ArgType::Number, false, "0.1", 0, 0, 1}};
  bn.inferShape = ops::sameShape;
  bn.params = params;
  bn.countsBatches = true;
  bn.grad = grad;
  bn.fuse = FuseAs::Elementwise;
  bn.evalCost = 1;  // a multiply-add with the channel's scale and shift
  bn.lower = lowerForward;
  bn.loops = LoopNest::Normalize;
  OpInfo weight{OpKind::BatchNormBwdWeight, "batchnorm_bwd_weight"};
  weight.lower = lowerWeight;
  weight.loops = LoopNest::ChannelSum;
  OpInfo stats{OpKind::BatchNormStats, "batchnorm_stats"};
  stats.args = bn.args;
  stats.lower = lowerStats;
  stats.loops = LoopNest::Statistics;
  OpInfo data{OpKind::BatchNormBwdData, "batchnorm_bwd_data"};
  data.args = bn.args;
  data.fuse = FuseAs::ElementwiseGradient;
  data.evalCost = 3;
  data.lower = lowerData;
  data.loops = LoopNest::Elementwise;
  return {bn, weight, stats, data};
}

}  // namespace cnnc
