// CPU schedules: vectorised along the innermost (channel) dimension,
// parallel over the batch, in tasks of several samples where a sample is
// little work; the direct convolutions' register tiles are in
// ScheduleDirect.cpp, Winograd's in ScheduleWinograd.cpp, the linear
// layers' GEMMs in ScheduleDense.cpp.
#include "lower/ScheduleCpu.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "ir/Ops.h"
#include "lower/LowerContext.h"
#include "lower/ScheduleParts.h"
#include "ops/Common.h"
#include "support/Invariant.h"

namespace cnnc {

using namespace Halide;

int vectorFor(int extent, int natural) {
  int v = 1;
  while (v * 2 <= std::min(extent, natural)) v *= 2;
  return v;
}

int vectorDividing(int extent, int natural) {
  int v = 1;
  while (v * 2 <= natural && extent % (v * 2) == 0) v *= 2;
  return v;
}

// In vectors of channels, or of columns where a sample has fewer
// channels than a quarter vector (conv1's one). Was a scalar loop for
// the direct convolutions: the copies took 7-16% of their kernels
// (Winograd's: 0.5 ms of conv2's 1.8 ms weight gradient). The zeros
// first, then the input over the interior (LowerContext::zeroPadded):
// vectors of columns read it densely, where a select over clamped
// columns gathered it (MNIST's pixels a byte at a time, about 3,400
// cycles per sample: a sixth of conv1's multiply-adds).
void stagePadded(Func f, int channels, int natural, const LoopLevel& at) {
  std::vector<Var> a = f.args();  // c, x, y, n
  f.compute_at(at);
  const int cv = vectorFor(channels, natural);
  const bool byChannels = cv * 4 >= natural;
  if (byChannels)
    f.vectorize(a[0], cv);
  else
    f.reorder(a[1], a[0], a[2], a[3]).vectorize(a[1], natural, TailStrategy::GuardWithIf);
  if (f.num_update_definitions() == 0) return;
  std::vector<RVar> r = f.rvars(0);  // the interior's columns, rows
  if (byChannels)  // guarded: 6 channels in vectors of 4 must not read an 8th
    f.update().vectorize(a[0], cv, TailStrategy::GuardWithIf);
  else
    f.update().reorder(a[0], r[0], r[1], a[3]).vectorize(r[0], natural, TailStrategy::GuardWithIf);
  if (f.num_update_definitions() > 1) f.update(1).unscheduled();  // the model input's prefetches: once a sample
}

int channelsOf(const Graph& g, int tensor) { return static_cast<int>(g.tensors[tensor].shape[1]); }

namespace {

int extentOf(const Op& op, const Graph& g, int dimFromInner) {
  const Shape& s = g.tensors[op.result].shape;
  // IR shapes are [N, C, H, W] / [N, F]; Funcs are (c, x, y, n) / (f, n).
  if (s.size() == 4) {
    const int64_t order[4] = {s[1], s[3], s[2], s[0]};
    return static_cast<int>(order[dimFromInner]);
  }
  if (s.size() == 2) return static_cast<int>(dimFromInner == 0 ? s[1] : s[0]);
  return static_cast<int>(s.empty() ? 1 : s[0]);
}


// Samples per parallel task, for a kernel that reads or writes
// `perSample` elements a sample: a task of a few thousand elements takes
// little longer to compute than to hand out and hand back (an atomic
// operation and the cache lines it shares). The most samples that keep a task under
// kTaskElements, of a count that divides the batch (no partial task),
// leaving at least kFewestTasks tasks. mnist (5 alternating rounds, a
// 2-core Xeon, 2026-12-05, with runtime/ThreadPool.cpp): conv3's bias
// gradient 0.033 -> 0.018 ms, its relu gradient 0.062 -> 0.049, the
// flatten 0.089 -> 0.073; the step 4.84 -> 4.72 ms.
int samplesPerTask(int batch, int64_t perSample) {
  constexpr int64_t kTaskElements = 16384;
  constexpr int kFewestTasks = 8;
  int best = 1;
  for (int d = 2; d <= batch && batch / d >= kFewestTasks; ++d) {
    if (batch % d != 0) continue;
    if (int64_t(d) * perSample > kTaskElements) break;
    best = d;
  }
  return best;
}

// The elements of a sample in the largest tensor the op reads or writes
// that has the batch as its first dimension.
int64_t perSampleElements(const Op& op, const Graph& g, int batch) {
  int64_t most = 0;
  std::vector<int> tensors = op.operands;
  if (op.result >= 0) tensors.push_back(op.result);
  for (int t : tensors) {
    const Shape& s = g.tensors[t].shape;
    if (s.size() >= 2 && s[0] == batch) most = std::max(most, numElements(s) / batch);
  }
  return most;
}

// The loop over the samples, parallel in tasks of `task` samples: the
// loop over one task's samples (`n` itself where a task is one sample).
template <typename F>
Var parallelSamples(F f, Var n, int task) {
  if (task <= 1) {
    f.parallel(n);
    return n;
  }
  Var nO(n.name() + "_task"), nI(n.name() + "_in_task");
  f.split(n, nO, nI, task, TailStrategy::GuardWithIf).parallel(nO);
  return nI;
}

// compute_root, vectorised along dim 0, parallel along the last (batch);
// the loop over one task's samples.
Var rowMajor(Func f, int innerExtent, int natural, bool parallelOuter = true, int task = 1) {
  std::vector<Var> args = f.args();
  f.compute_root();
  int v = vectorFor(innerExtent, natural);
  if (v > 1) f.vectorize(args.front(), v);
  if (parallelOuter && args.size() > 1) return parallelSamples(f, args.back(), task);
  return args.back();
}

// A Func written piece by piece (concat: one update per input, no pure
// stage): each piece vectorised along its channels (or features),
// parallel over the batch.
void pieces(LoweredOp& l, const Graph& g, int natural, int task) {
  l.out.compute_root();
  const Var n = l.out.args().back();
  for (int u = 0; u < l.out.num_update_definitions(); ++u) {
    const int extent = channelsOf(g, l.op->operands[u]);  // update u copies operand u
    Stage piece = l.out.update(u);
    piece.vectorize(l.out.rvars(u)[0], vectorFor(extent, natural), TailStrategy::GuardWithIf);
    parallelSamples(piece, n, task);
  }
}

// A pure elementwise Func over a dense tensor: its two innermost loops
// fused into one contiguous run, vectorized whole, parallel over the batch.
void elementwiseKernel(Func f, int natural, int task) {
  std::vector<Var> args = f.args();
  f.compute_root();
  if (args.size() == 4) {
    Var cx("cx");
    f.fuse(args[0], args[1], cx).vectorize(cx, natural, TailStrategy::GuardWithIf);
    parallelSamples(f, args[3], task);
  } else {
    f.vectorize(args[0], natural, TailStrategy::GuardWithIf);
    if (args.size() > 1) parallelSamples(f, args.back(), task);
  }
}

// The loss's per-sample values (the loss, the log-sum-exp, the predicted
// class) computed for the whole batch, padding samples too: their size,
// and so Halide's scratch for them, does not depend on `valid`, and a last
// partial batch asks the allocator for nothing new. Only for what is
// computed at root: with `lseInLoop` (training) the log-sum-exp is computed
// per sample, and bounding it would compute the whole batch's per sample.
void wholeBatch(LoweredOp& loss, int batch, bool lseInLoop) {
  loss.out.bound(loss.out.args()[0], 0, batch);
  if (loss.lse.defined() && !lseInLoop) loss.lse.bound(loss.lse.args()[0], 0, batch);
  loss.predicted.bound(loss.predicted.args()[0], 0, batch);
}

// The loss and its gradient as one kernel (fuse): one loop over the
// samples computes each sample's log-sum-exp (cross-entropy), its loss,
// its predicted class and its row of the gradient; then the loss and the
// count of correct predictions are sums of 64 numbers. Serial: at 10 x 64
// elements a parallel loop costs more than it saves.
void scheduleLossKernel(Lowered& L, LoweredOp& gradient, int classes, int batch, int natural) {
  Func g = gradient.out;
  std::vector<Var> a = g.args();  // o, n
  g.compute_root().vectorize(a[0], vectorFor(classes, natural));
  for (LoweredOp& loss : L.ops) {
    if (loss.loops != LoopNest::Loss) continue;
    wholeBatch(loss, batch, true);
    loss.out.compute_root().compute_with(g, a[1]);  // the per-sample loss
    if (loss.lse.defined()) loss.lse.compute_at(g, a[1]);  // once per sample, read by the loss and the gradient
    loss.predicted.compute_root().compute_with(g, a[1]);
  }
}

// Sums per channel (bias gradients, batch norm's statistics): per-sample
// sums (parallel over the batch), then the batch's.
void channelSums(ChannelSums s, int inner, int natural, int task) {
  // Vectors of channels that divide the count: with a guarded tail,
  // Halide 14 computed the first vector twice and the tail never where the
  // summand reads a per-channel value (batch norm's squared deviations
  // from the mean, 5 features in vectors of 4: the fifth's sum stayed 0).
  const int v = vectorDividing(inner, natural);
  std::vector<Var> a = s.total.args();
  rowMajor(s.total, inner, natural, false);
  s.total.update().vectorize(a[0], v);
  if (Func h = s.perSample; h.defined()) {  // per-sample sums, parallel over the batch
    std::vector<Var> p = h.args();
    // The zeros serially: 64 x 64 of them cost less than a parallel loop
    // of their own.
    h.compute_root().vectorize(p[0], vectorFor(inner, natural));
    h.update().vectorize(p[0], v);
    const Var sample = parallelSamples(h.update(), p[1], task);
    // Each sample's column sums: rows added in turn, each a run of
    // channels and columns in vectors.
    Func cols = s.perColumn;
    std::vector<Var> q = cols.args();  // c, x, n
    Var cx("cx");
    cols.compute_at(h, sample).fuse(q[0], q[1], cx).vectorize(cx, natural, TailStrategy::GuardWithIf);
    cols.update().reorder(q[0], q[1], cols.rvars(0)[0]).fuse(q[0], q[1], cx).vectorize(cx, natural,
                                                                                        TailStrategy::GuardWithIf);
  }
}

// Batch norm's statistics, whether or not its normalisation is computed
// inside its readers: each sum as above, the per-channel values once.
void statistics(const NormStats& s, int inner, int natural, int task) {
  for (const ChannelSums& sums : {s.sum, s.squares})
    if (sums.total.defined()) channelSums(sums, inner, natural, task);
  for (Func f : {s.mean, s.invStd, s.scale, s.shift})
    if (f.defined()) f.compute_root().vectorize(f.args()[0], vectorDividing(inner, natural));
}

// flatten: a layout change.
void transpose(LoweredOp& l, const Graph& g, int inner, int natural, int task) {
  const Op& op = *l.op;
  std::vector<Var> a = l.out.args();
  const Shape& in = g.tensors[op.operands[0]].shape;  // N, C, H, W
  if (in.size() != 4) {
    rowMajor(l.out, inner, natural, true, task);
    return;
  }
  // (c, x, y) -> f = (c * H + y) * W + x: a transpose. Loops over
  // the output's order with f split into (c, y, x), so no lane
  // computes a division; vectors of channels (contiguous reads,
  // strided writes). Was vectors along f, each lane dividing: 0.18 ms
  // per step for conv3's 64x7x7 (train --profile, 2-core AMD EPYC).
  const int H = static_cast<int>(in[2]), W = static_cast<int>(in[3]), C = static_cast<int>(in[1]);
  Var cc("cc"), p("p"), yy("yy"), xx("xx");
  l.out.compute_root()
      .split(a[0], cc, p, H * W)
      .split(p, yy, xx, W)
      .reorder(cc, xx, yy, a[1])
      .vectorize(cc, vectorFor(C, natural));
  parallelSamples(l.out, a[1], task);
}

// An activation (or its gradient) that is a kernel of its own (fuse),
// reading only tensors in memory: one pass over contiguous memory,
// channels and columns fused, so that a layer of 6 channels still fills
// whole vectors (LeNet-5's c1 tanh: 2.0 -> 1.7 ms per step with libm's
// tanhf, 0.08 ms with tanhOf and dense strides). Not when it computes a
// pooling gradient inside (fuse): that needs each lane's channel and
// column, and took 0.09 -> 0.48 ms fused (2-core AMD EPYC, 2026-12-01).
void activation(const Lowered& L, LoweredOp& l, int inner, int natural, int task) {
  const Op& op = *l.op;
  if (std::all_of(op.operands.begin(), op.operands.end(), [&](int t) { return L.inMemory(t); }))
    elementwiseKernel(l.out, natural, task);
  else
    rowMajor(l.out, inner, natural, true, task);
}


// The Func whose outermost loop runs over the samples, one at a time and
// in parallel, where `l` has one: the per-sample kernels' results, the
// classifier's sums (dense: fewer outputs than a vector). Undefined for
// kernels that need the whole batch at once (a GEMM, sums over the batch).
Func sampleLoop(const LoweredOp& l, const Graph& g, int natural) {
  switch (l.loops) {
    case LoopNest::Convolution:
    case LoopNest::Gather:
    case LoopNest::Rows:
    case LoopNest::Transpose:
    case LoopNest::Elementwise: return l.out;
    case LoopNest::Dense: {
      const Shape& out = g.tensors[l.op->result].shape;  // N, O
      return out[1] >= natural && out[0] >= natural ? Func() : l.acc;
    }
    default: return Func();
  }
}

// A direct convolution read by a pool whose windows do not overlap (the
// usual conv -> activation -> pool): the pool reads each of its rows once.
bool directIntoPool(const LoweredOp& conv, const LoweredOp& pool) {
  if (conv.loops != LoopNest::Convolution || conv.winograd.m || conv.phases.defined()) return false;
  if (pool.op->kind != OpKind::MaxPool && pool.op->kind != OpKind::AvgPool) return false;
  const ops::Window w = ops::windowOf(pool.op->attrs);
  return w.SY >= w.KH;
}

// Evaluation sample by sample reads every Winograd layer's transformed
// weights (co x ci x alpha^2 floats) once per sample: where together they
// exceed kWeightsBudget, they evict one another from sample to sample.
// The largest layers, until the rest fit, keep a loop of their own over
// the batch instead, their weights in cache from sample to sample. vgg
// (147 + 295 + 590 + 1,152 KiB): block3.0 and block2.2 on their own, its
// test set 7.15 -> 5.56 ms a batch (block3.0 alone, leaving 1,008 KiB: no
// faster); mnist (655 KiB) and resnet (718 KiB) as they were (with
// resnet's down.3 on its own: 2.24 -> 2.30 ms). Medians of 6 alternating
// rounds, two-unit Xeon (2 MB of L2 a core), 2026-12-05.
constexpr int64_t kWeightsBudget = 768 << 10;

std::set<const LoweredOp*> transformedWeightsOverBudget(const Lowered& L, const Graph& g) {
  std::vector<std::pair<int64_t, const LoweredOp*>> layers;  // (bytes, op)
  int64_t total = 0;
  for (const LoweredOp& l : L.ops) {
    if (!l.winograd.m || l.inlined) continue;
    const int64_t alpha = l.winograd.m + l.op->attrs.pair("kernel")[0] - 1;
    const int64_t bytes = int64_t(channelsOf(g, l.op->operands[0])) * channelsOf(g, l.op->result) * alpha * alpha * 4;
    layers.push_back({bytes, &l});
    total += bytes;
  }
  // The largest first; of equal ones, the later.
  std::sort(layers.begin(), layers.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second->op > b.second->op;
  });
  std::set<const LoweredOp*> over;
  for (const auto& [bytes, l] : layers) {
    if (total <= kWeightsBudget) break;
    over.insert(l);
    total -= bytes;
  }
  return over;
}

// Evaluation, sample by sample: a kernel whose result only one other
// kernel reads, both computed per sample, is computed inside that
// kernel's loop over the samples instead of for the whole batch first.
// Its result stays in cache, and the batch is one parallel loop instead
// of one per kernel: mnist's evaluation 1.43 -> 1.36 ms per batch (2-core
// AMD EPYC, 2026-12-05). Same arithmetic, so the same results.
void samplesTogether(Lowered& L, const Graph& g, int natural) {
  // What evaluation computes for nothing: what training keeps for its
  // backward (a maxpool's index: no op reads it; batch statistics, which
  // batch norm reads in training only).
  const std::set<int> read = L.readTensors(g);
  // The kernels reading tensor t, through the ops inlined into them;
  // `viaConvolution`: through a convolution computed inside a pool's
  // kernel (convolutionIntoPool), which stages its input per sample.
  std::function<void(int, std::vector<LoweredOp*>&, bool&)> readers = [&](int t, std::vector<LoweredOp*>& found,
                                                                         bool& viaConvolution) {
    for (LoweredOp& l : L.ops) {
      if (std::find(l.op->operands.begin(), l.op->operands.end(), t) == l.op->operands.end()) continue;
      if (!read.count(l.op->result) || l.loops == LoopNest::Statistics) continue;
      viaConvolution = viaConvolution || l.insidePool;
      if (l.inlined)
        readers(l.op->result, found, viaConvolution);
      else if (std::find(found.begin(), found.end(), &l) == found.end())
        found.push_back(&l);
    }
  };
  const std::set<const LoweredOp*> batchWide = transformedWeightsOverBudget(L, g);
  // Each kernel's one reader with a loop over the samples, if it has one.
  std::map<LoweredOp*, LoweredOp*> readerOf;
  std::set<LoweredOp*> perSampleOnly;  // read through a convolution computed inside its reader
  for (LoweredOp& l : L.ops) {
    if (l.inlined || l.op->result < 0 || l.op->result == g.output || batchWide.count(&l)) continue;
    // A joined op (a maxpool's index), and a kernel computing one that
    // something reads (where the backward is lowered too: the tests),
    // keep their loop.
    const bool joinedRead = std::any_of(L.ops.begin(), L.ops.end(), [&](const LoweredOp& m) {
      return m.joins == l.op && read.count(m.op->result);
    });
    if (joinedRead || l.joins) continue;
    const Func own = sampleLoop(l, g, natural);
    if (!own.defined() || own.name() != l.out.name()) continue;  // its result is not written sample by sample
    std::vector<LoweredOp*> found;
    bool viaConvolution = false;
    readers(l.op->result, found, viaConvolution);
    if (found.size() == 1 && sampleLoop(*found[0], g, natural).defined()) readerOf[&l] = found[0];
    if (viaConvolution) perSampleOnly.insert(&l);
  }
  auto perPoolRow = [&](LoweredOp* l) {
    auto r = readerOf.find(l);
    return r != readerOf.end() && !perSampleOnly.count(l) && directIntoPool(*l, *r->second);
  };
  for (auto [l, reader] : readerOf) {
    // A kernel whose reader is computed per row of a pool is computed
    // per sample of the pool instead (the reader's staged input is).
    LoweredOp* at = perPoolRow(reader) ? readerOf[reader] : reader;
    Func host = sampleLoop(*at, g, natural);
    l->out.compute_at(host, host.args().back()).serial(l->out.args().back());
    if (perPoolRow(l)) {
      // Per row of the pool's windows, the sample's padded input staged
      // once: mnist's conv1 is 50 KB a sample, over L1; its rows stay in
      // L1 for the pool. The test set 0.160 -> 0.157 s (medians of 10
      // alternating runs, two-unit Xeon, 2026-12-05).
      l->out.compute_at(host, host.args()[2]);
      l->staged.compute_at(host, host.args().back());
    }
    l->computedIn = at->op;
  }
}

// An op computed in another's kernel from the same data (a maxpool's
// index, FuseAs::Joined), both scheduled alike (rowMajor): one loop nest,
// the two computed position by position, so the input is read once.
void joinLoops(LoweredOp& l, const LoweredOp& host) {
  l.out.compute_with(host.out, host.out.args()[1]);
}

// The windows of the register tiles of a direct convolution computed
// inside its max pool (poolTileColumns), 0 where it has none.
int poolColumns(const LoweredOp& conv, const Graph& g, int natural, const CpuModel& cpu) {
  const Op* pool = conv.insidePool;
  if (!pool || pool->kind != OpKind::MaxPool || conv.winograd.m || conv.phases.defined()) return 0;
  const int pooledWidth = static_cast<int>(g.tensors[pool->result].shape[3]);
  return poolTileColumns(channelsOf(g, conv.op->result), pooledWidth, ops::windowOf(pool->attrs), natural, cpu);
}

// A direct convolution computed inside the pool that reads it: in tiles
// of `columns` of the pool's windows where it has them (poolTiles), else
// row by row of the windows, the rows in L1 for the pool (and a maxpool's
// index, `index`): nothing is written. Its padded input staged once a
// sample. Evaluation did so already (mnist's test set 0.160 -> 0.157 s).
void convolutionIntoPool(LoweredOp& conv, const LoweredOp& pool, LoweredOp* index, const Var& sample, int columns,
                         const Graph& g, int natural) {
  if (columns) {
    poolTiles(conv, pool.out, index ? index->out : Func(), columns, channelsOf(g, conv.op->operands[0]), natural,
              LoopLevel(pool.out, sample));
    return;
  }
  conv.out.compute_at(pool.out, pool.out.args()[2]).serial(conv.out.args().back());  // per row y
  conv.staged.compute_at(pool.out, sample);
  if (index) joinLoops(*index, pool);
}

}  // namespace

