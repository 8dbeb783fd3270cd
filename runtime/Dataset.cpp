// CIFAR-10's binary batches, and the validation split.
#include "Dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>

namespace cnnc_rt {

namespace {

constexpr int64_t kCifarRecord = 1 + 3 * 32 * 32;
// CIFAR-10's files hold 10,000 records each; this refuses junk of absurd size.
constexpr int64_t kMaxCifarRecords = 1 << 20;

std::string plural(int64_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

}  // namespace

const std::vector<std::string>& cifar10Classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

// The file's size must be a whole number of records (checked before
// anything is allocated), and every label one of CIFAR-10's ten.
bool readCifarFile(const std::string& path, Dataset& out, std::string& error) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = path + ": not a file";
    return false;
  }
  const int64_t bytes = st.st_size;
  if (bytes == 0 || bytes % kCifarRecord != 0 || bytes / kCifarRecord > kMaxCifarRecords) {
    error = path + ": " + std::to_string(bytes) + " bytes is not a whole number of CIFAR-10 records (" +
            std::to_string(kCifarRecord) + " bytes each: a label byte and 3x32x32 pixels)" +
            (bytes % kCifarRecord != 0 && bytes > kCifarRecord
                 ? "; " + plural(bytes / kCifarRecord, "record") + " and " + plural(bytes % kCifarRecord, "byte") +
                       " over: truncated or not CIFAR-10's binary version?"
                 : std::string());
    return false;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  const int64_t records = bytes / kCifarRecord, F = kCifarRecord - 1;
  const size_t base = out.pixels.size();
  out.pixels.resize(base + records * F);
  out.labels.reserve(out.labels.size() + records);
  for (int64_t r = 0; r < records; ++r) {
    uint8_t label = 0;
    if (std::fread(&label, 1, 1, f.get()) != 1 ||
        std::fread(out.pixels.data() + base + r * F, 1, F, f.get()) != size_t(F)) {
      error = path + ": cannot read record " + std::to_string(r) + " (the file changed while it was read?)";
      return false;
    }
    if (label > 9) {
      error = path + ": record " + std::to_string(r) + " has label " + std::to_string(label) +
              "; CIFAR-10's labels are 0 to 9";
      return false;
    }
    out.labels.push_back(label);
  }
  out.count += records;
  out.channels = 3;
  out.height = out.width = 32;
  return true;
}

bool readCifar10(const std::string& dir, Part part, Dataset& out, std::string& error) {
  out = Dataset{};
  std::vector<std::string> files;
  if (part == Part::Train)
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back("test_batch.bin");
  for (const std::string& name : files)
    if (!readCifarFile(dir + "/" + name, out, error)) return false;
  out.classNames = cifar10Classes();
  // The names the set ships with, when its batches.meta.txt is there.
  std::ifstream meta(dir + "/batches.meta.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(meta, line);)
    if (!line.empty() && line.find_first_not_of(" \t\r") != std::string::npos)
      names.push_back(line.substr(0, line.find_last_not_of(" \t\r") + 1));
  if (names.size() == 10) out.classNames = names;
  return true;
}

void splitValidation(int64_t count, int64_t validation, int64_t seed, std::vector<int32_t>& kept,
                     std::vector<int32_t>& heldOut) {
  std::vector<int32_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  // A generator of its own (not an epoch's): the split is drawn once.
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9e3779b97f4a7c15ull + 0x76a11d);
  for (int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[rng() % uint64_t(i + 1)]);
  heldOut.assign(order.end() - validation, order.end());
  std::sort(heldOut.begin(), heldOut.end());
  std::vector<bool> out(count, false);
  for (int32_t i : heldOut) out[i] = true;
  kept.clear();
  for (int32_t i = 0; i < count; ++i)
    if (!out[i]) kept.push_back(i);
}

}  // namespace cnnc_rt
