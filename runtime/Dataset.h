// The data a trainer reads, as the train block's `data` names it: MNIST's
// IDX files (and Fashion-MNIST's, KMNIST's), CIFAR-10's binary batches, or
// folders of PNG images (torchvision's ImageFolder). Every reader checks
// what it reads and refuses a bad file with a message naming it. The
// pixels stay bytes; the pipelines convert and normalise them per batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "Memory.h"

namespace cnnc_rt {

struct Dataset {
  int64_t count = 0;
  int channels = 1, height = 0, width = 0;
  Bytes pixels;                         // count x channels x height x width (each sample's planes)
  std::vector<uint8_t> labels;          // count
  std::vector<std::string> classNames;  // empty: the classes are their numbers
  int64_t features() const { return int64_t(channels) * height * width; }
};

enum class Part { Train, Test };

// What a reader expects of the images (folder: every image must have it).
struct SampleShape {
  int channels = 1, height = 0, width = 0;
};

// Each returns false and sets `error` (naming the file and what is wrong).
// MNIST: the four IDX files under MNIST's or torchvision's names, raw or gzipped.
bool readMnist(const std::string& dir, Part part, Dataset& out, std::string& error);
// CIFAR-10, binary version: data_batch_1.bin ... data_batch_5.bin, test_batch.bin.
bool readCifar10(const std::string& dir, Part part, Dataset& out, std::string& error);
// One CIFAR-10 batch file: records of a label byte and 3x32x32 bytes.
bool readCifarFile(const std::string& path, Dataset& out, std::string& error);
// train/ or test/ holding one folder of PNGs per class, classes in sorted
// order of their names. Decoded on `threads` threads (0: every core); with
// `progress`, a line on stderr counts the images as they are read.
bool readFolder(const std::string& dir, Part part, const SampleShape& shape, Dataset& out, std::string& error,
                int threads = 0, bool progress = false);

// CIFAR-10's class names (its batches.meta.txt).
const std::vector<std::string>& cifar10Classes();

// The held-out samples of `validation N`: N of `count` training samples
// drawn once from `seed` (a seeded permutation's last N, as random_split's
// second part), in ascending order; `kept` gets the others, ascending.
void splitValidation(int64_t count, int64_t validation, int64_t seed, std::vector<int32_t>& kept,
                     std::vector<int32_t>& heldOut);

}  // namespace cnnc_rt
