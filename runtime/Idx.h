// MNIST's IDX files (raw or .gz): checked before anything is allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc_rt {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count x rows x cols
};

struct IdxLabels {
  std::vector<uint8_t> labels;
};

// Each returns false and sets `error` (naming the file and what is wrong).
bool readIdxImages(const std::string& path, IdxImages& out, std::string& error);
bool readIdxLabels(const std::string& path, IdxLabels& out, std::string& error);

// One split of a dataset folder: `train` or `t10k`, found under the names
// MNIST uses (train-images-idx3-ubyte, train-images.idx3-ubyte, +.gz).
struct Split {
  IdxImages images;
  IdxLabels labels;
};
bool loadSplit(const std::string& dir, const std::string& prefix, Split& out, std::string& error);

}  // namespace cnnc_rt
