// libFuzzer target: the IDX reader (raw and gzip), images and labels.
#include "FuzzFile.h"
#include "Idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = cnnc_fuzz::scratch(data, size, ".idx");
  std::string error;
  cnnc_rt::IdxImages images;
  if (cnnc_rt::readIdxImages(path, images, error)) {
    if (images.pixels.size() != size_t(images.count * images.rows * images.cols)) __builtin_trap();
  } else if (error.find(path) != 0) {
    __builtin_trap();  // every refusal names the file
  }
  cnnc_rt::IdxLabels labels;
  error.clear();
  if (!cnnc_rt::readIdxLabels(path, labels, error) && error.find(path) != 0) __builtin_trap();
  return 0;
}
