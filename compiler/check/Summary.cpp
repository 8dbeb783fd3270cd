#include "check/Summary.h"

#include <fmt/format.h>

#include <algorithm>

#include "ir/Ops.h"
#include "support/Text.h"

namespace cnnc {

namespace {

Shape sampleOf(const Shape& batched) { return Shape(batched.begin() + 1, batched.end()); }

int64_t layerParams(const Graph& g, const Op& op) {
  int64_t n = 0;
  for (size_t i = 1; i < op.operands.size(); ++i) n += numElements(g.tensors[op.operands[i]].shape);
  return n;
}

int64_t layerMacs(const Graph& g, const Op& op) {
  return opInfo(op.kind).macs(op.attrs, sampleOf(g.tensors[op.operands[0]].shape),
                              sampleOf(g.tensors[op.result].shape));
}

bool isLayer(const Op& op) { return opInfo(op.kind).isLayer; }

// `conv2d(16, kernel=5, padding=2)`: the layer as one would write it,
// leaving out arguments at their defaults.
std::string layerText(const Op& op) {
  const OpInfo& info = opInfo(op.kind);
  const Attrs& a = op.attrs;
  auto pair = [](const std::array<int64_t, 2>& p) {
    return p[0] == p[1] ? fmt::format("{}", p[0]) : fmt::format("{}x{}", p[0], p[1]);
  };
  std::vector<std::string> parts;
  for (const ArgSpec& spec : info.args) {
    std::string name = spec.name;
    // The first argument is written positionally, as in conv2d(16, ...).
    bool first = &spec == &info.args.front();
    if (name == "out") parts.push_back(fmt::format("{}", a.out));
    if (name == "kernel") parts.push_back((first ? "" : "kernel=") + pair(a.kernel));
    if (name == "stride" && a.stride != (info.kind == OpKind::Conv2d ? std::array<int64_t, 2>{1, 1} : a.kernel))
      parts.push_back("stride=" + pair(a.stride));
    if (name == "padding" && a.padding != std::array<int64_t, 2>{0, 0}) parts.push_back("padding=" + pair(a.padding));
    if (name == "bias" && !a.bias) parts.push_back("bias=false");
  }
  if (parts.empty()) return info.name;
  return fmt::format("{}({})", info.name, fmt::join(parts, ", "));
}

}  // namespace

int64_t opMacsPerSample(const Graph& g, const Op& op) {
  auto shapeOf = [&](int t) { return sampleOf(g.tensors[t].shape); };
  switch (op.kind) {
    case OpKind::Conv2d:
    case OpKind::Linear:
      return layerMacs(g, op);
    case OpKind::Conv2dBwdData:  // dy, weight -> dx
      return opInfo(OpKind::Conv2d).macs(op.attrs, shapeOf(op.result), shapeOf(op.operands[0]));
    case OpKind::LinearBwdData:  // dy (O), weight -> dx (F)
      return numElements(shapeOf(op.result)) * numElements(shapeOf(op.operands[0]));
    case OpKind::Conv2dBwdWeight:  // dy, x -> dw
      return opInfo(OpKind::Conv2d).macs(op.attrs, shapeOf(op.operands[1]), shapeOf(op.operands[0]));
    case OpKind::LinearBwdWeight:  // dy (O), x (F) -> dw
      return numElements(shapeOf(op.operands[1])) * numElements(shapeOf(op.operands[0]));
    default:
      return 0;
  }
}

ModelTotals modelTotals(const Graph& g) {
  ModelTotals t;
  for (const Op& op : g.ops) {
    if (!isLayer(op)) continue;
    const int64_t params = layerParams(g, op), macs = layerMacs(g, op);
    t.params += params;
    t.macsPerSample += macs;
    t.trainMacsPerSample += macs * (1 + (params > 0) + (op.operands[0] != g.input));
  }
  return t;
}

std::string printSummary(const Graph& g) {
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"stage", "layer", "output shape", "params", "mult-adds"});
  rows.push_back({"input", "", shapeString(g.sampleShape), "0", "0"});
  for (const Op& op : g.ops) {
    if (!isLayer(op)) continue;
    rows.push_back({op.stage, layerText(op), shapeString(sampleOf(g.tensors[op.result].shape)),
                    withCommas(layerParams(g, op)), withCommas(layerMacs(g, op))});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  size_t total = 2 * (width.size() - 1);
  for (size_t w : width) total += w;
  std::string rule(total, '-');

  ModelTotals t = modelTotals(g);
  std::string out = fmt::format("model {} ({}): input {}, {} classes\n", g.model, g.file, shapeString(g.sampleShape),
                                g.classes);
  out += fmt::format("{}\n", std::string(total, '='));
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    // Text columns align left, numbers right.
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}\n", row[0], width[0], row[1], width[1], row[2],
                       width[2], row[3], width[3], row[4], width[4]);
    if (r == 0) out += rule + "\n";
  }
  out += fmt::format("{}\n", std::string(total, '='));
  out += fmt::format("total parameters:          {:>14}  ({} bytes as f32)\n", withCommas(t.params),
                     withCommas(t.params * 4));
  out += fmt::format("multiply-adds per sample:  {:>14}  (forward pass)\n", withCommas(t.macsPerSample));
  return out;
}

}  // namespace cnnc
