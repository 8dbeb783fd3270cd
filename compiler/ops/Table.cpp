// The op table: every op file's rows, indexed by OpKind, checked once in
// every build type.
#include <fmt/format.h>

#include "ops/Common.h"
#include "support/Invariant.h"

namespace cnnc {

namespace {

// What a row must have for what it is; "" if it is complete.
std::string incomplete(const OpInfo& info) {
  if (info.isLayer && (!info.inferShape || !info.grad)) return "a layer needs a shape rule and a gradient rule";
  if (info.fuse == FuseAs::Update) return info.lower ? "the optimizer is lowered by lowerUpdate" : "";
  if (!info.lower || info.loops == LoopNest::None) return "an op in a training step needs a lowering and a loop nest";
  if (info.fuse == FuseAs::Elementwise && (!info.inferShape || info.evalCost < 1))
    return "an elementwise op needs a shape rule and a cost";
  return "";
}

std::vector<OpInfo> build() {
  std::vector<OpInfo> rows;
  for (auto family : {conv2dOps, biasOps, activationOps, addOps, concatOps, poolOps, flattenOps, linearOps, softmaxOps, batchNormOps,
                      dropoutOps, lossOps, optimizerOps})
    for (OpInfo& info : family()) rows.push_back(std::move(info));
  std::vector<OpInfo> table;
  for (int k = 0; k < kOpKinds; ++k) {
    int found = 0;
    for (const OpInfo& info : rows)
      if (static_cast<int>(info.kind) == k) {
        if (found++ == 0) table.push_back(info);
      }
    if (found != 1) internalError(fmt::format("op kind {} has {} rows in the op table, not 1", k, found));
  }
  if (table.size() != rows.size()) internalError("the op table has rows for no OpKind");
  for (const OpInfo& info : table)
    if (std::string why = incomplete(info); !why.empty())
      internalError(fmt::format("the op table's row for '{}' is incomplete: {}", info.name, why));
  return table;
}

const std::vector<OpInfo>& table() {
  static const std::vector<OpInfo> rows = build();
  return rows;
}

}  // namespace

const OpInfo& opInfo(OpKind kind) { return table()[static_cast<size_t>(kind)]; }

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

}  // namespace cnnc
