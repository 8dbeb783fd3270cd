// libFuzzer target: the PNG and PGM readers behind `predict`, and the
// scaling to the model's input that follows them.
#include "FuzzFile.h"
#include "Image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = cnnc_fuzz::scratch(data, size, ".img");
  cnnc_rt::Gray image;
  std::string error;
  if (cnnc_rt::readImage(path, image, error)) {
    if (image.pixels.size() != size_t(image.width) * image.height) __builtin_trap();
    cnnc_rt::Gray small = cnnc_rt::resize(image, 28, 28);
    if (small.pixels.size() != 28 * 28) __builtin_trap();
  } else if (error.find(path) != 0) {
    __builtin_trap();
  }
  return 0;
}
