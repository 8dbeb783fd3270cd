// The op table: one row per op, holding everything the compiler knows
// about it. Adding an op means adding one row here (and its OpKind).
//
// Shapes in this table are per sample (no batch dimension): CxHxW for
// images, F for feature vectors.
#pragma once

#include <string>
#include <vector>

#include "ir/IR.h"

namespace cnnc {

// The types an argument can take in the .cnn language.
enum class ArgType {
  Int,     // 16
  Pair,    // 5 or 5x3 (height x width)
  Bool,    // true, false
  Number,  // 0.01, 1e-8, or an integer
};
const char* argTypeName(ArgType type);

struct ArgSpec {
  const char* name;
  ArgType type;
  bool required;
  const char* defaultText;  // as docs and messages show it
  double min = 1;           // smallest value allowed (each of a pair)
  double below = 0;         // when > min: values must be less than this
};

// `conv2d(out, kernel, stride=1, padding=0, bias=true)`: a signature for
// messages and docs.
std::string signature(const std::string& name, const std::vector<ArgSpec>& args);

// A weight or bias a layer owns: `weight` with PyTorch's shape.
struct ParamSpec {
  const char* suffix;
  Shape shape;
};

// Result of a shape rule: the output shape, or a message and the argument
// it is about (empty: the layer itself).
struct ShapeResult {
  Shape shape;
  std::string error;
  std::string arg;
};

struct OpInfo {
  OpKind kind;
  const char* name;  // spelling in .cnn files and IR dumps
  bool isLayer;      // may be written in a model
  const char* input; // what it needs: "image" (CxHxW), "vector" (F) or "any"
  std::vector<ArgSpec> args;  // positional order
  // Per-sample output shape for a per-sample input shape of the right rank.
  ShapeResult (*inferShape)(const Attrs& attrs, const Shape& in);
  // Parameters in state_dict order (weight, then bias).
  std::vector<ParamSpec> (*params)(const Attrs& attrs, const Shape& in);
  // Multiply-adds per sample, counted as PyTorch profilers do (conv and
  // linear only; activations and pooling count 0).
  int64_t (*macs)(const Attrs& attrs, const Shape& in, const Shape& out);
  // The gradient rule (compiler/grad/Rules.cpp); null for ops that are
  // not differentiated (losses are the root, backward ops are not
  // differentiated again).
  void (*grad)(class GradBuilder& b, const Op& op) = nullptr;
};

const OpInfo& opInfo(OpKind kind);
// The layer written `name` in a .cnn file, or nullptr.
const OpInfo* findLayer(const std::string& name);
// Names of all layers, for "expected one of" messages.
std::vector<std::string> layerNames();

// `kernel=5x5, stride=1x1, padding=2x2`: the op's attributes for dumps.
std::string formatAttrs(const OpInfo& info, const Attrs& attrs);

}  // namespace cnnc
