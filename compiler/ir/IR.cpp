#include "ir/IR.h"

#include <fmt/format.h>

#include "ir/Ops.h"
#include "support/Invariant.h"

namespace cnnc {

std::string shapeString(const Shape& shape) {
  if (shape.empty()) return "scalar";
  return fmt::format("{}", fmt::join(shape, "x"));
}

int64_t numElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
  }
  return "?";
}

int dtypeBytes(DType dtype) { return dtype == DType::U8 ? 1 : 4; }

std::string AttrValue::text(bool shortPair) const {
  switch (type) {
    case Type::Int: return fmt::format("{}", ints[0]);
    case Type::Pair:
      return shortPair && ints[0] == ints[1] ? fmt::format("{}", ints[0]) : fmt::format("{}x{}", ints[0], ints[1]);
    case Type::Bool: return flag ? "true" : "false";
    case Type::Number: return fmt::format("{}", number);
  }
  return "?";
}

void Attrs::set(const std::string& name, AttrValue value) {
  for (auto& [n, v] : values_)
    if (n == name) {
      v = value;
      return;
    }
  values_.emplace_back(name, value);
}

bool Attrs::has(const std::string& name) const {
  for (const auto& entry : values_)
    if (entry.first == name) return true;
  return false;
}

const AttrValue& Attrs::get(const std::string& name) const {
  for (const auto& entry : values_)
    if (entry.first == name) return entry.second;
  internalError(fmt::format("an op has no attribute '{}'", name));
}

const AttrValue& Attrs::typed(const std::string& name, AttrValue::Type type) const {
  const AttrValue& v = get(name);
  if (v.type != type) internalError(fmt::format("attribute '{}' asked for as another type", name));
  return v;
}

int64_t Attrs::integer(const std::string& name) const { return typed(name, AttrValue::Type::Int).ints[0]; }
std::array<int64_t, 2> Attrs::pair(const std::string& name) const { return typed(name, AttrValue::Type::Pair).ints; }
bool Attrs::flag(const std::string& name) const { return typed(name, AttrValue::Type::Bool).flag; }
double Attrs::number(const std::string& name) const { return typed(name, AttrValue::Type::Number).number; }

std::string Attrs::format() const {
  std::vector<std::string> parts;
  for (const auto& [name, value] : values_) parts.push_back(name + "=" + value.text());
  return fmt::format("{}", fmt::join(parts, ", "));
}

namespace {

std::string tensorType(const Tensor& t) {
  if (t.shape.empty()) return fmt::format("tensor<{}>", dtypeName(t.dtype));
  return fmt::format("tensor<{}x{}>", shapeString(t.shape), dtypeName(t.dtype));
}

// `lr=0.01, beta1=0.9, ...`: the update op's attributes.
std::string optimizerAttrs(const Optimizer& o) {
  if (o.kind == Optimizer::Kind::Sgd)
    return fmt::format("lr={}, momentum={}, weight_decay={}{}", o.lr, o.momentum, o.weightDecay,
                       o.nesterov ? ", nesterov=true" : "");
  return fmt::format("lr={}, beta1={}, beta2={}, eps={}, weight_decay={}", o.lr, o.beta1, o.beta2, o.eps,
                     o.weightDecay);
}

// `, schedule = onecycle(max_lr=0.003, ...)`; nothing for a constant rate.
std::string scheduleString(const cnnc_rt::ScheduleSpec& s) {
  switch (s.kind) {
    case cnnc_rt::ScheduleKind::Constant: return "";
    case cnnc_rt::ScheduleKind::Step: return fmt::format(", schedule = step(every={}, gamma={})", s.every, s.gamma);
    case cnnc_rt::ScheduleKind::Cosine: return fmt::format(", schedule = cosine(warmup={})", s.warmup);
    case cnnc_rt::ScheduleKind::OneCycle:
      return fmt::format(", schedule = onecycle(max_lr={}, pct_start={}, div_factor={}, final_div_factor={})", s.maxLr,
                         s.pctStart, s.divFactor, s.finalDivFactor);
  }
  return "";
}

std::string optimizerString(const Optimizer& o) {
  return fmt::format("{}({})", o.name(), optimizerAttrs(o));
}

}  // namespace

