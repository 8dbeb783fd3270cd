// Checkpoints as safetensors files: an 8-byte little-endian header length,
// a JSON header {"name": {"dtype": "F32", "shape": [...],
// "data_offsets": [begin, end]}, ...}, then the raw tensor bytes. The names
// and shapes are PyTorch's state_dict, so the files load in PyTorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cnnc_rt {

// F32, or I64 where `ints` is set (batch norm's num_batches_tracked).
struct TensorView {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;
  const int64_t* ints = nullptr;
};

// Writes atomically (temporary file, fsync, rename). False with `error` set.
bool writeSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                      const std::map<std::string, std::string>& metadata, std::string& error);

struct LoadedTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;   // F32
  std::vector<int64_t> ints; // I64
  bool isInt = false;
};

// Reads every F32 and I64 tensor; checks the header length, JSON, dtypes, shapes
// against data sizes, and that offsets stay inside the file and do not
// overlap. False with `error` set (naming the file).
bool readSafetensors(const std::string& path, std::map<std::string, LoadedTensor>& tensors, std::string& error,
                     std::map<std::string, std::string>* metadata = nullptr);

}  // namespace cnnc_rt
