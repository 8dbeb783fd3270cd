#include "Idx.h"

#include "Dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

namespace cnnc_rt {

namespace {

uint32_t bigEndian(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

// Big enough for MNIST (47 MB) and its relatives, small enough to refuse junk.
constexpr uint64_t kMaxBytes = uint64_t(1) << 30;

// Reads an IDX file of unsigned bytes with `ndim` dimensions (raw or .gz):
// magic 0x000008NN, NN big-endian sizes, then the data. The header is
// checked, and for raw files the size too, before the data is allocated.
template <typename Data>
bool readIdx(const std::string& path, int ndim, std::vector<int64_t>& dims, Data& data, std::string& error) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!f) {
    error = path + ": " + std::strerror(errno ? errno : ENOENT);
    return false;
  }
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};
  const int header = 4 + 4 * ndim;
  uint8_t head[16];
  int got = gzread(f, head, header);
  if (got != header) {
    error = path + ": truncated IDX header (" + std::to_string(got < 0 ? 0 : got) + " of " + std::to_string(header) +
            " bytes)";
    return false;
  }
  uint32_t magic = bigEndian(head);
  uint32_t expected = 0x0800 | uint32_t(ndim);
  if (magic != expected) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  ": not an IDX file of %d-dimensional unsigned bytes (magic 0x%08x, expected 0x%08x)", ndim, magic,
                  expected);
    error = path + buf;
    return false;
  }
  uint64_t total = 1;
  dims.clear();
  for (int d = 0; d < ndim; ++d) {
    uint32_t size = bigEndian(head + 4 + 4 * d);
    dims.push_back(size);
    total *= size;
    if (total > kMaxBytes) {
      error = path + ": the header's dimensions would need over 1 GiB; refusing the file";
      return false;
    }
  }
  struct stat st;
  bool compressed = gzdirect(f) == 0;
  if (!compressed && ::stat(path.c_str(), &st) == 0 && uint64_t(st.st_size) != header + total) {
    error = path + ": the header promises " + std::to_string(total) + " bytes of data, the file holds " +
            std::to_string(int64_t(st.st_size) - header);
    return false;
  }
  // A raw file's size was checked above, so its data is allocated at once. A
  // gzip stream's length is known only by reading it: its buffer grows by
  // what arrives, so a small file whose header claims a gigabyte allocates
  // one chunk, not the gigabyte.
  const uint64_t chunk = compressed ? uint64_t(1) << 24 : total;
  data.clear();
  uint64_t done = 0;
  while (done < total) {
    uint64_t want = std::min(total - done, chunk);  // <= 1 GiB: fits gzread's int
    data.resize(done + want);
    int n = gzread(f, data.data() + done, static_cast<unsigned>(want));
    done += n > 0 ? n : 0;
    if (uint64_t(n > 0 ? n : 0) != want) break;
  }
  data.resize(done);
  uint8_t extra;
  if (done != total || gzread(f, &extra, 1) != 0) {
    error = path + ": the header promises " + std::to_string(total) + " bytes of data, the file holds " +
            (done != total ? std::to_string(done) : std::string("more"));
    return false;
  }
  return true;
}

// The first of `names` that exists in `dir`.
std::string find(const std::string& dir, const std::vector<std::string>& names) {
  struct stat st;
  for (const std::string& n : names) {
    std::string p = dir + "/" + n;
    if (::stat(p.c_str(), &st) == 0) return p;
  }
  return dir + "/" + names.front();
}

}  // namespace

bool readIdxImages(const std::string& path, IdxImages& out, std::string& error) {
  std::vector<int64_t> dims;
  if (!readIdx(path, 3, dims, out.pixels, error)) return false;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  return true;
}

bool readIdxLabels(const std::string& path, IdxLabels& out, std::string& error) {
  std::vector<int64_t> dims;
  return readIdx(path, 1, dims, out.labels, error);
}

bool readMnist(const std::string& dir, Part part, Dataset& out, std::string& error) {
  const std::string prefix = part == Part::Train ? "train" : "t10k";
  std::string images = find(dir, {prefix + "-images-idx3-ubyte", prefix + "-images.idx3-ubyte",
                                  prefix + "-images-idx3-ubyte.gz", prefix + "-images.idx3-ubyte.gz"});
  std::string labels = find(dir, {prefix + "-labels-idx1-ubyte", prefix + "-labels.idx1-ubyte",
                                  prefix + "-labels-idx1-ubyte.gz", prefix + "-labels.idx1-ubyte.gz"});
  IdxImages read;
  IdxLabels readLabels;
  if (!readIdxImages(images, read, error) || !readIdxLabels(labels, readLabels, error)) return false;
  if (static_cast<int64_t>(readLabels.labels.size()) != read.count) {
    error = labels + ": " + std::to_string(readLabels.labels.size()) + " labels for " + std::to_string(read.count) +
            " images in " + images;
    return false;
  }
  out = Dataset{};
  out.count = read.count;
  out.channels = 1;
  out.height = static_cast<int>(read.rows);
  out.width = static_cast<int>(read.cols);
  out.pixels = std::move(read.pixels);
  out.labels = std::move(readLabels.labels);
  return true;
}

}  // namespace cnnc_rt
