#include "ops/Common.h"

#include <fmt/format.h>

namespace cnnc::ops {

ShapeResult sameShape(const Attrs&, const std::vector<Shape>& in) { return {in[0], "", ""}; }

namespace {
// Output size of a sliding window along one axis (PyTorch, floor mode).
int64_t windowOut(int64_t in, int64_t kernel, int64_t stride, int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}
}  // namespace

// The window must fit the padded input and leave at least one output.
ShapeResult slideWindow(const Attrs& a, const Shape& in, int64_t channels) {
  const auto kernel = a.pair("kernel"), stride = a.pair("stride"), padding = a.pair("padding");
  int64_t paddedH = in[1] + 2 * padding[0], paddedW = in[2] + 2 * padding[1];
  if (kernel[0] > paddedH || kernel[1] > paddedW) {
    return {{},
            fmt::format("kernel {}x{} is larger than the padded input {}x{} (input {}x{}, padding {}x{}): the output "
                        "would be empty",
                        kernel[0], kernel[1], paddedH, paddedW, in[1], in[2], padding[0], padding[1]),
            "kernel"};
  }
  return {{channels, windowOut(in[1], kernel[0], stride[0], padding[0]),
           windowOut(in[2], kernel[1], stride[1], padding[1])},
          "",
          ""};
}

}  // namespace cnnc::ops
