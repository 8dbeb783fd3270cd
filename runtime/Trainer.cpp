// The trainer's command line and training loop. Memory for a run is
// allocated once, up front; a training step allocates nothing of its own.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <thread>

#include "Device.h"
#include "DeviceCopies.h"
#include "Idx.h"
#include "Image.h"
#include "Model.h"
#include "Profile.h"
#include "Resume.h"
#include "Safetensors.h"
#include "Session.h"
#include "Tools.h"

namespace cnnc_rt {

namespace {

bool gQuiet = false;     // --quiet: nothing but errors
bool gProgress = false;  // a live progress line (stdout is a terminal)

// printf to stdout, unless --quiet.
template <typename... Args>
void say(const char* format, Args... args) {
  if (gQuiet) return;
  std::printf(format, args...);
  std::fflush(stdout);
}
struct Options {
  std::string data = "data/mnist";
  int64_t epochs = 0;
  double lr = 0;
  int64_t seed = 0;
  int threads = 0;
  int64_t limit = 0;
  bool noShuffle = false;
  bool profile = false;
  std::string log, save, init, weights;
  int64_t logEvery = 0;
  std::string device = "auto";
  std::string confusion, output, log2, resume;
  int64_t maxSteps = 0;
  std::vector<std::string> images;
  int64_t index = 0;
  int count = 9;
  bool invert = false, json = false;
};

const GpuSpec* gGpu = nullptr;  // the GPU API whose pipelines the run calls (null: the CPU's)

// --device: the pipelines to call; prints the choice (or an error).
bool choose(const ModelSpec& spec, const std::string& device, Kernels& k) {
  std::string note;
  if (!chooseDevice(spec, device, k, note)) return false;
  say("%s", note.c_str());
  gGpu = k.gpu;
  return true;
}

// A float in [0, 1) from 24 random bits: the same on every platform.
float uniform01(std::mt19937_64& rng) { return static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f); }

// PyTorch's default initialisation of nn.Conv2d and nn.Linear:
// kaiming_uniform_(a=sqrt(5)) for weights, i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and the same bound for the bias.
void initialise(const ModelSpec& spec, Aligned<float>& params, uint64_t seed) {
  std::mt19937_64 rng(seed);
  int64_t fanIn = 1;
  for (const ParamSpec& p : spec.params) {
    if (p.fanIn > 0) fanIn = p.fanIn;
    const float bound = 1.0f / std::sqrt(static_cast<float>(fanIn));
    int64_t count = std::accumulate(p.shape.begin(), p.shape.end(), int64_t(1), std::multiplies<int64_t>());
    for (int64_t i = 0; i < count; ++i) params[p.offset + i] = (2.0f * uniform01(rng) - 1.0f) * bound;
  }
}

bool loadWeights(const ModelSpec& spec, const std::string& path, Aligned<float>& params, std::string& error) {
  std::map<std::string, LoadedTensor> tensors;
  std::map<std::string, std::string> metadata;
  if (!readSafetensors(path, tensors, error, &metadata)) return false;
  // cnnc's checkpoints name their model; PyTorch's files need not.
  const std::string other = metadata.count("model") && metadata["model"] != spec.name
                                ? "; the file says it holds model '" + metadata["model"] + "'"
                                : "";
  for (const ParamSpec& p : spec.params) {
    auto it = tensors.find(p.name);
    if (it == tensors.end()) {
      error = path + ": missing tensor '" + p.name + "' (is it a checkpoint of model '" + spec.name + "'?" + other +
              ")";
      return false;
    }
    if (it->second.shape != p.shape) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string out;
        for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
        return out;
      };
      error = path + ": tensor '" + p.name + "' has shape " + str(it->second.shape) + ", the model needs " +
              str(p.shape);
      return false;
    }
    std::copy(it->second.data.begin(), it->second.data.end(), params.data() + p.offset);
    tensors.erase(it);
  }
  if (!tensors.empty()) {
    error = path + ": unexpected tensor '" + tensors.begin()->first + "' (not a parameter of model '" + spec.name + "')";
    return false;
  }
  return true;
}

bool saveWeights(const ModelSpec& spec, const std::string& path, const Aligned<float>& params, int64_t epoch,
                 std::string& error) {
  std::vector<TensorView> views;
  for (const ParamSpec& p : spec.params) views.push_back({p.name, p.shape, params.data() + p.offset});
  return writeSafetensors(path, views, {{"format", "pt"}, {"model", spec.name}, {"epoch", std::to_string(epoch)}},
                          error);
}

