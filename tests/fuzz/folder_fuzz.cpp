// libFuzzer target: `data folder`'s reader on one class folder holding the
// input as a PNG, read as a 3x8x8 RGB model and as a 1x8x8 gray one (the
// decoding threads, the size and channel checks, the planes it writes).
#include <sys/stat.h>

#include "Dataset.h"
#include "FuzzFile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A folder of this process: <scratch>.d/train/only/image.png.
  static const std::string root = [] {
    const std::string& file = cnnc_fuzz::scratch(nullptr, 0, ".folder");
    const std::string r = file + ".d";
    ::mkdir(r.c_str(), 0700);
    ::mkdir((r + "/train").c_str(), 0700);
    ::mkdir((r + "/train/only").c_str(), 0700);
    return r;
  }();
  const std::string path = root + "/train/only/image.png";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  for (int channels : {3, 1}) {
    cnnc_rt::Dataset set;
    std::string error;
    if (cnnc_rt::readFolder(root, cnnc_rt::Part::Train, {channels, 8, 8}, set, error, 2)) {
      if (set.count != 1 || set.pixels.size() != size_t(channels) * 64 || set.labels != std::vector<uint8_t>{0} ||
          set.classNames != std::vector<std::string>{"only"})
        __builtin_trap();
    } else if (error.find(root) != 0) {
      __builtin_trap();  // every refusal names the file
    }
  }
  return 0;
}
