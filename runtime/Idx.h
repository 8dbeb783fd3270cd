// MNIST's IDX files (raw or .gz): checked before anything is allocated.
// (readMnist in Dataset.h reads a folder of the four.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "Memory.h"

namespace cnnc_rt {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  Bytes pixels;  // count x rows x cols
};

struct IdxLabels {
  std::vector<uint8_t> labels;
};

// Each returns false and sets `error` (naming the file and what is wrong).
bool readIdxImages(const std::string& path, IdxImages& out, std::string& error);
bool readIdxLabels(const std::string& path, IdxLabels& out, std::string& error);

}  // namespace cnnc_rt