void scheduleCpu(Lowered& L, const Graph& g, const Target& target, PipelineKind pipeline, const FmaUnits& fma) {
  const int natural = target.natural_vector_size<float>();
  const CpuModel cpu{target.has_feature(Target::AVX512), fma.chains()};
  const bool training = pipeline == PipelineKind::Training;
  const int batch = static_cast<int>(g.train.batch);
  std::map<const LoweredOp*, Var> sampleVar;  // pools': the loop over a task's samples
  for (LoweredOp& l : L.ops) {
    const int inner = extentOf(*l.op, g, 0);
    // Evaluation keeps a sample a task: samplesTogether moves kernels
    // into one another's loop over the samples.
    const int task = training ? samplesPerTask(batch, perSampleElements(*l.op, g, batch)) : 1;
    if (!l.norm.all().empty()) statistics(l.norm, inner, natural, task);  // batch norm's, or one folded into a convolution
    // Computed inside the kernels that read it (a convolution with its
    // tiles: convolutionIntoPool).
    if (l.inlined && l.loops != LoopNest::Convolution) continue;
    switch (l.loops) {
      case LoopNest::Convolution:
        if (poolColumns(l, g, natural, cpu)) break;  // tiled with its pool: convolutionIntoPool
        if (l.winograd.m)
          winogradConvolution(l, inner, channelsOf(g, l.op->operands[0]), natural, cpu);
        else if (l.phases.defined())
          phasedConvolution(l, inner, extentOf(*l.op, g, 1), static_cast<int>(l.op->attrs.pair("stride")[0]),
                            channelsOf(g, l.op->operands[0]), natural, cpu);
        else
          tiledConvolution(l, inner, extentOf(*l.op, g, 1), extentOf(*l.op, g, 2), channelsOf(g, l.op->operands[0]),
                           natural, cpu);
        break;
      case LoopNest::WeightGradient:
        if (l.winograd.m)
          winogradWeightGradient(L, l, channelsOf(g, l.op->operands[0]), channelsOf(g, l.op->operands[1]), natural,
                                 cpu);
        else
          weightGradient(L, l, g, natural, cpu);
        break;
      case LoopNest::Dense: dense(L, l, g, natural, cpu); break;
      case LoopNest::DenseGradient: denseGradient(L, l, g, natural, cpu); break;
      case LoopNest::ChannelSum: channelSums({l.out, l.partial, l.partialAcc}, inner, natural, task); break;
      case LoopNest::Loss:
        // (Training computes the log-sum-exp per sample: scheduleLossKernel.)
        wholeBatch(l, batch, training);
        l.out.compute_root();
        for (Func& h : l.helpers()) h.compute_root();
        break;
      case LoopNest::LossGradient:
        if (training) scheduleLossKernel(L, l, inner, batch, natural);
        break;
      case LoopNest::Transpose: transpose(l, g, inner, natural, task); break;
      case LoopNest::Pieces: pieces(l, g, natural, task); break;
      case LoopNest::Gather:
      case LoopNest::Rows:
        // Pooling and its backward, softmax.
        sampleVar[&l] = rowMajor(l.out, inner, natural, true, task);
        for (Func& h : l.helpers()) rowMajor(h, inner, natural, true, task);
        break;
      case LoopNest::Elementwise:
      case LoopNest::Normalize: activation(L, l, inner, natural, task); break;
      case LoopNest::Statistics: l.out.compute_root(); break;  // its sums: statistics() above
      case LoopNest::None: break;
    }
  }
  // A maxpool's index joins its pool's loops, as the pool's tiles where a
  // convolution is computed inside it.
  std::map<const Op*, LoweredOp*> joined;  // the pool -> its index
  for (LoweredOp& l : L.ops)
    if (l.joins && !l.inlined) joined[l.joins] = &l;
  for (LoweredOp& l : L.ops) {
    if (!l.insidePool) continue;
    const LoweredOp& pool = *L.producer(l.insidePool->result);
    auto index = joined.find(pool.op);
    convolutionIntoPool(l, pool, index == joined.end() ? nullptr : index->second, sampleVar.at(&pool),
                        poolColumns(l, g, natural, cpu), g, natural);
    if (index != joined.end()) joined.erase(index);
  }
  for (auto [host, l] : joined) joinLoops(*l, *L.producer(host->result));
  if (!training) samplesTogether(L, g, natural);
}

