// maxpool and avgpool (nn.MaxPool2d, nn.AvgPool2d with PyTorch's
// defaults: floor mode, padding counted in the average) and their
// gradients, each input gathering from the windows that cover it; and
// global_avgpool (nn.AdaptiveAvgPool2d(1): CxHxW -> Cx1x1), whose
// gradient spreads dy evenly over the image.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"
#include "support/Invariant.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

const std::vector<ArgSpec> kPoolArgs = {{"kernel", ArgType::Pair, true, ""},
                                        {"stride", ArgType::Pair, false, "kernel"},
                                        {"padding", ArgType::Pair, false, "0", 0}};

// PyTorch refuses padding over half the kernel (the window would see only
// padding); so do we, and at compile time.
ShapeResult shape(const Attrs& a, const std::vector<Shape>& in) {
  const auto kernel = a.pair("kernel"), padding = a.pair("padding");
  for (int axis = 0; axis < 2; ++axis) {
    if (padding[axis] * 2 > kernel[axis])
      return {{}, fmt::format("padding {} is more than half the kernel {}", padding[axis], kernel[axis]), "padding"};
  }
  return ops::slideWindow(a, in[0], in[0][0]);
}

// A pool or its gradient reads each element once per window covering it.
int64_t windowsPerElement(const Graph&, const Op& reader, int) {
  const auto k = reader.attrs.pair("kernel"), s = reader.attrs.pair("stride");
  auto per = [](int64_t kernel, int64_t stride) { return (kernel + stride - 1) / stride; };
  return per(k[0], s[0]) * per(k[1], s[1]);
}

// The relu whose result only `pool` reads, or null.
const Op* reluOnlyBefore(const Graph& g, const Op& pool) {
  const int in = ops::input(pool);
  const Op* relu = nullptr;
  for (const Op& op : g.ops) {
    if (op.result == in && op.kind == OpKind::Relu) relu = &op;
    if (op.result != pool.result && std::find(op.operands.begin(), op.operands.end(), in) != op.operands.end()) return nullptr;
  }
  return in == g.output || in == g.logits ? nullptr : relu;
}

// maxpool_index(x) -> NAME.index, the window position of each window's
// first maximum, added after the maxpool `op`; with `relu`, x is the
// input of the relu before the pool, and the position is the window's
// size (no position) where that maximum is not positive (the relu's
// gradient is 0 there).
int keepIndex(Graph& g, const Op& op, int x, bool relu) {
  size_t i = 0;
  while (i < g.ops.size() && !(g.ops[i].phase == Phase::Forward && g.ops[i].result == op.result)) ++i;
  require(i < g.ops.size(), "a maxpool's gradient rule finds its op");
  const Tensor& out = g.tensors[op.result];
  // A byte a window (PyTorch keeps 8) where the positions and "none" fit:
  // conv1's index in mnist is 200 KB a step, not 800, written by the
  // pool's kernel and read by two more.
  const ops::Window k = ops::windowOf(op.attrs);
  const DType type = k.KW * k.KH <= 255 ? DType::U8 : DType::I32;
  const int index = g.addTensor({out.name + ".index", out.shape, type, op.loc}, TensorRole::Activation);
  Attrs attrs = op.attrs;
  attrs.set("relu", AttrValue::boolean(relu));
  Op keep{OpKind::MaxPoolIndex, {x}, index, attrs, op.loc, op.stage, op.layerIndex, Phase::Forward};
  g.ops.insert(g.ops.begin() + static_cast<std::ptrdiff_t>(i) + 1, keep);
  return index;
}

// maxpool -> routed gradient: each window's dy goes to its first maximum
// (PyTorch's scan order), which the forward kept (maxpool_index), so the
// backward reads a quarter of the input (2x2 windows) instead of all of
// it. After a relu that only the pool reads, the index is of the relu's
// input and the routed gradient is the relu's input's: relu(max(x)) =
// max(relu(x)), and where the maximum is positive its first position is
// the same in x and relu(x). Then nothing in the backward reads the
// convolution before the relu.
void gradMax(GradBuilder& b, const Op& op) {
  const Op* relu = reluOnlyBefore(b.graph(), op);
  const int target = relu ? ops::input(*relu) : ops::input(op);
  if (!b.needsGrad(target)) return;
  const int index = keepIndex(b.graph(), op, target, relu != nullptr);
  b.emit(OpKind::MaxPoolBwd, {b.gradOf(op.result), index}, op, target, op.attrs);
}