bool loadData(const ModelSpec& spec, const std::string& dir, const std::string& prefix, Split& split) {
  std::string error;
  if (!loadSplit(dir, prefix, split, error)) {
    // The hint is for a dataset not there yet, not for a broken one.
    const bool missing = error.find(std::strerror(ENOENT)) != std::string::npos;
    std::fprintf(stderr, "error: %s\n%s", error.c_str(),
                 missing ? "hint: scripts/fetch-mnist.sh downloads MNIST into data/mnist; or pass --data DIR\n" : "");
    return false;
  }
  int64_t features = split.images.rows * split.images.cols;
  int64_t want = std::accumulate(spec.sampleShape.begin(), spec.sampleShape.end(), int64_t(1),
                                 std::multiplies<int64_t>());
  if (features != want) {
    std::fprintf(stderr, "error: %s: images are %lldx%lld, model '%s' takes %lld values per sample\n", dir.c_str(),
                 (long long)split.images.rows, (long long)split.images.cols, spec.name.c_str(), (long long)want);
    return false;
  }
  for (size_t i = 0; i < split.labels.labels.size(); ++i) {
    if (split.labels.labels[i] >= spec.classes) {
      std::fprintf(stderr, "error: %s: label %d of sample %zu is not below the model's %lld classes\n", dir.c_str(),
                   split.labels.labels[i], i, (long long)spec.classes);
      return false;
    }
  }
  return true;
}

bool check(int status, const char* what) {
  if (status == 0) return true;
  std::fprintf(stderr, "error: the %s pipeline failed (Halide error %d)%s%s\n", what, status,
               halideError().empty() ? "" : ": ", halideError().c_str());
  return false;
}

// A failed copy to or from the GPU: says what and why; returns 1.
int deviceFailed(const char* what) {
  std::fprintf(stderr, "error: %s failed%s%s\n", what, halideError().empty() ? "" : ": ", halideError().c_str());
  return 1;
}

// `train --profile`: time per kernel, and when the scratch pool stopped
// growing. Nothing is counted or timed without it.
Profile gProfile{false};
// The pool grows while the kernels meet each scratch size (and each
// thread's share) for the first time; the call that last grew it says when
// the steady state began.
struct PoolGrowth {
  int64_t trainCalls = 0, evalCalls = 0;
  int64_t lastTrain = 0, lastEval = 0;  // 1-based call numbers; 0 = never
  // With a counting allocator preloaded: calls to it inside training
  // steps after the first kWarmSteps of the run.
  int64_t heapInSteps = 0;
  // Copies between the host and the GPU inside training steps (from the
  // start of the step to the loss read back after the update).
  DeviceCopies stepCopies;
} gGrowth;
constexpr int64_t kWarmSteps = 10;

// A pipeline call's status; with --profile on a GPU, once the device has
// finished it (kernel launches return before the kernels end, so the time
// would otherwise land in whatever waits next).
int finished(int status, halide_buffer_t* written) {
  if (status != 0 || !gGpu || !gProfile.on()) return status;
  return halide_device_sync(nullptr, written);
}

struct EvalResult {
  double loss = 0, accuracy = 0;
};

// Evaluates the whole split; with `confusion` (classes x classes, rows the
// labels) also counts each prediction, and with `scores` keeps every
// sample's output (classes per sample).
bool evaluate(Session& s, const Kernels& k, Session::Data& test, EvalResult& result,
              std::vector<int64_t>* confusion = nullptr, std::vector<float>* scores = nullptr) {
  const int64_t count = test.count, B = s.spec_.batch;
  s.use(test);
  double lossSum = 0;
  int64_t correct = 0;
  for (int64_t first = 0; first < count; first += B) {
    int64_t n = std::min(B, count - first);
    const uint64_t before = gProfile.on() ? scratchStats().systemAllocs : 0;
    const int status = timed(gProfile, gProfile.kernel("eval", 2.0 * s.spec_.macsPerSample), double(n),
                             [&] {
                               traceInto(Traced::Evaluation);
                               return finished(k.evaluate(s.b, static_cast<int>(first), static_cast<int>(n)), s.b.loss);
                             });
    ++gGrowth.evalCalls;
    if (gProfile.on() && scratchStats().systemAllocs != before) gGrowth.lastEval = gGrowth.evalCalls;
    if (!check(status, "evaluation")) return false;
    if (!s.download(s.b.loss) || !s.download(s.b.correct)) return deviceFailed("reading the results from the GPU") == 0;
    if ((confusion || scores) && !s.download(s.b.output)) return deviceFailed("reading the outputs from the GPU") == 0;
    const int64_t K = s.spec_.classes;
    for (int64_t i = 0; i < n && (confusion || scores); ++i) {
      const float* row = s.output.data() + i * K;
      if (scores) scores->insert(scores->end(), row, row + K);
      if (confusion) {
        int64_t predicted = std::max_element(row, row + K) - row;
        (*confusion)[test.labels[test.order[first + i]] * K + predicted] += 1;
      }
    }
    lossSum += double(s.loss) * n;
    correct += s.correct;
  }
  result.loss = lossSum / count;
  result.accuracy = double(correct) / count;
  return true;
}

