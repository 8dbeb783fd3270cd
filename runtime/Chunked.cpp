#include "Chunked.h"

#include <algorithm>
#include <cstring>

namespace cnnc_rt {

void treeSum(float* slots, int64_t count, int64_t width) {
  for (int64_t stride = 1; stride < count; stride *= 2)
    for (int64_t i = 0; i + stride < count; i += 2 * stride) {
      float* a = slots + i * width;
      const float* b = slots + (i + stride) * width;
      for (int64_t j = 0; j < width; ++j) a[j] += b[j];
    }
}

std::string ChunkedStep::unsupported(const ModelSpec& spec, const Collective* ranks, bool gpu) {
  const int64_t n = ranks ? ranks->size() : 1;
  if (spec.chunks % n != 0)
    return "this trainer splits each batch into " + std::to_string(spec.chunks) + " chunks (cnnc --chunks), which " +
           std::to_string(n) + " ranks cannot share evenly; run with a number of ranks that divides " +
           std::to_string(spec.chunks) + ", or rebuild with --chunks";
  if (gpu) return "a chunked or distributed trainer runs on the CPU (--device cpu)";
  return "";
}

ChunkedStep::ChunkedStep(const ModelSpec& spec, Session& s, Collective* ranks)
    : spec_(spec),
      s_(s),
      ranks_(ranks),
      mine_(spec.chunks / (ranks ? ranks->size() : 1)),
      width_(spec.totalParams + 2),
      slots_(size_t(mine_) * width_),
      gathered_(ranks ? size_t(ranks->size()) * width_ : 0),
      buffersAfterFirst_(s.buffers.size()) {}

int ChunkedStep::run(const Kernels& k, int64_t first, int64_t n, bool& stop) {
  const int64_t c = spec_.batch, P = spec_.totalParams;
  const int64_t firstChunk = (ranks_ ? ranks_->rank() : 0) * mine_;
  const int32_t noise = s_.b.noise;  // the step's dropout key; each chunk draws its own masks
  for (int64_t j = 0; j < mine_; ++j) {
    float* slot = slots_.data() + j * width_;
    const int64_t chunk = firstChunk + j, start = chunk * c;
    const int64_t valid = std::clamp<int64_t>(n - start, 0, c);
    if (valid == 0) {  // a short last batch: this chunk has no samples
      std::fill(slot, slot + width_, 0.0f);
      continue;
    }
    s_.b.noise = chunk == 0 ? noise : dropoutKey(noise, chunk);
    const int status = k.trainStep(s_.b, static_cast<int>(first + start), static_cast<int>(valid));
    if (status != 0) return status;
    if (j == 0) std::copy(s_.buffers.begin(), s_.buffers.end(), buffersAfterFirst_.begin());
    const float w = float(valid) / float(n);
    for (int64_t i = 0; i < P; ++i) slot[i] = w * s_.grads[i];
    slot[P] = w * s_.loss;
    slot[P + 1] = 0;
  }
  s_.b.noise = noise;
  treeSum(slots_.data(), mine_, width_);
  slots_[P + 1] = stop ? 1.0f : 0.0f;
  const float* total = slots_.data();
  if (ranks_ && ranks_->size() > 1) {
    if (!ranks_->allgather(slots_.data(), gathered_.data(), width_)) return -1;
    treeSum(gathered_.data(), ranks_->size(), width_);
    total = gathered_.data();
  }
  std::copy(total, total + P, s_.grads.data());
  s_.loss = total[P];
  stop = total[P + 1] > 0;
  // Batch norm's running statistics follow chunk 0 alone, on every rank
  // (rank 0's first chunk), whatever the number of ranks.
  std::copy(buffersAfterFirst_.begin(), buffersAfterFirst_.end(), s_.buffers.begin());
  if (ranks_ && ranks_->size() > 1 && spec_.bufferFloats > 0 &&
      !ranks_->broadcast(s_.buffers.data(), static_cast<int64_t>(s_.buffers.size())))
    return -1;
  return 0;
}

}  // namespace cnnc_rt
