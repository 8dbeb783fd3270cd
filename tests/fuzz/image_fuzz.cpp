// libFuzzer target: the PNG and PGM readers behind `predict`, and the
// scaling to the model's input that follows them.
#include "FuzzFile.h"
#include "Image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = cnnc_fuzz::scratch(data, size, ".img");
  cnnc_rt::Image image;
  std::string error;
  if (cnnc_rt::readImage(path, image, error)) {
    if (image.channels != 1 && image.channels != 3) __builtin_trap();
    if (image.pixels.size() != size_t(image.width) * image.height * image.channels) __builtin_trap();
    for (int channels : {1, 3}) {
      cnnc_rt::Image small = cnnc_rt::resize(cnnc_rt::withChannels(image, channels), 28, 28);
      if (small.pixels.size() != size_t(28 * 28 * channels) || small.channels != channels) __builtin_trap();
    }
  } else if (error.find(path) != 0) {
    __builtin_trap();
  }
  return 0;
}
