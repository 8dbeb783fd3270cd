// The Collective over MPI: non-blocking collectives, polled, so that a rank
// that died or hangs ends the job after the timeout instead of leaving the
// others waiting for ever.
#include "Mpi.h"

// The C API only (Open MPI and MPICH otherwise pull in their C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace cnnc_rt {

namespace {

class MpiCollective final : public Collective {
 public:
  MpiCollective() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCollective() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  bool allgather(const float* mine, float* all, int64_t count) override {
    return gather(mine, all, count, MPI_FLOAT);
  }
  bool allgather(const double* mine, double* all, int64_t count) override {
    return gather(mine, all, count, MPI_DOUBLE);
  }
  bool broadcast(float* data, int64_t count) override {
    MPI_Request request;
    if (!fits(count) || MPI_Ibcast(data, static_cast<int>(count), MPI_FLOAT, 0, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
      return failed("broadcast");
    return wait(request, "broadcast");
  }
  [[noreturn]] void abort(const std::string& message, int status) override {
    std::fprintf(stderr, "error: rank %d of %d: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
    std::exit(status);
  }

 private:
  bool fits(int64_t count) const { return count >= 0 && count <= (int64_t(1) << 30); }

  bool gather(const void* mine, void* all, int64_t count, MPI_Datatype type) {
    MPI_Request request;
    if (!fits(count) || MPI_Iallgather(mine, static_cast<int>(count), type, all, static_cast<int>(count), type,
                                       MPI_COMM_WORLD, &request) != MPI_SUCCESS)
      return failed("allgather");
    return wait(request, "allgather");
  }

  // Polls until the collective completes; past the timeout the job ends.
  bool wait(MPI_Request& request, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      int done = 0;
      if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return failed(what);
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (done) {
        seconds_ += waited;
        return true;
      }
      if (waited > timeout_) {
        char message[200];
        std::snprintf(message, sizeof message,
                      "no answer from the other ranks for %.0f s in an %s (a rank died or hangs); ending the job",
                      timeout_, what);
        abort(message, 1);
      }
      // Spin briefly (a step's collective is quick), then yield the core.
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(spins > 100000 ? 1000 : 50));
    }
  }

  bool failed(const char* what) {
    std::fprintf(stderr, "error: rank %d of %d: the %s failed\n", rank_, size_, what);
    return false;
  }
};

}  // namespace

Collective* mpiCollective(int* argc, char*** argv) {
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return nullptr;
  // A failed call returns its error instead of ending the process, so the
  // trainer can say what failed.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  static MpiCollective collective;
  return &collective;
}

}  // namespace cnnc_rt
