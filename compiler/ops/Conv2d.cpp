// conv2d (nn.Conv2d) and its two backward ops. Lowered as direct
// convolutions, each an accumulator over a zero-padded copy of what it
// slides over, scheduled in register tiles (LoopNest::Convolution).
#include <fmt/format.h>

#include <algorithm>

#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"
#include "ops/Winograd.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

const std::vector<ArgSpec> kConvArgs = {{"out", ArgType::Int, true, ""},
                                        {"kernel", ArgType::Pair, true, ""},
                                        {"stride", ArgType::Pair, false, "1"},
                                        {"padding", ArgType::Pair, false, "0", 0},
                                        {"bias", ArgType::Bool, false, "true"}};

ShapeResult shape(const Attrs& a, const std::vector<Shape>& in) {
  return ops::slideWindow(a, in[0], a.integer("out"));
}

std::vector<ParamSpec> params(const Attrs& a, const Shape& in) {
  const auto k = a.pair("kernel");
  std::vector<ParamSpec> p{{"weight", {a.integer("out"), in[0], k[0], k[1]}}};
  if (a.flag("bias")) p.push_back({"bias", {a.integer("out")}});
  return p;
}

// Every output element (of the forward op, or dy for both gradients) is
// met by in-channels x kernel multiply-adds.
int64_t macs(const Attrs& a, int64_t inChannels, const Shape& outputs) {
  const auto k = a.pair("kernel");
  return numElements(ops::perSample(outputs)) * inChannels * k[0] * k[1];
}
int64_t forwardMacs(const Attrs& a, const std::vector<Shape>& operands, const Shape& result) {
  return macs(a, operands[0][1], result);  // x, weight -> y
}
int64_t dataMacs(const Attrs& a, const std::vector<Shape>& operands, const Shape& result) {
  return macs(a, result[1], operands[0]);  // dy, weight -> dx
}
int64_t weightMacs(const Attrs& a, const std::vector<Shape>& operands, const Shape&) {
  return macs(a, operands[1][1], operands[0]);  // dy, x -> dw
}

// -> backward-data (a transposed convolution of dy with the weight) and
// backward-weight (dy correlated with the input); the bias gradient sums
// dy over batch and space.
void grad(GradBuilder& b, const Op& op) {
  int dy = b.gradOf(op.result);
  if (b.needsGrad(ops::input(op)))
    b.emit(OpKind::Conv2dBwdData, {dy, ops::weight(op)}, op, ops::input(op), op.attrs);
  b.emit(OpKind::Conv2dBwdWeight, {dy, ops::input(op)}, op, ops::weight(op), op.attrs);
  if (ops::hasBias(op)) b.emit(OpKind::BiasBwd, {dy}, op, ops::bias(op));
}

// in (ci, x, y, n), weight (kx, ky, ci, co) -> out (co, x, y, n)
void lowerForward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  Dims d = cx.dims(op.operands[0]);
  Func w = cx.func(op.operands[1]);
  Func wT(name + "_weight_t");
  // Channels beyond the layer's (paddedChannels) are zero in the weight
  // and the bias: the channel read is clamped, its value selected away.
  const int CO = static_cast<int>(cx.graph().tensors[op.result].shape[1]);
  const bool pad = CO < paddedChannels(CO);
  Expr c = pad ? clamp(co, 0, CO - 1) : Expr(co);
  auto zeroBeyond = [&](Expr e) { return pad ? select(co < CO, e, 0.0f) : e; };
  Expr bias = ops::hasBias(op) ? Expr(cx.func(ops::bias(op))(c)) : Expr(0.0f);
  // Evaluation: a batch norm after it folded in, its scale into the
  // weights and its shift into the bias, once per call.
  NormStats folded;
  if (const Op* bn = cx.mode() == Mode::Evaluation ? ops::batchNormAfter(cx.graph(), op) : nullptr) {
    folded = ops::evaluationTransform(cx, *bn);
    wT(co, kx, ky, ci) = zeroBeyond(w(kx, ky, ci, c) * folded.scale(c));
    Func shift = folded.shift;
    folded.shift = Func(name + "_folded_bias");
    folded.shift(co) = ops::hasBias(op) ? cx.func(ops::bias(op))(co) * folded.scale(co) + shift(co) : Expr(shift(co));
    bias = folded.shift(c);
  } else {
    wT(co, kx, ky, ci) = zeroBeyond(w(kx, ky, ci, c));
  }
  if (const int m = cx.winogradTile(op)) {
    lowerWinogradForward(cx, op, wT, bias, m).norm = folded;
    return;
  }
  Func in = cx.zeroPadded(cx.func(op.operands[0]), d, name + "_padded");
  RDom r(0, k.KW, 0, k.KH, 0, d.C, name + "_r");
  Func acc(name + "_acc");
  acc(co, x, y, n) = bias;
  acc(co, x, y, n) += wT(co, r.x, r.y, r.z) * in(r.z, x * k.SX + r.x - k.PX, y * k.SY + r.y - k.PY, n);
  Func out(name);
  out(co, x, y, n) = acc(co, x, y, n);
  LoweredOp& l = cx.add(op, out);
  l.norm = folded;
  l.acc = acc;
  l.r = r;
  l.weightT = wT;
  l.staged = in;
}

