// The trainer's commands besides train: eval, predict, info.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>

#include "Commands.h"
#include "Image.h"
#include "Tools.h"
#include "Weights.h"

namespace cnnc_rt {

namespace {

// For eval and predict: the --weights in `s`, and `split`, placed where the
// kernels run. Null after a message on failure.
std::unique_ptr<Session::Data> prepare(const Run& run, const std::string& weights, Session& s, const Dataset& set) {
  std::string error;
  const Kernels& k = run.kernels;
  if (!loadWeights(run.spec, weights, s, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return nullptr;
  }
  if (k.gpu && !s.toDevice(k.gpu->interface)) {
    deviceFailed("placing the parameters on the GPU");
    return nullptr;
  }
  std::unique_ptr<Session::Data> data = s.attach(set);
  if (!data) deviceFailed("copying the data to the GPU");
  return data;
}

}  // namespace

int evalCommand(Run& run, const EvalOptions& opt) {
  const ModelSpec& spec = run.spec;
  const Console& out = run.console;
  if (!choose(run, opt.device)) return 1;
  Dataset testSet;
  if (!loadData(spec, opt.data, Part::Test, testSet, out.live())) return 1;
  Session s(spec);
  std::unique_ptr<Session::Data> data = prepare(run, opt.weights, s, testSet);
  if (!data) return 1;
  std::string error;
  EvalResult test;
  std::vector<int64_t> confusion(spec.classes * spec.classes, 0);
  auto start = std::chrono::steady_clock::now();
  if (!evaluate(run, s, *data, test, opt.confusion.empty() ? nullptr : &confusion)) return 1;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.say("test accuracy %.2f%%  test loss %.4f  (%lld images in %.3f s)\n", 100.0 * test.accuracy, test.loss,
      (long long)testSet.count, seconds);
  if (!opt.confusion.empty()) {
    // Columns wide enough for the class names (folder names, CIFAR-10's), cut at 12.
    const std::vector<std::string>& names = testSet.classNames;
    auto name = [&](int64_t k) { return names.empty() ? std::to_string(k) : names[k].substr(0, 12); };
    int width = 6;
    for (int64_t k = 0; k < spec.classes; ++k) width = std::max(width, int(name(k).size()) + 1);
    out.say("\nconfusion matrix (rows: label, columns: prediction)\n%*s", width, "");
    for (int64_t p = 0; p < spec.classes; ++p) out.say("%*s", width, name(p).c_str());
    out.say("\n");
    for (int64_t t = 0; t < spec.classes; ++t) {
      out.say("%*s", width, name(t).c_str());
      for (int64_t p = 0; p < spec.classes; ++p) out.say("%*lld", width, (long long)confusion[t * spec.classes + p]);
      out.say("\n");
    }
    if (!writeConfusionSvg(opt.confusion, confusion, static_cast<int>(spec.classes), names, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    out.say("wrote %s\n", opt.confusion.c_str());
  }
  return 0;
}

// predict: label and top-3 probabilities for each image file.
int predictCommand(Run& run, const PredictOptions& opt) {
  const ModelSpec& spec = run.spec;
  const Console& out = run.console;
  // The model's image: CxHxW, or 784 features as 28x28 gray.
  const std::vector<int64_t>& shape = spec.sampleShape;
  const int64_t F = std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<int64_t>());
  const bool image = shape.size() == 3 && (shape[0] == 1 || shape[0] == 3);
  if (!image && F != 28 * 28) {
    std::fprintf(stderr, "error: predict reads gray or RGB images; model '%s' takes %lld features per sample\n",
                 spec.name.c_str(), (long long)F);
    return 1;
  }
  const int C = image ? int(shape[0]) : 1, H = image ? int(shape[1]) : 28, W = image ? int(shape[2]) : 28;
  Dataset set;
  set.channels = C, set.height = H, set.width = W;
  for (const std::string& path : opt.images) {
    Image picture;
    std::string error;
    if (!readImage(path, picture, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    if (picture.channels != C && !opt.json)
      out.say("note: %s is %s; converted to %s\n", path.c_str(), picture.channels == 1 ? "gray" : "RGB",
              C == 1 ? "gray" : "RGB");
    picture = withChannels(picture, C);
    if (picture.width != W || picture.height != H) {
      if (!opt.json) out.say("note: %s is %dx%d; scaled to %dx%d\n", path.c_str(), picture.width, picture.height, W, H);
      picture = resize(picture, W, H);
    }
    if (opt.invert)
      for (auto& p : picture.pixels) p = static_cast<uint8_t>(255 - p);
    // Interleaved RGB to the pipelines' planes.
    set.pixels.resize(set.pixels.size() + picture.pixels.size());
    toPlanes(picture, set.pixels.data() + set.pixels.size() - picture.pixels.size());
    set.labels.push_back(0);
  }
  set.count = static_cast<int64_t>(opt.images.size());
  if (!choose(run, opt.device)) return 1;
  Session s(spec);
  std::unique_ptr<Session::Data> data = prepare(run, opt.weights, s, set);
  if (!data) return 1;
  EvalResult ignored;
  std::vector<float> scores;
  if (!evaluate(run, s, *data, ignored, nullptr, &scores)) return 1;
  const int64_t K = spec.classes;
  for (size_t i = 0; i < opt.images.size(); ++i) {
    std::vector<double> p(scores.begin() + i * K, scores.begin() + (i + 1) * K);
    if (!spec.outputIsProbability) {  // softmax of the logits
      double m = *std::max_element(p.begin(), p.end()), sum = 0;
      for (double& v : p) sum += (v = std::exp(v - m));
      for (double& v : p) v /= sum;
    }
    std::vector<int> rank(K);
    std::iota(rank.begin(), rank.end(), 0);
    std::stable_sort(rank.begin(), rank.end(), [&](int a, int b) { return p[a] > p[b]; });
    if (opt.json) {
      std::vector<double> rounded;
      for (double v : p) rounded.push_back(std::round(v * 1e6) / 1e6);
      nlohmann::ordered_json line = {{"file", opt.images[i]}, {"label", rank[0]}, {"probabilities", rounded}};
      std::printf("%s\n", line.dump().c_str());
    } else {
      out.say("%s: %d  (top 3: %d %.3f, %d %.3f, %d %.3f)\n", opt.images[i].c_str(), rank[0], rank[0], p[rank[0]], rank[1],
          p[rank[1]], rank[2], p[rank[2]]);
    }
  }
  return 0;
}

int infoCommand(const ModelSpec& spec) {
  std::printf("%s", spec.summary.c_str());
  std::printf("\nbuilt by:        %s\n", spec.builtBy.c_str());
  std::printf("source:          %s\n", spec.source.c_str());
  std::string devices = "cpu";
  for (const GpuSpec& gpu : spec.gpus) devices += ", " + gpu.api;
  std::printf("devices:         %s\n", devices.c_str());
  std::printf("%s", deviceReport(spec).c_str());
  if (spec.chunks > 1 || spec.collective)
    std::printf("batch:           %lld, as %lld chunks of %lld (compiled in; docs/distributed.md)%s\n",
                (long long)(spec.batch * spec.chunks), (long long)spec.chunks, (long long)spec.batch,
                spec.collective ? "; data-parallel over MPI: mpirun -np N with N dividing the chunks" : "");
  else
    std::printf("batch:           %lld (compiled in; the last, smaller batch is padded)\n", (long long)spec.batch);
  const double mb = 1.0 / (1 << 20);
  const int64_t arena = spec.totalParams * 4;
  std::printf("memory:          parameters %.2f MiB, gradients %.2f MiB, optimizer state %.2f MiB, "
              "activations %.2f MiB (placed by cnnc: --emit=plan)\n",
              arena * mb, arena * mb, spec.stateCount * arena * mb, spec.activationFloats * 4 * mb);
  std::printf("training step:   %.1f MFLOP per sample (%lld multiply-adds forward, %lld with the gradients)\n",
              2.0 * spec.trainMacsPerSample / 1e6, (long long)spec.macsPerSample,
              (long long)spec.trainMacsPerSample);
  // The convolution kernels and how each computes (cnnc --conv; their
  // multiply-adds above and in train --profile are direct convolution's).
  std::string convs;
  for (const KernelSpec& k : spec.trainKernels)
    if (k.name.find("conv2d") != std::string::npos)
      convs += (convs.empty() ? "" : "\n                 ") + k.name +
               (k.name.find("winograd") == std::string::npos ? " (direct)" : "");
  if (!convs.empty()) std::printf("convolutions:    %s\n", convs.c_str());
  std::printf("FMA peak:        %.0f GFLOP/s on %u threads (measured now)\n",
              measurePeakGflops(static_cast<int>(std::thread::hardware_concurrency())),
              std::thread::hardware_concurrency());
  std::printf("data:            %s (docs/data.md; --data %s)%s\n", spec.data.c_str(),
              spec.data == "folder" ? "DIR required" : ("default data/" + spec.data).c_str(),
              spec.validation > 0 ? (", " + std::to_string(spec.validation) + " training images held out for validation").c_str() : "");
  std::printf("defaults:        %s, %s lr %g, %lld epochs, seed %lld, %s\n", spec.loss.c_str(),
              spec.optimizer.name(), spec.optimizer.lr, (long long)spec.epochs,
              (long long)spec.seed, spec.shuffle ? "shuffled" : "in file order");
  return 0;
}

}  // namespace cnnc_rt
