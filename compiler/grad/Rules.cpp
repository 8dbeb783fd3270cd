// The gradient rules. Each reads the gradient of its op's result and emits
// backward ops for the operands that need one. Semantics are PyTorch's.
#include "grad/Rules.h"

#include "grad/Grad.h"

namespace cnnc {

namespace {
// Operands of layers: data input first, then weight, then bias.
int input(const Op& op) { return op.operands[0]; }
int weight(const Op& op) { return op.operands[1]; }
bool hasBias(const Op& op) { return op.operands.size() > 2; }
int bias(const Op& op) { return op.operands[2]; }
}  // namespace

// conv2d -> backward-data (a transposed convolution of dy with the weight)
// and backward-weight (dy correlated with the input); the bias gradient
// sums dy over batch and space.
void gradConv2d(GradBuilder& b, const Op& op) {
  int dy = b.gradOf(op.result);
  if (b.needsGrad(input(op))) b.emit(OpKind::Conv2dBwdData, {dy, weight(op)}, op, input(op), op.attrs);
  b.emit(OpKind::Conv2dBwdWeight, {dy, input(op)}, op, weight(op), op.attrs);
  if (hasBias(op)) b.emit(OpKind::BiasBwd, {dy}, op, bias(op));
}

// relu -> mask: dy where the output is positive (PyTorch's
// threshold_backward on the result).
void gradRelu(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::ReluBwd, {b.gradOf(op.result), op.result}, op, input(op));
}

void gradSigmoid(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::SigmoidBwd, {b.gradOf(op.result), op.result}, op, input(op));
}

void gradTanh(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::TanhBwd, {b.gradOf(op.result), op.result}, op, input(op));
}

// maxpool -> routed gradient: each window's dy goes to its first maximum
// (PyTorch's scan order), recomputed from the input.
void gradMaxPool(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::MaxPoolBwd, {b.gradOf(op.result), input(op)}, op, input(op), op.attrs);
}

// avgpool -> dy / (kernel area) to every input of the window (padding
// counted, as PyTorch's count_include_pad=True).
void gradAvgPool(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::AvgPoolBwd, {b.gradOf(op.result)}, op, input(op), op.attrs);
}

void gradFlatten(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::FlattenBwd, {b.gradOf(op.result)}, op, input(op));
}

// linear -> dx = dy W, dW = dy^T x, db = sum of dy over the batch.
void gradLinear(GradBuilder& b, const Op& op) {
  int dy = b.gradOf(op.result);
  if (b.needsGrad(input(op))) b.emit(OpKind::LinearBwdData, {dy, weight(op)}, op, input(op));
  b.emit(OpKind::LinearBwdWeight, {dy, input(op)}, op, weight(op));
  if (hasBias(op)) b.emit(OpKind::BiasBwd, {dy}, op, bias(op));
}

// softmax -> y * (dy - sum(dy * y)); only reached with the mse loss (the
// cross-entropy loss reads the logits before a final softmax).
void gradSoftmax(GradBuilder& b, const Op& op) {
  if (b.needsGrad(input(op))) b.emit(OpKind::SoftmaxBwd, {b.gradOf(op.result), op.result}, op, input(op));
}

}  // namespace cnnc
