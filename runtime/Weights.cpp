// What a run reads besides its pipelines: the weights (PyTorch's default
// initialisation, or safetensors with PyTorch's names) and the dataset,
// checked against the model.
#include "Weights.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>

#include "Safetensors.h"

namespace cnnc_rt {

namespace {

// A float in [0, 1) from 24 random bits: the same on every platform.
float uniform01(std::mt19937_64& rng) { return static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f); }

}  // namespace

// PyTorch's default initialisation of nn.Conv2d and nn.Linear:
// kaiming_uniform_(a=sqrt(5)) for weights, i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and the same bound for the bias; constants draw nothing.
void initialise(const ModelSpec& spec, Session& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  int64_t fanIn = 1;
  auto fill = [](const ParamSpec& p, Aligned<float>& arena, const std::function<float()>& value) {
    const int64_t count = std::accumulate(p.shape.begin(), p.shape.end(), int64_t(1), std::multiplies<int64_t>());
    for (int64_t i = 0; i < count; ++i) arena[p.offset + i] = value();
  };
  for (const ParamSpec& p : spec.params) {
    if (p.init != Init::FanIn) {
      fill(p, s.params, [&] { return p.init == Init::Ones ? 1.0f : 0.0f; });
      continue;
    }
    if (p.fanIn > 0) fanIn = p.fanIn;
    const float bound = 1.0f / std::sqrt(static_cast<float>(fanIn));
    fill(p, s.params, [&] { return (2.0f * uniform01(rng) - 1.0f) * bound; });
  }
  for (const ParamSpec& p : spec.buffers) fill(p, s.buffers, [&] { return p.init == Init::Ones ? 1.0f : 0.0f; });
  std::fill(s.counters.begin(), s.counters.end(), 0);
}

std::vector<TensorView> modelTensors(const ModelSpec& spec, const Session& s) {
  std::vector<TensorView> views;
  for (const ParamSpec& p : spec.params) views.push_back({p.name, p.shape, s.params.data() + p.offset});
  for (const ParamSpec& p : spec.buffers) views.push_back({p.name, p.shape, s.buffers.data() + p.offset});
  for (size_t i = 0; i < spec.counters.size(); ++i) views.push_back({spec.counters[i], {}, nullptr, &s.counters[i]});
  return views;
}

namespace {

std::string shapeText(const std::vector<int64_t>& s) {
  if (s.empty()) return "a scalar";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

}  // namespace

bool takeModelTensors(const ModelSpec& spec, const std::string& path, std::map<std::string, LoadedTensor>& tensors,
                      Session& s, std::string& error) {
  auto take = [&](const std::string& name, const std::vector<int64_t>& shape, bool isInt,
                  const std::function<void(const LoadedTensor&)>& into) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      error = path + ": missing tensor '" + name + "'";
      return false;
    }
    if (it->second.isInt != isInt) {
      error = path + ": tensor '" + name + "' is " + (it->second.isInt ? "I64" : "F32") + ", the model needs " +
              (isInt ? "I64" : "F32");
      return false;
    }
    if (it->second.shape != shape) {
      error = path + ": tensor '" + name + "' has shape " + shapeText(it->second.shape) + ", the model needs " +
              shapeText(shape);
      return false;
    }
    into(it->second);
    tensors.erase(it);
    return true;
  };
  for (const ParamSpec& p : spec.params)
    if (!take(p.name, p.shape, false, [&](const LoadedTensor& t) { std::copy(t.data.begin(), t.data.end(), s.params.data() + p.offset); }))
      return false;
  for (const ParamSpec& p : spec.buffers)
    if (!take(p.name, p.shape, false, [&](const LoadedTensor& t) { std::copy(t.data.begin(), t.data.end(), s.buffers.data() + p.offset); }))
      return false;
  for (size_t i = 0; i < spec.counters.size(); ++i)
    if (!take(spec.counters[i], {}, true, [&](const LoadedTensor& t) { s.counters[i] = t.ints[0]; })) return false;
  return true;
}

