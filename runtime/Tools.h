// Trainer subcommands that need no pipeline: pictures of the data and of
// a training log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc_rt {

// samples: `count` training images from `index` on, in a grid, each with
// its label, as a PNG (the tutorial's picture).
int samplesCommand(const std::string& data, int64_t index, int count, const std::string& output);

// report: loss and accuracy per epoch (and the logged steps) from a
// --log file, as an SVG chart.
int reportCommand(const std::string& log, const std::string& output);

// A confusion matrix (rows: true labels, columns: predictions) as an SVG
// picture; `counts` is classes x classes.
bool writeConfusionSvg(const std::string& path, const std::vector<int64_t>& counts, int classes, std::string& error);

// Writes `text` to `path` through a temporary file and a rename.
bool writeTextFile(const std::string& path, const std::string& text, std::string& error);

}  // namespace cnnc_rt
