// libFuzzer target: the CIFAR-10 batch reader (record size, labels).
#include "Dataset.h"
#include "FuzzFile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = cnnc_fuzz::scratch(data, size, ".bin");
  cnnc_rt::Dataset set;
  std::string error;
  if (cnnc_rt::readCifarFile(path, set, error)) {
    if (set.channels != 3 || set.height != 32 || set.width != 32) __builtin_trap();
    if (set.pixels.size() != size_t(set.count) * 3072 || set.labels.size() != size_t(set.count)) __builtin_trap();
    for (uint8_t label : set.labels)
      if (label > 9) __builtin_trap();
  } else if (error.find(path) != 0) {
    __builtin_trap();  // every refusal names the file
  }
  return 0;
}
