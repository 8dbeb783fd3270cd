// The trainer's command line: one subcommand each with its own options
// (Commands.h), then the command runs with a Run of its own.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <unistd.h>

#include <csignal>

#include "Commands.h"
#include "Device.h"
#include "Profile.h"
#include "ThreadPool.h"
#include "Tools.h"

namespace cnnc_rt {

int trainerMain(int argc, char** argv, const ModelSpec& spec) {
  // Keep freed memory in the heap: fresh pages are expensive on these VMs.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  installHalideHooks();
  installScratchPool();
  // A distributed trainer starts MPI first (it may rewrite the arguments).
  Collective* ranks = spec.collective ? spec.collective(&argc, &argv) : nullptr;
  if (spec.collective && !ranks) {
    std::fprintf(stderr, "error: MPI did not start (run the trainer with mpirun -np N, or on its own for one rank)\n");
    return 1;
  }

  CLI::App app{"Trainer for model '" + spec.name + "' (compiled by cnnc from " + spec.source + ")"};
  app.require_subcommand(1);
  TrainOptions opt;  // train's
  opt.epochs = spec.epochs;
  opt.seed = spec.seed;
  EvalOptions evalOpt;
  PredictOptions predictOpt;
  std::string samplesData, output, reportLog;
  // Where the data is: the model's format decides what the folder holds.
  const std::string dataHelp =
      spec.data == "cifar10"  ? "folder holding CIFAR-10's binary batches (default: data/cifar10)"
      : spec.data == "folder" ? "folder holding train/ and test/, a folder of PNGs per class in each (required)"
                              : "folder holding the four MNIST IDX files (default: data/mnist)";

  int64_t index = 0;
  int count = 9, evalThreads = 0;
  CLI::App* trainCmd = app.add_subcommand("train", "train, evaluating on the test set after every epoch");
  trainCmd->add_option("--data", opt.data, dataHelp);
  trainCmd->add_option("--epochs", opt.epochs, "epochs to train")->capture_default_str()->check(CLI::PositiveNumber);
  const bool oneCycle = spec.schedule.kind == ScheduleKind::OneCycle;
  trainCmd->add_option("--lr", opt.lr,
                       std::string(oneCycle ? "the one-cycle schedule's max_lr" : "learning rate") + " (default: the model's, " +
                           std::to_string(oneCycle ? spec.schedule.maxLr : spec.optimizer.lr) + ")")
      ->check(CLI::NonNegativeNumber);
  trainCmd->add_option("--seed", opt.seed, "seed for initialisation and shuffling")->capture_default_str();
  trainCmd->add_option("--threads", opt.threads, "worker threads (default: all cores)")->check(CLI::PositiveNumber);
  trainCmd->add_option("--limit", opt.limit, "train on the first N training images only")->check(CLI::PositiveNumber);
  trainCmd->add_option("--validation", opt.validation,
                       "hold out N training images, drawn once from the seed, and report them each epoch (default: "
                       "the model's, " + std::to_string(spec.validation) + ")")
      ->check(CLI::NonNegativeNumber);
  trainCmd->add_flag("--no-shuffle", opt.noShuffle, "keep the file order (as the tutorial's DataLoader did)");
  trainCmd->add_flag("--profile", opt.profile, "time every kernel (calls, ms, GFLOP/s, % of the FMA peak) and count its allocations");
  trainCmd->add_option("--log", opt.log, "write JSON lines: one per epoch, and per step with --log-every");
  trainCmd->add_option("--log-every", opt.logEvery, "log the loss every K steps")->check(CLI::PositiveNumber);
  trainCmd->add_option("--save", opt.save, "write the weights (safetensors) after every epoch");
  trainCmd->add_option("--init", opt.init, "start from these weights (safetensors) instead of a random init");
  trainCmd->add_option("--resume", opt.resume,
                       "go on from a run saved with --save (its NAME.state.safetensors), bit for bit as if never stopped");
  trainCmd->add_option("--stop-at", opt.stopAt,
                       "stop after the first evaluation whose test accuracy reaches ACC percent (99.0), and print "
                       "the time to it")
      ->check(CLI::Range(0.0, 100.0));
  trainCmd->add_option("--eval-every", opt.evalEvery, "also evaluate the test set every K steps (logged with --log)")
      ->check(CLI::PositiveNumber);
  trainCmd->add_option("--max-steps", opt.maxSteps, "stop after this step (saving, as Ctrl-C does)")
      ->check(CLI::PositiveNumber);
  trainCmd->add_option("--comm-timeout", opt.commTimeout,
                       "distributed runs: seconds a rank waits for the others in a step before the job ends")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  trainCmd->add_option("--device", opt.device, "cpu, cuda, opencl, or auto (the first GPU API that has a GPU, else the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "opencl", "auto"}));
  bool quiet = false;
  trainCmd->add_flag("-q,--quiet", quiet, "print nothing but errors");
  CLI::App* evalCmd = app.add_subcommand("eval", "evaluate weights on the test set");
  evalCmd->add_option("--weights", evalOpt.weights, "weights to evaluate (safetensors)")->required();
  evalCmd->add_option("--data", evalOpt.data, dataHelp);
  evalCmd->add_option("--threads", evalThreads, "worker threads (default: all cores)")->check(CLI::PositiveNumber);
  evalCmd->add_option("--device", evalOpt.device, "cpu, cuda, opencl, or auto (the first GPU API that has a GPU, else the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "opencl", "auto"}));
  evalCmd->add_option("--confusion", evalOpt.confusion, "also write the confusion matrix as an SVG picture (and print it)");
  CLI::App* predictCmd = app.add_subcommand("predict", "classify PNG or PGM images (gray or RGB as the model's input; other sizes are scaled)");
  predictCmd->add_option("--weights", predictOpt.weights, "weights (safetensors)")->required();
  predictCmd->add_option("images", predictOpt.images, "PNG or PGM files")->required();
  predictCmd->add_flag("--invert", predictOpt.invert, "the images are dark digits on a light background");
  predictCmd->add_flag("--json", predictOpt.json, "one JSON object per image: file, label, probabilities");
  predictCmd->add_option("--device", predictOpt.device, "cpu, cuda, opencl, or auto (the first GPU API that has a GPU, else the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "opencl", "auto"}));
  CLI::App* samplesCmd = app.add_subcommand("samples", "a grid of training images with their labels, as a PNG");
  samplesCmd->add_option("--data", samplesData, dataHelp);
  samplesCmd->add_option("--index", index, "the first training image")->capture_default_str()->check(CLI::NonNegativeNumber);
  samplesCmd->add_option("--count", count, "how many")->capture_default_str()->check(CLI::Range(1, 400));
  samplesCmd->add_option("-o,--output", output, "the PNG to write")->required();
  CLI::App* reportCmd = app.add_subcommand("report", "loss and accuracy curves from a --log file, as an SVG chart");
  reportCmd->add_option("--log", reportLog, "the JSON lines written by train --log")->required();
  reportCmd->add_option("-o,--output", output, "the SVG to write")->required();
  CLI::App* infoCmd = app.add_subcommand("info", "the model, its memory, and how this trainer was built");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // A file-size limit (ulimit -f) or a full disk fails the write with a
  // message, instead of killing the trainer with SIGXFSZ mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  installKernelTrace();
  if (infoCmd->parsed()) return infoCommand(spec);
  if (samplesCmd->parsed()) return samplesCommand(spec, samplesData, index, count, output);
  if (reportCmd->parsed()) return reportCommand(reportLog, output);
  // Rank 0 alone prints (errors come from any rank, naming it).
  Run run(spec, Console(quiet || (ranks && ranks->rank() > 0), isatty(STDOUT_FILENO)));
  run.ranks = ranks;
  const int threads = startThreadPool(trainCmd->parsed() ? opt.threads : evalCmd->parsed() ? evalThreads : 0);
  halide_set_num_threads(threads);  // Halide's own pool runs nothing now but asynchronous tasks
  halide_set_custom_do_par_for(parallelFor);
  if (predictCmd->parsed()) return predictCommand(run, predictOpt);
  if (trainCmd->parsed()) return trainCommand(run, opt);
  return evalCommand(run, evalOpt);
}

}  // namespace cnnc_rt
