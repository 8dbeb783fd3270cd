#include "Profile.h"

#include <HalideRuntime.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "Memory.h"

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
  // Every block, free or in use or kept by a thread: a thread's blocks
  // stay reachable when the thread ends (no leak to LeakSanitizer).
  std::vector<void*> all;
  ScratchStats stats;
};
Pool& pool() {
  static Pool* p = new Pool;  // outlives every pipeline call, never destroyed
  return *p;
}

// Each thread keeps the last 16 blocks it gave back, by size, and takes
// them again without the pool's lock: a block is almost always allocated
// and freed by the same task (a per-sample buffer inside a parallel loop).
// Under the lock, the pool's mutex and map took 7% of mnist's evaluation
// (perf, 2-core Xeon, 2026-12-05); mnist's step 5.94 -> 4.97 ms and its
// evaluation 1.42 -> 1.11 ms per batch with 8 blocks a thread, 4.6-4.7 and
// 0.94-1.0 with 16 (evaluation holds a buffer of each kernel it computes
// sample by sample), 32 no better. A thread never keeps more blocks of a
// size than it held at once, so the pool grows no more than without.
struct ThreadCache {
  static constexpr int kSlots = 16;
  size_t size[kSlots];
  void* block[kSlots];
  int count = 0;
};
thread_local ThreadCache threadCache;

void* poolMalloc(void*, size_t size) {
  size = (size + kAlign - 1) / kAlign * kAlign;
  ThreadCache& mine = threadCache;
  for (int i = mine.count - 1; i >= 0; --i) {
    if (mine.size[i] != size) continue;
    void* block = mine.block[i];
    --mine.count;
    mine.size[i] = mine.size[mine.count];
    mine.block[i] = mine.block[mine.count];
    return static_cast<char*>(block) + kAlign;
  }
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
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
  // the first calls cannot make a later call allocate. Two for each: one
  // task may hold two blocks of a size at once (a Winograd convolution's
  // transformed input and output tiles, 64 KiB each for mnist's conv2),
  // and with one each the pool grew at step 4 or 14 of a run, whenever
  // three tasks first overlapped there. Up to 2 MiB: a Winograd weight
  // gradient's transforms of a chunk of 8 samples are 1 MiB.
  static const unsigned kCopies = 2 * (std::thread::hardware_concurrency() + 1);
  const unsigned copies = size <= (size_t(2) << 20) ? kCopies : 1;
  void* first = nullptr;
  for (unsigned i = 0; i < copies; ++i) {
    void* block = allocateLarge(size + kAlign);  // huge pages from 2 MiB on
    if (!block) break;
    *static_cast<size_t*>(block) = size;
    std::lock_guard<std::mutex> lock(p.mutex);
    ++p.stats.systemAllocs;
    p.all.push_back(block);
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
  ThreadCache& mine = threadCache;
  if (mine.count < ThreadCache::kSlots) {
    mine.size[mine.count] = size;
    mine.block[mine.count] = block;
    ++mine.count;
    return;
  }
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
  // The best of three: on a shared machine another process can take a
  // core for part of one measurement, never make one faster.
  double best = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * 12 * width * double(iterations) * threads / seconds / 1e9);
  }
  return best;
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

double Profile::seconds(const std::string& name) const {
  for (const Row& r : rows_)
    if (r.name == name) return r.seconds;
  return 0;
}

namespace {

// The kernel rows of one pipeline, and which Func belongs to which.
struct KernelRows {
  struct Row {
    const KernelSpec* spec;
    int64_t calls = 0;
    double seconds = 0;
  };
  std::vector<Row> rows;
  struct Owner {
    int row = -1;        // -1: a Func of no kernel
    bool first = false;  // the kernel's first Func: its end is one call of the kernel
  };
  std::unordered_map<std::string, Owner> byFunc;  // funcKey of the Func's name
  std::unordered_map<const char*, Owner> byName;  // the events' name pointers (stable strings), cached

