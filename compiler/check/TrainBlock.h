// The train block: loss, optimizer, batch, epochs, data, seed, shuffle,
// schedule, label_smoothing, augment.
#pragma once

#include "ir/IR.h"
#include "parse/AST.h"
#include "support/Diagnostics.h"

namespace cnnc {

// Where settings the model's messages point at were written.
struct TrainLocs {
  Loc batch, loss, labelSmoothing, augment, normalize, data;
};

// Fills `config` from the block (defaults for what it leaves out),
// reporting unknown, repeated and invalid settings.
void checkTrain(SourceFile& file, const TrainBlock& block, TrainConfig& config, TrainLocs& locs);

}  // namespace cnnc
