#include "Safetensors.h"

#include "AtomicFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace cnnc_rt {

namespace {
// safetensors' own limit on the header (100 MB).
constexpr uint64_t kMaxHeader = 100'000'000;
}  // namespace

bool writeSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                      const std::map<std::string, std::string>& metadata, std::string& error) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    uint64_t count = 1;
    for (int64_t d : t.shape) count *= d;
    const uint64_t bytes = (t.ints ? 8 : 4) * count;
    header[t.name] = {{"dtype", t.ints ? "I64" : "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned.
  while ((8 + text.size()) % 8 != 0) text += ' ';
  uint64_t length = text.size();
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = uint8_t(length >> (8 * i));
  return writeFileAtomically(
      path,
      [&](int fd) {
        bool ok = writeAll(fd, le, 8) && writeAll(fd, text.data(), text.size());
        for (const TensorView& t : tensors) {
          uint64_t count = 1;
          for (int64_t d : t.shape) count *= d;
          // Little-endian hosts only (x86, arm64).
          ok = ok && (t.ints ? writeAll(fd, t.ints, 8 * count) : writeAll(fd, t.data, 4 * count));
        }
        return ok;
      },
      error);
}

bool readSafetensors(const std::string& path, std::map<std::string, LoadedTensor>& tensors, std::string& error,
                     std::map<std::string, std::string>* metadata) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  const uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint8_t le[8];
  if (fileSize < 8 || !in.read(reinterpret_cast<char*>(le), 8)) {
    error = path + ": not a safetensors file (shorter than its 8-byte header length)";
    return false;
  }
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= uint64_t(le[i]) << (8 * i);
  if (length > kMaxHeader || length > fileSize - 8) {
    error = path + ": not a safetensors file (header length " + std::to_string(length) + " points past the end of the " +
            std::to_string(fileSize) + "-byte file)";
    return false;
  }
  std::string text(length, '\0');
  in.read(text.data(), length);
  nlohmann::json header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    error = path + ": not a safetensors file (the header is not a JSON object)";
    return false;
  }
  const uint64_t dataSize = fileSize - 8 - length;
  struct Range {
    uint64_t begin, end;
    std::string name;
    bool operator<(const Range& o) const { return begin < o.begin; }
  };
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (metadata && it.value().is_object())
        for (auto m = it.value().begin(); m != it.value().end(); ++m)
          if (m.value().is_string()) (*metadata)[m.key()] = m.value().get<std::string>();
      continue;
    }
    const nlohmann::json& t = it.value();
    auto bad = [&](const std::string& why) {
      error = path + ": tensor '" + it.key() + "': " + why;
      return false;
    };
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      return bad("needs dtype, shape and data_offsets");
    if (t["dtype"] != "F32" && t["dtype"] != "I64")
      return bad("dtype " + t["dtype"].dump() + ", expected \"F32\" (or \"I64\" for a counter)");
    LoadedTensor loaded;
    loaded.isInt = t["dtype"] == "I64";
    const uint64_t width = loaded.isInt ? 8 : 4;
    uint64_t count = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned()) return bad("shape " + t["shape"].dump() + " is not a list of sizes");
      // No wrap-around: a product of huge sizes must not pass as a small one.
      const uint64_t size = d.get<uint64_t>();
      if (size > uint64_t(INT64_MAX) || __builtin_mul_overflow(count, size, &count) || count > dataSize)
        return bad("shape " + t["shape"].dump() + " is larger than the file");
      loaded.shape.push_back(static_cast<int64_t>(size));
    }
    const nlohmann::json& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return bad("data_offsets must be [begin, end]");
    uint64_t begin = off[0], end = off[1];
    if (begin > end || end > dataSize) return bad("data_offsets " + off.dump() + " leave the file's data");
    if (end - begin != width * count)
      return bad("data_offsets " + off.dump() + " do not match shape " + t["shape"].dump());
    ranges.push_back({begin, end, it.key()});
    in.seekg(8 + length + begin);
    char* into = nullptr;
    if (loaded.isInt) {
      loaded.ints.resize(count);
      into = reinterpret_cast<char*>(loaded.ints.data());
    } else {
      loaded.data.resize(count);
      into = reinterpret_cast<char*>(loaded.data.data());
    }
    if (!in.read(into, width * count)) return bad("cannot read its data");
    tensors[it.key()] = std::move(loaded);
  }
  std::stable_sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    const Range &a = ranges[i - 1], &b = ranges[i];
    if (b.begin < a.end) {
      error = path + ": the data of tensors '" + a.name + "' [" + std::to_string(a.begin) + "," +
              std::to_string(a.end) + ") and '" + b.name + "' [" + std::to_string(b.begin) + "," +
              std::to_string(b.end) + ") overlap";
      return false;
    }
  }
  return true;
}

}  // namespace cnnc_rt
