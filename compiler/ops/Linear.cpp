// linear (nn.Linear) and its gradients: dx = dy W, dW = dy^T x (the bias's
// is bias_bwd).
#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

const std::vector<ArgSpec> kLinearArgs = {
    {"out", ArgType::Int, true, ""}, {"in", ArgType::Int, false, "inferred"}, {"bias", ArgType::Bool, false, "true"}};

ShapeResult shape(const Attrs& a, const std::vector<Shape>&) { return {{a.integer("out")}, "", ""}; }

std::vector<ParamSpec> params(const Attrs& a, const Shape& in) {
  std::vector<ParamSpec> p{{"weight", {a.integer("out"), in[0]}}};
  if (a.flag("bias")) p.push_back({"bias", {a.integer("out")}});
  return p;
}

// Each op multiplies every input feature with every output once per sample.
int64_t macs(const Attrs&, const std::vector<Shape>& operands, const Shape& result) {
  return numElements(ops::perSample(operands[0])) * numElements(ops::perSample(result));
}
int64_t weightMacs(const Attrs&, const std::vector<Shape>& operands, const Shape&) {
  return numElements(ops::perSample(operands[0])) * numElements(ops::perSample(operands[1]));
}

// Every output reads every input: [N, O] reads each input O times; the
// data gradient [N, F] reads dy once per input feature; the weight
// gradient [O, F] reads dy once per F and x once per O.
int64_t readsForward(const Graph& g, const Op& reader, int) { return g.tensors[reader.result].shape[1]; }
int64_t readsWeight(const Graph& g, const Op& reader, int index) {
  const Shape& dw = g.tensors[reader.result].shape;
  return index == 0 ? dw[1] : dw[0];
}

void grad(GradBuilder& b, const Op& op) {
  int dy = b.gradOf(op.result);
  if (b.needsGrad(ops::input(op))) b.emit(OpKind::LinearBwdData, {dy, ops::weight(op)}, op, ops::input(op));
  b.emit(OpKind::LinearBwdWeight, {dy, ops::input(op)}, op, ops::weight(op));
  if (ops::hasBias(op)) b.emit(OpKind::BiasBwd, {dy}, op, ops::bias(op));
}

// in (f, n), weight (f, o) -> out (o, n)
void lowerForward(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func in = cx.func(op.operands[0]), w = cx.func(op.operands[1]);
  RDom r(0, d.F, name + "_r");
  Func acc(name + "_acc");
  acc(o, n) = ops::hasBias(op) ? Expr(cx.func(ops::bias(op))(o)) : Expr(0.0f);
  acc(o, n) += in(r, n) * w(r, o);
  Func out(name);
  out(o, n) = acc(o, n);
  LoweredOp& l = cx.add(op, out);
  l.acc = acc;
  l.r = r;
}

// dy (o, n), weight (f, o) -> dx (f, n)
void lowerData(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func dy = cx.func(op.operands[0]), w = cx.func(op.operands[1]), acc(name + "_acc"), out(name);
  RDom r(0, d.F, name + "_r");
  acc(i, n) = 0.0f;
  acc(i, n) += dy(r, n) * w(i, r);
  out(i, n) = acc(i, n);
  LoweredOp& l = cx.add(op, out);
  l.acc = acc;
  l.r = r;
}

// dy (o, n), in (f, n) -> dw (f, o)
void lowerWeight(LowerContext& cx, const Op& op) {
  const std::string name = cx.name(op);
  Dims d = cx.dims(op.operands[0]);
  Func dy = cx.func(op.operands[0]), in = cx.func(op.operands[1]), acc(name + "_acc"), out(name);
  RDom r(0, d.N, name + "_r");
  acc(i, o) = 0.0f;
  acc(i, o) += dy(o, r) * in(i, r);
  out(i, o) = acc(i, o);
  LoweredOp& l = cx.add(op, out);
  l.acc = acc;
  l.r = r;
}

}  // namespace

std::vector<OpInfo> linearOps() {
  OpInfo linear{OpKind::Linear, "linear"};
  linear.isLayer = true;
  linear.input = "vector";
  linear.args = kLinearArgs;
  linear.inferShape = shape;
  linear.params = params;
  linear.macs = macs;
  linear.grad = grad;
  linear.readsPerElement = readsForward;
  linear.lower = lowerForward;
  linear.loops = LoopNest::Dense;

  OpInfo data{OpKind::LinearBwdData, "linear_bwd_data"};
  data.macs = macs;
  data.readsPerElement = readsForward;
  data.lower = lowerData;
  data.loops = LoopNest::DenseGradient;

  OpInfo weight{OpKind::LinearBwdWeight, "linear_bwd_weight"};
  weight.macs = weightMacs;
  weight.readsPerElement = readsWeight;
  weight.lower = lowerWeight;
  weight.loops = LoopNest::DenseGradient;
  return {linear, data, weight};
}

}  // namespace cnnc