// Ctrl-C: the step in flight finishes, the weights are saved, exit 130.
// A second Ctrl-C ends the process at once.
volatile std::sig_atomic_t gInterrupted = 0;
void onInterrupt(int) {
  gInterrupted = 1;
  std::signal(SIGINT, SIG_DFL);
}

// The live line on a terminal, at most ten times a second:
// epoch 1/9 [=======>      ] 31,232/60,000  loss 0.2140  5,210 img/s  ETA 6 s
void progress(int64_t epoch, int64_t epochs, int64_t done, int64_t count, double loss,
              std::chrono::steady_clock::time_point start) {
  static std::chrono::steady_clock::time_point last;
  auto now = std::chrono::steady_clock::now();
  if (done < count && now - last < std::chrono::milliseconds(100)) return;
  last = now;
  double seconds = std::chrono::duration<double>(now - start).count();
  double rate = seconds > 0 ? done / seconds : 0;
  const int width = 24;
  int filled = static_cast<int>(width * done / count);
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
  bar[width] = '\0';
  say("\repoch %lld/%lld [%s] %lld/%lld  loss %.4f  %.0f img/s  ETA %.0f s ", (long long)epoch, (long long)epochs, bar,
      (long long)done, (long long)count, loss, rate, rate > 0 ? (count - done) / rate : 0.0);
}

// Whether `path` can be created or replaced: its folder exists and takes
// files. Checked before training, so a typo costs a second, not an epoch.
bool canWrite(const std::string& path, std::string& error) {
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st;
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    error = path + ": cannot write: the folder '" + folder + "' does not exist";
  else if (::access(folder.c_str(), W_OK) != 0)
    error = path + ": cannot write: the folder '" + folder + "' is not writable";
  else if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    error = path + ": cannot write: it is a folder";
  else
    return true;
  return false;
}