// avgpool -> dy / (kernel area) to every input of the window (padding
// counted, as PyTorch's count_include_pad=True).
void gradAvg(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op))) b.emit(OpKind::AvgPoolBwd, {b.gradOf(op.result)}, op, ops::input(op), op.attrs);
}

// in (c, x, y, n) -> out (c, ox, oy, n)
void lowerForward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  Dims d = cx.dims(op.operands[0]);
  const bool isMax = op.kind == OpKind::MaxPool;
  Func in = padded(cx.func(op.operands[0]), d, isMax ? Expr(-INFINITY) : Expr(0.0f), name + "_padded");
  RDom r(0, k.KW, 0, k.KH, name + "_r");
  Expr v = in(c, x * k.SX + r.x - k.PX, y * k.SY + r.y - k.PY, n);
  Func out(name);
  if (isMax) {
    out(c, x, y, n) = maxOf(
        k.KW * k.KH, [&](Expr t) { return in(c, x * k.SX + t % k.KW - k.PX, y * k.SY + t / k.KW - k.PY, n); },
        name + "_r");
  } else {
    out(c, x, y, n) = sum(v) / float(k.KW * k.KH);  // padding counted, as PyTorch's default
  }
  cx.add(op, out);
}

// dy (c, ox, oy, n) -> dx (c, x, y, n): each input gathers from the
// windows that cover it.
void lowerBackward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  Dims dy = cx.dims(op.operands[0]);
  Func dyF = cx.func(op.operands[0]);
  RDom w(0, k.KW, 0, k.KH, name + "_k");
  Expr oxs = x + k.PX - w.x, oys = y + k.PY - w.y;
  Expr ox = clamp(oxs / k.SX, 0, dy.W - 1), oy = clamp(oys / k.SY, 0, dy.H - 1);
  Expr covers =
      oxs >= 0 && oys >= 0 && oxs % k.SX == 0 && oys % k.SY == 0 && oxs / k.SX < dy.W && oys / k.SY < dy.H;
  Func out(name);
  if (op.kind == OpKind::AvgPoolBwd) {
    out(c, x, y, n) = sum(select(covers, dyF(c, ox, oy, n), 0.0f)) / float(k.KW * k.KH);
    cx.add(op, out);
    return;
  }
  // The first maximum of each window, as maxpool_index kept it.
  Func index = cx.func(op.operands[1]);
  const Type indexType = halideType(cx.tensor(op.operands[1]).dtype);
  if (k.SX == k.KW && k.SY == k.KH) {
    // Windows that do not overlap (the usual pooling): each input is in at
    // most one window, so it reads one gradient, not KW x KH.
    Expr px = x + k.PX, py = y + k.PY;  // >= 0: x, y >= 0
    Expr inside = px / k.SX < dy.W && py / k.SY < dy.H;
    Expr wx = min(px / k.SX, dy.W - 1), wy = min(py / k.SY, dy.H - 1);
    Expr at = cast(indexType, (py % k.SY) * k.KW + px % k.SX);
    out(c, x, y, n) = select(inside && index(c, wx, wy, n) == at, dyF(c, wx, wy, n), 0.0f);
  } else {
    covers = covers && index(c, ox, oy, n) == cast(indexType, w.y * k.KW + w.x);
    out(c, x, y, n) = sum(select(covers, dyF(c, ox, oy, n), 0.0f));
  }
  cx.add(op, out);
}

