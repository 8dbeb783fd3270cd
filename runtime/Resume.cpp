#include "Resume.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "Safetensors.h"
#include "Weights.h"

namespace cnnc_rt {

namespace {
// Doubles as exact hexadecimal text, so a resumed run sees the same bits.
std::string exact(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}
}  // namespace

std::string statePath(const std::string& weightsPath) {
  const std::string ext = ".safetensors";
  if (weightsPath.size() > ext.size() && weightsPath.compare(weightsPath.size() - ext.size(), ext.size(), ext) == 0)
    return weightsPath.substr(0, weightsPath.size() - ext.size()) + ".state" + ext;
  return weightsPath + ".state";
}

bool saveState(const ModelSpec& spec, const std::string& path, const Session& s, const ResumePoint& p,
               std::string& error) {
  std::vector<TensorView> views = modelTensors(spec, s);
  const std::vector<Aligned<float>>& state = s.state;
  std::vector<std::string> names;
  for (size_t i = 0; i < state.size(); ++i) names.push_back("optimizer.state." + std::to_string(i));
  for (size_t i = 0; i < state.size(); ++i) views.push_back({names[i], {spec.totalParams}, state[i].data()});
  std::map<std::string, std::string> meta = {
      {"format", "cnnc-resume"},         {"model", spec.name},          {"epoch", std::to_string(p.epoch)},
      {"next", std::to_string(p.next)}, {"step", std::to_string(p.step)}, {"loss_sum", exact(p.lossSum)},
      {"epochs", std::to_string(p.epochs)}, {"seed", std::to_string(p.seed)}, {"limit", std::to_string(p.limit)},
      {"validation", std::to_string(p.validation)}, {"ranks", std::to_string(p.ranks)},
      {"lr", exact(p.lr)},               {"shuffle", p.shuffle ? "true" : "false"}};
  return writeSafetensors(path, views, meta, error);
}

bool loadState(const ModelSpec& spec, const std::string& given, Session& s, ResumePoint& p, std::string& error) {
  std::vector<Aligned<float>>& state = s.state;
  struct stat st;
  std::string path = given;
  if (given.find(".state.") == std::string::npos && ::stat(statePath(given).c_str(), &st) == 0) path = statePath(given);
  std::map<std::string, LoadedTensor> tensors;
  std::map<std::string, std::string> meta;
  if (!readSafetensors(path, tensors, error, &meta)) return false;
  if (meta["format"] != "cnnc-resume") {
    error = path + ": not a training state (written by train --save as NAME.state.safetensors)";
    return false;
  }
  if (meta["model"] != spec.name) {
    error = path + ": the state of model '" + meta["model"] + "', not of '" + spec.name + "'";
    return false;
  }
  if (!takeModelTensors(spec, path, tensors, s, error)) return false;
  for (size_t i = 0; i < state.size(); ++i) {
    auto it = tensors.find("optimizer.state." + std::to_string(i));
    if (it == tensors.end() || static_cast<int64_t>(it->second.data.size()) != spec.totalParams) {
      error = path + ": missing optimizer state " + std::to_string(i) + " (another optimizer?)";
      return false;
    }
    std::copy(it->second.data.begin(), it->second.data.end(), state[i].data());
  }
  auto integer = [&](const char* key) { return std::strtoll(meta[key].c_str(), nullptr, 10); };
  p.epoch = integer("epoch");
  p.next = integer("next");
  p.step = integer("step");
  p.epochs = integer("epochs");
  p.seed = integer("seed");
  p.limit = integer("limit");
  p.validation = integer("validation");  // 0 in states from before validation existed
  p.ranks = meta.count("ranks") ? integer("ranks") : 1;
  p.lossSum = std::strtod(meta["loss_sum"].c_str(), nullptr);
  p.lr = std::strtod(meta["lr"].c_str(), nullptr);
  p.shuffle = meta["shuffle"] == "true";
  return true;
}

}  // namespace cnnc_rt