// Where a run starts, and its settings: from the options, with the weights
// from --init or a seeded initialisation; or, with --resume, as the
// interrupted run had them (weights and optimizer state included). False
// after a message.
bool startingPoint(const ModelSpec& spec, const Options& opt, int64_t trainCount, Session& s, ResumePoint& at) {
  at.epochs = opt.epochs;
  at.seed = opt.seed;
  at.limit = opt.limit > 0 ? std::min<int64_t>(opt.limit, trainCount) : trainCount;
  at.lr = opt.lr > 0 ? opt.lr : spec.optimizer.lr;
  at.shuffle = spec.shuffle && !opt.noShuffle;
  std::string error;
  if (!opt.resume.empty()) {
    if (!loadState(spec, opt.resume, s.params, s.state, at, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return false;
    }
    say("resuming at step %lld (epoch %lld, sample %lld) with the interrupted run's settings\n", (long long)at.step,
        (long long)at.epoch, (long long)at.next);
  } else if (!opt.init.empty()) {
    if (!loadWeights(spec, opt.init, s.params, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return false;
    }
  } else {
    initialise(spec, s.params, static_cast<uint64_t>(opt.seed));
  }
  return true;
}

// Ctrl-C or --max-steps after the step `here` ends: saves where the run
// stands (with --save) and returns the exit status (0 for --max-steps, 130
// for Ctrl-C, 1 when saving failed).
template <typename Save>
int stopEarly(const Options& opt, const ResumePoint& here, bool maxSteps, Save& save) {
  if (gProgress) say("\n");
  say(maxSteps ? "stopped after step %lld (epoch %lld): --max-steps\n" : "interrupted at step %lld (epoch %lld)\n",
      (long long)here.step, (long long)here.epoch);
  const int status = maxSteps ? 0 : 130;
  if (opt.save.empty()) {
    say("no --save given: nothing saved\n");
    return status;
  }
  if (!save(here)) return 1;
  say("saved the weights after step %lld to %s (resume with --resume %s)\n", (long long)here.step, opt.save.c_str(),
      statePath(opt.save).c_str());
  return status;
}

int train(const ModelSpec& spec, const Options& opt) {
  Kernels k;
  if (!choose(spec, opt.device, k)) return 1;
  Split trainSet, testSet;
  if (!loadData(spec, opt.data, "train", trainSet) || !loadData(spec, opt.data, "t10k", testSet)) return 1;
  Session s(spec);
  std::string error;
  ResumePoint at;
  if (!startingPoint(spec, opt, trainSet.images.count, s, at)) return 1;
  if (k.gpu && !s.toDevice(k.gpu->interface)) return deviceFailed("placing the parameters on the GPU");
  if (!opt.save.empty() && !canWrite(opt.save, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  std::FILE* log = nullptr;
  if (!opt.log.empty() && !(log = std::fopen(opt.log.c_str(), opt.resume.empty() ? "w" : "a"))) {
    std::fprintf(stderr, "error: %s: cannot write: %s\n", opt.log.c_str(), std::strerror(errno));
    return 1;
  }
  struct Closer {
    std::FILE* f;
    ~Closer() {
      if (f) std::fclose(f);
    }
  } closer{log};

  const int64_t count = std::min<int64_t>(at.limit, trainSet.images.count);
  const int64_t B = spec.batch;
  const double lr = at.lr;
  // The weights (PyTorch's names) and, beside them, the state to resume from.
  auto save = [&](const ResumePoint& point) {
    if (opt.save.empty()) return true;
    if (!s.download(s.b.flatParams)) return deviceFailed("reading the weights from the GPU") == 0;
    for (halide_buffer_t* st : s.b.state)
      if (!s.download(st)) return deviceFailed("reading the optimizer state from the GPU") == 0;
    if (saveWeights(spec, opt.save, s.params, point.epoch - (point.next == 0 ? 1 : 0), error) &&
        saveState(spec, statePath(opt.save), s.params, s.state, point, error))
      return true;
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return false;
  };
  std::signal(SIGINT, onInterrupt);
  std::unique_ptr<Session::Data> train = s.attach(trainSet, count);
  std::unique_ptr<Session::Data> test = s.attach(testSet, testSet.images.count);
  if (!train || !test) return deviceFailed("copying the dataset to the GPU");
  Aligned<int32_t>& order = train->order;
  // Per sample: 2 FLOPs a multiply-add. The update: about 10 per parameter.
  const int stepKernel = gProfile.kernel("train_step", 2.0 * spec.trainMacsPerSample);
  const int updateKernel = gProfile.kernel("update", 10.0 * spec.totalParams);
  int64_t step = at.step;
  say("training %s on %lld images for %lld epochs: batch %lld, lr %g, %s\n", spec.name.c_str(), (long long)count,
      (long long)at.epochs, (long long)B, lr, at.shuffle ? "shuffled each epoch" : "in file order");
  for (int64_t epoch = at.epoch; epoch <= at.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    s.use(*train);
    if (at.shuffle) {
      // Fisher-Yates with a generator seeded per epoch: reproducible.
      std::mt19937_64 rng(static_cast<uint64_t>(at.seed) * 1000003u + static_cast<uint64_t>(epoch));
      for (int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[rng() % uint64_t(i + 1)]);
    }
    if (!s.upload(s.b.order)) return deviceFailed("copying the epoch's order to the GPU");
    auto start = std::chrono::steady_clock::now();
    const bool resumed = epoch == at.epoch;
    double lossSum = resumed ? at.lossSum : 0;
    for (int64_t first = resumed ? at.next : 0; first < count; first += B) {
      int64_t n = std::min(B, count - first);
      const uint64_t before = gProfile.on() ? scratchStats().systemAllocs : 0;
      const int64_t heapBefore = gProfile.on() ? heapAllocations() : -1;
      const DeviceCopies copiesBefore = deviceCopies();
      if (!check(timed(gProfile, stepKernel, double(n),
                       [&] {
                         traceInto(Traced::Training);
                         return finished(k.trainStep(s.b, static_cast<int>(first), static_cast<int>(n)), s.b.loss);
                       }),
                 "training step"))
        return 1;
      ++step;
      // The loss is the one value a step brings back from a GPU.
      if (!s.download(s.b.loss)) return deviceFailed("reading the loss from the GPU");
      if (!std::isfinite(s.loss)) {
        // Stop before the update spreads it: the parameters (and the last
        // checkpoint written) are those from before this step.
        std::fprintf(stderr,
                     "error: the loss is %s at step %lld (epoch %lld, samples %lld-%lld); training stopped%s%s\n"
                     "hint: a lower --lr usually helps\n",
                     std::isnan(s.loss) ? "nan" : "infinite", (long long)step, (long long)epoch, (long long)first,
                     (long long)(first + n - 1), opt.save.empty() || epoch == 1 ? "" : "; the last checkpoint is ",
                     opt.save.empty() || epoch == 1 ? "" : opt.save.c_str());
        return 3;
      }
      const UpdateScalars scalars = updateScalars(spec.optimizer, lr, step);
      if (!check(timed(gProfile, updateKernel, 1.0, [&] { return finished(k.update(s.b, scalars), s.b.flatParams); }), "optimizer"))
        return 1;
      ++gGrowth.trainCalls;
      gGrowth.stepCopies += deviceCopies() - copiesBefore;
      if (gProfile.on() && scratchStats().systemAllocs != before) gGrowth.lastTrain = gGrowth.trainCalls;
      if (heapBefore >= 0 && gGrowth.trainCalls > kWarmSteps) gGrowth.heapInSteps += heapAllocations() - heapBefore;
      lossSum += double(s.loss) * n;
      if (log && opt.logEvery > 0 && step % opt.logEvery == 0)
        std::fprintf(log, "%s\n", nlohmann::ordered_json{{"step", step}, {"loss", s.loss}}.dump().c_str());
      const bool stop = opt.maxSteps > 0 && step >= opt.maxSteps;
      if (gInterrupted || stop) {
        ResumePoint here = at;
        here.epoch = epoch;
        here.next = first + n;
        here.step = step;
        here.lossSum = lossSum;
        return stopEarly(opt, here, stop, save);
      }
      if (gProgress) progress(epoch, at.epochs, first + n, count, lossSum / (first + n), start);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EvalResult result;
    if (!evaluate(s, k, *test, result)) return 1;
    double trainLoss = lossSum / count;
    if (gProgress) say("\r%80s\r", "");
    say("epoch %lld/%lld  train loss %.4f  test accuracy %.2f%%  test loss %.4f  %.1f s  %.0f images/s\n",
        (long long)epoch, (long long)at.epochs, trainLoss, 100.0 * result.accuracy, result.loss, seconds,
        count / seconds);
    if (log) {
      nlohmann::ordered_json line = {{"epoch", epoch},           {"train_loss", trainLoss},
                                     {"test_accuracy", result.accuracy}, {"test_loss", result.loss},
                                     {"train_seconds", seconds}, {"images_per_second", count / seconds}};
      std::fprintf(log, "%s\n", line.dump().c_str());
      std::fflush(log);
    }
    ResumePoint next = at;
    next.epoch = epoch + 1;
    next.next = 0;
    next.step = step;
    next.lossSum = 0;
    if (!save(next)) return 1;
  }
  return 0;
}

// For eval and predict: the --weights in `s`, and `split`, placed where the
// kernels run. Null after a message on failure.
std::unique_ptr<Session::Data> prepare(const ModelSpec& spec, const Options& opt, const Kernels& k, Session& s,
                                       const Split& split) {
  std::string error;
  if (!loadWeights(spec, opt.weights, s.params, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return nullptr;
  }
  if (k.gpu && !s.toDevice(k.gpu->interface)) {
    deviceFailed("placing the parameters on the GPU");
    return nullptr;
  }
  std::unique_ptr<Session::Data> data = s.attach(split, split.images.count);
  if (!data) deviceFailed("copying the data to the GPU");
  return data;
}

int evalCommand(const ModelSpec& spec, const Options& opt) {
  Kernels k;
  if (!choose(spec, opt.device, k)) return 1;
  Split testSet;
  if (!loadData(spec, opt.data, "t10k", testSet)) return 1;
  Session s(spec);
  std::unique_ptr<Session::Data> data = prepare(spec, opt, k, s, testSet);
  if (!data) return 1;
  std::string error;
  EvalResult test;
  std::vector<int64_t> confusion(spec.classes * spec.classes, 0);
  auto start = std::chrono::steady_clock::now();
  if (!evaluate(s, k, *data, test, opt.confusion.empty() ? nullptr : &confusion)) return 1;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  say("test accuracy %.2f%%  test loss %.4f  (%lld images in %.2f s)\n", 100.0 * test.accuracy, test.loss,
      (long long)testSet.images.count, seconds);
  if (!opt.confusion.empty()) {
    say("\nconfusion matrix (rows: label, columns: prediction)\n      ");
    for (int64_t p = 0; p < spec.classes; ++p) say("%6lld", (long long)p);
    say("\n");
    for (int64_t t = 0; t < spec.classes; ++t) {
      say("%6lld", (long long)t);
      for (int64_t p = 0; p < spec.classes; ++p) say("%6lld", (long long)confusion[t * spec.classes + p]);
      say("\n");
    }
    if (!writeConfusionSvg(opt.confusion, confusion, static_cast<int>(spec.classes), error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    say("wrote %s\n", opt.confusion.c_str());
  }
  return 0;
}

// predict: label and top-3 probabilities for each image file.
int predictCommand(const ModelSpec& spec, const Options& opt) {
  const int64_t F = std::accumulate(spec.sampleShape.begin(), spec.sampleShape.end(), int64_t(1),
                                    std::multiplies<int64_t>());
  if (F != 28 * 28) {
    std::fprintf(stderr, "error: predict reads 28x28 images; model '%s' takes %lld values per sample\n",
                 spec.name.c_str(), (long long)F);
    return 1;
  }
  Split split;
  split.images.rows = split.images.cols = 28;
  for (const std::string& path : opt.images) {
    Gray image;
    std::string error;
    if (!readImage(path, image, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    if (image.width != 28 || image.height != 28) {
      if (!opt.json)
        say("note: %s is %dx%d; scaled to 28x28\n", path.c_str(), image.width, image.height);
      image = resize(image, 28, 28);
    }
    if (opt.invert)
      for (auto& p : image.pixels) p = static_cast<uint8_t>(255 - p);
    split.images.pixels.insert(split.images.pixels.end(), image.pixels.begin(), image.pixels.end());
    split.labels.labels.push_back(0);
  }
  split.images.count = static_cast<int64_t>(opt.images.size());
  Kernels k;
  if (!choose(spec, opt.device, k)) return 1;
  Session s(spec);
  std::unique_ptr<Session::Data> data = prepare(spec, opt, k, s, split);
  if (!data) return 1;
  EvalResult ignored;
  std::vector<float> scores;
  if (!evaluate(s, k, *data, ignored, nullptr, &scores)) return 1;
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
      say("%s: %d  (top 3: %d %.3f, %d %.3f, %d %.3f)\n", opt.images[i].c_str(), rank[0], rank[0], p[rank[0]], rank[1],
          p[rank[1]], rank[2], p[rank[2]]);
    }
  }
  return 0;
}

void printProfile(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  const double peak = measurePeakGflops(threads);
  gProfile.print(peak, threads);
  printKernelProfile(peak, gProfile.seconds("train_step"), gProfile.seconds("eval"));
  if (gGpu) {
    std::printf("GPU kernel launches (%s; one per stage at root): %d per training step (%lld in all), %d per "
                "evaluation batch, %d per update; the GFLOP/s above are the device's, the %% peak the CPU's\n",
                gGpu->api.c_str(), gGpu->launchesPerStep, (long long)(gGpu->launchesPerStep * gGrowth.trainCalls),
                gGpu->launchesPerEval, gGpu->launchesPerUpdate);
    const DeviceCopies& c = gGrowth.stepCopies;
    const double steps = double(gGrowth.trainCalls);
    std::printf("host-device copies inside training steps: %.2f per step to the device (%.0f bytes), %.2f per step "
                "to the host (%.0f bytes); %lld steps\n",
                c.toDevice / steps, c.bytesToDevice / steps, c.toHost / steps, c.bytesToHost / steps,
                (long long)gGrowth.trainCalls);
  }
  const ScratchStats scratch = scratchStats();
  std::printf("kernel scratch memory: %.1f MiB in %llu blocks, reused from call to call; the last new block: "
              "training step %lld of %lld, evaluation batch %lld of %lld\n",
              scratch.bytesHeld / double(1 << 20), (unsigned long long)scratch.systemAllocs,
              (long long)gGrowth.lastTrain, (long long)gGrowth.trainCalls, (long long)gGrowth.lastEval,
              (long long)gGrowth.evalCalls);
  if (heapAllocations() >= 0 && gGrowth.trainCalls > kWarmSteps)
    std::printf("heap allocations inside training steps %lld-%lld (counted by the preloaded allocator): %lld\n",
                (long long)kWarmSteps + 1, (long long)gGrowth.trainCalls, (long long)gGrowth.heapInSteps);
}

int infoCommand(const ModelSpec& spec) {
  std::printf("%s", spec.summary.c_str());
  std::printf("\nbuilt by:        %s\n", spec.builtBy.c_str());
  std::printf("source:          %s\n", spec.source.c_str());
  std::string devices = "cpu";
  for (const GpuSpec& gpu : spec.gpus) devices += ", " + gpu.api;
  std::printf("devices:         %s\n", devices.c_str());
  std::printf("%s", deviceReport(spec).c_str());
  std::printf("batch:           %lld (compiled in; the last, smaller batch is padded)\n", (long long)spec.batch);
  const double mb = 1.0 / (1 << 20);
  const int64_t arena = spec.totalParams * 4;
  std::printf("memory:          parameters %.2f MiB, gradients %.2f MiB, optimizer state %.2f MiB, "
              "activations %.2f MiB (placed by cnnc: --emit=plan)\n",
              arena * mb, arena * mb, spec.stateCount * arena * mb, spec.activationFloats * 4 * mb);
  std::printf("training step:   %.1f MFLOP per sample (%lld multiply-adds forward, %lld with the gradients)\n",
              2.0 * spec.trainMacsPerSample / 1e6, (long long)spec.macsPerSample,
              (long long)spec.trainMacsPerSample);
  std::printf("FMA peak:        %.0f GFLOP/s on %u threads (measured now)\n",
              measurePeakGflops(static_cast<int>(std::thread::hardware_concurrency())),
              std::thread::hardware_concurrency());
  std::printf("defaults:        %s, %s lr %g, %lld epochs, seed %lld, %s\n", spec.loss.c_str(),
              spec.optimizer.kind == OptimizerKind::Adam ? "adam" : "sgd", spec.optimizer.lr, (long long)spec.epochs,
              (long long)spec.seed, spec.shuffle ? "shuffled" : "in file order");
  return 0;
}

}  // namespace

int trainerMain(int argc, char** argv, const ModelSpec& spec) {
  // Keep freed memory in the heap: fresh pages are expensive on these VMs.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  installHalideErrorHandler();
  installScratchPool();

  CLI::App app{"Trainer for model '" + spec.name + "' (compiled by cnnc from " + spec.source + ")"};
  app.require_subcommand(1);
  Options opt;
  opt.epochs = spec.epochs;
  opt.seed = spec.seed;
  CLI::App* trainCmd = app.add_subcommand("train", "train on MNIST, evaluating on the test set after every epoch");
  trainCmd->add_option("--data", opt.data, "folder holding the four MNIST IDX files")->capture_default_str();
  trainCmd->add_option("--epochs", opt.epochs, "epochs to train")->capture_default_str()->check(CLI::PositiveNumber);
  trainCmd->add_option("--lr", opt.lr, "learning rate (default: the model's, " + std::to_string(spec.optimizer.lr) + ")")
      ->check(CLI::NonNegativeNumber);
  trainCmd->add_option("--seed", opt.seed, "seed for initialisation and shuffling")->capture_default_str();
  trainCmd->add_option("--threads", opt.threads, "worker threads (default: all cores)")->check(CLI::PositiveNumber);
  trainCmd->add_option("--limit", opt.limit, "train on the first N training images only")->check(CLI::PositiveNumber);
  trainCmd->add_flag("--no-shuffle", opt.noShuffle, "keep the file order (as the tutorial's DataLoader did)");
  trainCmd->add_flag("--profile", opt.profile, "time every kernel (calls, ms, GFLOP/s, % of the FMA peak) and count its allocations");
  trainCmd->add_option("--log", opt.log, "write JSON lines: one per epoch, and per step with --log-every");
  trainCmd->add_option("--log-every", opt.logEvery, "log the loss every K steps")->check(CLI::PositiveNumber);
  trainCmd->add_option("--save", opt.save, "write the weights (safetensors) after every epoch");
  trainCmd->add_option("--init", opt.init, "start from these weights (safetensors) instead of a random init");
  trainCmd->add_option("--resume", opt.resume,
                       "go on from a run saved with --save (its NAME.state.safetensors), bit for bit as if never stopped");
  trainCmd->add_option("--max-steps", opt.maxSteps, "stop after this step (saving, as Ctrl-C does)")
      ->check(CLI::PositiveNumber);
  trainCmd->add_option("--device", opt.device, "cpu, cuda, opencl, or auto (the first GPU API that has a GPU, else the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "opencl", "auto"}));
  bool quiet = false;
  trainCmd->add_flag("-q,--quiet", quiet, "print nothing but errors");
  CLI::App* evalCmd = app.add_subcommand("eval", "evaluate weights on the MNIST test set");
  evalCmd->add_option("--weights", opt.weights, "weights to evaluate (safetensors)")->required();
  evalCmd->add_option("--data", opt.data, "folder holding the MNIST IDX files")->capture_default_str();
  evalCmd->add_option("--threads", opt.threads, "worker threads (default: all cores)")->check(CLI::PositiveNumber);
  evalCmd->add_option("--device", opt.device, "cpu, cuda, opencl, or auto (the first GPU API that has a GPU, else the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "opencl", "auto"}));
  evalCmd->add_option("--confusion", opt.confusion, "also write the confusion matrix as an SVG picture (and print it)");
  CLI::App* predictCmd = app.add_subcommand("predict", "classify PNG or PGM images (28x28 gray; others are scaled)");
  predictCmd->add_option("--weights", opt.weights, "weights (safetensors)")->required();
  predictCmd->add_option("images", opt.images, "PNG or PGM files")->required();
  predictCmd->add_flag("--invert", opt.invert, "the images are dark digits on a light background");
  predictCmd->add_flag("--json", opt.json, "one JSON object per image: file, label, probabilities");
  predictCmd->add_option("--device", opt.device, "cpu, cuda, opencl, or auto (the first GPU API that has a GPU, else the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "opencl", "auto"}));
  CLI::App* samplesCmd = app.add_subcommand("samples", "a grid of training images with their labels, as a PNG");
  samplesCmd->add_option("--data", opt.data, "folder holding the MNIST IDX files")->capture_default_str();
  samplesCmd->add_option("--index", opt.index, "the first training image")->capture_default_str()->check(CLI::NonNegativeNumber);
  samplesCmd->add_option("--count", opt.count, "how many")->capture_default_str()->check(CLI::Range(1, 400));
  samplesCmd->add_option("-o,--output", opt.output, "the PNG to write")->required();
  CLI::App* reportCmd = app.add_subcommand("report", "loss and accuracy curves from a --log file, as an SVG chart");
  reportCmd->add_option("--log", opt.log2, "the JSON lines written by train --log")->required();
  reportCmd->add_option("-o,--output", opt.output, "the SVG to write")->required();
  CLI::App* infoCmd = app.add_subcommand("info", "the model, its memory, and how this trainer was built");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  gQuiet = quiet;
  gProgress = !quiet && isatty(STDOUT_FILENO);
  // A file-size limit (ulimit -f) or a full disk fails the write with a
  // message, instead of killing the trainer with SIGXFSZ mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  installKernelTrace();
  if (infoCmd->parsed()) return infoCommand(spec);
  if (samplesCmd->parsed()) return samplesCommand(opt.data, opt.index, opt.count, opt.output);
  if (reportCmd->parsed()) return reportCommand(opt.log2, opt.output);
  if (predictCmd->parsed()) return predictCommand(spec, opt);
  if (opt.threads > 0) halide_set_num_threads(opt.threads);
  if (trainCmd->parsed()) {
    gProfile = Profile(opt.profile);
    if (opt.profile) startKernelProfile(spec.trainKernels, spec.evalKernels);
    const int status = train(spec, opt);
    if (opt.profile && gGrowth.trainCalls > 0) printProfile(opt.threads);  // nothing to show when it never started
    return status;
  }
  return evalCommand(spec, opt);
}

}  // namespace cnnc_rt
