// The threads that run the kernels' parallel loops.
#pragma once

#include <HalideRuntime.h>

namespace cnnc_rt {

// Halide's parallel loops (halide_do_par_for) on `threads` threads, the
// caller's among them (0: one per core). A step's kernels follow each
// other within microseconds, and Halide's own pool puts its workers to
// sleep between them: each loop then waited for a worker to wake (tens of
// microseconds on a VM) and handed out its tasks one at a time under a
// lock. Here the workers wait spinning for a while (kSpin, ThreadPool.cpp)
// before they sleep, and claim a task with one atomic operation; each
// thread takes its own contiguous share of a loop's tasks first (then
// helps the others), so the samples a core wrote in one kernel are the
// ones it reads in the next, from its own L2. One loop
// at a time: a loop inside a task, or from a second calling thread, runs
// serially on its thread. The trainer starts the pool and gives
// parallelFor to halide_set_custom_do_par_for before its first pipeline.
// Returns the number of threads.
int startThreadPool(int threads);
int parallelFor(void* userContext, halide_task_t task, int min, int extent, uint8_t* closure);

}  // namespace cnnc_rt
