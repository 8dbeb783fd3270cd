// add (language v2): the value a stage's layer receives plus the outputs of
// the stages it names, element by element (a skip connection). grad also
// adds a tensor's gradient contributions with it when several ops read
// the tensor. Its gradient is dy for every input, passed on without a copy.
#include <fmt/format.h>

#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;

namespace {

// Every input has the shape of the first.
ShapeResult shape(const Attrs&, const std::vector<Shape>& in) {
  for (size_t k = 1; k < in.size(); ++k)
    if (in[k] != in[0])
      return {{}, "different shapes", std::to_string(k)};  // the checker names both
  return {in[0], "", ""};
}

void grad(GradBuilder& b, const Op& op) {
  const int dy = b.gradOf(op.result);
  for (int k = 0; k < op.inputs; ++k)
    if (b.needsGrad(op.operands[k])) b.pass(dy, op.operands[k], op);
}

void lower(LowerContext& cx, const Op& op) {
  std::vector<Var> v = cx.vars(op.result);
  Expr sum = cx.func(op.operands[0])(v);
  for (int k = 1; k < op.inputs; ++k) sum = sum + cx.func(op.operands[k])(v);
  Func out(cx.name(op));
  out(v) = sum;
  cx.add(op, out);
}

}  // namespace

std::vector<OpInfo> addOps() {
  OpInfo add{OpKind::Add, "add"};
  add.isLayer = true;
  add.takesStages = true;
  add.inferShape = shape;
  add.grad = grad;
  add.fuse = FuseAs::Elementwise;
  add.evalCost = 1;
  add.lower = lower;
  add.loops = LoopNest::Elementwise;
  return {add};
}

}  // namespace cnnc
