// The training step of a chunked trainer (cnnc --chunks K, --distributed):
// the file's batch as K chunks of the compiled batch. Each chunk's gradient
// (the pipelines' mean over its samples) is weighted by the chunk's share
// of the batch's samples, and the K are summed in a fixed tree,
// ((c0 + c1) + (c2 + c3)) for K = 4. With N ranks (mpirun -np N), rank r
// computes chunks [r K/N, (r+1) K/N), a subtree of that tree; the ranks'
// partial sums are gathered (one collective per step) and every rank sums
// them in the same tree. With K and N powers of two the sums are the same
// bit for bit whatever N is, so are the updates, and every rank holds the
// same parameters. docs/distributed.md has the rest (batch norm, data,
// evaluation, faults).
#pragma once

#include <vector>

#include "Collective.h"
#include "Device.h"
#include "Model.h"
#include "Session.h"

namespace cnnc_rt {

class ChunkedStep {
 public:
  ChunkedStep(const ModelSpec& spec, Session& s, Collective* ranks);

  // Samples [first, first + n) of the epoch's order (n <= batch x chunks):
  // this rank's chunks forward and backward, then the gradient of the mean
  // loss over all n in s.grads (every rank), the loss in s.loss and, for
  // batch norm, the running statistics as chunk 0 left them. `stop`: this
  // rank wants to stop after this step (Ctrl-C); it comes back true when
  // any rank does, so that all stop together. Returns a pipeline's status.
  int run(const Kernels& k, int64_t first, int64_t n, bool& stop);

  // The first error of a setting the step cannot run with (ranks that do
  // not divide the chunks, a GPU); empty when it can.
  static std::string unsupported(const ModelSpec& spec, const Collective* ranks, bool gpu);

 private:
  const ModelSpec& spec_;
  Session& s_;
  Collective* ranks_;
  int64_t mine_;   // chunks per rank
  int64_t width_;  // floats a slot holds: the gradient, the loss, the stop flag
  std::vector<float> slots_;     // this rank's chunks, weighted, then summed into slot 0
  std::vector<float> gathered_;  // every rank's partial sum
  std::vector<float> buffersAfterFirst_;
};

// The pairwise tree sum of `count` slots of `width` floats, into slot 0:
// for (stride = 1; stride < count; stride *= 2) slot i += slot i + stride.
void treeSum(float* slots, int64_t count, int64_t width);

}  // namespace cnnc_rt
