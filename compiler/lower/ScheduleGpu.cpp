#include "lower/ScheduleGpu.h"

#include <algorithm>

#include "ir/Ops.h"

namespace cnnc {

using namespace Halide;

namespace {

// Threads per block for the fused pure loop.
constexpr int kThreads = 128;

// One stage (the pure definition, or update `u`) as a GPU kernel: its
// reduction loops innermost in each thread, its pure loops fused and
// tiled over blocks; a stage with no pure loop runs on one GPU thread.
// Returns the loop of one thread (where what only it reads may be computed).
LoopLevel tile(Func f, int u) {
  Stage stage = u < 0 ? Stage(f) : f.update(u);
  std::vector<Var> pure = f.args();
  // Short loop names: a kernel is named after its Func and its block loop
  // (Func.sN.loop), and pocl writes each OpenCL kernel to a file of that
  // name, so a name over 255 bytes fails there (CUDA does not mind).
  Var block("b" + std::to_string(u + 1)), thread("t" + std::to_string(u + 1));
  if (pure.empty()) {
    // One block of one thread (Stage::gpu_single_thread, with loop names
    // of ours, so that what only it reads can be computed inside it: the
    // outermost loop is outside the kernel, on the host).
    stage.split(Var::outermost(), Var::outermost(), thread, 1)
        .split(Var::outermost(), Var::outermost(), block, 1)
        .gpu_blocks(block)
        .gpu_threads(thread);
    return LoopLevel(f, thread);
  }
  std::vector<VarOrRVar> order;
  if (u >= 0)
    for (const RVar& r : f.rvars(u)) order.push_back(r);
  for (const Var& v : pure) order.push_back(v);
  if (order.size() > 1) stage.reorder(order);
  Var fused = pure[0];
  for (size_t i = 1; i < pure.size(); ++i) {
    Var next("f" + std::to_string(u + 1) + "_" + std::to_string(i));
    stage.fuse(fused, pure[i], next);
    fused = next;
  }
  stage.gpu_tile(fused, block, thread, kThreads, TailStrategy::GuardWithIf);
  return LoopLevel(f, thread);
}

// Every stage of `f` a kernel; returns the thread loop of its pure stage.
LoopLevel onGpu(Func f) {
  if (!f.defined()) return LoopLevel::root();
  f.compute_root();
  LoopLevel thread = tile(f, -1);
  for (int u = 0; u < f.num_update_definitions(); ++u) tile(f, u);
  return thread;
}

// `producer`, read only by the stage owning `thread`, computed by each of
// its threads for what that thread reads (serial loops, registers): no
// kernel of its own. For reductions written out by a single consumer (a
// layer's accumulator), and small per-sample values.
void inThread(Func producer, const LoopLevel& thread) {
  if (producer.defined()) producer.compute_at(thread);
}

// The largest of `candidates` that divides `extent` (no partial tiles),
// else the smallest that is at least `extent`, else the last.
int tileFor(int extent, std::initializer_list<int> candidates) {
  for (int t : candidates)
    if (t <= extent && extent % t == 0) return t;
  return std::min(extent, *(candidates.end() - 1));
}

// A convolution (forward, or the data gradient) written as
// acc(c, x, y, n) += w(c, ...) * in(...), as on the CPU: one block per tile
// of (up to 32 output channels) x (a few output rows) x (a run of output
// columns) of one sample. Its threads are channels x rows; each keeps the
// run of columns in registers. The block first stages the (padded) input
// window its tile reads, every input channel, in shared memory, so each
// input value is read from global memory once per block instead of once per
// output channel and tap; weights are read channels-innermost (coalesced).
void convolutionOnGpu(LoweredOp& l, int channels, int width, int height) {
  std::vector<Var> a = l.out.args();  // c, x, y, n
  Var c = a[0], x = a[1], y = a[2], n = a[3];
  const int cv = std::min(channels, 32);
  const int tx = tileFor(width, {7, 6, 5, 4});
  const int ty = std::min(height, 8);
  Var cO("cO"), cI("cI"), xO("xO"), xI("xI"), yO("yO"), yI("yI"), b("b");
  l.out.compute_root()
      .split(c, cO, cI, cv, TailStrategy::GuardWithIf)
      .split(x, xO, xI, tx, TailStrategy::GuardWithIf)
      .split(y, yO, yI, ty, TailStrategy::GuardWithIf)
      .reorder(xI, cI, yI, xO, yO, cO, n)
      .unroll(xI)
      .fuse(cO, n, b)
      .gpu_blocks(xO, yO, b)
      .gpu_threads(cI, yI);
  // Per thread: its run of columns, accumulated in registers in the CPU's
  // order of the reduction (kernel columns, rows, input channels).
  std::vector<Var> p = l.acc.args();
  l.acc.compute_at(l.out, cI).unroll(p[1]);
  l.acc.update().reorder(p[1], l.r.x, l.r.y, l.r.z).unroll(p[1]);
  // The block's input window in shared memory, loaded by its threads:
  // input channels across, rows split over the block's rows.
  Func in = l.staged;
  std::vector<Var> q = in.args();  // c, x, y, n
  Var rO("rO"), rI("rI");
  in.compute_at(l.out, xO).split(q[2], rO, rI, ty, TailStrategy::GuardWithIf).reorder(q[1], q[0], rI, rO, q[3]).gpu_threads(q[0], rI);
  onGpu(l.weightT);
}

// Sums per channel: each sample's on a thread of their own, which sums its
// column sums too (in registers, not a kernel of their own).
void channelSums(ChannelSums s) {
  onGpu(s.total);
  onGpu(s.perSample);
  inThread(s.perColumn, LoopLevel(s.perSample, Var("t1")));  // the thread loop of its update (tile)
}

// Batch norm's statistics, whether or not its normalisation is computed
// inside its readers: the sums, then each per-channel value a small kernel.
void statistics(const NormStats& s) {
  for (const ChannelSums& sums : {s.sum, s.squares})
    if (sums.total.defined()) channelSums(sums);
  for (Func f : {s.mean, s.invStd, s.scale, s.shift}) onGpu(f);
}

}  // namespace

void scheduleGpu(Lowered& L, const Graph& g, const Target&) {
  LoweredOp *loss = nullptr, *lossGradient = nullptr;
  for (LoweredOp& l : L.ops) {
    if (!l.norm.all().empty()) statistics(l.norm);  // batch norm's, or one folded into a convolution
    // Computed inside the kernels that read it; a convolution that the CPU
    // computes inside a pool's kernel is a GPU kernel of its own.
    if (l.inlined && l.loops != LoopNest::Convolution) continue;
    switch (l.loops) {
      case LoopNest::Convolution: {
        const Shape& s = g.tensors[l.op->result].shape;  // N, C, H, W
        convolutionOnGpu(l, static_cast<int>(s[1]), static_cast<int>(s[3]), static_cast<int>(s[2]));
        break;
      }
      case LoopNest::WeightGradient: {
        // The sums are accumulated inside the threads that write them.
        inThread(l.acc, onGpu(l.out));
        inThread(l.partialAcc, onGpu(l.partial));
        onGpu(l.staged);
        // dy: its own kernel only when computed on the fly (an inlined
        // activation gradient); read in place when a kernel wrote it.
        if (!L.written(l.op->operands[0])) onGpu(l.stagedDy);
        break;
      }
      case LoopNest::Dense:
      case LoopNest::DenseGradient:  // linear and its gradients: each thread's sum in a register
        inThread(l.acc, onGpu(l.out));
        break;
      case LoopNest::Gather:
      case LoopNest::Pieces:  // one select on GPUs (LowerContext::cpuLoops)
        onGpu(l.out);
        break;
      case LoopNest::Loss:
        loss = &l;
        break;
      case LoopNest::LossGradient:
        lossGradient = &l;
        break;
      case LoopNest::None:
        break;
      case LoopNest::ChannelSum: channelSums({l.out, l.partial, l.partialAcc}); break;
      case LoopNest::Rows:
      case LoopNest::Transpose:
      case LoopNest::Elementwise:
      case LoopNest::Normalize:
      case LoopNest::Statistics:
        onGpu(l.out);
        onGpu(l.acc);
        onGpu(l.weightT);
        for (Func& h : l.helpers()) onGpu(h);
        break;
    }
  }
  // The loss kernel: the loss and the count of correct predictions each on
  // one GPU thread over the batch's samples (per-sample values computed
  // there, sized for the whole batch: an allocation inside a GPU kernel
  // must have a constant size), and the gradient's threads each computing
  // their sample's log-sum-exp: three launches instead of six. (The first
  // OpenCL run caught these per-sample values computed on the host, with
  // the logits copied there and the values back every step.)
  // The gradient's copy of the log-sum-exp is made first: a clone takes
  // its Func's schedule, and the whole-batch bound below would make each
  // gradient thread compute every sample's (64x the work, caught reading
  // the OpenCL stmt).
  if (lossGradient) {
    const LoopLevel thread = onGpu(lossGradient->out);
    if (L.lse.defined()) inThread(L.lse.clone_in(lossGradient->out), thread);
  }
  const LoopLevel lossThread = onGpu(L.loss), correctThread = onGpu(L.correct);
  if (loss) {
    const int batch = static_cast<int>(g.train.batch);
    loss->out.bound(loss->out.args()[0], 0, batch);
    for (Func& h : loss->helpers()) h.bound(h.args()[0], 0, batch);
    inThread(loss->out, lossThread);  // per-sample losses
    inThread(loss->lse, lossThread);
    inThread(loss->predicted, correctThread);
  }
  for (Func& f : L.buffersOut) onGpu(f);
}

void scheduleUpdateGpu(LoweredUpdate& u, const Target&) { onGpu(u.out); }

}  // namespace cnnc
