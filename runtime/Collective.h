// Data-parallel training's communication as the trainer sees it: the ranks
// of one job and the two collectives a step needs. A trainer built with
// `cnnc --distributed` gets one over MPI (runtime/Mpi.cpp, its own library:
// trainers built without the flag have no MPI dependency); a single
// process has none (null).
#pragma once

#include <cstdint>
#include <string>

namespace cnnc_rt {

class Collective {
 public:
  virtual ~Collective() = default;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Every rank's `count` values, rank after rank, into `all` (size x
  // count), on every rank. False after a message; a rank that does not
  // take part within the timeout ends the job (every rank exits).
  virtual bool allgather(const float* mine, float* all, int64_t count) = 0;
  virtual bool allgather(const double* mine, double* all, int64_t count) = 0;
  // Rank 0's `count` floats into every rank's `data`.
  virtual bool broadcast(float* data, int64_t count) = 0;
  // Ends every rank of the job with `status`, after `message` (this rank's).
  [[noreturn]] virtual void abort(const std::string& message, int status) = 0;
  // Seconds spent in collectives so far (communication, and waiting for
  // the slowest rank).
  double seconds() const { return seconds_; }
  // How long a collective may wait for the other ranks before the job ends.
  void setTimeout(double seconds) { timeout_ = seconds; }

 protected:
  int rank_ = 0, size_ = 1;
  double seconds_ = 0, timeout_ = 120;
};

}  // namespace cnnc_rt