  void set(const std::vector<KernelSpec>& specs) {
    rows.clear();
    for (const KernelSpec& k : specs) {
      const int row = static_cast<int>(rows.size());
      rows.push_back({&k});
      for (const std::string& f : k.funcs) byFunc[f] = {row, &f == &k.funcs.front()};
    }
  }
  Owner ownerOf(const char* func) {
    auto cached = byName.find(func);
    if (cached != byName.end()) return cached->second;
    std::string name(func);
    auto it = byFunc.find(funcKey(name));
    const Owner owner = it == byFunc.end() ? Owner{} : it->second;
    byName[func] = owner;
    return owner;
  }
};

struct KernelTrace {
  bool on = false;
  Traced current = Traced::None;
  KernelRows training, evaluation;
  // Productions in progress (they nest when Funcs share a loop: compute_with).
  struct Frame {
    int row;
    bool first;
    std::chrono::steady_clock::time_point start;
    double inner = 0;  // seconds of the productions nested in it
  };
  std::vector<Frame> stack;
};
KernelTrace& kernelTrace() {
  static KernelTrace* t = new KernelTrace;
  return *t;
}

// Root Funcs are produced by the thread that called the pipeline, so the
// events of one call come in order from one thread.
int32_t onTraceEvent(void*, const halide_trace_event_t* e) {
  KernelTrace& t = kernelTrace();
  if (!t.on || t.current == Traced::None) return 0;
  KernelRows& rows = t.current == Traced::Training ? t.training : t.evaluation;
  if (e->event == halide_trace_produce) {
    const KernelRows::Owner owner = rows.ownerOf(e->func);
    t.stack.push_back({owner.row, owner.first, std::chrono::steady_clock::now()});
  } else if (e->event == halide_trace_end_produce && !t.stack.empty()) {
    const KernelTrace::Frame f = t.stack.back();
    t.stack.pop_back();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - f.start).count();
    if (f.row >= 0) {
      rows.rows[f.row].seconds += elapsed - f.inner;
      if (f.first) ++rows.rows[f.row].calls;
    }
    if (!t.stack.empty()) t.stack.back().inner += elapsed;
  }
  return 0;
}

void printRows(const char* title, const KernelRows& rows, double peak, double pipelineSeconds) {
  double traced = 0;
  for (const KernelRows::Row& r : rows.rows) traced += r.seconds;
  if (traced == 0) return;  // not run, or a pipeline without trace events (CUDA, an autoscheduler's)
  std::printf("%s, per kernel (cnnc --emit=fused):\n", title);
  std::printf("  %-58s %7s %9s %8s %8s %7s %7s\n", "kernel", "calls", "total ms", "ms/call", "GFLOP/s", "% peak",
              "% time");
  for (const KernelRows::Row& r : rows.rows) {
    if (r.calls == 0) continue;
    const double gflops = r.seconds > 0 ? r.spec->flopsPerCall * r.calls / r.seconds / 1e9 : 0;
    const double share = pipelineSeconds > 0 ? 100 * r.seconds / pipelineSeconds : 0;
    if (r.spec->flopsPerCall > 0)
      std::printf("  %-58s %7lld %9.1f %8.3f %8.1f %6.1f%% %6.1f%%\n", r.spec->name.c_str(), (long long)r.calls,
                  r.seconds * 1e3, r.seconds * 1e3 / r.calls, gflops, peak > 0 ? 100 * gflops / peak : 0, share);
    else
      std::printf("  %-58s %7lld %9.1f %8.3f %8s %7s %6.1f%%\n", r.spec->name.c_str(), (long long)r.calls,
                  r.seconds * 1e3, r.seconds * 1e3 / r.calls, "-", "-", share);
  }
  if (pipelineSeconds > traced)
    std::printf("  %-58s %7s %9.1f %8s %8s %7s %6.1f%%\n", "(outside the kernels: calls, checks, waits)", "",
                (pipelineSeconds - traced) * 1e3, "", "", "", 100 * (pipelineSeconds - traced) / pipelineSeconds);
}

}  // namespace

void installKernelTrace() { halide_set_custom_trace(onTraceEvent); }

void startKernelProfile(const std::vector<KernelSpec>& training, const std::vector<KernelSpec>& evaluation) {
  KernelTrace& t = kernelTrace();
  t.training.set(training);
  t.evaluation.set(evaluation);
  t.stack.reserve(64);  // no allocation inside a step
  t.on = true;
}

void traceInto(Traced pipeline) { kernelTrace().current = pipeline; }

void printKernelProfile(double peak, double trainSeconds, double evalSeconds) {
  KernelTrace& t = kernelTrace();
  printRows("training step", t.training, peak, trainSeconds);
  printRows("evaluation", t.evaluation, peak, evalSeconds);
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
