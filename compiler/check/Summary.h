// --summary: a table of the checked model, like Keras' model.summary().
#pragma once

#include <string>

#include "ir/IR.h"

namespace cnnc {

struct ModelTotals {
  int64_t params = 0;
  int64_t macsPerSample = 0;
  // A training step: the forward pass, each weight gradient, and each data
  // gradient but the input's (convolutions and linear layers).
  int64_t trainMacsPerSample = 0;
};

// Parameters and multiply-adds per sample of the forward pass.
ModelTotals modelTotals(const Graph& graph);

std::string printSummary(const Graph& graph);

// Multiply-adds per sample of one op: a convolution or linear layer and
// each of its gradients (the same count); 0 for the rest.
int64_t opMacsPerSample(const Graph& graph, const Op& op);

}  // namespace cnnc
