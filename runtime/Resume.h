// Resuming training: a state file beside the weights holds what a run
// needs to go on bit for bit: parameters, optimizer state, the step, where
// in which epoch, the running loss, and the run's settings.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "Model.h"
#include "Session.h"

namespace cnnc_rt {

struct ResumePoint {
  int64_t epoch = 1;    // the epoch to continue
  int64_t next = 0;     // its next sample position
  int64_t step = 0;     // steps done so far
  double lossSum = 0;   // the epoch's running loss sum so far
  // The run's settings, restored as they were.
  int64_t epochs = 1, seed = 0, limit = 0, validation = 0;
  int64_t ranks = 1;  // a distributed run's ranks: a resumed run needs as many
  double lr = 0;
  bool shuffle = true;
};

// w.safetensors -> w.state.safetensors
std::string statePath(const std::string& weightsPath);

// The session's parameters, buffers, counters and optimizer state.
bool saveState(const ModelSpec& spec, const std::string& path, const Session& s, const ResumePoint& point,
               std::string& error);

// Accepts the state file or the weights file beside it.
bool loadState(const ModelSpec& spec, const std::string& path, Session& s, ResumePoint& point, std::string& error);

}  // namespace cnnc_rt
