// The graph IR: a small list of tensor ops with static shapes and dtypes.
//
// Shapes include the batch dimension, which is a compile-time constant of
// each build (the train block's `batch`); the runtime handles the last,
// smaller batch of an epoch. Every op keeps the source location of the
// layer it came from, and dumps print it as `@file:line:col`.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/Schedule.h"
#include "support/Diagnostics.h"

namespace cnnc {

using Shape = std::vector<int64_t>;

// `1x28x28`; a scalar prints as `scalar`.
std::string shapeString(const Shape& shape);
// Number of elements (1 for a scalar).
int64_t numElements(const Shape& shape);

// U8: maxpool_index's window positions (windows of at most 255 inputs).
enum class DType { F32, I32, U8 };
const char* dtypeName(DType dtype);
int dtypeBytes(DType dtype);

enum class OpKind {
  // Layers of the language (in this order in messages that list them).
  Conv2d,
  Relu,
  Sigmoid,
  Tanh,
  MaxPool,
  AvgPool,
  Flatten,
  Linear,
  Softmax,
  BatchNorm,
  Dropout,
  GlobalAvgPool,
  LeakyRelu,
  Gelu,
  Add,  // also the sum of a tensor's gradient contributions (grad)
  Concat,
  // Losses, added from the train block.
  CrossEntropy,
  Mse,
  // Backward ops, added by grad (compiler/grad).
  Conv2dBwdData,    // dx from dy and the weight
  Conv2dBwdWeight,  // dw from dy and the input
  BiasBwd,          // db: dy summed over all but the channel axis
  ReluBwd,          // dy where y > 0
  SigmoidBwd,       // dy * y * (1 - y)
  TanhBwd,          // dy * (1 - y^2)
  MaxPoolBwd,       // dy routed to the first maximum of each window (maxpool_index's)
  AvgPoolBwd,       // dy spread evenly over each window
  FlattenBwd,       // dy reshaped to the input's shape
  LinearBwdData,    // dx = dy W
  LinearBwdWeight,  // dW = dy^T x
  SoftmaxBwd,       // y * (dy - sum(dy * y))
  CrossEntropyBwd,  // (softmax(logits) - onehot) / valid
  MseBwd,           // 2 (out - onehot) / (valid * classes)
  ConcatBwd,        // one input's channels (features) of dy
  BatchNormBwdData,    // dx from dy, x, the batch's statistics and the weight's and bias's gradients
  BatchNormBwdWeight,  // dweight: dy times the normalised input, summed per channel
  BatchNormStats,   // forward, added by grad: the batch's mean and summed squared deviations per channel, kept for the backward
  MaxPoolIndex,     // forward, added by grad: where each window's first maximum is, kept for the backward
  DropoutBwd,       // dy where the step's mask kept the element, scaled by 1 / (1 - p)
  GlobalAvgPoolBwd, // dy / (H W) to every pixel
  LeakyReluBwd,     // dy where y > 0, else slope dy
  GeluBwd,          // dy (Phi(x) + x phi(x))
  // Optimizer steps over every parameter at once (in place).
  SgdUpdate,
  AdamUpdate,  // the last: kOpKinds counts up to it
};
constexpr int kOpKinds = static_cast<int>(OpKind::AdamUpdate) + 1;

// Which part of a training step an op belongs to.
enum class Phase { Forward, Backward, Update };

// One attribute value, of one of the language's argument types (ArgType
// in Ops.h): an integer, an HxW pair, a flag or a number.
struct AttrValue {
  enum class Type { Int, Pair, Bool, Number };
  Type type = Type::Int;
  std::array<int64_t, 2> ints{0, 0};  // Int: ints[0]; Pair: height, width
  bool flag = false;
  double number = 0;