// A strided data gradient by phase: input column x = xo * SX + px is seen
// only by the taps kx = (px + PX) mod SX + SX t, at output column
// ox = xo + (px + PX) div SX - t (rows likewise). Per phase, the taps are a
// stride-1 correlation over dy; a phase with fewer taps skips the rest
// (RDom::where; a 1x1 kernel's phases past the first have none: zero).
// The taps come in the direct form's order; that form multiplied every
// tap and kept 1 in SX x SY through a select, compiled differently, so
// the last bits can differ (models/cifar10.cnn: parameters within 2.6e-6
// relative after one step). Its stride-2 3x3 data gradients ran at 27% of
// the peak, a fifth of that model's training step; by phase 82-88%.
void lowerDataByPhase(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  Dims dy = cx.dims(op.operands[0]);
  Func dyPad = cx.zeroPadded(cx.func(op.operands[0]), dy, name + "_dy_padded");
  Func w = cx.func(op.operands[1]);
  const int CI = cx.dims(op.result).C;  // channels beyond them (paddedChannels) are zero
  Func wT(name + "_weight_t");
  Expr inside = kx < k.KW && ky < k.KH;
  if (CI < paddedChannels(CI)) inside = inside && ci < CI;
  wT(ci, kx, ky, co) = select(inside, w(min(kx, k.KW - 1), min(ky, k.KH - 1), clamp(ci, 0, CI - 1), co), 0.0f);
  const int TX = (k.KW + k.SX - 1) / k.SX, TY = (k.KH + k.SY - 1) / k.SY;
  RDom r(0, TX, 0, TY, 0, dy.C, name + "_r");
  Var xo("xo"), px("px"), yo("yo"), py("py");
  Expr tapX = (px + k.PX) % k.SX + k.SX * r.x, tapY = (py + k.PY) % k.SY + k.SY * r.y;
  Expr ox = xo + (px + k.PX) / k.SX - r.x, oy = yo + (py + k.PY) / k.SY - r.y;
  r.where(tapX < k.KW && tapY < k.KH);  // a phase's own taps (none: its gradient is zero)
  Func acc(name + "_acc");
  acc(ci, xo, px, yo, py, n) = 0.0f;
  acc(ci, xo, px, yo, py, n) += wT(ci, tapX, tapY, r.z) * dyPad(r.z, ox, oy, n);
  Func phases(name + "_phases");
  phases(ci, xo, px, yo, py, n) = acc(ci, xo, px, yo, py, n);
  Func out(name);
  out(ci, x, y, n) = phases(ci, x / k.SX, x % k.SX, y / k.SY, y % k.SY, n);
  LoweredOp& l = cx.add(op, out);
  l.acc = acc;
  l.r = r;
  l.weightT = wT;
  l.staged = dyPad;
  l.phases = phases;
}

// dy (co, ox, oy, n), weight (kx, ky, ci, co) -> dx (ci, x, y, n): each
// input pixel gathers dy from the outputs whose window saw it.
void lowerData(LowerContext& cx, const Op& op) {
  if (const ops::Window k = ops::windowOf(op.attrs); (k.SX > 1 || k.SY > 1) && cx.cpuLoops()) {  // (Winograd: stride 1 only)
    lowerDataByPhase(cx, op);
    return;
  }
  const std::string name = cx.name(op);
  // The weight re-laid input channels innermost, once per call.
  Func w = cx.func(op.operands[1]);
  Func wT(name + "_weight_t");
  const int CI = cx.dims(op.result).C;  // channels beyond them (paddedChannels) are zero
  wT(ci, kx, ky, co) = CI < paddedChannels(CI) ? select(ci < CI, w(kx, ky, clamp(ci, 0, CI - 1), co), 0.0f)
                                               : Expr(w(kx, ky, ci, co));
  if (const int m = cx.winogradTile(op)) {
    lowerWinogradData(cx, op, wT, m);
    return;
  }
  const ops::Window k = ops::windowOf(op.attrs);
  Dims dy = cx.dims(op.operands[0]);
  Func dyPad = cx.zeroPadded(cx.func(op.operands[0]), dy, name + "_dy_padded");
  RDom r(0, k.KW, 0, k.KH, 0, dy.C, name + "_r");
  Expr oxs = x + k.PX - r.x, oys = y + k.PY - r.y;  // output position times the stride
  Expr hit = oxs % k.SX == 0 && oys % k.SY == 0;
  Func acc(name + "_acc");
  acc(ci, x, y, n) = 0.0f;
  acc(ci, x, y, n) += select(hit, wT(ci, r.x, r.y, r.z) * dyPad(r.z, oxs / k.SX, oys / k.SY, n), 0.0f);
  Func out(name);
  out(ci, x, y, n) = acc(ci, x, y, n);
  LoweredOp& l = cx.add(op, out);
  l.acc = acc;
  l.r = r;
  l.weightT = wT;
  l.staged = dyPad;
}