bool loadWeights(const ModelSpec& spec, const std::string& path, Session& s, std::string& error) {
  std::map<std::string, LoadedTensor> tensors;
  std::map<std::string, std::string> metadata;
  if (!readSafetensors(path, tensors, error, &metadata)) return false;
  // cnnc's checkpoints name their model; PyTorch's files need not.
  const std::string other = metadata.count("model") && metadata["model"] != spec.name
                                ? "; the file says it holds model '" + metadata["model"] + "'"
                                : "";
  if (!takeModelTensors(spec, path, tensors, s, error)) {
    if (error.find(": missing tensor") != std::string::npos)
      error += " (is it a checkpoint of model '" + spec.name + "'?" + other + ")";
    return false;
  }
  if (!tensors.empty()) {
    error = path + ": unexpected tensor '" + tensors.begin()->first + "' (not a parameter of model '" + spec.name + "')";
    return false;
  }
  return true;
}

bool saveWeights(const ModelSpec& spec, const std::string& path, const Session& s, int64_t epoch, std::string& error) {
  return writeSafetensors(path, modelTensors(spec, s),
                          {{"format", "pt"}, {"model", spec.name}, {"epoch", std::to_string(epoch)}}, error);
}

bool loadData(const ModelSpec& spec, const std::string& given, Part part, Dataset& data, bool progress) {
  std::string error;
  if (given.empty() && spec.data == "folder") {
    std::fprintf(stderr, "error: model '%s' reads a folder of images (data folder): pass --data DIR, the folder "
                 "holding train/ and test/\n", spec.name.c_str());
    return false;
  }
  const std::string dir = given.empty() ? "data/" + spec.data : given;
  const std::vector<int64_t>& shape = spec.sampleShape;
  const bool image = shape.size() == 3;
  const SampleShape want{image ? int(shape[0]) : 1, image ? int(shape[1]) : 0, image ? int(shape[2]) : 0};
  const bool ok = spec.data == "cifar10"  ? readCifar10(dir, part, data, error)
                  : spec.data == "folder" ? readFolder(dir, part, want, data, error, 0, progress)
                                          : readMnist(dir, part, data, error);
  if (!ok) {
    // The hint is for a dataset not there yet, not for a broken one.
    const bool missing = error.find(std::strerror(ENOENT)) != std::string::npos;
    std::fprintf(stderr, "error: %s\n%s", error.c_str(),
                 missing && spec.data == "mnist" ? "hint: scripts/fetch-mnist.sh downloads MNIST into data/mnist; or pass --data DIR\n"
                 : missing                       ? "hint: pass --data DIR, the folder holding the dataset's files\n"
                                                 : "");
    return false;
  }
  const int64_t want_features =
      std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<int64_t>());
  // MNIST's 28x28 also feeds a model of 784 features (or 1x28x28).
  const bool fits = image ? data.channels == want.channels && data.height == want.height && data.width == want.width
                          : data.features() == want_features;
  if (!fits) {
    std::fprintf(stderr, "error: %s: images are %dx%dx%d (channels x height x width); model '%s' takes %s\n", dir.c_str(),
                 data.channels, data.height, data.width, spec.name.c_str(),
                 image ? (std::to_string(shape[0]) + "x" + std::to_string(shape[1]) + "x" + std::to_string(shape[2])).c_str()
                       : (std::to_string(want_features) + " values per sample").c_str());
    return false;
  }
  if (!data.classNames.empty() && spec.data == "folder" && int64_t(data.classNames.size()) != spec.classes) {
    std::string names;
    for (size_t i = 0; i < data.classNames.size() && i < 12; ++i) names += (i ? ", " : "") + data.classNames[i];
    if (data.classNames.size() > 12) names += ", ...";
    std::fprintf(stderr, "error: %s/%s: %zu class folders (%s); model '%s' has %lld classes\n", dir.c_str(),
                 part == Part::Train ? "train" : "test", data.classNames.size(), names.c_str(), spec.name.c_str(),
                 (long long)spec.classes);
    return false;
  }
  for (size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] >= spec.classes) {
      std::fprintf(stderr, "error: %s: label %d of sample %zu is not below the model's %lld classes\n", dir.c_str(),
                   data.labels[i], i, (long long)spec.classes);
      return false;
    }
  }
  return true;
}

}  // namespace cnnc_rt
