// The op table's interface: everything the compiler knows about an op, in
// one row per op. The rows live in compiler/ops/, one file per op (with its
// backward ops); adding an op is its OpKind, its file, and its line in
// compiler/ops/Table.cpp. Every stage asks the row instead of switching on
// the op: the checker its signature and shape rule, grad its gradient rule,
// fuse its fusion class and costs, lower its lowering, the schedules the
// kind of loop nest it needs.
//
// Shapes given to the shape and parameter rules are per sample (no batch
// dimension): CxHxW for images, F for feature vectors.
#pragma once

#include <string>
#include <vector>

#include "ir/IR.h"

namespace cnnc {

// Later stages' types the rows point into; ir/ includes none of them.
class GradBuilder;  // grad/Grad.h
class LowerContext; // lower/LowerContext.h

// The types an argument can take in the .cnn language.
enum class ArgType {
  Int,     // 16
  Pair,    // 5 or 5x3 (height x width)
  Bool,    // true, false
  Number,  // 0.01, 1e-8, or an integer
  Numbers, // a number, or a list of them: [0.49, 0.48, 0.45] (the train block's normalize)
};
const char* argTypeName(ArgType type);

struct ArgSpec {
  const char* name;
  ArgType type;
  bool required;
  // As docs and messages show it: a value, the name of another argument
  // whose value it takes (pools' stride=kernel), or "inferred" (a check
  // the user may write, not an attribute: linear's in=).
  const char* defaultText;
  double min = 1;           // smallest value allowed (each of a pair)
  double below = 0;         // when > min: values must be less than this
  double atMost = 0;        // when > min: values must be at most this
};

// `conv2d(out, kernel, stride=1, padding=0, bias=true)`: a signature for
// messages and docs.
std::string signature(const std::string& name, const std::vector<ArgSpec>& args);

// The attributes of a layer written with `given` (by argument name), its
// defaults filled in, in the order of `args`.
Attrs attrsWithDefaults(const std::vector<ArgSpec>& args, const Attrs& given);

// A weight or bias a layer owns: `weight` with PyTorch's shape, and how
// it starts. A buffer (batch norm's running statistics) is not trained.
struct ParamSpec {
  const char* suffix;
  Shape shape;
  Init init = Init::FanIn;
  bool buffer = false;
};

// Result of a shape rule: the output shape, or a message and the argument
// it is about (empty: the layer itself).
struct ShapeResult {
  Shape shape;
  std::string error;
  std::string arg;
};

// How fuse treats an op (compiler/fuse/Fuse.h).
enum class FuseAs {
  Kernel,               // a kernel of its own
  Elementwise,          // an activation: computed inside its readers where that recomputes little
  ElementwiseGradient,  // an activation's gradient: the same, and the end of a routed chain
  RoutedGradient,       // a pooling or flatten gradient: computed inside the activation gradient after it,
                        // with none after it, inside its readers where that recomputes little
  Joined,               // computed in the kernel of the op before it where it reads what that does (a maxpool's index)
  Loss,                 // the loss: a kernel, which its gradient joins
  LossGradient,         // computed in the loss's kernel
  Update,               // the optimizer over the flat arenas
};

// The loop nest an op's kernel needs; each schedule (lower/ScheduleCpu.cpp,
// lower/ScheduleGpu.cpp) has one for each, whatever the op.
enum class LoopNest {
  Convolution,     // acc(c, x, y, n) += w(c, ...) * staged(...): register tiles
  WeightGradient,  // partial sums per chunk of samples, then their sum
  Dense,           // acc(o, n) += in(r, n) * w(r, o): few outputs, long sums
  DenseGradient,   // out(f, n) or (f, o) += ...: contiguous along f
  ChannelSum,      // db(c): sums per sample, then over the batch
  Gather,          // each element from a few elements of its operands (pools, their gradients, flatten_bwd)
  Pieces,          // written piece by piece, one update per operand (concat: its channels)
  Rows,            // per sample from sums over its row (softmax)
  Transpose,       // a layout change (flatten)
  Elementwise,     // per element from the same element of its operands
  Normalize,       // per element from per-channel statistics (batch norm)
  Statistics,      // per-channel values from sums over the batch, kept in memory (batch norm's)
  Loss,            // per-sample losses, their mean and the correct count
  LossGradient,    // per-sample rows of the loss's gradient
  None,            // not lowered into the step (the optimizer: lowerUpdate)
};

struct OpInfo {
  OpInfo(OpKind k, const char* n) : kind(k), name(n) {}
  OpKind kind;
  const char* name;  // spelling in .cnn files and IR dumps
  bool isLayer = false;       // may be written in a model
  const char* input = "any";  // what it needs: "image" (CxHxW), "vector" (F) or "any"
  bool lastOnly = false;      // only as a model's last layer
  // Its arguments name earlier stages, whose outputs are its inputs after
  // the value it receives (add, concat); `args` is then empty.
  bool takesStages = false;
  std::vector<ArgSpec> args;  // positional order
  // Per-sample output shape from the per-sample shapes of the data inputs
  // (each of the right rank).
  ShapeResult (*inferShape)(const Attrs& attrs, const std::vector<Shape>& in) = nullptr;
  // Parameters, then buffers, in state_dict order (weight, bias,
  // running_mean, running_var); null: none.
  std::vector<ParamSpec> (*params)(const Attrs& attrs, const Shape& in) = nullptr;
  bool countsBatches = false;  // owns a num_batches_tracked (batchnorm)
  // Multiply-adds per sample, counted as PyTorch profilers do (convolutions
  // and linear layers, forward and backward; null: 0), from the IR shapes
  // of the operands and the result (with the batch dimension).
  int64_t (*macs)(const Attrs& attrs, const std::vector<Shape>& operands, const Shape& result) = nullptr;
  // The gradient rule: emits backward ops for the operands that need one.
  // Null for ops that are not differentiated (backward ops, the optimizer).
  void (*grad)(GradBuilder& b, const Op& op) = nullptr;
  // Fusion: the class, what one evaluation of an elementwise op costs (in
  // relu-sized units: one compare or multiply-add), and how many times the
  // op, as a reader, evaluates each element of its operand `index` when
  // that operand is computed inside it (null: once).
  FuseAs fuse = FuseAs::Kernel;
  int64_t evalCost = 1;
  int64_t (*readsPerElement)(const Graph& g, const Op& reader, int index) = nullptr;
  // The algorithm as Halide Funcs (lower/LowerContext.h), and the loop nest
  // its schedule needs.
  void (*lower)(LowerContext& cx, const Op& op) = nullptr;
  LoopNest loops = LoopNest::None;
};

// The row of `kind`. The table is checked the first time it is used, in
// every build type: one row per OpKind, in order, each complete for what it
// is (internalError otherwise).
const OpInfo& opInfo(OpKind kind);
// The layer written `name` in a .cnn file, or nullptr.
const OpInfo* findLayer(const std::string& name);
// Names of all layers, for "expected one of" messages.
std::vector<std::string> layerNames();
// Whether an op is an activation or an activation's gradient.
bool isElementwise(OpKind kind);

}  // namespace cnnc
