// libFuzzer target: the safetensors reader (header length, JSON, dtypes,
// shapes, offsets).
#include "FuzzFile.h"
#include "Safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = cnnc_fuzz::scratch(data, size, ".safetensors");
  std::map<std::string, cnnc_rt::LoadedTensor> tensors;
  std::map<std::string, std::string> metadata;
  std::string error;
  if (cnnc_rt::readSafetensors(path, tensors, error, &metadata)) {
    for (const auto& [name, t] : tensors) {
      size_t count = 1;
      for (int64_t d : t.shape)
        if (d < 0 || __builtin_mul_overflow(count, size_t(d), &count)) __builtin_trap();
      if (count != t.data.size()) __builtin_trap();  // shapes agree with the data read
    }
  } else if (error.find(path) != 0) {
    __builtin_trap();
  }
  return 0;
}
