// Trainer subcommands that need no pipeline: pictures of the data and of
// a training log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "Model.h"

namespace cnnc_rt {

// samples: `count` training images from `index` on, in a grid, each with
// its label (the class's number), as a PNG: gray, or in colour for RGB data
// (the tutorial's picture).
int samplesCommand(const ModelSpec& spec, const std::string& data, int64_t index, int count, const std::string& output);

// report: loss and accuracy per epoch (and the logged steps) from a
// --log file, as an SVG chart.
int reportCommand(const std::string& log, const std::string& output);

// A confusion matrix (rows: true labels, columns: predictions) as an SVG
// picture; `counts` is classes x classes; `names` (when not empty) label
// the rows and columns.
bool writeConfusionSvg(const std::string& path, const std::vector<int64_t>& counts, int classes,
                       const std::vector<std::string>& names, std::string& error);

// Writes `text` to `path` through a temporary file and a rename.
bool writeTextFile(const std::string& path, const std::string& text, std::string& error);

}  // namespace cnnc_rt
