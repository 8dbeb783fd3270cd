// The thread pool that runs the kernels' parallel loops (runtime/ThreadPool.cpp):
// every task once, the first failure returned, loops inside tasks, and
// work on more than the calling thread.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "ThreadPool.h"

using namespace cnnc_rt;

namespace {

struct Counts {
  std::vector<std::atomic<int>> runs;
  explicit Counts(int n) : runs(n) {}
};

int countTask(void* uc, int i, uint8_t*) {
  static_cast<Counts*>(uc)->runs[i].fetch_add(1);
  return 0;
}

int failAtSeven(void*, int i, uint8_t*) { return i == 7 ? 42 : 0; }

struct Nested {
  Counts inner{8 * 16};
  std::atomic<int> outer{0};
};

int innerTask(void* uc, int i, uint8_t*) { return countTask(&static_cast<Nested*>(uc)->inner, i, nullptr); }

int outerTask(void* uc, int i, uint8_t*) {
  auto* n = static_cast<Nested*>(uc);
  n->outer.fetch_add(1);
  return parallelFor(uc, innerTask, i * 16, 16, nullptr);  // a loop inside a task
}

struct Threads {
  std::mutex m;
  std::set<std::thread::id> ids;
};

int sleepTask(void* uc, int, uint8_t*) {
  auto* t = static_cast<Threads*>(uc);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::lock_guard<std::mutex> lock(t->m);
  t->ids.insert(std::this_thread::get_id());
  return 0;
}

}  // namespace

TEST_CASE("the thread pool runs every task of every loop once", "[threads]") {
  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    REQUIRE(startThreadPool(threads) == threads);
    // Many loops back to back, as a training step's kernels are: each
    // hands over to the next while workers may still be leaving the last.
    for (int extent : {1, 2, 3, 64, 1000}) {
      Counts counts(extent + 5);
      for (int loop = 0; loop < 200; ++loop) REQUIRE(parallelFor(&counts, countTask, 5, extent, nullptr) == 0);
      for (int i = 0; i < extent + 5; ++i) {
        CAPTURE(extent, i);
        REQUIRE(counts.runs[i].load() == (i < 5 ? 0 : 200));
      }
    }
  }
}

TEST_CASE("the thread pool returns a task's failure", "[threads]") {
  startThreadPool(2);
  CHECK(parallelFor(nullptr, failAtSeven, 0, 64, nullptr) == 42);
  CHECK(parallelFor(nullptr, failAtSeven, 8, 64, nullptr) == 0);  // the next loop starts clean
}

TEST_CASE("a loop inside a task runs on its thread", "[threads]") {
  startThreadPool(2);
  Nested n;
  REQUIRE(parallelFor(&n, outerTask, 0, 8, nullptr) == 0);
  CHECK(n.outer.load() == 8);
  for (int i = 0; i < 8 * 16; ++i) CHECK(n.inner.runs[i].load() == 1);
}

TEST_CASE("the thread pool's workers take tasks", "[threads]") {
  startThreadPool(2);
  Threads t;
  // 16 tasks of 2 ms: the worker wakes long before the caller could do them all.
  REQUIRE(parallelFor(&t, sleepTask, 0, 16, nullptr) == 0);
  CHECK(t.ids.size() == 2);
  startThreadPool(1);
  Threads alone;
  REQUIRE(parallelFor(&alone, sleepTask, 0, 4, nullptr) == 0);
  CHECK(alone.ids.size() == 1);
}
