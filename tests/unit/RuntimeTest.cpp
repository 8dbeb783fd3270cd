// The runtime's readers on good files and on every kind of bad one.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <filesystem>
#include <fstream>
#include <string>

#include "Dataset.h"
#include "Idx.h"
#include "Memory.h"
#include "Safetensors.h"
#include "Schedule.h"

#include <nlohmann/json.hpp>

using namespace cnnc_rt;

namespace {

// Files go to a folder of their own under the system's temporary folder.
std::string tempPath(const std::string& name) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("cnnc_runtime_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return (dir / name).string();
}

void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// An IDX file of `count` images of rows x cols, pixel i = i % 251.
std::string idxImages(uint32_t count, uint32_t rows, uint32_t cols, size_t dataBytes) {
  std::string s = be32(0x803) + be32(count) + be32(rows) + be32(cols);
  for (size_t i = 0; i < dataBytes; ++i) s += char(i % 251);
  return s;
}

long peakRssKiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

TEST_CASE("IDX images and labels, raw and gzipped", "[runtime]") {
  writeFile(tempPath("img"), idxImages(3, 2, 2, 12));
  IdxImages images;
  std::string error;
  REQUIRE(readIdxImages(tempPath("img"), images, error));
  CHECK(images.count == 3);
  CHECK(images.rows == 2);
  CHECK(images.pixels.size() == 12);
  CHECK(images.pixels[5] == 5);

  std::string labels = be32(0x801) + be32(3) + std::string("\x07\x00\x09", 3);
  gzFile gz = gzopen(tempPath("lab.gz").c_str(), "wb");
  gzwrite(gz, labels.data(), static_cast<unsigned>(labels.size()));
  gzclose(gz);
  IdxLabels read;
  REQUIRE(readIdxLabels(tempPath("lab.gz"), read, error));
  CHECK(read.labels == std::vector<uint8_t>{7, 0, 9});
}

TEST_CASE("bad IDX files are refused with the file named", "[runtime]") {
  IdxImages images;
  std::string error;
  SECTION("missing") {
    CHECK_FALSE(readIdxImages(tempPath("nothing-here"), images, error));
    CHECK(error == tempPath("nothing-here") + ": No such file or directory");
  }
  SECTION("truncated header") {
    writeFile(tempPath("short"), be32(0x803) + be32(3));
    CHECK_FALSE(readIdxImages(tempPath("short"), images, error));
    CHECK(error.find("truncated IDX header (8 of 16 bytes)") != std::string::npos);
  }
  SECTION("wrong magic") {
    writeFile(tempPath("magic"), be32(0x801) + be32(3) + be32(2) + be32(2));
    CHECK_FALSE(readIdxImages(tempPath("magic"), images, error));
    CHECK(error.find("magic 0x00000801, expected 0x00000803") != std::string::npos);
  }
  SECTION("dimensions that would need gigabytes: refused before allocating") {
    writeFile(tempPath("huge"), idxImages(60000000, 280, 280, 16));
    CHECK_FALSE(readIdxImages(tempPath("huge"), images, error));
    CHECK(error.find("would need over 1 GiB") != std::string::npos);
    CHECK(images.pixels.empty());
  }
  SECTION("a gzip file whose header claims a gigabyte: refused without allocating it") {
    std::string bytes = idxImages(1000, 1000, 1000, 10);
    gzFile gz = gzopen(tempPath("bomb.gz").c_str(), "wb");
    gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(gz);
    long before = peakRssKiB();
    CHECK_FALSE(readIdxImages(tempPath("bomb.gz"), images, error));
    CHECK(error.find("the header promises 1000000000 bytes of data, the file holds 10") != std::string::npos);
    CHECK(peakRssKiB() - before < 100 * 1024);  // one 16 MiB chunk, not 1 GB
  }
  SECTION("data shorter than the header promises") {
    writeFile(tempPath("trunc"), idxImages(3, 2, 2, 10));
    CHECK_FALSE(readIdxImages(tempPath("trunc"), images, error));
    CHECK(error.find("the header promises 12 bytes of data, the file holds 10") != std::string::npos);
  }
  SECTION("image and label counts that disagree") {
    std::string dir = tempPath("split");
    std::filesystem::create_directories(dir);
    writeFile(dir + "/train-images-idx3-ubyte", idxImages(3, 2, 2, 12));
    writeFile(dir + "/train-labels-idx1-ubyte", be32(0x801) + be32(2) + std::string("\x01\x02", 2));
    Dataset split;
    CHECK_FALSE(readMnist(dir, Part::Train, split, error));
    CHECK(error.find("2 labels for 3 images") != std::string::npos);
  }
}

TEST_CASE("validation: N samples held out, drawn once from the seed", "[runtime][data]") {
  std::vector<int32_t> kept, held, kept2, held2, kept3, held3;
  splitValidation(1000, 100, 7, kept, held);
  CHECK(kept.size() == 900);
  CHECK(held.size() == 100);
  std::vector<int32_t> all = kept;
  all.insert(all.end(), held.begin(), held.end());
  std::sort(all.begin(), all.end());
  for (int32_t i = 0; i < 1000; ++i) REQUIRE(all[i] == i);  // disjoint, and together every sample
  CHECK(std::is_sorted(kept.begin(), kept.end()));
  CHECK(std::is_sorted(held.begin(), held.end()));
  splitValidation(1000, 100, 7, kept2, held2);
  CHECK(held2 == held);  // the same seed, the same held-out set
  splitValidation(1000, 100, 8, kept3, held3);
  CHECK(held3 != held);
  CHECK((held.back() - held.front() > 500));  // drawn from the whole set, not its end
  splitValidation(5, 0, 7, kept, held);
  CHECK(kept == std::vector<int32_t>{0, 1, 2, 3, 4});  // none held out: every sample, in order
  CHECK(held.empty());
}

TEST_CASE("CIFAR-10 batch files: records read as planes, bad files refused", "[runtime][data]") {
  std::string record(3073, '\0');
  record[0] = 7;
  record[1] = 11;          // red, first pixel
  record[1 + 1024] = 22;   // green
  record[1 + 2048] = 33;   // blue
  writeFile(tempPath("c.bin"), record + record);
  Dataset set;
  std::string error;
  REQUIRE(readCifarFile(tempPath("c.bin"), set, error));
  CHECK(set.count == 2);
  CHECK(set.labels == std::vector<uint8_t>{7, 7});
  CHECK(set.pixels[0] == 11);
  CHECK(set.pixels[1024] == 22);
  CHECK(set.pixels[2048] == 33);
  CHECK(set.pixels[3072] == 11);  // the second record's red plane
  Dataset empty;
  writeFile(tempPath("empty.bin"), "");
  CHECK_FALSE(readCifarFile(tempPath("empty.bin"), empty, error));
  CHECK(error.rfind(tempPath("empty.bin") + ": 0 bytes is not a whole number of CIFAR-10 records", 0) == 0);
}

TEST_CASE("safetensors: write, read back, and refuse bad files", "[runtime]") {
  std::vector<float> w = {1, 2, 3, 4, 5, 6}, b = {-1, 0.5f};
  std::string error;
  REQUIRE(writeSafetensors(tempPath("ok.safetensors"), {{"fc.weight", {2, 3}, w.data()}, {"fc.bias", {2}, b.data()}},
                           {{"format", "pt"}}, error));
  std::map<std::string, LoadedTensor> t;
  REQUIRE(readSafetensors(tempPath("ok.safetensors"), t, error));
  CHECK(t["fc.weight"].shape == std::vector<int64_t>{2, 3});
  CHECK(t["fc.weight"].data == w);
  CHECK(t["fc.bias"].data == b);

  auto header = [](const std::string& json, size_t dataBytes) {
    std::string s;
    uint64_t n = json.size();
    for (int i = 0; i < 8; ++i) s += char(n >> (8 * i));
    return s + json + std::string(dataBytes, '\0');
  };
  auto refuse = [&](const std::string& bytes, const std::string& expected) {
    writeFile(tempPath("bad.safetensors"), bytes);
    std::map<std::string, LoadedTensor> out;
    std::string why;
    CHECK_FALSE(readSafetensors(tempPath("bad.safetensors"), out, why));
    INFO(why);
    CHECK(why.find(expected) != std::string::npos);
  };
  refuse("random bytes", "points past the end");
  refuse(header("{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2), "dtype \"F16\", expected \"F32\"");
  refuse(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "leave the file's data");
  refuse(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8), "do not match shape");
  refuse(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12),
         "overlap");
  refuse(header("[1, 2]", 0), "not a JSON object");
  // 16 x 2^60 elements wrap to 0 in 64 bits: refused, not read as empty.
  refuse(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[16,1152921504606846976],\"data_offsets\":[0,0]}}", 16),
         "larger than the file");
  refuse(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775808],\"data_offsets\":[0,0]}}", 0),
         "larger than the file");
}