// dy (co, ox, oy, n), in (ci, x, y, n) -> dw (kx, ky, ci, co): a partial
// sum per chunk of S samples over the output positions, then the sum of
// the chunks, both in a fixed order that no thread count changes (as
// short sums of sums they also round less than one long sum). Chunks, not
// single samples: 64 per-sample partials of conv3's weight were 13 MB
// written and read back every step (0.9 ms of 12.7 on this 2-core AMD
// EPYC, 2026-11-28).
void lowerWeight(LowerContext& cx, const Op& op) {
  if (const int m = cx.winogradTile(op)) {
    lowerWinogradWeight(cx, op, m);
    return;
  }
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  Dims dy = cx.dims(op.operands[0]);
  Dims d = cx.dims(op.operands[1]);
  Func in = cx.zeroPadded(cx.func(op.operands[1]), d, name + "_padded");
  // dy one sample at a time: what fuse inlined into it (an activation's
  // gradient) is computed once per element, not per tap.
  // Channels beyond dy's (paddedChannels: the schedule's vectors) are
  // zero, so their sums are and nothing reads them.
  Func dyF(name + "_dy");
  Func dyIn = cx.func(op.operands[0]);
  dyF(co, x, y, n) = dy.C < paddedChannels(dy.C) ? select(co < dy.C, dyIn(clamp(co, 0, dy.C - 1), x, y, n), 0.0f)
                                                 : Expr(dyIn(co, x, y, n));
  // With cnnc's CPU schedules, chunks of up to 16 samples, and at least
  // 4 chunks where the batch has 4 samples: each chunk is a parallel task
  // and a partial sum, which the last pass adds up (conv3's 8 partials
  // were 5% of its kernel: --halide-profile). 16 instead of 8 at a batch
  // of 64: conv3's weight gradient 83.6 -> 85.3% of the peak, conv2's
  // 91.0 -> 89.8, conv1's 85.0 -> 82.8 (7 alternating rounds); 80.4 ->
  // 81.5, 87.7 -> 88.7, 80.6 -> 82.9 (9 rounds, a noisier hour;
  // --conv=direct, 2-core Zen 4, 2026-12-06); on a two-unit Xeon conv3's
  // 0.906 -> 0.869 ms (docs/performance.md, third session). A batch of
  // 64 has 4 tasks (the Winograd weight gradients have 2 there:
  // weightGradientPartials); a small one, as a chunked trainer's (cnnc
  // --chunks 4: 16 a chunk), keeps 4 tasks of fewer samples.
  const int S = samplesPerChunk(dy.N, cx.cpuLoops() ? std::clamp(dy.N / 4, 1, 16) : 8);
  RDom r(0, dy.W, 0, dy.H, 0, S, name + "_r");  // positions, then the chunk's samples
  Expr sample = n * S + r.z;                      // n: the chunk
  Func partAcc(name + "_per_chunk_acc");         // (co, kx, ky, ci, n): channels-innermost
  partAcc(co, kx, ky, ci, n) = 0.0f;
  partAcc(co, kx, ky, ci, n) +=
      dyF(co, r.x, r.y, sample) * in(ci, r.x * k.SX + kx - k.PX, r.y * k.SY + ky - k.PY, sample);
  Func part(name + "_per_chunk");
  part(co, kx, ky, ci, n) = partAcc(co, kx, ky, ci, n);
  RDom b(0, dy.N / S, name + "_chunks");
  Func acc(name + "_acc");
  acc(co, kx, ky, ci) = 0.0f;
  acc(co, kx, ky, ci) += part(co, kx, ky, ci, b);
  Func out(name);
  out(kx, ky, ci, co) = acc(co, kx, ky, ci);
  LoweredOp& l = cx.add(op, out);
  l.acc = acc;
  l.r = r;
  l.partial = part;
  l.partialAcc = partAcc;
  l.staged = in;
  l.stagedDy = dyF;
}

}  // namespace

std::vector<OpInfo> conv2dOps() {
  OpInfo conv{OpKind::Conv2d, "conv2d"};
  conv.isLayer = true;
  conv.input = "image";
  conv.args = kConvArgs;
  conv.inferShape = shape;
  conv.params = params;
  conv.macs = forwardMacs;
  conv.grad = grad;
  conv.lower = lowerForward;
  conv.loops = LoopNest::Convolution;

  OpInfo data{OpKind::Conv2dBwdData, "conv2d_bwd_data"};
  data.args = kConvArgs;
  data.macs = dataMacs;
  data.lower = lowerData;
  data.loops = LoopNest::Convolution;

  OpInfo weight{OpKind::Conv2dBwdWeight, "conv2d_bwd_weight"};
  weight.args = kConvArgs;
  weight.macs = weightMacs;
  weight.lower = lowerWeight;
  weight.loops = LoopNest::WeightGradient;
  return {conv, data, weight};
}

}  // namespace cnnc
