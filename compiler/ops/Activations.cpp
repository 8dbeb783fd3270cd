// The activations (relu, sigmoid, tanh: nn.ReLU, nn.Sigmoid, nn.Tanh) and
// their gradients, each from the activation's result. Elementwise: fuse
// computes them inside their readers where that recomputes little.
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

Expr relu(Expr v) { return max(v, 0.0f); }
Expr sigmoid(Expr v) { return 1.0f / (1.0f + exp(-v)); }
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

// Costs per evaluation, in relu-sized units: sigmoid and tanh call exp.
std::vector<OpInfo> activationOps() {
  return {
      activation(OpKind::Relu, "relu", 1, grad<OpKind::ReluBwd>, lowerForward<relu>),
      activation(OpKind::Sigmoid, "sigmoid", 20, grad<OpKind::SigmoidBwd>, lowerForward<sigmoid>),
      activation(OpKind::Tanh, "tanh", 20, grad<OpKind::TanhBwd>, lowerForward<tanhF>),
      gradient(OpKind::ReluBwd, "relu_bwd", 1, lowerBackward<reluBwd>),
      gradient(OpKind::SigmoidBwd, "sigmoid_bwd", 3, lowerBackward<sigmoidBwd>),
      gradient(OpKind::TanhBwd, "tanh_bwd", 3, lowerBackward<tanhBwd>),
  };
}

}  // namespace cnnc