// Each schedule's learning rate of every step, as PyTorch's schedulers set
// it (tests/reference/make_schedules.py wrote the rates): within 1e-7.
TEST_CASE("schedules give PyTorch's learning rate of every step", "[runtime]") {
  std::ifstream in(std::string(CNNC_SOURCE_DIR) + "/tests/reference/schedules.json");
  REQUIRE(in);
  const nlohmann::json ref = nlohmann::json::parse(in);
  for (const nlohmann::json& c : ref["cases"]) {
    const nlohmann::json& s = c["schedule"];
    cnnc_rt::ScheduleSpec spec;
    const std::string kind = s["kind"];
    if (kind == "step") {
      spec.kind = cnnc_rt::ScheduleKind::Step;
      spec.every = s["every"];
      spec.gamma = s["gamma"];
    } else if (kind == "cosine") {
      spec.kind = cnnc_rt::ScheduleKind::Cosine;
      spec.warmup = s["warmup"];
    } else {
      spec.kind = cnnc_rt::ScheduleKind::OneCycle;
      spec.pctStart = s["pct_start"];
      spec.divFactor = s["div_factor"];
      spec.finalDivFactor = s["final_div_factor"];
    }
    const int64_t perEpoch = c["steps_per_epoch"], epochs = c["epochs"];
    const std::vector<double> rates = c["rates"];
    REQUIRE(rates.size() == size_t(perEpoch * epochs));
    double worst = 0;
    for (int64_t step = 1; step <= perEpoch * epochs; ++step) {
      const double ours = cnnc_rt::learningRate(spec, c["lr"], {step, (step - 1) / perEpoch + 1, perEpoch, perEpoch * epochs});
      const double theirs = rates[step - 1];
      INFO(kind << " step " << step << ": ours " << ours << ", PyTorch's " << theirs);
      CHECK(std::abs(ours - theirs) <= 1e-7 * std::abs(theirs));
      worst = std::max(worst, std::abs(ours - theirs) / std::abs(theirs));
    }
    std::printf("schedule %s: %zu steps, max relative difference %.2g\n", kind.c_str(), rates.size(), worst);
  }
}

