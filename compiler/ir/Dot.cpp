#include "ir/Dot.h"

#include <fmt/format.h>

#include "ir/Ops.h"

namespace cnnc {

std::string printDot(const Graph& g) {
  auto id = [](const std::string& name) { return fmt::format("\"{}\"", name); };
  std::string out = fmt::format("digraph {} {{\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n", g.model);
  // Inputs and parameters; activations are drawn with the op that makes them.
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const Tensor& tensor = g.tensors[t];
    switch (g.roles[t]) {
      case TensorRole::Input:
      case TensorRole::Labels:
        out += fmt::format("  {} [shape=oval, label=\"{}\\n{}\"];\n", id(tensor.name), tensor.name,
                           shapeString(tensor.shape));
        break;
      case TensorRole::Param:
      case TensorRole::OptState:
        out += fmt::format("  {} [shape=note, label=\"{}\\n{}\"];\n", id(tensor.name), tensor.name,
                           shapeString(tensor.shape));
        break;
      default:
        break;
    }
  }
  int updates = 0;
  for (const Op& op : g.ops) {
    const OpInfo& info = opInfo(op.kind);
    std::string node = op.result >= 0 ? g.tensors[op.result].name : fmt::format("{}#{}", info.name, updates++);
    const char* color = op.phase == Phase::Forward ? "black" : op.phase == Phase::Backward ? "firebrick" : "navy";
    std::string label = op.result >= 0 ? fmt::format("{} = {}\\n{}", node, info.name, shapeString(g.tensors[op.result].shape))
                                        : std::string(info.name);
    if (op.loc.valid()) label += fmt::format("\\n{}:{}:{}", g.file, op.loc.line, op.loc.col);
    out += fmt::format("  {} [shape=box, color={}, label=\"{}\"];\n", id(node), color, label);
    for (int operand : op.operands) out += fmt::format("  {} -> {};\n", id(g.tensors[operand].name), id(node));
  }
  out += "}\n";
  return out;
}

}  // namespace cnnc