std::string printGraph(const Graph& g) {
  auto at = [&](Loc loc) { return loc.valid() ? fmt::format(" @{}:{}:{}", g.file, loc.line, loc.col) : std::string(); };
  auto ref = [&](int id) { return "%" + g.tensors[id].name; };
  std::string out = fmt::format("module @{} {{\n", g.model);
  const TrainConfig& t = g.train;
  const std::string smoothing = t.labelSmoothing > 0 ? fmt::format(", label_smoothing = {}", t.labelSmoothing) : "";
  std::vector<std::string> augment;
  for (const Augment& a : t.augment)
    augment.push_back(a.kind == Augment::Kind::Crop ? fmt::format("crop(padding={})", a.padding) : "flip");
  const std::string augmented = augment.empty() ? "" : fmt::format(", augment = [{}]", fmt::join(augment, ", "));
  const std::string normalized =
      t.normalizeMean.empty() ? ""
                              : fmt::format(", normalize(mean = [{}], std = [{}])", fmt::join(t.normalizeMean, ", "),
                                            fmt::join(t.normalizeStd, ", "));
  const std::string held = (t.validation > 0 ? fmt::format(", validation = {}", t.validation) : "") +
                           (t.chunks > 1 ? fmt::format(", chunks = {}", t.chunks) : "");
  out += fmt::format("  train {{loss = {}{}, optimizer = {}, batch = {}, epochs = {}, data = {}, seed = {}, shuffle = {}{}{}{}{}}}\n",
                     t.loss == LossKind::CrossEntropy ? "cross_entropy" : "mse", smoothing, optimizerString(t.optimizer),
                     t.batch, t.epochs, t.data, t.seed, t.shuffle ? "true" : "false", scheduleString(t.schedule),
                     augmented, normalized, held);
  for (size_t id = 0; id < g.tensors.size(); ++id) {
    const char* role = nullptr;
    switch (g.roles[id]) {
      case TensorRole::Input: role = "input"; break;
      case TensorRole::Labels: role = "labels"; break;
      case TensorRole::Param: role = "param"; break;
      case TensorRole::OptState: role = "state"; break;
      case TensorRole::Buffer: role = "buffer"; break;
      case TensorRole::Activation:
      case TensorRole::Grad: break;
    }
    if (role)
      out += fmt::format("  {} = {} : {}{}\n", ref(id), role, tensorType(g.tensors[id]), at(g.tensors[id].loc));
  }
  // Batch norms' num_batches_tracked: kept by the runtime, +1 per training step.
  for (const std::string& counter : g.counters) out += fmt::format("  %{} = counter : tensor<i64>\n", counter);
  Phase phase = Phase::Forward;
  for (const Op& op : g.ops) {
    if (op.phase != phase) {
      phase = op.phase;
      out += phase == Phase::Backward ? "  // backward\n" : "  // optimizer\n";
    }
    const OpInfo& info = opInfo(op.kind);
    std::vector<std::string> operands;
    for (int id : op.operands) operands.push_back(ref(id));
    std::string attrs = op.phase == Phase::Update ? optimizerAttrs(g.train.optimizer) : op.attrs.format();
    std::string call = fmt::format("{}({}){}", info.name, fmt::join(operands, ", "), attrs.empty() ? "" : " {" + attrs + "}");
    if (op.result < 0)
      out += fmt::format("  {}{}\n", call, at(op.loc));
    else
      out += fmt::format("  {} = {} : {}{}\n", ref(op.result), call, tensorType(g.tensors[op.result]), at(op.loc));
  }
  out += fmt::format("  return {}", ref(g.output));
  if (g.loss >= 0) out += ", " + ref(g.loss);
  out += "\n}\n";
  return out;
}

}  // namespace cnnc
