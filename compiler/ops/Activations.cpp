// The activations (relu, sigmoid, tanh, leaky_relu, gelu: nn.ReLU,
// nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU with the exact erf) and their
// gradients, each from the activation's result but gelu's (from its
// input). Elementwise: fuse computes them inside their readers where that
// recomputes little.
#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;

namespace {

template <OpKind Backward>
void grad(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op))) b.emit(Backward, {b.gradOf(op.result), op.result}, op, ops::input(op));
}

template <Expr (*F)(Expr)>
void lowerForward(LowerContext& cx, const Op& op) {
  Func in = cx.func(op.operands[0]), out(cx.name(op));
  std::vector<Var> v = cx.vars(op.result);
  out(v) = F(in(v));
  cx.add(op, out);
}

// dy, y -> dx
template <Expr (*F)(Expr, Expr)>
void lowerBackward(LowerContext& cx, const Op& op) {
  Func dy = cx.func(op.operands[0]), y = cx.func(op.operands[1]), out(cx.name(op));
  std::vector<Var> v = cx.vars(op.result);
  out(v) = F(dy(v), y(v));
  cx.add(op, out);
}

// leaky_relu(slope) reads its attribute; y > 0 exactly where x > 0
// (slope >= 0), so its gradient, like relu's, needs only the result.
void gradLeaky(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op)))
    b.emit(OpKind::LeakyReluBwd, {b.gradOf(op.result), op.result}, op, ops::input(op), op.attrs);
}
void lowerLeaky(LowerContext& cx, const Op& op) {
  Func in = cx.func(op.operands[0]), out(cx.name(op));
  std::vector<Var> v = cx.vars(op.result);
  const float slope = static_cast<float>(op.attrs.number("slope"));
  out(v) = select(in(v) > 0.0f, in(v), in(v) * slope);
  cx.add(op, out);
}
void lowerLeakyBwd(LowerContext& cx, const Op& op) {
  Func dy = cx.func(op.operands[0]), y = cx.func(op.operands[1]), out(cx.name(op));
  std::vector<Var> v = cx.vars(op.result);
  const float slope = static_cast<float>(op.attrs.number("slope"));
  out(v) = select(y(v) > 0.0f, dy(v), dy(v) * slope);
  cx.add(op, out);
}

// gelu's gradient is a function of its input: dy (Phi(x) + x phi(x)).
void gradGelu(GradBuilder& b, const Op& op) {
  if (b.needsGrad(ops::input(op))) b.emit(OpKind::GeluBwd, {b.gradOf(op.result), ops::input(op)}, op, ops::input(op));
}
Expr gelu(Expr x) { return 0.5f * x * (1.0f + erfOf(x * 0.70710678118654752f)); }
Expr geluBwd(Expr dy, Expr x) {
  Expr cdf = 0.5f * (1.0f + erfOf(x * 0.70710678118654752f));
  Expr pdf = expOf(-0.5f * x * x) * 0.39894228040143268f;
  return dy * (cdf + x * pdf);
}

Expr relu(Expr v) { return max(v, 0.0f); }
Expr sigmoid(Expr v) { return sigmoidOf(v); }
Expr tanhF(Expr v) { return tanhOf(v); }
// PyTorch's threshold_backward on the result: dy where y > 0.
Expr reluBwd(Expr dy, Expr y) { return select(y > 0.0f, dy, 0.0f); }
Expr sigmoidBwd(Expr dy, Expr y) { return dy * (1.0f - y) * y; }
Expr tanhBwd(Expr dy, Expr y) { return dy * (1.0f - y * y); }

OpInfo activation(OpKind kind, const char* name, int64_t cost, void (*rule)(GradBuilder&, const Op&),
                  void (*lowering)(LowerContext&, const Op&)) {
  OpInfo info{kind, name};
  info.isLayer = true;
  info.inferShape = ops::sameShape;
  info.grad = rule;
  info.fuse = FuseAs::Elementwise;
  info.evalCost = cost;
  info.lower = lowering;
  info.loops = LoopNest::Elementwise;
  return info;
}

OpInfo gradient(OpKind kind, const char* name, int64_t cost, void (*lowering)(LowerContext&, const Op&)) {
  OpInfo info{kind, name};
  info.fuse = FuseAs::ElementwiseGradient;
  info.evalCost = cost;
  info.lower = lowering;
  info.loops = LoopNest::Elementwise;
  return info;
}

}  // namespace

// Costs per evaluation, in relu-sized units: sigmoid and tanh call exp,
// gelu a rational function or exp.
std::vector<OpInfo> activationOps() {
  OpInfo leaky = activation(OpKind::LeakyRelu, "leaky_relu", 1, gradLeaky, lowerLeaky);
  leaky.args = {{"slope", ArgType::Number, false, "0.01", 0}};
  OpInfo leakyBwd = gradient(OpKind::LeakyReluBwd, "leaky_relu_bwd", 1, lowerLeakyBwd);
  leakyBwd.args = leaky.args;
  return {
      leaky,
      leakyBwd,
      activation(OpKind::Gelu, "gelu", 20, gradGelu, lowerForward<gelu>),
      gradient(OpKind::GeluBwd, "gelu_bwd", 25, lowerBackward<geluBwd>),
      activation(OpKind::Relu, "relu", 1, grad<OpKind::ReluBwd>, lowerForward<relu>),
      activation(OpKind::Sigmoid, "sigmoid", 20, grad<OpKind::SigmoidBwd>, lowerForward<sigmoid>),
      activation(OpKind::Tanh, "tanh", 20, grad<OpKind::TanhBwd>, lowerForward<tanhF>),
      gradient(OpKind::ReluBwd, "relu_bwd", 1, lowerBackward<reluBwd>),
      gradient(OpKind::SigmoidBwd, "sigmoid_bwd", 3, lowerBackward<sigmoidBwd>),
      gradient(OpKind::TanhBwd, "tanh_bwd", 3, lowerBackward<tanhBwd>),
  };
}

}  // namespace cnnc
