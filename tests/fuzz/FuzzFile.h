// The readers under fuzz take paths, as the trainer calls them: each input
// goes through a scratch file of this process, so the fuzzers exercise the
// same code (stat, gzip detection, seeks) that a user's file meets.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace cnnc_fuzz {

// Writes `data` to a scratch file named with `suffix` and returns its path.
// The file is reused by every run of the process and removed at exit.
inline const std::string& scratch(const uint8_t* data, size_t size, const char* suffix) {
  static std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/cnnc-fuzz-" + std::to_string(getpid()) + suffix;
    static std::string* forAtexit = nullptr;
    forAtexit = new std::string(p);
    std::atexit([] { std::remove(forAtexit->c_str()); });
    return p;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace cnnc_fuzz
