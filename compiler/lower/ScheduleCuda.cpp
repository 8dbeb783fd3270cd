#include "lower/ScheduleCuda.h"

namespace cnnc {

using namespace Halide;

namespace {

// Threads per block for the fused pure loop.
constexpr int kThreads = 128;

// One stage (the pure definition, or update `u`) as a GPU kernel: its
// reduction loops innermost in each thread, its pure loops fused and
// tiled over blocks; a stage with no pure loop runs on one GPU thread.
void tile(Func f, int u) {
  Stage stage = u < 0 ? Stage(f) : f.update(u);
  std::vector<Var> pure = f.args();
  if (pure.empty()) {
    stage.gpu_single_thread();
    return;
  }
  std::vector<VarOrRVar> order;
  if (u >= 0)
    for (const RVar& r : f.rvars(u)) order.push_back(r);
  for (const Var& v : pure) order.push_back(v);
  if (order.size() > 1) stage.reorder(order);
  Var fused = pure[0];
  for (size_t i = 1; i < pure.size(); ++i) {
    Var next(f.name() + "_f" + std::to_string(u + 1) + "_" + std::to_string(i));
    stage.fuse(fused, pure[i], next);
    fused = next;
  }
  Var block(f.name() + "_b" + std::to_string(u + 1)), thread(f.name() + "_t" + std::to_string(u + 1));
  stage.gpu_tile(fused, block, thread, kThreads, TailStrategy::GuardWithIf);
}

void onGpu(Func f) {
  if (!f.defined()) return;
  f.compute_root();
  tile(f, -1);
  for (int u = 0; u < f.num_update_definitions(); ++u) tile(f, u);
}

}  // namespace

void scheduleCuda(Lowered& L, const Target&) {
  for (LoweredOp& l : L.ops) {
    if (l.inlined) continue;  // computed inside the kernels that read it
    onGpu(l.out);
    onGpu(l.acc);
    onGpu(l.weightT);
    for (Func& h : l.helpers) onGpu(h);
  }
  onGpu(L.loss);
  onGpu(L.correct);
}

void scheduleUpdateCuda(LoweredUpdate& u, const Target&) { onGpu(u.out); }

}  // namespace cnnc
