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
  // Parameters only, as PyTorch counts them (not batch norm's buffers).
  for (size_t i = op.inputs; i < op.operands.size(); ++i)
    if (g.roles[op.operands[i]] == TensorRole::Param) n += numElements(g.tensors[op.operands[i]].shape);
  return n;
}

std::vector<Shape> operandShapes(const Graph& g, const Op& op) {
  std::vector<Shape> shapes;
  for (int t : op.operands) shapes.push_back(g.tensors[t].shape);
  return shapes;
}

bool isLayer(const Op& op) { return opInfo(op.kind).isLayer; }

// `conv2d(16, kernel=5, padding=2)`: the layer as one would write it: the
// first argument positionally, the others by name where they differ from
// their defaults (checks such as linear's in= left out), square pairs as
// one number.
std::string layerText(const Graph& g, const Op& op) {
  const OpInfo& info = opInfo(op.kind);
  const Attrs defaults = attrsWithDefaults(info.args, [&] {
    Attrs required;
    for (const ArgSpec& spec : info.args)
      if (spec.required) required.set(spec.name, op.attrs.get(spec.name));
    return required;
  }());
  std::vector<std::string> parts;
  for (const ArgSpec& spec : info.args) {
    if (!defaults.has(spec.name)) continue;
    const AttrValue& v = op.attrs.get(spec.name);
    if (!spec.required && v == defaults.get(spec.name)) continue;
    const bool first = &spec == &info.args.front() && spec.required;  // an optional one by name: batchnorm(eps=0.001)
    parts.push_back(first ? v.text(true) : fmt::format("{}={}", spec.name, v.text(true)));
  }
  // add and concat: the stages they name (a stage's outputs are named
  // after it: `stem.1`; the model input is `images`).
  for (int k = 1; info.takesStages && k < op.inputs; ++k) {
    const std::string& t = g.tensors[op.operands[k]].name;
    parts.push_back(op.operands[k] == g.input ? "input" : t.substr(0, t.find('.')));
  }
  if (parts.empty()) return info.name;
  return fmt::format("{}({})", info.name, fmt::join(parts, ", "));
}

}  // namespace

int64_t opMacsPerSample(const Graph& g, const Op& op) {
  const OpInfo& info = opInfo(op.kind);
  if (!info.macs || op.result < 0) return 0;
  return info.macs(op.attrs, operandShapes(g, op), g.tensors[op.result].shape);
}

ModelTotals modelTotals(const Graph& g) {
  ModelTotals t;
  for (const Op& op : g.ops) {
    if (!isLayer(op)) continue;
    const int64_t params = layerParams(g, op), macs = opMacsPerSample(g, op);
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
    rows.push_back({op.stage, layerText(g, op), shapeString(sampleOf(g.tensors[op.result].shape)),
                    withCommas(layerParams(g, op)), withCommas(opMacsPerSample(g, op))});
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
