// dropout (nn.Dropout(p)) and its gradient. In training each element is
// zeroed with probability p and the rest scaled by 1 / (1 - p); in
// evaluation it does nothing. The mask is never stored: it is a hash of
// the step's key (from the run's seed and the step: runtime/Run.h), the
// layer and the element's index in the batch, computed where it is
// applied, in the forward op and again in its gradient. So it is the same
// on every thread count and on every device; it is not PyTorch's stream.
#include <fmt/format.h>

#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"
#include "support/Text.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

// The layer's part of the key: a hash of its result's name, the same on
// every machine, kept in the gradient's attributes as `salt`.
int64_t saltOf(const std::string& name) { return static_cast<int64_t>(fnv1a(name) & 0x7fffffff); }

// A 32-bit mix with full avalanche (Chris Wellons' lowbias32).
Expr u32(uint32_t v) { return Internal::make_const(UInt(32), static_cast<uint64_t>(v)); }
Expr mix(Expr h) {
  h = h ^ (h >> 16);
  h = h * u32(0x7feb352du);
  h = h ^ (h >> 15);
  h = h * u32(0x846ca68bu);
  return h ^ (h >> 16);
}

// Whether element `index` of the batch survives: the top 24 bits of its
// hash against p (exactly: p 2^24 of every 2^24 hashes are dropped).
Expr kept(LowerContext& cx, const Attrs& a, int64_t salt, Expr index) {
  Expr key = mix(cast<uint32_t>(cx.noise()) ^ mix(u32(static_cast<uint32_t>(salt))));
  Expr h = mix(mix(cast<uint32_t>(index)) ^ key);
  const uint32_t threshold = static_cast<uint32_t>(a.number("p") * 16777216.0 + 0.5);
  return (h >> 8) >= u32(threshold);
}

// The element's index in the batch, PyTorch's order (N, C, H, W or N, F).
Expr indexOf(const Dims& d, const std::vector<Var>& v) {
  if (d.image) return ((v[3] * d.C + v[0]) * d.H + v[2]) * d.W + v[1];
  return v[1] * d.F + v[0];
}

// PyTorch's scale: 1 / (1 - p) as a float (its mask is divided by 1 - p).
float scaleOf(const Attrs& a) { return 1.0f / static_cast<float>(1.0 - a.number("p")); }

void grad(GradBuilder& b, const Op& op) {
  if (!b.needsGrad(ops::input(op))) return;
  Attrs a = op.attrs;
  a.set("salt", AttrValue::integer(saltOf(b.graph().tensors[op.result].name)));
  b.emit(OpKind::DropoutBwd, {b.gradOf(op.result)}, op, ops::input(op), a);
}

// x -> x / (1 - p) where kept, else 0 (training); x (evaluation).
void lowerForward(LowerContext& cx, const Op& op) {
  Func in = cx.func(op.operands[0]), out(cx.name(op));
  std::vector<Var> v = cx.vars(op.result);
  if (cx.mode() == Mode::Evaluation || op.attrs.number("p") == 0) {
    out(v) = in(v);
  } else {
    Expr keep = kept(cx, op.attrs, saltOf(cx.tensor(op.result).name), indexOf(cx.dims(op.result), v));
    out(v) = select(keep, in(v) * scaleOf(op.attrs), 0.0f);
  }
  cx.add(op, out);
}

// dy -> dy / (1 - p) where the forward kept the element, else 0.
void lowerBackward(LowerContext& cx, const Op& op) {
  Func dy = cx.func(op.operands[0]), out(cx.name(op));
  std::vector<Var> v = cx.vars(op.result);
  if (op.attrs.number("p") == 0) {
    out(v) = dy(v);
  } else {
    Expr keep = kept(cx, op.attrs, op.attrs.integer("salt"), indexOf(cx.dims(op.result), v));
    out(v) = select(keep, dy(v) * scaleOf(op.attrs), 0.0f);
  }
  cx.add(op, out);
}

}  // namespace

// Cost per evaluation: the hash, about six relus' worth.
std::vector<OpInfo> dropoutOps() {
  OpInfo dropout{OpKind::Dropout, "dropout"};
  dropout.isLayer = true;
  dropout.args = {{"p", ArgType::Number, false, "0.5", 0, 1}};
  dropout.inferShape = ops::sameShape;
  dropout.grad = grad;
  dropout.fuse = FuseAs::Elementwise;
  dropout.evalCost = 6;
  dropout.lower = lowerForward;
  dropout.loops = LoopNest::Elementwise;
  OpInfo backward{OpKind::DropoutBwd, "dropout_bwd"};
  backward.fuse = FuseAs::ElementwiseGradient;
  backward.evalCost = 6;
  backward.lower = lowerBackward;
  backward.loops = LoopNest::Elementwise;
  return {dropout, backward};
}

}  // namespace cnnc