// Large arrays are 2 MiB-aligned and advised onto huge pages (Memory.h);
// the kernel marks a region so advised THPeligible in /proc/self/smaps
// wherever transparent huge pages are on ("madvise" or "always").
TEST_CASE("large arrays are aligned and advised onto huge pages", "[runtime]") {
  std::unique_ptr<void, decltype(&std::free)> small(allocateLarge(1000), &std::free);
  REQUIRE(small);
  CHECK(reinterpret_cast<uintptr_t>(small.get()) % 128 == 0);
  const size_t big = (size_t(5) << 20) + 12345;
  std::unique_ptr<void, decltype(&std::free)> large(allocateLarge(big), &std::free);
  REQUIRE(large);
  const uintptr_t at = reinterpret_cast<uintptr_t>(large.get());
  CHECK(at % (size_t(2) << 20) == 0);
  std::memset(large.get(), 1, big);

  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes((std::istreambuf_iterator<char>(thp)), std::istreambuf_iterator<char>());
  if (modes.find("[never]") != std::string::npos || modes.empty()) {
    WARN("transparent huge pages are off here: only the alignment checked");
    return;
  }
  // The mapping that holds the array, and its THPeligible line.
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false, eligible = false, seen = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {  // a mapping's first line
      inside = lo <= at && at < hi;
      continue;
    }
    if (inside && line.rfind("THPeligible:", 0) == 0) {
      seen = true;
      eligible = line.find('1') != std::string::npos;
    }
  }
  REQUIRE(seen);
  CHECK(eligible);
}