// maxpool_index: x (c, x, y, n) -> (c, ox, oy, n) the position of the
// window's first maximum (row-major), a byte (int32 for windows of more
// than 255); with `relu`, the window's size (no position) where that
// maximum is not positive. Evaluation reads none.
void lowerIndex(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  const Type type = halideType(cx.tensor(op.result).dtype);
  Func out(name);
  if (cx.mode() == Mode::Evaluation) {
    out(c, x, y, n) = cast(type, 0);
    cx.add(op, out);
    return;
  }
  const ops::Window k = ops::windowOf(op.attrs);
  Func in = padded(cx.func(op.operands[0]), cx.dims(op.operands[0]), Expr(-INFINITY), name + "_padded");
  Expr best;
  Expr at = argmaxOf(
      k.KW * k.KH, [&](Expr t) { return in(c, x * k.SX + t % k.KW - k.PX, y * k.SY + t / k.KW - k.PY, n); },
      name + "_r", &best);
  out(c, x, y, n) = cast(type, op.attrs.flag("relu") ? select(best > 0.0f, at, k.KW * k.KH) : at);
  cx.add(op, out);
}

OpInfo pool(OpKind kind, const char* name, void (*rule)(GradBuilder&, const Op&)) {
  OpInfo info{kind, name};
  info.isLayer = true;
  info.input = "image";
  info.args = kPoolArgs;
  info.inferShape = shape;
  info.grad = rule;
  info.readsPerElement = windowsPerElement;
  info.lower = lowerForward;
  info.loops = LoopNest::Gather;
  return info;
}

// A pooling gradient is never computed inside the convolution gradients
// that read it: inside the three backward kernels reading it, the training
// step took twice as long (23 -> 45 ms, alternating runs on the 2-core AMD
// EPYC, 2026-11-28). It is computed inside the activation gradient after
// it instead (FuseAs::RoutedGradient).
OpInfo gradient(OpKind kind, const char* name) {
  OpInfo info{kind, name};
  info.args = kPoolArgs;
  info.fuse = FuseAs::RoutedGradient;
  info.readsPerElement = windowsPerElement;
  info.lower = lowerBackward;
  info.loops = LoopNest::Gather;
  return info;
}

ShapeResult globalShape(const Attrs&, const std::vector<Shape>& in) { return {{in[0][0], 1, 1}, "", ""}; }

void gradGlobal(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op))) b.emit(OpKind::GlobalAvgPoolBwd, {b.gradOf(op.result)}, op, ops::input(op));
}

// in (c, x, y, n) -> out (c, 0, 0, n): each channel's mean, rows in turn.
void lowerGlobal(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func in = cx.func(op.operands[0]), out(name);
  RDom r(0, d.W, 0, d.H, name + "_r");
  out(c, x, y, n) = sum(in(c, r.x, r.y, n)) / float(d.W * d.H);
  cx.add(op, out);
}

// dy (c, 0, 0, n) -> dx (c, x, y, n) = dy / (H W)
void lowerGlobalBwd(LowerContext& cx, const Op& op) {
  Dims d = cx.dims(op.result);
  Func dy = cx.func(op.operands[0]), out(cx.name(op));
  out(c, x, y, n) = dy(c, 0, 0, n) / float(d.W * d.H);
  cx.add(op, out);
}

}  // namespace

std::vector<OpInfo> poolOps() {
  OpInfo global{OpKind::GlobalAvgPool, "global_avgpool"};
  global.isLayer = true;
  global.input = "image";
  global.inferShape = globalShape;
  global.grad = gradGlobal;
  global.lower = lowerGlobal;
  global.loops = LoopNest::Gather;
  OpInfo globalBwd{OpKind::GlobalAvgPoolBwd, "global_avgpool_bwd"};
  globalBwd.fuse = FuseAs::RoutedGradient;
  globalBwd.lower = lowerGlobalBwd;
  globalBwd.loops = LoopNest::Gather;
  OpInfo index{OpKind::MaxPoolIndex, "maxpool_index"};
  index.fuse = FuseAs::Joined;
  index.readsPerElement = windowsPerElement;
  index.lower = lowerIndex;
  index.loops = LoopNest::Gather;
  return {pool(OpKind::MaxPool, "maxpool", gradMax), pool(OpKind::AvgPool, "avgpool", gradAvg),
          gradient(OpKind::MaxPoolBwd, "maxpool_bwd"), gradient(OpKind::AvgPoolBwd, "avgpool_bwd"), global,
          globalBwd, index};
}

}  // namespace cnnc