void scheduleUpdateCpu(LoweredUpdate& u, const Target& target) {
  Var i = u.out.args()[0];
  const int natural = target.natural_vector_size<float>();
  // One pass over the arena: 8 vectors per task keeps both cores busy on
  // 100k parameters without splitting a cache line between them.
  Var io("io"), ii("ii");
  u.out.compute_root().split(i, io, ii, natural * 64, TailStrategy::GuardWithIf).parallel(io).vectorize(ii, natural,
                                                                                                       TailStrategy::GuardWithIf);
}

std::vector<std::vector<Func>> rootFuncsByKernel(const Lowered& L, const Graph& g, const Fusion& fusion) {
  // Each kernel's own Funcs first: the first is produced once per call
  // (train --profile counts its calls by it). Then what it borrows.
  std::vector<std::vector<Func>> byKernel(fusion.kernels.size()), borrowed(fusion.kernels.size());
  auto isRoot = [](const Func& f) {
    if (!f.defined()) return false;
    LoopLevel level = LoopLevel::inlined();  // a copy to lock and inspect; the Func's stays open
    level.set(f.function().schedule().compute_level());
    return level.lock().is_root();
  };
  for (const LoweredOp& l : L.ops) {
    const int index = static_cast<int>(l.op - g.ops.data());
    int k = fusion.kernelOf[index];
    // An inlined op's own root stages (batch norm's scale and shift)
    // count for the first kernel it is computed in: they are computed in
    // each kernel that reads the op, a resnet's up to 8 a step.
    const bool own = k >= 0;
    for (size_t j = 0; k < 0 && j < fusion.kernels.size(); ++j) {
      const std::vector<int>& fused = fusion.kernels[j].fused;
      if (std::find(fused.begin(), fused.end(), index) != fused.end()) k = static_cast<int>(j);
    }
    if (k < 0) continue;
    std::vector<Func>& funcs = own ? byKernel[k] : borrowed[k];
    auto take = [&](const Func& f) {
      for (const std::vector<Func>* list : {&byKernel[k], &borrowed[k]})
        for (const Func& seen : *list)
          if (seen.name() == f.name()) return;
      if (isRoot(f)) funcs.push_back(f);
    };
    take(l.out);
    take(l.acc);
    take(l.weightT);
    for (const Func& h : l.helpers()) take(h);
    for (const Func& h : l.norm.all()) take(h);
    for (const Func& h : l.winograd.all()) take(h);
    // The loss and the count of correct predictions: outputs, so computed at root.
    if (l.loops == LoopNest::Loss)
      for (const Func& f : {L.loss, L.correct}) funcs.push_back(f);
  }
  for (size_t k = 0; k < byKernel.size(); ++k) byKernel[k].insert(byKernel[k].end(), borrowed[k].begin(), borrowed[k].end());
  return byKernel;
}

std::vector<int> hostKernels(const Lowered& L, const Graph& g, const Fusion& fusion) {
  std::vector<int> host(fusion.kernels.size());
  for (size_t k = 0; k < host.size(); ++k) host[k] = static_cast<int>(k);
  for (const LoweredOp& l : L.ops) {
    const int k = fusion.kernelOf[l.op - g.ops.data()];
    if (l.computedIn && k >= 0) host[k] = fusion.kernelOf[l.computedIn - g.ops.data()];
  }
  // A host computed inside another: the outermost (hosts come later in the graph).
  for (int k = static_cast<int>(host.size()) - 1; k >= 0; --k)
    while (host[host[k]] != host[k]) host[k] = host[host[k]];
  return host;
}

}  // namespace cnnc
