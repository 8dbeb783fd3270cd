// Halide's parallel loops on threads that wait spinning between kernels.
//
// Measured before (Halide's pool, 2-core Xeon, 2026-12-05): kernels of a
// few thousand elements a sample ran slower on two threads than on one
// (conv3's bias gradient 0.030 -> 0.066 ms per step, a flatten 0.10 ->
// 0.09): `--halide-profile` showed the calling thread waiting with no
// worker running. Halide's workers sleep on a condition variable as soon
// as the queue is empty, and each task is claimed under the queue's lock.
#include "ThreadPool.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cnnc_rt {
namespace {

// How long an idle worker spins before it sleeps: longer than the gaps
// between a step's kernels, short enough that a worker between steps or
// epochs gives its core back.
constexpr auto kSpin = std::chrono::microseconds(200);

thread_local bool tInTask = false;  // a loop inside a task runs serially

// One turn of a spin-wait: a pause, and every 256 turns the core to any
// other thread that wants it (more threads than cores: an MPI job on one
// machine, or ctest -j2 with two trainers).
void relax(int turn) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
  if (turn % 256 == 0) std::this_thread::yield();
}

int serially(void* uc, halide_task_t task, int min, int extent, uint8_t* closure) {
  for (int i = min; i < min + extent; ++i)
    if (int status = task(uc, i, closure)) return status;
  return 0;
}

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      shutdown_.store(true);
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // One loop at a time; a second caller (or a loop inside a task) runs
  // its loop serially.
  int run(void* uc, halide_task_t task, int min, int extent, uint8_t* closure) {
    if (tInTask || extent <= 1 || threads_.empty() || busy_.exchange(true, std::memory_order_acquire))
      return serially(uc, task, min, extent, closure);
    if (++number_ == 0) ++number_;
    task_ = task;
    userContext_ = uc;
    closure_ = closure;
    min_ = min;
    extent_.store(extent, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    status_.store(0, std::memory_order_relaxed);
    claim_.store(uint64_t(number_) << 32);  // publishes the fields above
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    runTasks(number_);
    for (int turn = 1; done_.load(std::memory_order_acquire) < extent; ++turn) relax(turn);
    const int status = status_.load(std::memory_order_relaxed);
    busy_.store(false, std::memory_order_release);
    return status;
  }

 private:
  // Claims and runs loop `number`'s tasks while any are left. The loop's
  // fields stay as they are until all its tasks are done, and a claim of
  // a loop that has ended fails (the number in claim_ has changed).
  void runTasks(uint32_t number) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    while (uint32_t(c >> 32) == number && uint32_t(c) < uint32_t(extent_.load(std::memory_order_relaxed))) {
      if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
      if (status_.load(std::memory_order_relaxed) == 0) {  // after a failure, count the rest as done
        tInTask = true;
        const int status = task_(userContext_, min_ + int(uint32_t(c)), closure_);
        tInTask = false;
        int none = 0;
        if (status != 0) status_.compare_exchange_strong(none, status);
      }
      done_.fetch_add(1, std::memory_order_release);
      c = claim_.load(std::memory_order_acquire);
    }
  }

  // The next loop's number, after `seen`; 0 when the pool shuts down.
  uint32_t next(uint32_t seen) {
    auto loopNumber = [this] { return uint32_t(claim_.load() >> 32); };
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int spins = 1;; ++spins) {
      if (loopNumber() != seen) return loopNumber();
      if (shutdown_.load(std::memory_order_relaxed)) return 0;
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > until) break;
      relax(spins);
    }
    std::unique_lock<std::mutex> lock(m_);
    sleepers_.fetch_add(1);  // before the check below; run() reads it after publishing
    wake_.wait(lock, [&] { return shutdown_.load() || loopNumber() != seen; });
    sleepers_.fetch_sub(1);
    return shutdown_.load() ? 0 : loopNumber();
  }

  void work() {
    for (uint32_t seen = 0;;) {
      seen = next(seen);
      if (seen == 0) return;
      runTasks(seen);
    }
  }

  // The loop: its number (high 32 bits) and its next task (low 32).
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> extent_{0}, done_{0}, status_{0};
  halide_task_t task_ = nullptr;
  void* userContext_ = nullptr;
  uint8_t* closure_ = nullptr;
  int min_ = 0;
  uint32_t number_ = 0;  // the caller's count of loops
  std::atomic<bool> busy_{false}, shutdown_{false};
  std::atomic<int> sleepers_{0};
  std::mutex m_;
  std::condition_variable wake_;
  std::vector<std::thread> threads_;
};

std::unique_ptr<Pool> gPool;

}  // namespace

int startThreadPool(int threads) {
  if (threads <= 0) threads = std::max(1, int(std::thread::hardware_concurrency()));
  threads = std::min(threads, 256);
  gPool.reset();  // its workers joined first
  gPool = std::make_unique<Pool>(threads - 1);
  return threads;
}

int parallelFor(void* uc, halide_task_t task, int min, int extent, uint8_t* closure) {
  if (!gPool) return serially(uc, task, min, extent, closure);
  return gPool->run(uc, task, min, extent, closure);
}

}  // namespace cnnc_rt