  static AttrValue integer(int64_t v) { return {Type::Int, {v, v}, false, 0}; }
  static AttrValue pair(int64_t h, int64_t w) { return {Type::Pair, {h, w}, false, 0}; }
  static AttrValue boolean(bool v) { return {Type::Bool, {0, 0}, v, 0}; }
  static AttrValue real(double v) { return {Type::Number, {0, 0}, false, v}; }
  bool operator==(const AttrValue& o) const {
    return type == o.type && ints == o.ints && flag == o.flag && number == o.number;
  }
  // `5`, `5x3`, `true`, `0.01`; a square pair as `5x5` unless `short`.
  std::string text(bool shortPair = false) const;
};

// An op's attributes by name, in the order of its signature (its row's
// args in Ops.h); each op has its own. Asking for one the op does not
// have, or as another type, is a bug in cnnc (internalError).
class Attrs {
 public:
  void set(const std::string& name, AttrValue value);
  bool has(const std::string& name) const;
  const AttrValue& get(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  std::array<int64_t, 2> pair(const std::string& name) const;
  bool flag(const std::string& name) const;
  double number(const std::string& name) const;
  const std::vector<std::pair<std::string, AttrValue>>& all() const { return values_; }
  // `out=16, kernel=5x5, stride=1x1, padding=2x2, bias=true`: for dumps.
  std::string format() const;

 private:
  const AttrValue& typed(const std::string& name, AttrValue::Type type) const;
  std::vector<std::pair<std::string, AttrValue>> values_;
};

// How a parameter or buffer starts: PyTorch's default initialisation
// (kaiming_uniform_ for weights, the weight's bound for biases), or a
// constant (batch norm's weight and running variance 1, bias and running
// mean 0).
enum class Init { FanIn, Ones, Zeros };

struct Tensor {
  std::string name;  // `images`, `conv1.0.weight`, `conv1.2`
  Shape shape;
  DType dtype = DType::F32;
  Loc loc;
  Init init = Init::FanIn;  // parameters and buffers
};

// Buffer: state a layer keeps that is not trained (batch norm's running
// statistics): in checkpoints, updated by training steps, read in evaluation.
enum class TensorRole { Input, Labels, Param, Activation, Grad, OptState, Buffer };

// A layer's two modes, as PyTorch's model.train() and model.eval():
// training steps run in training mode; eval, predict and the per-epoch
// test in evaluation mode (batch norm's statistics, dropout).
enum class Mode { Training, Evaluation };

struct Op {
  OpKind kind;
  std::vector<int> operands;  // tensor ids: the data inputs, then the parameters (weight, bias)
  int result = -1;  // -1 for ops that update their operands in place
  Attrs attrs;
  Loc loc;
  std::string stage;   // the stage's name (or layerN), for naming kernels
  int layerIndex = 0;  // position of the layer within its stage
  Phase phase = Phase::Forward;
  int inputs = 1;  // how many of the operands are data inputs (add: all of them)
};

struct Optimizer {
  enum class Kind { Sgd, Adam };
  Kind kind = Kind::Adam;
  double lr = 0.001;
  double momentum = 0;  // sgd
  bool nesterov = false;  // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam
  double weightDecay = 0;
  bool decoupled = false;  // adam: AdamW's weight decay (p *= 1 - lr wd) instead of L2 in the gradient
  const char* name() const { return kind == Kind::Sgd ? "sgd" : decoupled ? "adamw" : "adam"; }
};

enum class LossKind { CrossEntropy, Mse };

// One `augment` line of the train block (training samples only, drawn per
// sample and epoch from the run's seed: lower/Augment.h).
struct Augment {
  enum class Kind { Crop, Flip };
  Kind kind = Kind::Crop;
  int64_t padding = 0;  // crop: RandomCrop(size, padding) shifts by up to this many pixels each way
};

// The train block with every default filled in.
struct TrainConfig {
  LossKind loss = LossKind::CrossEntropy;
  Optimizer optimizer;
  int64_t batch = 64;
  int64_t epochs = 1;
  std::string data = "mnist";
  int64_t seed = 0;
  bool shuffle = true;
  double labelSmoothing = 0;  // cross_entropy's, as nn.CrossEntropyLoss(label_smoothing=...)
  cnnc_rt::ScheduleSpec schedule;  // the learning rate of each step (runtime/Schedule.h)
  std::vector<Augment> augment;    // in the order written, applied in that order
  // normalize(mean, std): (pixel / 255 - mean[c]) / std[c]; empty: none.
  // One value each, or one per channel (the checker makes them agree).
  std::vector<double> normalizeMean, normalizeStd;
  int64_t validation = 0;  // training samples held out, drawn once from the seed
  // cnnc --chunks/--distributed: a training step is `chunks` calls of the
  // pipelines, each on `batch` samples (the file's batch / chunks).
  int64_t chunks = 1;
};

struct Graph {
  std::string model;
  std::string file;
  Shape sampleShape;    // one input sample: CxHxW, or F
  int64_t classes = 0;
  TrainConfig train;
  std::vector<Tensor> tensors;
  std::vector<TensorRole> roles;  // parallel to tensors
  std::vector<Op> ops;            // in execution order
  std::vector<int> params;        // tensor ids, in state_dict order
  std::vector<int> buffers;       // tensor ids (batch norms' running_mean, running_var), in state_dict order
  // Batch norms' num_batches_tracked (int64 scalars in checkpoints, kept
  // by the runtime: each training step adds 1 to every one).
  std::vector<std::string> counters;
  int input = -1, labels = -1;
  int logits = -1;  // what the loss reads (before a final softmax)
  int output = -1;  // what inference returns
  int loss = -1;
  // Filled in by grad: the gradient of each parameter, in params order.
  std::vector<int> paramGrads;
  bool hasGrad = false;

  int addTensor(Tensor t, TensorRole role) {
    tensors.push_back(std::move(t));
    roles.push_back(role);
    return static_cast<int>(tensors.size()) - 1;
  }
};

// --emit=ir: the deterministic, MLIR-like text of the graph.
std::string printGraph(const Graph& graph);

}  // namespace cnnc
