// `data folder`: train/ and test/, one folder of PNG images per class,
// read as torchvision's ImageFolder reads them (classes in sorted order of
// their names, each class's images in sorted order of their paths), and
// decoded in parallel.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "Dataset.h"
#include "Image.h"

namespace cnnc_rt {

namespace {

bool isDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);  // follows links, as ImageFolder does
}

// The names in `dir`, sorted (byte order: Python's for UTF-8 names); false
// with `error` when it cannot be listed.
bool listDirectory(const std::string& dir, std::vector<std::string>& names, std::string& error) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    error = dir + ": " + std::strerror(errno);
    return false;
  }
  names.clear();
  while (const dirent* e = ::readdir(d.get()))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  std::sort(names.begin(), names.end());
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The PNGs under `dir` (and its folders, depth first), sorted; a file
// ImageFolder would take as an image that is not a PNG is an error, other
// files (notes, hidden files) are skipped as ImageFolder skips them.
bool findPngs(const std::string& dir, std::vector<std::string>& out, std::string& error, int depth = 0) {
  std::vector<std::string> names;
  if (!listDirectory(dir, names, error)) return false;
  static const char* others[] = {".jpg", ".jpeg", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name, l = lower(name);
    if (isDirectory(path)) {
      if (depth >= 8) {
        error = path + ": folders nested over 8 deep (a link to a folder above?)";
        return false;
      }
      if (!findPngs(path, out, error, depth + 1)) return false;
    } else if (endsWith(l, ".png")) {
      out.push_back(path);
    } else {
      for (const char* ext : others)
        if (endsWith(l, ext)) {
          error = path + ": only PNG images are read (convert it, or move it out of the class folder)";
          return false;
        }
    }
  }
  return true;
}

// Reads image `i` of `paths` into its sample's planes; false with `error`.
bool decode(const std::string& path, const SampleShape& shape, uint8_t* planes, std::string& error) {
  Image image;
  if (!readImage(path, image, error)) return false;
  if (image.width != shape.width || image.height != shape.height || image.channels != shape.channels) {
    auto kind = [](int c) { return c == 1 ? std::string("gray") : std::string("RGB"); };
    error = path + ": a " + std::to_string(image.width) + "x" + std::to_string(image.height) + " " +
            kind(image.channels) + " image; the model takes " + std::to_string(shape.width) + "x" +
            std::to_string(shape.height) + " " + kind(shape.channels) + " (input " + std::to_string(shape.channels) +
            "x" + std::to_string(shape.height) + "x" + std::to_string(shape.width) + ")";
    return false;
  }
  toPlanes(image, planes);
  return true;
}

}  // namespace

bool readFolder(const std::string& root, Part part, const SampleShape& shape, Dataset& out, std::string& error,
                int threads, bool progress) {
  out = Dataset{};
  const std::string dir = root + (part == Part::Train ? "/train" : "/test");
  std::vector<std::string> entries;
  if (!listDirectory(dir, entries, error)) return false;
  std::vector<std::string> paths;
  for (const std::string& name : entries) {
    if (!isDirectory(dir + "/" + name)) continue;
    const size_t before = paths.size();
    if (!findPngs(dir + "/" + name, paths, error)) return false;
    if (paths.size() == before) {
      error = dir + "/" + name + ": no PNG images in the class folder";
      return false;
    }
    if (out.classNames.size() == 256) {
      error = dir + ": over 256 class folders; the trainer's labels are bytes";
      return false;
    }
    out.labels.insert(out.labels.end(), paths.size() - before, static_cast<uint8_t>(out.classNames.size()));
    out.classNames.push_back(name);
  }
  if (out.classNames.empty()) {
    error = dir + ": no class folders (expected one folder of PNG images per class)";
    return false;
  }
  out.count = static_cast<int64_t>(paths.size());
  out.channels = shape.channels;
  out.height = shape.height;
  out.width = shape.width;
  const int64_t F = out.features();
  out.pixels.assign(size_t(out.count) * F, 0);
  // Each thread takes the next image; the first error by position wins.
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<int64_t> next{0}, done{0}, failed{out.count};
  std::vector<std::string> errors(threads);
  std::vector<int64_t> failedAt(threads, out.count);
  auto work = [&](int t) {
    for (int64_t i; (i = next++) < out.count && i < failed.load();) {
      if (!decode(paths[i], shape, out.pixels.data() + i * F, errors[t])) {
        failedAt[t] = i;
        for (int64_t f = failed.load(); i < f && !failed.compare_exchange_weak(f, i);) {
        }
        return;
      }
      ++done;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  const bool live = progress && ::isatty(2);
  if (live) {
    // This thread reports while the others read; then it reads too.
    pool.emplace_back([&] {
      while (done.load() + (failed.load() < out.count ? out.count : 0) < out.count) {
        std::fprintf(stderr, "\rreading %s: %lld/%lld images", dir.c_str(), (long long)done.load(),
                     (long long)out.count);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  work(0);
  for (std::thread& t : pool) t.join();
  if (live) std::fprintf(stderr, "\r%*s\r", int(dir.size()) + 40, "");
  const int64_t first = *std::min_element(failedAt.begin(), failedAt.end());
  if (first < out.count) {
    error = errors[std::min_element(failedAt.begin(), failedAt.end()) - failedAt.begin()];
    return false;
  }
  return true;
}

}  // namespace cnnc_rt
