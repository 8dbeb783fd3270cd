// The train block: each setting checked and turned into the TrainConfig.
#include "check/TrainBlock.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "check/Arguments.h"
#include "support/Text.h"

namespace cnnc {

namespace {

const std::vector<std::string> kSettings = {"loss", "optimizer", "batch", "epochs", "data", "seed", "shuffle", "schedule",
                                            "label_smoothing", "augment", "normalize", "validation"};

const std::vector<ArgSpec>& optimizerArgs(const Optimizer& o) {
  static const std::vector<ArgSpec> sgd = {
      {"lr", ArgType::Number, true, "", 0},
      {"momentum", ArgType::Number, false, "0", 0},
      {"weight_decay", ArgType::Number, false, "0", 0},
      {"nesterov", ArgType::Bool, false, "false", 0},
  };
  static const std::vector<ArgSpec> adam = {
      {"lr", ArgType::Number, false, "0.001", 0},
      {"beta1", ArgType::Number, false, "0.9", 0, 1},
      {"beta2", ArgType::Number, false, "0.999", 0, 1},
      {"eps", ArgType::Number, false, "1e-8", 0},
      {"weight_decay", ArgType::Number, false, "0", 0},
  };
  // torch.optim.AdamW's defaults: weight decay 0.01.
  static const std::vector<ArgSpec> adamw = {
      {"lr", ArgType::Number, false, "0.001", 0},
      {"beta1", ArgType::Number, false, "0.9", 0, 1},
      {"beta2", ArgType::Number, false, "0.999", 0, 1},
      {"eps", ArgType::Number, false, "1e-8", 0},
      {"weight_decay", ArgType::Number, false, "0.01", 0},
  };
  return o.kind == Optimizer::Kind::Sgd ? sgd : o.decoupled ? adamw : adam;
}

void checkOptimizer(SourceFile& file, const Setting& s, Optimizer& o);
void checkSchedule(SourceFile& file, const Setting& s, cnnc_rt::ScheduleSpec& schedule);
void checkAugment(SourceFile& file, const Setting& s, std::vector<Augment>& augment);
void checkNormalize(SourceFile& file, const Setting& s, TrainConfig& config);

void checkSetting(SourceFile& file, const Setting& s, TrainConfig& config, TrainLocs& locs) {
  const Value& v = s.value;
  auto expect = [&](Value::Kind kind, const char* what) {
    if (v.kind == kind) return true;
    file.error(v.loc, fmt::format("setting '{}' expects {}, found {}", s.name, what, v.describe()));
    return false;
  };
  auto positive = [&](int64_t& field, int64_t min) {
    if (!expect(Value::Kind::Int, "an integer")) return;
    if (v.intValue < min) {
      file.error(v.loc, fmt::format("setting '{}' must be at least {}, found {}", s.name, min, v.text));
      return;
    }
    field = v.intValue;
  };
  if (s.name == "loss") {
    locs.loss = s.loc;
    if (!expect(Value::Kind::Ident, "cross_entropy or mse")) return;
    if (v.ident == "cross_entropy") config.loss = LossKind::CrossEntropy;
    else if (v.ident == "mse") config.loss = LossKind::Mse;
    else file.error(v.loc, fmt::format("unknown loss '{}'; expected cross_entropy or mse{}", v.ident,
                                  didYouMean(v.ident, {"cross_entropy", "mse"})));
  } else if (s.name == "optimizer") {
    if (!expect(Value::Kind::Ident, "sgd(...), adam(...) or adamw(...)")) return;
    checkOptimizer(file, s, config.optimizer);
  } else if (s.name == "schedule") {
    if (!expect(Value::Kind::Ident, "constant, step(...), cosine(...) or onecycle(...)")) return;
    checkSchedule(file, s, config.schedule);
  } else if (s.name == "label_smoothing") {
    const bool number = v.kind == Value::Kind::Int || v.kind == Value::Kind::Float;
    if (!number) {
      file.error(v.loc, fmt::format("setting 'label_smoothing' expects a number in [0, 1), found {}", v.describe()));
      return;
    }
    const double x = v.kind == Value::Kind::Int ? static_cast<double>(v.intValue) : v.floatValue;
    if (x < 0 || x >= 1) file.error(v.loc, fmt::format("label_smoothing must be in [0, 1), found {}", v.text));
    else config.labelSmoothing = x;
    locs.labelSmoothing = s.loc;
  } else if (s.name == "augment") {
    if (!locs.augment.valid()) locs.augment = s.loc;
    if (!expect(Value::Kind::Ident, "crop(padding=P) or flip")) return;
    checkAugment(file, s, config.augment);
  } else if (s.name == "batch") {
    positive(config.batch, 1);
    locs.batch = v.loc;
  } else if (s.name == "epochs") {
    positive(config.epochs, 1);
  } else if (s.name == "seed") {
    positive(config.seed, 0);
  } else if (s.name == "shuffle") {
    if (expect(Value::Kind::Bool, "true or false")) config.shuffle = v.boolValue;
  } else if (s.name == "normalize") {
    locs.normalize = s.loc;
    checkNormalize(file, s, config);
  } else if (s.name == "validation") {
    positive(config.validation, 0);
  } else if (s.name == "data") {
    locs.data = v.loc;
    static const std::vector<std::string> formats = {"mnist", "cifar10", "folder"};
    if (!expect(Value::Kind::Ident, "a dataset format")) return;
    if (std::find(formats.begin(), formats.end(), v.ident) == formats.end())
      file.error(v.loc, fmt::format("unknown dataset format '{}'; expected mnist (four IDX files), cifar10 (its binary "
                                    "version) or folder (train/ and test/ with a folder of PNGs per class){}",
                                    v.ident, didYouMean(v.ident, formats)));
    else
      config.data = v.ident;
  }
}

// normalize(mean=M, std=S): transforms.Normalize, a number each or a list
// of one per channel (checked against the input by the checker).
void checkNormalize(SourceFile& file, const Setting& s, TrainConfig& config) {
  if (!s.isCall) {
    file.error(s.value.loc, fmt::format("setting 'normalize' is written normalize(mean=M, std=S), found {}", s.value.describe()));
    return;
  }
  static const std::vector<ArgSpec> args = {{"mean", ArgType::Numbers, true, "", -1e30, 1e30, 1e30},
                                            {"std", ArgType::Numbers, true, "", 1e-12}};
  GivenArgs given;
  if (!matchArgs(file, "normalize", s.value.loc, args, s.args, given)) return;
  auto numbers = [](const Value& v) {
    std::vector<double> out;
    auto number = [](const Value& x) { return x.kind == Value::Kind::Int ? static_cast<double>(x.intValue) : x.floatValue; };
    if (v.kind == Value::Kind::List)
      for (const Value& item : v.items) out.push_back(number(item));
    else
      out.push_back(number(v));
    return out;
  };
  config.normalizeMean = numbers(given.at("mean")->value);
  config.normalizeStd = numbers(given.at("std")->value);
}

void checkOptimizer(SourceFile& file, const Setting& s, Optimizer& o) {
  const std::string& name = s.value.ident;
  if (name == "sgd") o = Optimizer{Optimizer::Kind::Sgd};
  else if (name == "adam") o = Optimizer{Optimizer::Kind::Adam};
  else if (name == "adamw") o = Optimizer{Optimizer::Kind::Adam}, o.decoupled = true, o.weightDecay = 0.01;
  else {
    file.error(s.value.loc, fmt::format("unknown optimizer '{}'; expected sgd, adam or adamw{}", name,
                                        didYouMean(name, {"sgd", "adam", "adamw"})));
    return;
  }
  GivenArgs given;
  if (!matchArgs(file, name, s.value.loc, optimizerArgs(o), s.args, given)) return;
  for (const auto& [arg, a] : given) {
    double x = a->value.kind == Value::Kind::Int ? static_cast<double>(a->value.intValue) : a->value.floatValue;
    if (arg == "lr") o.lr = x;
    if (arg == "momentum") o.momentum = x;
    if (arg == "weight_decay") o.weightDecay = x;
    if (arg == "beta1") o.beta1 = x;
    if (arg == "beta2") o.beta2 = x;
    if (arg == "eps") o.eps = x;
    if (arg == "nesterov") o.nesterov = a->value.boolValue;
  }
  // torch.optim.SGD refuses it too: "Nesterov momentum requires a momentum and zero dampening".
  if (o.nesterov && o.momentum <= 0)
    file.error(s.value.loc, "nesterov=true needs a momentum above 0 (as torch.optim.SGD does)");
}

// schedule constant | step(every, gamma=0.1) | cosine(warmup=0) |
// onecycle(max_lr, pct_start=0.3, div_factor=25, final_div_factor=1e4)
void checkSchedule(SourceFile& file, const Setting& s, cnnc_rt::ScheduleSpec& schedule) {
  using cnnc_rt::ScheduleKind;
  static const std::map<std::string, std::pair<ScheduleKind, std::vector<ArgSpec>>> kinds = {
      {"constant", {ScheduleKind::Constant, {}}},
      {"step", {ScheduleKind::Step, {{"every", ArgType::Int, true, ""}, {"gamma", ArgType::Number, false, "0.1", 0}}}},
      {"cosine", {ScheduleKind::Cosine, {{"warmup", ArgType::Number, false, "0", 0}}}},
      {"onecycle",
       {ScheduleKind::OneCycle,
        {{"max_lr", ArgType::Number, true, "", 0},
         {"pct_start", ArgType::Number, false, "0.3", 0, 0, 1},
         {"div_factor", ArgType::Number, false, "25", 1e-12},
         {"final_div_factor", ArgType::Number, false, "1e4", 1e-12}}}},
  };
  const std::string& name = s.value.ident;
  auto it = kinds.find(name);
  if (it == kinds.end()) {
    const std::vector<std::string> names = {"constant", "step", "cosine", "onecycle"};
    file.error(s.value.loc, fmt::format("unknown schedule '{}'; expected {}{}", name, joinOr(names), didYouMean(name, names)));
    return;
  }
  GivenArgs given;
  if (!matchArgs(file, name, s.value.loc, it->second.second, s.args, given)) return;
  schedule = cnnc_rt::ScheduleSpec{};
  schedule.kind = it->second.first;
  for (const auto& [arg, a] : given) {
    const double x = a->value.kind == Value::Kind::Int ? static_cast<double>(a->value.intValue) : a->value.floatValue;
    if (arg == "every") schedule.every = a->value.intValue;
    if (arg == "gamma") schedule.gamma = x;
    if (arg == "warmup") schedule.warmup = x;
    if (arg == "max_lr") schedule.maxLr = x;
    if (arg == "pct_start") schedule.pctStart = x;
    if (arg == "div_factor") schedule.divFactor = x;
    if (arg == "final_div_factor") schedule.finalDivFactor = x;
  }
}

// augment crop(padding=P) | flip: torchvision's RandomCrop(size, padding=P)
// and RandomHorizontalFlip(0.5).
void checkAugment(SourceFile& file, const Setting& s, std::vector<Augment>& augment) {
  const std::string& name = s.value.ident;
  static const std::vector<std::string> names = {"crop", "flip"};
  if (name != "crop" && name != "flip") {
    file.error(s.value.loc, fmt::format("unknown augmentation '{}'; expected crop or flip{}", name, didYouMean(name, names)));
    return;
  }
  static const std::vector<ArgSpec> cropArgs = {{"padding", ArgType::Int, true, ""}};
  static const std::vector<ArgSpec> flipArgs = {};
  GivenArgs given;
  if (!matchArgs(file, name, s.value.loc, name == "crop" ? cropArgs : flipArgs, s.args, given)) return;
  Augment a;
  a.kind = name == "crop" ? Augment::Kind::Crop : Augment::Kind::Flip;
  if (a.kind == Augment::Kind::Crop) a.padding = given.at("padding")->value.intValue;  // >= 1: matchArgs
  augment.push_back(a);
}

}  // namespace


void checkTrain(SourceFile& file, const TrainBlock& block, TrainConfig& config, TrainLocs& locs) {
  std::map<std::string, Loc> seen;
  for (const Setting& s : block.settings) {
    if (std::find(kSettings.begin(), kSettings.end(), s.name) == kSettings.end()) {
      file.error(s.loc, fmt::format("unknown setting '{}' in the train block; expected {}{}", s.name, joinOr(kSettings),
                               didYouMean(s.name, kSettings)));
      continue;
    }
    if (seen.count(s.name) && s.name != "augment") {  // augment lines add up
      file.error(s.loc, fmt::format("setting '{}' is given twice", s.name));
      file.note(seen[s.name], "first given here");
      continue;
    }
    seen[s.name] = s.loc;
    if (s.isCall && s.name != "optimizer" && s.name != "schedule" && s.name != "augment" && s.name != "normalize") {
      file.error(s.value.loc, fmt::format("setting '{}' takes a value, not a call", s.name));
      continue;
    }
    checkSetting(file, s, config, locs);
  }
  if (config.labelSmoothing > 0 && config.loss != LossKind::CrossEntropy)
    file.error(locs.labelSmoothing, "label_smoothing applies to the cross_entropy loss; this model's loss is mse");
}

}  // namespace cnnc
