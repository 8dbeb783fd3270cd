// The trainer's commands, each with its own options (the CLI in
// Trainer.cpp fills them): train, eval, predict, info (samples and report
// are in Tools.h). Each returns the process's exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "Model.h"
#include "Run.h"

namespace cnnc_rt {

struct TrainOptions {
  std::string data;    // empty: data/mnist or data/cifar10, as the model's data says
  int64_t epochs = 0;  // the model's by default
  double lr = 0;       // 0: the model's
  int64_t seed = 0;
  int64_t limit = 0;   // 0: every training image
  int64_t validation = -1;  // training samples held out; -1: the model's
  bool noShuffle = false;
  bool profile = false;
  int threads = 0;     // 0: all cores
  std::string log;     // JSON lines
  int64_t logEvery = 0;
  std::string save, init, resume;
  int64_t maxSteps = 0;
  double stopAt = 0;       // test accuracy in percent: stop at the first evaluation that reaches it (0: never)
  int64_t evalEvery = 0;   // also evaluate every K steps (0: after each epoch only)
  std::string device = "auto";
  double commTimeout = 120;  // distributed: seconds a collective waits for the other ranks
};

struct EvalOptions {
  std::string weights;
  std::string data;  // as TrainOptions::data
  std::string device = "auto";
  std::string confusion;  // an SVG to write
};

struct PredictOptions {
  std::string weights;
  std::vector<std::string> images;
  bool invert = false, json = false;
  std::string device = "auto";
};

int trainCommand(Run& run, const TrainOptions& opt);
int evalCommand(Run& run, const EvalOptions& opt);
int predictCommand(Run& run, const PredictOptions& opt);
int infoCommand(const ModelSpec& spec);

}  // namespace cnnc_rt
