#include "ir/Ops.h"

#include <fmt/format.h>

#include <cassert>

#include "grad/Rules.h"

namespace cnnc {

const char* argTypeName(ArgType type) {
  switch (type) {
    case ArgType::Int: return "an integer";
    case ArgType::Pair: return "an integer or HxW";
    case ArgType::Bool: return "true or false";
    case ArgType::Number: return "a number";
  }
  return "?";
}

namespace {

// Output size of a sliding window along one axis (PyTorch, floor mode).
int64_t windowOut(int64_t in, int64_t kernel, int64_t stride, int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

// Shared by conv2d and the pools: the window must fit the padded input and
// leave at least one output.
ShapeResult slideWindow(const Attrs& a, const Shape& in, int64_t channels) {
  int64_t paddedH = in[1] + 2 * a.padding[0], paddedW = in[2] + 2 * a.padding[1];
  if (a.kernel[0] > paddedH || a.kernel[1] > paddedW) {
    return {{},
            fmt::format("kernel {}x{} is larger than the padded input {}x{} (input {}x{}, padding {}x{}): the output "
                        "would be empty",
                        a.kernel[0],
                        a.kernel[1], paddedH, paddedW, in[1], in[2], a.padding[0], a.padding[1]),
            "kernel"};
  }
  return {{channels, windowOut(in[1], a.kernel[0], a.stride[0], a.padding[0]),
           windowOut(in[2], a.kernel[1], a.stride[1], a.padding[1])},
          "",
          ""};
}

ShapeResult sameShape(const Attrs&, const Shape& in) { return {in, "", ""}; }
ShapeResult convShape(const Attrs& a, const Shape& in) { return slideWindow(a, in, a.out); }
ShapeResult poolShape(const Attrs& a, const Shape& in) {
  // PyTorch refuses padding over half the kernel (the window would see
  // only padding); so do we, and at compile time.
  for (int axis = 0; axis < 2; ++axis) {
    if (a.padding[axis] * 2 > a.kernel[axis])
      return {{}, fmt::format("padding {} is more than half the kernel {}", a.padding[axis], a.kernel[axis]), "padding"};
  }
  return slideWindow(a, in, in[0]);
}
ShapeResult flattenShape(const Attrs&, const Shape& in) { return {{numElements(in)}, "", ""}; }
ShapeResult linearShape(const Attrs& a, const Shape&) { return {{a.out}, "", ""}; }

std::vector<ParamSpec> noParams(const Attrs&, const Shape&) { return {}; }
std::vector<ParamSpec> convParams(const Attrs& a, const Shape& in) {
  std::vector<ParamSpec> p{{"weight", {a.out, in[0], a.kernel[0], a.kernel[1]}}};
  if (a.bias) p.push_back({"bias", {a.out}});
  return p;
}
std::vector<ParamSpec> linearParams(const Attrs& a, const Shape& in) {
  std::vector<ParamSpec> p{{"weight", {a.out, in[0]}}};
  if (a.bias) p.push_back({"bias", {a.out}});
  return p;
}

int64_t noMacs(const Attrs&, const Shape&, const Shape&) { return 0; }
int64_t convMacs(const Attrs& a, const Shape& in, const Shape& out) {
  return numElements(out) * in[0] * a.kernel[0] * a.kernel[1];
}
int64_t linearMacs(const Attrs& a, const Shape& in, const Shape&) { return a.out * in[0]; }

const std::vector<ArgSpec> kConvArgs = {{"out", ArgType::Int, true, ""},
                                        {"kernel", ArgType::Pair, true, ""},
                                        {"stride", ArgType::Pair, false, "1"},
                                        {"padding", ArgType::Pair, false, "0", 0},
                                        {"bias", ArgType::Bool, false, "true"}};
const std::vector<ArgSpec> kPoolArgs = {{"kernel", ArgType::Pair, true, ""},
                                        {"stride", ArgType::Pair, false, "kernel"},
                                        {"padding", ArgType::Pair, false, "0", 0}};
const std::vector<ArgSpec> kLinearArgs = {
    {"out", ArgType::Int, true, ""}, {"in", ArgType::Int, false, "inferred"}, {"bias", ArgType::Bool, false, "true"}};

// A row for an op that is not a layer: a loss, a backward op or an update.
OpInfo internal(OpKind kind, const char* name, std::vector<ArgSpec> attrs = {}) {
  return {kind, name, false, "any", std::move(attrs), nullptr, noParams, noMacs, nullptr};
}

const std::vector<OpInfo>& table() {
  static const std::vector<OpInfo> ops = {
      {OpKind::Conv2d, "conv2d", true, "image", kConvArgs, convShape, convParams, convMacs, gradConv2d},
      {OpKind::Relu, "relu", true, "any", {}, sameShape, noParams, noMacs, gradRelu},
      {OpKind::Sigmoid, "sigmoid", true, "any", {}, sameShape, noParams, noMacs, gradSigmoid},
      {OpKind::Tanh, "tanh", true, "any", {}, sameShape, noParams, noMacs, gradTanh},
      {OpKind::MaxPool, "maxpool", true, "image", kPoolArgs, poolShape, noParams, noMacs, gradMaxPool},
      {OpKind::AvgPool, "avgpool", true, "image", kPoolArgs, poolShape, noParams, noMacs, gradAvgPool},
      {OpKind::Flatten, "flatten", true, "any", {}, flattenShape, noParams, noMacs, gradFlatten},
      {OpKind::Linear, "linear", true, "vector", kLinearArgs, linearShape, linearParams, linearMacs, gradLinear},
      {OpKind::Softmax, "softmax", true, "vector", {}, sameShape, noParams, noMacs, gradSoftmax},
      internal(OpKind::CrossEntropy, "cross_entropy"),
      internal(OpKind::Mse, "mse"),
      internal(OpKind::Conv2dBwdData, "conv2d_bwd_data", kConvArgs),
      internal(OpKind::Conv2dBwdWeight, "conv2d_bwd_weight", kConvArgs),
      internal(OpKind::BiasBwd, "bias_bwd"),
      internal(OpKind::ReluBwd, "relu_bwd"),
      internal(OpKind::SigmoidBwd, "sigmoid_bwd"),
      internal(OpKind::TanhBwd, "tanh_bwd"),
      internal(OpKind::MaxPoolBwd, "maxpool_bwd", kPoolArgs),
      internal(OpKind::AvgPoolBwd, "avgpool_bwd", kPoolArgs),
      internal(OpKind::FlattenBwd, "flatten_bwd"),
      internal(OpKind::LinearBwdData, "linear_bwd_data"),
      internal(OpKind::LinearBwdWeight, "linear_bwd_weight"),
      internal(OpKind::SoftmaxBwd, "softmax_bwd"),
      internal(OpKind::CrossEntropyBwd, "cross_entropy_bwd"),
      internal(OpKind::MseBwd, "mse_bwd"),
      internal(OpKind::SgdUpdate, "sgd_update"),
      internal(OpKind::AdamUpdate, "adam_update"),
  };
  return ops;
}

}  // namespace

const OpInfo& opInfo(OpKind kind) {
  const OpInfo& info = table()[static_cast<size_t>(kind)];
  assert(info.kind == kind && "op table rows must follow the order of OpKind");
  return info;
}

const OpInfo* findLayer(const std::string& name) {
  for (const OpInfo& info : table())
    if (info.isLayer && name == info.name) return &info;
  return nullptr;
}

std::vector<std::string> layerNames() {
  std::vector<std::string> names;
  for (const OpInfo& info : table())
    if (info.isLayer) names.push_back(info.name);
  return names;
}

std::string signature(const std::string& name, const std::vector<ArgSpec>& args) {
  std::vector<std::string> parts;
  for (const ArgSpec& a : args)
    parts.push_back(a.required ? std::string(a.name) : fmt::format("{}={}", a.name, a.defaultText));
  return fmt::format("{}({})", name, fmt::join(parts, ", "));
}

std::string formatAttrs(const OpInfo& info, const Attrs& a) {
  std::vector<std::string> parts;
  auto pair = [](const std::array<int64_t, 2>& p) { return fmt::format("{}x{}", p[0], p[1]); };
  for (const ArgSpec& spec : info.args) {
    std::string name = spec.name;
    if (name == "out") parts.push_back(fmt::format("out={}", a.out));
    if (name == "in" && a.in != 0) parts.push_back(fmt::format("in={}", a.in));
    if (name == "kernel") parts.push_back("kernel=" + pair(a.kernel));
    if (name == "stride") parts.push_back("stride=" + pair(a.stride));
    if (name == "padding") parts.push_back("padding=" + pair(a.padding));
    if (name == "bias") parts.push_back(a.bias ? "bias=true" : "bias=false");
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace cnnc
