// grad: IR -> IR + backward ops + the optimizer update.
//
// Reverse-mode differentiation: starting from the loss, each forward op's
// gradient rule (the `grad` of its row in the op table, written in the
// op's file in compiler/ops/) emits the backward ops that turn the gradient of its
// result into gradients of its operands. Then one update op applies the
// optimizer to every parameter at once. Must run after check.
#pragma once

#include <map>

#include "ir/IR.h"

namespace cnnc {

// What a gradient rule uses to add backward ops to the graph.
class GradBuilder {
 public:
  explicit GradBuilder(Graph& graph);

  Graph& graph() { return g_; }
  // The gradient of `tensor` (its rule's input); -1 if nothing flows back.
  int gradOf(int tensor) const { return tensor < static_cast<int>(grads_.size()) ? grads_[tensor] : -1; }
  // Whether the gradient of `tensor` is needed: only where it depends on a
  // parameter (PyTorch's requires_grad), so never for the images, nor for
  // what is computed from them alone (the MLP's flattened input).
  bool needsGrad(int tensor) const { return tensor < static_cast<int>(needed_.size()) && needed_[tensor]; }
  // Adds a backward op of `forward`'s layer computing the gradient of
  // `target` (shape and name follow `target`), and records it.
  // Where `target` already has a gradient (a tensor several ops read), the
  // new one is a contribution, and an `add` sums the two.
  int emit(OpKind kind, std::vector<int> operands, const Op& forward, int target, Attrs attrs = {});
  // Records the existing tensor `gradient` as (a contribution to) the
  // gradient of `target`, without an op: add's rule, whose inputs' gradients
  // are its own.
  void pass(int gradient, int target, const Op& forward);

 private:
  Graph& g_;
  void contribute(int gradient, int target, const Op& forward);

  std::vector<int> grads_;    // tensor id -> gradient tensor id (the sum of the contributions so far)
  std::map<int, int> contributions_;  // tensor id -> contributions after the first
  std::vector<bool> needed_;  // tensor id -> depends on a parameter (forward tensors)
};

// Adds the backward pass and the optimizer update to a checked graph.
void differentiate(Graph& graph);

}  // namespace cnnc
