#include "Profile.h"

#include <HalideRuntime.h>
#include <immintrin.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

// Defined only by a preloaded counting allocator (weak: null without one).
extern "C" long cnnc_heap_allocations() __attribute__((weak));

namespace cnnc_rt {

int64_t heapAllocations() { return cnnc_heap_allocations ? cnnc_heap_allocations() : -1; }

namespace {

// Every block starts with a header holding its size; the caller's pointer
// is kAlign bytes in (Halide wants 128-byte alignment).
constexpr size_t kAlign = 128;

struct Pool {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free;  // by size
  ScratchStats stats;
};
Pool& pool() {
  static Pool* p = new Pool;  // outlives every pipeline call, never destroyed
  return *p;
}

void* poolMalloc(void*, size_t size) {
  size = (size + kAlign - 1) / kAlign * kAlign;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    ++p.stats.requests;
    auto it = p.free.find(size);
    if (it != p.free.end() && !it->second.empty()) {
      void* block = it->second.back();
      it->second.pop_back();
      return static_cast<char*>(block) + kAlign;
    }
  }
  // A small block is most likely a per-task buffer inside a parallel loop,
  // which every thread (and the caller) may need at once: its first request
  // allocates one for each, so that how the threads happened to overlap in
  // the first calls cannot make a later call allocate.
  static const unsigned kCopies = std::thread::hardware_concurrency() + 1;
  const unsigned copies = size < (size_t(1) << 20) ? kCopies : 1;
  void* first = nullptr;
  for (unsigned i = 0; i < copies; ++i) {
    void* block = std::aligned_alloc(kAlign, size + kAlign);
    if (!block) break;
    *static_cast<size_t*>(block) = size;
    std::lock_guard<std::mutex> lock(p.mutex);
    ++p.stats.systemAllocs;
    p.stats.bytesHeld += size + kAlign;
    if (!first) {
      first = block;
    } else {
      std::vector<void*>& list = p.free[size];
      if (list.capacity() < 64) list.reserve(64);
      list.push_back(block);
    }
  }
  return first ? static_cast<char*>(first) + kAlign : nullptr;
}

void poolFree(void*, void* ptr) {
  if (!ptr) return;
  void* block = static_cast<char*>(ptr) - kAlign;
  const size_t size = *static_cast<size_t*>(block);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  std::vector<void*>& list = p.free[size];
  // Room for every block of this size, reserved while the pool grows, so
  // that giving one back never allocates.
  if (list.capacity() < 64) list.reserve(64);
  list.push_back(block);
}

// 12 independent chains of 16-wide (AVX-512) or 8-wide (AVX2) multiply-adds
// stay in registers: the most arithmetic a core can retire. Chosen at run
// time, so the runtime library itself needs no -march.
__attribute__((target("avx512f"))) double fma512(int64_t iterations) {
  __m512 acc[12], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
#pragma GCC unroll 12
  for (int c = 0; c < 12; ++c) acc[c] = _mm512_set1_ps(float(c));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int c = 0; c < 12; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);  // unrolled: all in registers
  }
  float lanes[16], sum = 0;
  for (int c = 0; c < 12; ++c) {
    _mm512_storeu_ps(lanes, acc[c]);
    for (float v : lanes) sum += v;
  }
  return sum;
}

__attribute__((target("avx2,fma"))) double fma256(int64_t iterations) {
  __m256 acc[12], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
#pragma GCC unroll 12
  for (int c = 0; c < 12; ++c) acc[c] = _mm256_set1_ps(float(c));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int c = 0; c < 12; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  float lanes[8], sum = 0;
  for (int c = 0; c < 12; ++c) {
    _mm256_storeu_ps(lanes, acc[c]);
    for (float v : lanes) sum += v;
  }
  return sum;
}

}  // namespace

void installScratchPool() {
  halide_set_custom_malloc(poolMalloc);
  halide_set_custom_free(poolFree);
}

ScratchStats scratchStats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.stats;
}

double measurePeakGflops(int threads) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) return 0;
  const int width = avx512 ? 16 : 8;
  const int64_t iterations = 20'000'000;
  std::atomic<double> sink{0};
  auto work = [&] { sink = sink + (avx512 ? fma512(iterations) : fma256(iterations)); };
  work();  // warm up (clock ramp, frequency licence)
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * 12 * width * double(iterations) * threads / seconds / 1e9;
}

int Profile::kernel(const std::string& name, double flopsPerCall) {
  for (size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].name == name) return static_cast<int>(i);
  rows_.push_back({name, flopsPerCall});
  return static_cast<int>(rows_.size() - 1);
}

void Profile::add(int kernel, double seconds, double flopsScale) {
  Row& r = rows_[kernel];
  ++r.calls;
  r.seconds += seconds;
  r.flops += r.flopsPerCall * flopsScale;
}

void Profile::print(double peak, int threads) const {
  std::printf("profile (%d threads; FMA peak %.0f GFLOP/s, measured after the run):\n", threads, peak);
  std::printf("  %-12s %8s %10s %10s %9s %8s\n", "kernel", "calls", "total ms", "ms/call", "GFLOP/s", "% peak");
  double total = 0;
  for (const Row& r : rows_) total += r.seconds;
  for (const Row& r : rows_) {
    const double gflops = r.seconds > 0 ? r.flops / r.seconds / 1e9 : 0;
    std::printf("  %-12s %8lld %10.1f %10.3f %9.1f %7.1f%%\n", r.name.c_str(), (long long)r.calls, r.seconds * 1e3,
                r.calls ? r.seconds * 1e3 / r.calls : 0, gflops, peak > 0 ? 100 * gflops / peak : 0);
  }
  std::printf("  %-12s %8s %10.1f\n", "all", "", total * 1e3);
}

}  // namespace cnnc_rt
