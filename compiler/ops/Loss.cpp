// The losses (the train block's `loss`): cross_entropy (nn.CrossEntropyLoss
// on the logits, with the train block's label_smoothing) and mse (nn.MSELoss against the one-hot labels), each a
// mean over the batch's real samples, and their gradients. A loss's
// kernel also counts the correct predictions; its gradient joins it.
#include "grad/Grad.h"
#include "lower/LowerContext.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

// Each sample's row is read once per class.
int64_t readsRow(const Graph& g, const Op&, int) { return g.classes; }

// The root of the backward pass: the gradient of what the loss read
// (fused softmax + cross-entropy: p - onehot).
template <OpKind Backward>
void grad(GradBuilder& b, const Op& op) {
  b.emit(Backward, {op.operands[0], op.operands[1]}, op, op.operands[0]);
}

// logits (o, n) or outputs (o, n), labels (n) -> the loss (mean over the
// valid samples), the count of correct predictions.
void lowerLoss(LowerContext& cx, const Op& op) {
  const Graph& g = cx.graph();
  Lowered& L = cx.lowered();
  const std::string name = cx.name(op);
  Func in = cx.func(op.operands[0]);
  const int K = static_cast<int>(g.classes);
  const int N = static_cast<int>(g.train.batch);
  RDom k(0, K, name + "_k");
  RDom b(0, N, name + "_b");
  b.where(b < cx.valid());
  Expr label = cx.label(n);
  Func perSample(name + "_per_sample");
  Func lse;
  if (op.kind == OpKind::CrossEntropy) {
    // log-softmax + negative log-likelihood, stable: lse = m + log(sum(exp(x - m)))
    Func m(name + "_max");
    lse = Func(name + "_lse");
    m(n) = maxOf(K, [&](Expr t) { return in(t, n); }, name + "_m");
    lse(n) = m(n) + log(sum(exp(in(k, n) - m(n))));
    // With smoothing e the target is (1 - e) onehot + e / K:
    // lse - (1 - e) x_label - (e / K) sum_k x_k.
    const float e = static_cast<float>(g.train.labelSmoothing);
    if (e > 0)
      perSample(n) = lse(n) - (1.0f - e) * in(label, n) - (e / float(K)) * sum(in(k, n));
    else
      perSample(n) = lse(n) - in(label, n);
    L.lse = lse;
  } else {
    Expr diff = in(k, n) - select(k == label, 1.0f, 0.0f);
    perSample(n) = sum(diff * diff) / float(K);
  }
  Func loss("loss");
  loss() = sum(perSample(b)) / cast<float>(cx.valid());
  // argmax of the scores the user sees (the output) equals that of the logits
  Func predicted(name + "_predicted");
  predicted(n) = argmax(k, cx.func(g.output)(k, n))[0];
  Func correct("correct");
  correct() = sum(select(predicted(b) == cx.label(b), 1, 0));
  LoweredOp& l = cx.add(op, perSample);
  l.lse = lse;
  l.predicted = predicted;
  cx.func(op.result) = loss;  // the graph's loss tensor is the mean
  L.loss = loss;
  L.correct = correct;
}

// (softmax(logits) - target) / valid for real samples, 0 for padding; the
// target onehot, or (1 - e) onehot + e / K with label smoothing e.
void lowerCrossEntropyBwd(LowerContext& cx, const Op& op) {
  Func lse = cx.lowered().lse, out(cx.name(op));
  Expr p = exp(cx.func(op.operands[0])(o, n) - lse(n));
  Expr valid = cx.valid();
  const float e = static_cast<float>(cx.graph().train.labelSmoothing);
  const float K = static_cast<float>(cx.graph().classes);
  Expr target = e > 0 ? select(o == cx.label(n), 1.0f - e + e / K, e / K) : select(o == cx.label(n), 1.0f, 0.0f);
  out(o, n) = select(n < valid, (p - target) / cast<float>(valid), 0.0f);
  cx.add(op, out);
}

// 2 (out - onehot) / (valid * classes) for real samples, 0 for padding
void lowerMseBwd(LowerContext& cx, const Op& op) {
  Func out(cx.name(op));
  Expr diff = cx.func(op.operands[0])(o, n) - select(o == cx.label(n), 1.0f, 0.0f);
  Expr count = cast<float>(cx.valid() * static_cast<int>(cx.graph().classes));
  out(o, n) = select(n < cx.valid(), 2.0f * diff / count, 0.0f);
  cx.add(op, out);
}

OpInfo loss(OpKind kind, const char* name, void (*rule)(GradBuilder&, const Op&)) {
  OpInfo info{kind, name};
  info.grad = rule;
  info.fuse = FuseAs::Loss;
  info.readsPerElement = readsRow;
  info.lower = lowerLoss;
  info.loops = LoopNest::Loss;
  return info;
}

OpInfo gradient(OpKind kind, const char* name, void (*lowering)(LowerContext&, const Op&)) {
  OpInfo info{kind, name};
  info.fuse = FuseAs::LossGradient;
  info.readsPerElement = readsRow;
  info.lower = lowering;
  info.loops = LoopNest::LossGradient;
  return info;
}

}  // namespace

std::vector<OpInfo> lossOps() {
  return {loss(OpKind::CrossEntropy, "cross_entropy", grad<OpKind::CrossEntropyBwd>),
          loss(OpKind::Mse, "mse", grad<OpKind::MseBwd>),
          gradient(OpKind::CrossEntropyBwd, "cross_entropy_bwd", lowerCrossEntropyBwd),
          gradient(OpKind::MseBwd, "mse_bwd", lowerMseBwd)};
}

}  // namespace cnnc
