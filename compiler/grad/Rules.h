// One gradient rule per differentiable op; the op table points at them.
#pragma once

namespace cnnc {

class GradBuilder;
struct Op;

void gradConv2d(GradBuilder& b, const Op& op);
void gradRelu(GradBuilder& b, const Op& op);
void gradSigmoid(GradBuilder& b, const Op& op);
void gradTanh(GradBuilder& b, const Op& op);
void gradMaxPool(GradBuilder& b, const Op& op);
void gradAvgPool(GradBuilder& b, const Op& op);
void gradFlatten(GradBuilder& b, const Op& op);
void gradLinear(GradBuilder& b, const Op& op);
void gradSoftmax(GradBuilder& b, const Op& op);

}  // namespace cnnc
