#include "grad/Grad.h"

#include <fmt/format.h>

#include "ir/Ops.h"
#include "runtime/Optimizer.h"
#include "support/Invariant.h"

namespace cnnc {

GradBuilder::GradBuilder(Graph& graph) : g_(graph), grads_(graph.tensors.size(), -1), needed_(graph.tensors.size()) {
  for (size_t t = 0; t < g_.tensors.size(); ++t) needed_[t] = g_.roles[t] == TensorRole::Param;
  for (const Op& op : g_.ops)  // forward ops, in order: operands before results
    for (int t : op.operands)
      if (op.result >= 0 && needed_[t]) needed_[op.result] = true;
}

int GradBuilder::emit(OpKind kind, std::vector<int> operands, const Op& forward, int target, Attrs attrs) {
  // The first gradient of `target` is `grad.NAME`; where several ops read
  // it, each further contribution is `grad.NAME.K`, added to the others.
  const Tensor& t = g_.tensors[target];
  const bool isParam = g_.roles[target] == TensorRole::Param;
  require(!isParam || gradOf(target) < 0, "a parameter read by two ops");
  const int k = gradOf(target) < 0 ? 0 : ++contributions_[target];
  const std::string name = k == 0 ? "grad." + t.name : fmt::format("grad.{}.{}", t.name, k);
  int id = g_.addTensor({name, t.shape, DType::F32, forward.loc}, isParam ? TensorRole::Grad : TensorRole::Activation);
  Op op{kind, std::move(operands), id, attrs, forward.loc, forward.stage, forward.layerIndex, Phase::Backward};
  g_.ops.push_back(op);
  contribute(id, target, forward);
  return id;
}

void GradBuilder::pass(int gradient, int target, const Op& forward) {
  if (gradOf(target) >= 0) ++contributions_[target];
  contribute(gradient, target, forward);
}

void GradBuilder::contribute(int gradient, int target, const Op& forward) {
  if (grads_.size() < g_.tensors.size()) grads_.resize(g_.tensors.size(), -1);
  const int before = grads_[target];
  if (before < 0 || before == gradient) {
    grads_[target] = gradient;
    return;
  }
  // The sum so far: `grad.NAME.sumK`, read by the rule of the op that made `target`.
  const Tensor& t = g_.tensors[target];
  const int sum = g_.addTensor({fmt::format("grad.{}.sum{}", t.name, contributions_[target]), t.shape, DType::F32,
                                forward.loc},
                               TensorRole::Activation);
  Op add{OpKind::Add, {before, gradient}, sum, {}, forward.loc, forward.stage, forward.layerIndex, Phase::Backward};
  add.inputs = 2;
  g_.ops.push_back(add);
  grads_.resize(g_.tensors.size(), -1);  // the sum is a new tensor
  grads_[target] = sum;
}

void differentiate(Graph& g) {
  require(g.loss >= 0 && !g.hasGrad, "differentiate needs a checked graph with a loss, once");
  GradBuilder b(g);
  const size_t forwardOps = g.ops.size();
  // The root: the loss, the last forward op, whose rule gives the gradient
  // of what it read (fused softmax + cross-entropy: p - onehot). Then every
  // layer, last to first. A final softmax that the cross-entropy loss
  // skipped has no gradient flowing into it.
  require(g.ops[forwardOps - 1].result == g.loss, "the loss is the last forward op");
  for (size_t i = forwardOps; i-- > 0;) {
    const Op op = g.ops[i];  // a copy: rules add ops
    if (op.result != g.loss && b.gradOf(op.result) < 0) continue;
    const OpInfo& info = opInfo(op.kind);
    require(info.grad != nullptr, "a gradient flows into an op with no gradient rule");
    info.grad(b, op);
  }
  for (int p : g.params) g.paramGrads.push_back(b.gradOf(p));

  // The optimizer: one op over all parameters and their gradients.
  Op update{g.train.optimizer.kind == Optimizer::Kind::Adam ? OpKind::AdamUpdate : OpKind::SgdUpdate,
            {}, -1, {}, Loc{}, "optimizer", 0, Phase::Update};
  update.operands = g.params;
  update.operands.insert(update.operands.end(), g.paramGrads.begin(), g.paramGrads.end());
  int64_t total = 0;
  for (int p : g.params) total += numElements(g.tensors[p].shape);
  // The optimizer's state (runtime/Optimizer.h says which): one array
  // over all parameters each.
  const auto kind = update.kind == OpKind::AdamUpdate ? cnnc_rt::OptimizerKind::Adam : cnnc_rt::OptimizerKind::Sgd;
  for (int k = 0; k < cnnc_rt::stateCount(kind, g.train.optimizer.momentum); ++k) {
    int id = g.addTensor({cnnc_rt::stateName(kind, k), {total}, DType::F32, Loc{}}, TensorRole::OptState);
    update.operands.push_back(id);
  }
  g.ops.push_back(update);
  g.hasGrad = true;
}

}  // namespace cnnc
