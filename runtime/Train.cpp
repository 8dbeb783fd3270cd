// train: the training loop. Memory for a run is allocated once, up front
// (Session); a training step allocates nothing of its own.
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <thread>

#include "AtomicFile.h"
#include "Chunked.h"
#include "Commands.h"
#include "Resume.h"
#include "Weights.h"

namespace cnnc_rt {

namespace {

// Ctrl-C: the step in flight finishes, the weights are saved, exit 130.
// A second Ctrl-C ends the process at once. (A signal handler's flag: the
// trainer's one global.)
volatile std::sig_atomic_t gInterrupted = 0;
void onInterrupt(int) {
  gInterrupted = 1;
  std::signal(SIGINT, SIG_DFL);
}

// Where a run starts, and its settings: from the options, with the weights
// from --init or a seeded initialisation; or, with --resume, as the
// interrupted run had them (weights and optimizer state included). False
// after a message.
bool startingPoint(Run& run, const TrainOptions& opt, int64_t trainCount, Session& s, ResumePoint& at) {
  const ModelSpec& spec = run.spec;
  at.epochs = opt.epochs;
  at.seed = opt.seed;
  at.limit = opt.limit > 0 ? std::min<int64_t>(opt.limit, trainCount) : trainCount;
  // The rate the schedule starts from: onecycle's max_lr, else the optimizer's.
  const double modelLr = spec.schedule.kind == ScheduleKind::OneCycle ? spec.schedule.maxLr : spec.optimizer.lr;
  at.lr = opt.lr > 0 ? opt.lr : modelLr;
  at.shuffle = spec.shuffle && !opt.noShuffle;
  at.validation = opt.validation >= 0 ? opt.validation : spec.validation;
  std::string error;
  if (!opt.resume.empty()) {
    if (!loadState(spec, opt.resume, s, at, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return false;
    }
    run.console.say("resuming at step %lld (epoch %lld, sample %lld) with the interrupted run's settings\n",
                    (long long)at.step, (long long)at.epoch, (long long)at.next);
  } else if (!opt.init.empty()) {
    if (!loadWeights(spec, opt.init, s, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return false;
    }
  } else {
    initialise(spec, s, static_cast<uint64_t>(opt.seed));
  }
  return true;
}

// The epoch's order of the samples trained on: as they are (ascending),
// or shuffled by Fisher-Yates with a generator seeded per epoch
// (reproducible).
void orderFor(Session::Data& d, bool shuffle, int64_t seed, int64_t epoch) {
  Aligned<int32_t>& order = d.order;
  const int64_t count = d.count;
  std::copy(d.samples.begin(), d.samples.end(), order.begin());
  if (!shuffle) return;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003u + static_cast<uint64_t>(epoch));
  for (int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[rng() % uint64_t(i + 1)]);
}

// Samples [first, first + n) of the epoch's order in a training run.
struct Batch {
  int64_t epoch, first, n, step;  // step: 1-based, this batch's
  int64_t seed;                   // the run's (dropout's masks)
};

// One training step: the forward pass, the loss and every gradient, then
// the optimizer's update; the loss is left in s.loss. 0, or the exit
// status after a message (3: the loss is not finite; the update was not
// applied, so the parameters are those from before this step).
// The profile's rows of a training step (registered once, before the loop).
struct StepRows {
  int step, update;
};

int trainStep(Run& run, Session& s, const Batch& b, double lr, const TrainOptions& opt, StepRows rows,
              ChunkedStep* chunked) {
  const Kernels& k = run.kernels;
  const int stepKernel = rows.step, updateKernel = rows.update;
  const uint64_t before = run.profile.on() ? scratchStats().systemAllocs : 0;
  const int64_t heapBefore = run.profile.on() ? heapAllocations() : -1;
  const DeviceCopies copiesBefore = deviceCopies();
  s.b.noise = dropoutKey(b.seed, b.step);
  s.b.augment = augmentKey(b.seed, b.epoch);
  const double talkBefore = run.ranks ? run.ranks->seconds() : 0;
  const int status = timed(run.profile, stepKernel, double(b.n), [&] {
    traceInto(Traced::Training);
    if (!chunked) return finished(run, k.trainStep(s.b, static_cast<int>(b.first), static_cast<int>(b.n)), s.b.loss);
    // Every rank stops after the same step: each says whether it wants to.
    bool stop = gInterrupted != 0;
    const int status = chunked->run(k, b.first, b.n, stop);
    if (stop) gInterrupted = 1;
    return status;
  });
  if (run.ranks) run.stepCollectives += run.ranks->seconds() - talkBefore;
  if (!check(status, "training step")) return 1;
  for (int64_t& batches : s.counters) ++batches;  // num_batches_tracked
  // The loss is the one value a step brings back from a GPU.
  if (!s.download(s.b.loss)) return deviceFailed("reading the loss from the GPU");
  if (!std::isfinite(s.loss)) {
    const bool saved = !opt.save.empty() && b.epoch > 1;
    std::fprintf(stderr,
                 "error: the loss is %s at step %lld (epoch %lld, samples %lld-%lld); training stopped%s%s\n"
                 "hint: a lower --lr usually helps\n",
                 std::isnan(s.loss) ? "nan" : "infinite", (long long)b.step, (long long)b.epoch, (long long)b.first,
                 (long long)(b.first + b.n - 1), saved ? "; the last checkpoint is " : "", saved ? opt.save.c_str() : "");
    return 3;
  }
  const UpdateScalars scalars = updateScalars(run.spec.optimizer, lr, b.step);
  if (!check(timed(run.profile, updateKernel, 1.0,
                   [&] { return finished(run, k.update(s.b, scalars), s.b.flatParams); }),
             "optimizer"))
    return 1;
  PoolGrowth& g = run.growth;
  ++g.trainCalls;
  g.stepCopies += deviceCopies() - copiesBefore;
  if (run.profile.on() && scratchStats().systemAllocs != before) g.lastTrain = g.trainCalls;
  if (heapBefore >= 0 && g.trainCalls > PoolGrowth::kWarmSteps) g.heapInSteps += heapAllocations() - heapBefore;
  return 0;
}

// Ctrl-C or --max-steps after the step `here` ends: saves where the run
// stands (with --save) and returns the exit status (0 for --max-steps, 130
// for Ctrl-C, 1 when saving failed).
template <typename Save>
int stopEarly(const Run& run, const TrainOptions& opt, const ResumePoint& here, bool maxSteps, Save& save) {
  const Console& out = run.console;
  if (out.live()) out.say("\n");
  out.say(maxSteps ? "stopped after step %lld (epoch %lld): --max-steps\n" : "interrupted at step %lld (epoch %lld)\n",
          (long long)here.step, (long long)here.epoch);
  const int status = maxSteps ? 0 : 130;
  if (opt.save.empty()) {
    out.say("no --save given: nothing saved\n");
    return status;
  }
  if (!save(here)) return 1;
  out.say("saved the weights after step %lld to %s (resume with --resume %s)\n", (long long)here.step,
          opt.save.c_str(), statePath(opt.save).c_str());
  return status;
}

// The --log file, appended to when resuming; null without --log, or
// after a message when it cannot be opened (then `ok` is false).
std::FILE* openLog(const TrainOptions& opt, bool& ok) {
  ok = true;
  if (opt.log.empty()) return nullptr;
  std::FILE* log = std::fopen(opt.log.c_str(), opt.resume.empty() ? "w" : "a");
  if (!log) {
    std::fprintf(stderr, "error: %s: cannot write: %s\n", opt.log.c_str(), std::strerror(errno));
    ok = false;
  }
  return log;
}

void printProfile(const Run& run, int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  const double peak = measurePeakGflops(threads);
  run.profile.print(peak, threads);
  printKernelProfile(peak, run.profile.seconds("train_step"), run.profile.seconds("eval"));
  if (run.ranks) {
    // The training steps' time: computing, and in the steps' collectives
    // (sending, and waiting for the slowest rank), on rank 0; then the
    // collectives outside the steps (evaluation's gathers, checkpoints),
    // which counted among the steps' before and could exceed them.
    const double steps = run.profile.seconds("train_step"), talk = run.stepCollectives;
    std::printf("distributed: %d ranks x %lld chunks of %lld; training steps %.2f s: computing %.2f s, collectives "
                "%.2f s (%.1f%%); collectives outside the steps %.2f s\n",
                run.ranks->size(), (long long)(run.spec.chunks / run.ranks->size()), (long long)run.spec.batch, steps,
                steps - talk, talk, steps > 0 ? 100.0 * talk / steps : 0.0, run.ranks->seconds() - talk);
  }
  const PoolGrowth& g = run.growth;
  if (const GpuSpec* gpu = run.kernels.gpu) {
    std::printf("GPU kernel launches (%s; one per stage at root): %d per training step (%lld in all), %d per "
                "evaluation batch, %d per update; the GFLOP/s above are the device's, the %% peak the CPU's\n",
                gpu->api.c_str(), gpu->launchesPerStep, (long long)(gpu->launchesPerStep * g.trainCalls),
                gpu->launchesPerEval, gpu->launchesPerUpdate);
    const DeviceCopies& c = g.stepCopies;
    const double steps = double(g.trainCalls);
    std::printf("host-device copies inside training steps: %.2f per step to the device (%.0f bytes), %.2f per step "
                "to the host (%.0f bytes); %lld steps\n",
                c.toDevice / steps, c.bytesToDevice / steps, c.toHost / steps, c.bytesToHost / steps,
                (long long)g.trainCalls);
  }
  const ScratchStats scratch = scratchStats();
  std::printf("kernel scratch memory: %.1f MiB in %llu blocks, reused from call to call; the last new block: "
              "training step %lld of %lld, evaluation batch %lld of %lld\n",
              scratch.bytesHeld / double(1 << 20), (unsigned long long)scratch.systemAllocs, (long long)g.lastTrain,
              (long long)g.trainCalls, (long long)g.lastEval, (long long)g.evalCalls);
  if (heapAllocations() >= 0 && g.trainCalls > PoolGrowth::kWarmSteps)
    std::printf("heap allocations inside training steps %lld-%lld (counted by the preloaded allocator): %lld\n",
                (long long)PoolGrowth::kWarmSteps + 1, (long long)g.trainCalls, (long long)g.heapInSteps);
}

int train(Run& run, const TrainOptions& opt) {
  const ModelSpec& spec = run.spec;
  const Console& out = run.console;
  if (!choose(run, opt.device)) return 1;
  std::unique_ptr<ChunkedStep> chunked;
  if (spec.chunks > 1 || run.ranks) {
    const std::string why = ChunkedStep::unsupported(spec, run.ranks, run.kernels.gpu != nullptr);
    if (!why.empty()) {
      std::fprintf(stderr, "error: %s\n", why.c_str());
      return 1;
    }
    if (run.ranks) run.ranks->setTimeout(opt.commTimeout);
  }
  Dataset trainSet, testSet;
  const bool live = out.live();
  if (!loadData(spec, opt.data, Part::Train, trainSet, live) || !loadData(spec, opt.data, Part::Test, testSet, live))
    return 1;
  if (trainSet.classNames != testSet.classNames) {
    std::fprintf(stderr, "error: %s: the test set's class folders are not the training set's (%zu and %zu classes)\n",
                 opt.data.c_str(), testSet.classNames.size(), trainSet.classNames.size());
    return 1;
  }
  Session s(spec);
  std::string error;
  ResumePoint at;
  if (!startingPoint(run, opt, trainSet.count, s, at)) return 1;
  const int64_t ranks = run.ranks ? run.ranks->size() : 1;
  if (!opt.resume.empty() && at.ranks != ranks) {
    std::fprintf(stderr, "error: %s: the run was saved with %lld ranks; resume it with mpirun -np %lld\n",
                 opt.resume.c_str(), (long long)at.ranks, (long long)at.ranks);
    return 1;
  }
  at.ranks = ranks;
  if (spec.chunks > 1 || run.ranks) chunked = std::make_unique<ChunkedStep>(spec, s, run.ranks);
  // validation N: held out once, from the seed; --limit counts the rest.
  if (at.validation >= trainSet.count) {
    std::fprintf(stderr, "error: validation %lld: the training set has %lld samples; hold out fewer\n",
                 (long long)at.validation, (long long)trainSet.count);
    return 1;
  }
  std::vector<int32_t> kept, heldOut;
  splitValidation(trainSet.count, at.validation, at.seed, kept, heldOut);
  if (run.kernels.gpu && !s.toDevice(run.kernels.gpu->interface)) return deviceFailed("placing the parameters on the GPU");
  if (!opt.save.empty() && !canWrite(opt.save, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  bool logOk = true;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(openLog(opt, logOk), [](std::FILE* f) { return f ? std::fclose(f) : 0; });
  if (!logOk) return 1;
  // The weights (PyTorch's names) and, beside them, the state to resume from.
  auto save = [&](const ResumePoint& point) {
    if (opt.save.empty()) return true;
    if (!s.download(s.b.flatParams)) return deviceFailed("reading the weights from the GPU") == 0;
    for (halide_buffer_t* st : s.b.state)
      if (!s.download(st)) return deviceFailed("reading the optimizer state from the GPU") == 0;
    if (!s.download(s.b.flatBuffers)) return deviceFailed("reading the running statistics from the GPU") == 0;
    if (saveWeights(spec, opt.save, s, point.epoch - (point.next == 0 ? 1 : 0), error) &&
        saveState(spec, statePath(opt.save), s, point, error))
      return true;
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return false;
  };
  std::signal(SIGINT, onInterrupt);
  const int64_t count = std::min<int64_t>(at.limit, static_cast<int64_t>(kept.size())), B = spec.batch * spec.chunks;
  kept.resize(count);
  std::unique_ptr<Session::Data> train = s.attach(trainSet, std::move(kept));
  std::unique_ptr<Session::Data> test = s.attach(testSet);
  std::unique_ptr<Session::Data> val = train && at.validation > 0 ? s.attach(trainSet, heldOut, train.get()) : nullptr;
  if (!train || !test || (at.validation > 0 && !val)) return deviceFailed("copying the dataset to the GPU");
  // Per sample: 2 FLOPs a multiply-add. The update: about 10 per parameter.
  const StepRows rows{run.profile.kernel("train_step", 2.0 * spec.trainMacsPerSample),
                      run.profile.kernel("update", 10.0 * spec.totalParams)};
  int64_t step = at.step;
  const int64_t stepsPerEpoch = (count + B - 1) / B;
  const char* schedules[] = {"", " (step schedule)", " (cosine schedule)", " (one-cycle schedule)"};
  out.say("training %s on %lld images for %lld epochs: batch %lld, lr %g%s, %s%s\n", spec.name.c_str(), (long long)count,
          (long long)at.epochs, (long long)B, at.lr, schedules[static_cast<int>(spec.schedule.kind)],
          at.shuffle ? "shuffled each epoch" : "in file order",
          val ? (", " + std::to_string(val->count) + " held out for validation").c_str() : "");
  // Time to accuracy: training time since the run (re)started, without
  // the evaluations; `--stop-at` ends the run at the first that reaches it.
  const auto runStart = std::chrono::steady_clock::now();
  double evalSeconds = 0;
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  auto measure = [&](EvalResult& result, Session::Data* on = nullptr) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = evaluate(run, s, on ? *on : *test, result);
    evalSeconds += since(t0);
    s.use(*train);  // the epoch's order is still on the device
    return ok;
  };
  auto reached = [&](const EvalResult& result) { return opt.stopAt > 0 && 100.0 * result.accuracy >= opt.stopAt; };
  // The line and log entry of the evaluation that reached --stop-at.
  auto arrived = [&](const EvalResult& result, int64_t epoch, int64_t step) {
    const double training = since(runStart) - evalSeconds, wall = since(runStart);
    if (out.live()) out.say("\r%80s\r", "");
    out.say("reached %.2f%% test accuracy (--stop-at %g) at step %lld (epoch %lld): %.2f s of training, %.2f s "
            "with %s evaluations\n",
            100.0 * result.accuracy, opt.stopAt, (long long)step, (long long)epoch, training, wall,
            opt.evalEvery > 0 ? "its" : "the epochs'");
    if (log)
      std::fprintf(log.get(), "%s\n",
                   nlohmann::ordered_json{{"reached", opt.stopAt / 100.0}, {"step", step}, {"epoch", epoch},
                                          {"test_accuracy", result.accuracy}, {"train_seconds_total", training},
                                          {"seconds_total", wall}}
                       .dump()
                       .c_str());
  };
  for (int64_t epoch = at.epoch; epoch <= at.epochs; ++epoch) {
    orderFor(*train, at.shuffle, at.seed, epoch);
    s.use(*train);
    if (!s.upload(s.b.order)) return deviceFailed("copying the epoch's order to the GPU");
    const auto start = std::chrono::steady_clock::now();
    const double evalBefore = evalSeconds;
    const bool resumed = epoch == at.epoch;
    double lossSum = resumed ? at.lossSum : 0;
    for (int64_t first = resumed ? at.next : 0; first < count; first += B) {
      const Batch batch{epoch, first, std::min(B, count - first), ++step, at.seed};
      const double lr = learningRate(spec.schedule, at.lr, {step, epoch, stepsPerEpoch, stepsPerEpoch * at.epochs});
      if (int status = trainStep(run, s, batch, lr, opt, rows, chunked.get())) return status;
      lossSum += double(s.loss) * batch.n;
      if (log && opt.logEvery > 0 && step % opt.logEvery == 0)
        std::fprintf(log.get(), "%s\n", nlohmann::ordered_json{{"step", step}, {"loss", s.loss}, {"lr", lr}}.dump().c_str());
      ResumePoint here = at;
      here.epoch = epoch;
      here.next = first + batch.n;
      here.step = step;
      here.lossSum = lossSum;
      if (opt.evalEvery > 0 && step % opt.evalEvery == 0 && here.next < count) {
        EvalResult result;
        if (!measure(result)) return 1;
        if (log)
          std::fprintf(log.get(), "%s\n",
                       nlohmann::ordered_json{{"step", step}, {"epoch", epoch}, {"test_accuracy", result.accuracy},
                                              {"test_loss", result.loss},
                                              {"train_seconds_total", since(runStart) - evalSeconds}}
                           .dump()
                           .c_str());
        if (reached(result)) {
          arrived(result, epoch, step);
          return save(here) ? 0 : 1;
        }
      }
      const bool stop = opt.maxSteps > 0 && step >= opt.maxSteps;
      if (gInterrupted || stop) return stopEarly(run, opt, here, stop, save);
      if (out.live()) run.console.progress(epoch, at.epochs, first + batch.n, count, lossSum / (first + batch.n), start);
    }
    const double seconds = since(start) - (evalSeconds - evalBefore);
    EvalResult result, held;
    if (!measure(result) || (val && !measure(held, val.get()))) return 1;
    const double trainLoss = lossSum / count;
    if (out.live()) out.say("\r%80s\r", "");
    char validated[96] = "";
    if (val) std::snprintf(validated, sizeof validated, "  val accuracy %.2f%%  val loss %.4f", 100.0 * held.accuracy, held.loss);
    out.say("epoch %lld/%lld  train loss %.4f%s  test accuracy %.2f%%  test loss %.4f  %.1f s  %.0f images/s\n",
            (long long)epoch, (long long)at.epochs, trainLoss, validated, 100.0 * result.accuracy, result.loss, seconds,
            count / seconds);
    if (log) {
      nlohmann::ordered_json line = {{"epoch", epoch}, {"train_loss", trainLoss}};
      if (val) line["val_accuracy"] = held.accuracy, line["val_loss"] = held.loss;
      line.update(nlohmann::ordered_json{{"test_accuracy", result.accuracy}, {"test_loss", result.loss},
                                         {"train_seconds", seconds}, {"images_per_second", count / seconds}});
      std::fprintf(log.get(), "%s\n", line.dump().c_str());
      std::fflush(log.get());
    }
    ResumePoint next = at;
    next.epoch = epoch + 1;
    next.next = 0;
    next.step = step;
    next.lossSum = 0;
    if (!save(next)) return 1;
    if (reached(result)) {
      arrived(result, epoch, step);
      return 0;
    }
  }
  if (opt.stopAt > 0) out.say("did not reach %g%% test accuracy (--stop-at) in %lld epochs\n", opt.stopAt, (long long)at.epochs);
  return 0;
}

}  // namespace

int trainCommand(Run& run, const TrainOptions& given) {
  // In a distributed run rank 0 alone logs and writes checkpoints.
  TrainOptions opt = given;
  const bool first = !run.ranks || run.ranks->rank() == 0;
  if (!first) opt.log.clear(), opt.save.clear();
  run.profile = Profile(opt.profile);
  if (opt.profile) startKernelProfile(run.spec.trainKernels, run.spec.evalKernels);
  const int status = train(run, opt);
  if (first && opt.profile && run.growth.trainCalls > 0) printProfile(run, opt.threads);  // nothing to show when it never started
  return status;
}

}  // namespace cnnc_rt
