// Halide's parallel loops on threads that wait spinning between kernels.
//
// Measured before (Halide's pool, 2-core Xeon, 2026-12-05): kernels of a
// few thousand elements a sample ran slower on two threads than on one
// (conv3's bias gradient 0.030 -> 0.066 ms per step, a flatten 0.10 ->
// 0.09): `--halide-profile` showed the calling thread waiting with no
// worker running. Halide's workers sleep on a condition variable as soon
// as the queue is empty, and each task is claimed under the queue's lock.
// With workers that spin (4-5 alternating rounds): mnist's step 4.99 ->
// 4.65 ms, conv3's bias gradient 0.066 -> 0.018 ms. Then a share of each
// loop's tasks per thread, so that sample n is on the same core in every
// kernel (Halide's pool and the first version of this one handed out
// tasks in order to whichever thread asked): the step 4.76 -> 4.41 ms,
// evaluation 1.10 -> 1.04 ms a batch; the maxpools 0.080 -> 0.045 and
// 0.037 -> 0.018 ms, conv1's relu gradient 0.20 -> 0.16; resnet's step
// 14.0 -> 12.6 ms, LeNet-5's 1.62 -> 1.49, inception's 3.45 -> 3.08.
#include "ThreadPool.h"

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

// A loop's tasks in one contiguous range per thread. Each range is one
// word: the loop's number, the range's next task and its end, so that a
// claim is one compare-and-swap and a claim on a loop that has ended
// fails (its number has changed).
class Ranges {
 public:
  static constexpr int kTaskBits = 20;  // tasks a range can hold: a loop is run in parts of kMaxTasks
  static constexpr int kMaxTasks = (1 << kTaskBits) - 1;
  static constexpr uint32_t kNumbers = 1u << (64 - 2 * kTaskBits);

  explicit Ranges(int count) : words_(count) {}
  int count() const { return int(words_.size()); }

  // Loop `number` of `extent` tasks: thread t's range is the t-th of
  // count() nearly equal parts.
  void start(uint32_t number, int extent) {
    const int n = count();
    for (int t = 0; t < n; ++t)
      words_[t].value.store(pack(number, int(int64_t(extent) * t / n), int(int64_t(extent) * (t + 1) / n)),
                            std::memory_order_relaxed);
  }

  // A task of loop `number` for thread t (its own range first, then the
  // others' in turn), or -1 when none is left.
  int claim(uint32_t number, int t) {
    const int n = count();
    for (int k = 0; k < n; ++k) {
      std::atomic<uint64_t>& word = words_[(t + k) % n].value;
      uint64_t w = word.load(std::memory_order_acquire);
      while (uint32_t(w >> (2 * kTaskBits)) == number && next(w) < end(w))
        if (word.compare_exchange_weak(w, w + (uint64_t(1) << kTaskBits), std::memory_order_acq_rel)) return next(w);
    }
    return -1;
  }

 private:
  static uint64_t pack(uint32_t number, int next, int end) {
    return uint64_t(number) << (2 * kTaskBits) | uint64_t(next) << kTaskBits | uint64_t(end);
  }
  static int next(uint64_t w) { return int((w >> kTaskBits) & kMaxTasks); }
  static int end(uint64_t w) { return int(w & kMaxTasks); }
  struct alignas(64) Word {  // a cache line each: threads claim from their own
    std::atomic<uint64_t> value{0};
  };
  std::vector<Word> words_;
};

class Pool {
 public:
  explicit Pool(int threads) : ranges_(threads) {
    for (int t = 1; t < threads; ++t) threads_.emplace_back([this, t] { work(t); });
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
  // its loop serially. The caller is thread 0.
  int run(void* uc, halide_task_t task, int min, int extent, uint8_t* closure) {
    if (tInTask || extent <= 1 || threads_.empty() || busy_.exchange(true, std::memory_order_acquire))
      return serially(uc, task, min, extent, closure);
    int status = 0;
    for (int first = 0; first < extent && status == 0; first += Ranges::kMaxTasks)
      status = runPart(uc, task, min + first, std::min(extent - first, Ranges::kMaxTasks), closure);
    busy_.store(false, std::memory_order_release);
    return status;
  }

 private:
  int runPart(void* uc, halide_task_t task, int min, int extent, uint8_t* closure) {
    number_ = number_ + 1 == Ranges::kNumbers ? 1 : number_ + 1;
    task_ = task;
    userContext_ = uc;
    closure_ = closure;
    min_ = min;
    done_.store(0, std::memory_order_relaxed);
    status_.store(0, std::memory_order_relaxed);
    ranges_.start(number_, extent);
    loop_.store(number_);  // publishes the fields above
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    runTasks(number_, 0);
    for (int turn = 1; done_.load(std::memory_order_acquire) < extent; ++turn) relax(turn);
    return status_.load(std::memory_order_relaxed);
  }

  // Claims and runs loop `number`'s tasks as thread t while any are
  // left, then adds how many it ran to the loop's count (the line the
  // caller waits on): added after every task, that line went from core to
  // core between tasks, and vgg's 256 -> 10 classifier (64 tasks of about
  // 0.2 us) took 0.018 ms on two threads against 0.009 on one; now 0.011
  // (2026-12-06). The loop's fields stay as they are until all its tasks
  // are done.
  void runTasks(uint32_t number, int t) {
    int ran = 0;
    for (int i; (i = ranges_.claim(number, t)) >= 0; ++ran) {
      if (status_.load(std::memory_order_relaxed) == 0) {  // after a failure, count the rest as done
        tInTask = true;
        const int status = task_(userContext_, min_ + i, closure_);
        tInTask = false;
        int none = 0;
        if (status != 0) status_.compare_exchange_strong(none, status);
      }
    }
    done_.fetch_add(ran, std::memory_order_release);
  }

  // The next loop's number, after `seen`; 0 when the pool shuts down.
  uint32_t next(uint32_t seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int spins = 1;; ++spins) {
      if (loop_.load() != seen) return loop_.load();
      if (shutdown_.load(std::memory_order_relaxed)) return 0;
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > until) break;
      relax(spins);
    }
    std::unique_lock<std::mutex> lock(m_);
    sleepers_.fetch_add(1);  // before the check below; run() reads it after publishing
    wake_.wait(lock, [&] { return shutdown_.load() || loop_.load() != seen; });
    sleepers_.fetch_sub(1);
    return shutdown_.load() ? 0 : loop_.load();
  }

  void work(int t) {
    for (uint32_t seen = 0;;) {
      seen = next(seen);
      if (seen == 0) return;
      runTasks(seen, t);
    }
  }

  Ranges ranges_;
  std::atomic<uint32_t> loop_{0};  // the number of the loop running, or of the last
  std::atomic<int> done_{0}, status_{0};
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
  gPool = std::make_unique<Pool>(threads);
  return threads;
}

int parallelFor(void* uc, halide_task_t task, int min, int extent, uint8_t* closure) {
  if (!gPool) return serially(uc, task, min, extent, closure);
  return gPool->run(uc, task, min, extent, closure);
}

}  // namespace cnnc_rt
