// Direct convolutions on the CPU: vectorised along the channels, parallel
// over the batch, tiled into register blocks as in
// Halide's apps/conv_layer; AVX-512 or AVX2 tiles picked from the target,
// the accumulators per tile from its multiply-add units (cnnc --fma).
//
// Measured, as apps/conv_layer does, with `mnist_net train --epochs 1 --lr
// 0.001 --limit 19200 --profile` (cnnc --conv=direct; 2-core AMD EPYC,
// AVX-512, FMA peak 225-230 GFLOP/s; 2026-12-04), % of the peak:
//   conv2/conv3 forward (tiledConvolution)        97% / 94%  (100% / 99% in evaluation)
//   conv3/conv2 data gradient (tiledConvolution)  97% / 97%
//   conv3/conv2 weight gradient (per chunk)       90% / 95%
//   conv1 forward / weight gradient               80% / 80%  (one input channel)
// conv1's forward in tiles of its pool's windows (poolTiles): 76% -> 84%
// on the same kind of machine (2026-12-06).
// On a 2-core Xeon with two FMA units per core (peak 490 GFLOP/s;
// 2026-12-05, --limit 19200): 85% / 81%, 82% / 84%, 65% / 71% (conv3 /
// conv2 weight gradient), conv1 55% / 45%: the tiles were chosen on the
// EPYC (docs/performance.md, "A two-unit Xeon"). That evening (peak
// 444-472), after the kernel's columns were unrolled and with the
// trainer's own thread pool: conv2 / conv3 forward 84% / 87%, data
// gradients 85% / 84%, weight gradients 80% / 69%, conv1 66% / 57%
// (docs/performance.md, "Threads, tasks and shared broadcasts", says what
// holds each back). Later, with the weight gradients' sums in place: 76%
// / 83% (conv3 / conv2), conv1 57%; the tiles' own loops, cut out of the
// trainer and timed alone, reach 98% (conv3's weight gradient) and 91-93%
// (conv1's forward, which in training waits on writing its 3.2 MB):
// docs/performance.md, "Weight gradients in place".
// docs/performance.md has the whole table, the comparisons and the
// earlier steps. The machine is shared: the same kernels measure 0.2-10%
// apart between runs.
#include <algorithm>
#include <optional>

#include "ir/Ops.h"
#include "lower/LowerContext.h"
#include "lower/ScheduleParts.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;

// A convolution's weight re-laid out channels-innermost, once per call,
// in parallel over its input channels: serial, conv3's 200 KB took 0.05
// ms of an evaluation batch's 1.04 (--halide-profile, 2026-12-05); in
// parallel the batch measured 1.12 -> 1.10 ms (5 rounds, within the noise).
void relaidWeight(Func wT, int cv) {
  std::vector<Var> a = wT.args();  // co, kx, ky, ci
  wT.compute_root().vectorize(a[0], cv).parallel(a.back());
}

// The register tile: tw vectors of channels x th output columns of
// accumulators (AVX-512 has 32 vector registers, 28 for accumulators;
// AVX2 16, 12). Each step of the reduction loads tw weight vectors and
// broadcasts th inputs for tw x th multiply-adds, and a multiply-add's
// result is ready only cycles later (units x latency independent
// accumulators keep the FMA units busy: cpu.chains, 8 on a two-unit
// Xeon, 4 on a Zen 4 at 512 bits), so the cost of a useful multiply-add
// is max(tw x th, tw + th, chains) / (tw x th), times the share of
// columns a last, overlapping tile computes twice when th does not
// divide the width. The cheapest tile wins; ties go to the one that
// computes fewer columns twice, then to the larger one: AVX2's 1 x 7 for
// 7-wide maps (7 chains of 8, nothing computed twice) rather than 2 x 4
// (8 chains, 8 columns for 7), which cost the same here: conv3's forward
// 75.2% -> 81.7% of the peak, its data gradient 76.0 -> 77.7 (mnist's
// AVX2 trainer, --conv=direct, 5 alternating rounds, 2-core Zen 4,
// 2026-12-06; the same sums, checkpoints identical). AVX-512's tiles in
// models/ are unchanged.
// AVX-512 (measured, 3 alternating runs): 14 columns rather than 7 with
// one vector of channels took conv2's data gradient 1.79 -> 1.69 ms and
// conv1 0.26 -> 0.22 ms. AVX2 then took 2x4 instead of 2x5 for 7-wide
// images; now 1 x 7 (above).
// At most 24 accumulators of AVX-512's 32 registers: with 28 (2 x 14)
// LLVM spilled accumulators to the stack in every step of the reduction
// (resnet's 32-channel data gradients at 53% of the peak, 2.0 ms; 2 x 7:
// 1.07 ms, its step 17.1 -> 13.8 ms; 2026-12-05).
namespace {

int accumulatorRegisters(const CpuModel& cpu) { return cpu.avx512 ? 24 : 12; }

// The cost of a useful multiply-add in a tile of w x h accumulators, h of
// them along `extent`: max(w x h, w + h, chains) / (w x h), times the
// share of `extent` a last, overlapping tile computes twice.
double tileCost(int w, int h, int extent, const CpuModel& cpu) {
  const int tiles = (extent + h - 1) / h;
  return double(std::max({w * h, w + h, cpu.chains})) / (w * h) * (double(tiles) * h / extent);
}

// The positions of `extent` a last, overlapping tile of h computes twice.
int computedTwice(int h, int extent) { return (extent + h - 1) / h * h - extent; }

// The channels a schedule computes: fewer than a vector and not a power
// of two (LeNet-5's 6), one whole vector (the extra ones zero:
// paddedChannels); else the layer's own.
int computedChannels(int channels, int natural) {
  const int padded = paddedChannels(channels);
  return padded <= natural ? padded : channels;
}

}  // namespace

RegisterTile registerTile(int channels, int width, int natural, const CpuModel& cpu) {
  const int cv = vectorFor(channels, natural);
  const int registers = accumulatorRegisters(cpu);
  const int maxTile = cpu.avx512 ? 4 : 2;
  int tw = 1, th = std::min(width, 4);
  double best = 1e9;
  for (int w = 1; w <= maxTile && cv * w <= channels; w *= 2) {
    for (int h = std::min({registers / w, 14, width}); h >= 1; --h) {
      const double cost = tileCost(w, h, width, cpu);
      const int twice = computedTwice(h, width), bestTwice = computedTwice(th, width);
      const bool tie = cost < best + 1e-9;
      if (cost < best - 1e-9 || (tie && (twice < bestTwice || (twice == bestTwice && w * h > tw * th)))) {
        best = cost;
        tw = w;
        th = h;
      }
    }
  }
  return {tw, th};
}

// Summed over (ky, ci) in parallel, then transposed serially, the direct
// weight gradients' last pass was 8% of conv3's (--halide-profile: 0.057 +
// 0.02 ms of 0.94, the sum on 0.67 threads on average); Winograd's (the
// sum of the partials, G^T dU G, the layout) ran all but the sum on one
// thread, conv3's 0.64 -> 0.51 ms per input channel (2026-12-05).
Var byInputChannel(Func weightGradient) {
  std::vector<Var> o = weightGradient.args();  // kx, ky, ci, co
  weightGradient.compute_root().reorder(o[0], o[1], o[3], o[2]).parallel(o[2]);
  return o[2];
}

namespace {

// A convolution with fewer channels than a vector, not a power of two
// (LeNet-5's 6): one vector of `cv` channels, the extra ones computed from
// the re-laid weight's zeros (paddedChannels), x `columns` in registers;
// the result copied out channel by channel. Was two overlapping vectors
// of 4: LeNet-5's c3 data gradient 0.85 -> 0.50-0.57 ms, c1's forward
// 0.225 -> 0.14 ms (train --profile, 2-core AMD EPYC, 2026-12-04).
void fewChannels(LoweredOp& l, int cv, int width, int reduced, int natural, const CpuModel& cpu) {
  std::vector<Var> a = l.out.args();  // c, x, y, n
  const int th = registerTile(cv, width, natural, cpu).columns;
  Var xO("xO"), xI("xI");
  l.out.compute_root().split(a[1], xO, xI, th).reorder(a[0], xI, xO, a[2], a[3]).unroll(a[0]).unroll(xI).parallel(a[3]);
  std::vector<Var> b = l.acc.args();
  l.acc.compute_at(l.out, xO).align_bounds(b[0], cv).vectorize(b[0], cv).unroll(b[1]);
  RDom r = l.r;
  l.acc.update().reorder(b[0], b[1], r.x, r.y, r.z, b[2], b[3]).vectorize(b[0], cv).unroll(b[1]);
  l.weightT.align_bounds(l.weightT.args()[0], cv);
  relaidWeight(l.weightT, cv);
  stagePadded(l.staged, reduced, natural, LoopLevel(l.out, a[3]));
}

// The rows of acrossColumns' tile: `channels` x rows accumulators, each
// step of the reduction rows loads and `channels` broadcasts, priced as
// registerTile prices its tiles (the extra rows a last, overlapping tile
// computes included). LeNet-5's c3 data gradient (6 channels, 14 rows):
// 2 rows 0.23 ms, 3 rows 0.24, 4 rows 0.28; c1 (28 rows) the same with 2
// or 4 (train --profile, 5 alternating rounds, 2026-12-06).
int tileRows(int channels, int height, const CpuModel& cpu) {
  int best = 1;
  double bestCost = 1e9;
  for (int h = 1; h <= std::min(height, accumulatorRegisters(cpu) / channels); ++h) {
    const double cost = tileCost(channels, h, height, cpu);
    if (cost < bestCost - 1e-9 || (cost < bestCost + 1e-9 && h > best)) {
      bestCost = cost;
      best = h;
    }
  }
  return best;
}

// A convolution with fewer channels than a vector (not a power of two:
// LeNet-5's 6), vectorised along the output columns instead: each tile is
// `rows` output rows x every channel, each accumulator a vector of
// columns (14 wide in 16 lanes: 2 computed for nothing), so each step of
// the reduction loads one vector of the input per row and broadcasts one
// weight per channel. The sample's input is staged columns-innermost;
// the tile's results are copied out channels-innermost (by vectors of
// columns: below). In vectors of 8 channels (6 of them real; fewChannels,
// still used for maps narrower than half a vector) LeNet-5's c3 data
// gradient took 0.357 ms, now 0.223, c1's forward 0.114 -> 0.096 (0.072
// with the copy out by vectors); its step 1.33 -> 1.17 ms, evaluation
// 0.38 -> 0.35 ms a batch (train --profile, 5 alternating rounds,
// medians; 2-core Xeon, 2026-12-06). The same sums in the same order:
// checkpoints cmp-identical.
void acrossColumns(LoweredOp& l, int channels, int width, int height, int natural, const CpuModel& cpu) {
  std::vector<Var> a = l.out.args();  // c, x, y, n
  const int rows = tileRows(channels, height, cpu);
  Var xO("xO"), xI("xI"), yO("yO"), yI("yI");
  // Wider than a vector: tiles of a vector's columns (the last one
  // overlapping the one before); narrower: the tile's vector runs past
  // the edge, over columns computed and dropped. The copy out in vectors
  // of columns too, each stored a channel apart (a scatter): copied a
  // value at a time it took as long as c1's 25-tap sums, 0.101 -> 0.072
  // ms (5 alternating rounds, 2026-12-06).
  Var tile = yO;
  l.out.compute_root().split(a[2], yO, yI, rows);
  if (width > natural) {
    l.out.split(a[1], xO, xI, natural).reorder(xI, a[0], yI, xO, yO, a[3]).vectorize(xI);
    tile = xO;
  } else {
    l.out.reorder(a[1], a[0], yI, yO, a[3]).vectorize(a[1], natural, TailStrategy::GuardWithIf);
  }
  l.out.unroll(a[0]).parallel(a[3]);
  std::vector<Var> b = l.acc.args();  // c, x, y, n
  l.acc.compute_at(l.out, tile).reorder_storage(b[1], b[0], b[2], b[3]);
  l.acc.reorder(b[1], b[0], b[2], b[3]).vectorize(b[1], natural).unroll(b[0]).unroll(b[2]);
  l.acc.update().reorder(b[1], b[0], b[2], l.r.x, l.r.y, l.r.z, b[3]).vectorize(b[1], natural).unroll(b[0]).unroll(b[2]);
  l.weightT.compute_root();
  std::vector<Var> s = l.staged.args();  // c, x, y, n
  l.staged.compute_at(l.out, a[3])
      .reorder_storage(s[1], s[2], s[0], s[3])
      .reorder(s[1], s[2], s[0], s[3])
      .vectorize(s[1], natural, TailStrategy::GuardWithIf);
  if (l.staged.num_update_definitions() > 0) {
    std::vector<RVar> r = l.staged.rvars(0);  // the interior's columns, rows
    l.staged.update().reorder(r[0], r[1], s[0], s[3]).vectorize(r[0], natural, TailStrategy::GuardWithIf);
    if (l.staged.num_update_definitions() > 1) l.staged.update(1).unscheduled();  // stagePadded
  }
}

// A convolution's register tile, computed at `at`'s loop `tile`: the
// accumulators (vectors of channels x columns: acc's first two dimensions)
// over the whole reduction (kernel columns, rows, channels) innermost; the
// re-laid weight once per call; the zero-padded input (`reduced` channels)
// once per sample, at `at`'s loop `sample`.
void tileAccumulators(LoweredOp& l, int cv, int reduced, int natural, Func at, Var tile, Func sampleLoop, Var sample) {
  std::vector<Var> b = l.acc.args();
  l.acc.compute_at(at, tile).vectorize(b[0], cv).unroll(b[0]).unroll(b[1]);
  std::vector<VarOrRVar> order = {b[0], b[1], l.r.x, l.r.y, l.r.z};
  order.insert(order.end(), b.begin() + 2, b.end());
  // The kernel's columns unrolled too: column x's input at tap kx is
  // column x + 1's at kx - 1, so a row of taps broadcasts th + KW - 1
  // inputs, not th x KW (conv2's 2 x 7 tile: 21 loads for 70
  // multiply-adds, was 45); the same additions in the same order.
  // conv2/conv3 forward within 1%, the data gradients 1-3% faster, conv1
  // 4% (two-unit Xeon, 4 alternating rounds, 2026-12-05).
  l.acc.update().reorder(order).vectorize(b[0], cv).unroll(b[0]).unroll(b[1]).unroll(l.r.x);
  relaidWeight(l.weightT, cv);
  // A zero-padded copy of each sample's input, so the inner loop reads
  // memory instead of testing borders.
  stagePadded(l.staged, reduced, natural, LoopLevel(sampleLoop, sample));
}

// A weight gradient's register tile over `width` output positions of a
// row, unrolled (in runs of the largest divisor of the width up to 14):
// position x's input at kernel column kx is position x + 1's at kx - 1,
// so the tile broadcasts each input once per run, not once per column
// (conv2's 16 channels x 5 columns: 7 loads for 10 multiply-adds, 3.3
// for 10 over 14 positions). The same additions in the same order:
// conv2's 1.05 -> 0.94 ms, conv3's 1.13 -> 1.09 (two-unit Xeon, 4
// alternating rounds, 2026-12-05). Not with the kernel's rows in the tile
// (conv1's 25 accumulators): 0.21 -> 0.33 ms, the shared inputs did not
// fit beside them in the registers.
void unrollPositions(Stage sums, RVar x, int width) {
  int run = std::min(width, 14);
  while (width % run != 0) --run;
  if (run < 4) return;
  if (run == width) {
    sums.unroll(x);
    return;
  }
  RVar xO("xO"), xI("xI");
  sums.split(x, xO, xI, run).unroll(xI);
}

}  // namespace

// A convolution written as acc(c, x, y, n) += w(c, ...) * in(...), summing
// over `reduced` channels: tiles of (vectors of channels) x (output
// columns) kept in registers, reduction innermost, parallel over the batch
// (apps/conv_layer's CPU schedule).
void tiledConvolution(LoweredOp& l, int channels, int width, int height, int reduced, int natural,
                      const CpuModel& cpu) {
  std::vector<Var> a = l.out.args();  // c, x, y, n
  Var c = a[0], x = a[1], y = a[2], n = a[3];
  if (const int computed = computedChannels(channels, natural); computed > channels) {
    if (width * 2 >= natural)
      acrossColumns(l, channels, width, height, natural, cpu);
    else
      fewChannels(l, computed, width, reduced, natural, cpu);
    return;
  }
  const int cv = vectorFor(channels, natural);
  const RegisterTile tile = registerTile(channels, width, natural, cpu);
  const int tw = tile.vectors, th = tile.columns;
  Var cO("cO"), cI("cI"), xO("xO"), xI("xI");
  l.out.compute_root()
      .split(c, cO, cI, cv * tw)
      .split(x, xO, xI, th)
      .reorder(cI, xI, xO, y, cO, n)
      .vectorize(cI, cv)
      .unroll(cI)
      .unroll(xI)
      .parallel(n);
  tileAccumulators(l, cv, reduced, natural, l.out, xO, l.out, n);
}

// A direct convolution computed inside the max pool that reads it
// (windows that do not overlap: ScheduleCpu.cpp, convolutionIntoPool), in
// tiles of the pool's windows: `columns` windows of a row x every vector
// of channels, each of the windows' positions a vector of accumulators
// held in registers from the first multiply-add to the pool's maximum and
// its index, so nothing is stored between them. Each multiply-add reads
// its input as an embedded broadcast (AVX-512's {1to16}), so the tile may
// take 28 of the 32 registers, beside the weight's vectors; the kernel's
// columns stay a loop (unrolled, LLVM kept the inputs they share in
// registers and spilled the accumulators). mnist's conv1 (2 x 2 windows,
// 7 a tile: 28 accumulators): 76% -> 84% of the peak, where its rows of
// 14 columns were stored for the pool to read back (train --profile,
// --conv=direct, 7 alternating rounds, medians; 2-core Zen 4,
// 2026-12-06). The same sums in the same order: checkpoints identical.
// The cheapest count of windows as registerTile prices its tiles (the
// windows a last, overlapping tile computes twice included); 0 where the
// tile does not apply: AVX2 (no embedded broadcasts; 16 registers),
// channels not in whole vectors, or fewer than 16 accumulators (not
// measured: left to the row tiles, which share their inputs' loads).
int poolTileColumns(int channels, int pooledWidth, const ops::Window& w, int natural, const CpuModel& cpu) {
  if (!cpu.avx512 || channels % natural != 0) return 0;
  const int vectors = channels / natural;
  int best = 0;
  double bestCost = 1e9;
  for (int cols = 1; cols <= pooledWidth; ++cols) {
    const int accumulators = vectors * ((cols - 1) * w.SX + w.KW) * w.KH;
    if (accumulators > 28) break;
    if (accumulators < 16) continue;
    const int tiles = (pooledWidth + cols - 1) / cols;
    const double cost = double(std::max(accumulators, cpu.chains)) / accumulators * (double(tiles) * cols / pooledWidth);
    if (cost < bestCost + 1e-9) {
      bestCost = cost;
      best = cols;
    }
  }
  return best;
}

void poolTiles(LoweredOp& conv, Func pool, Func index, int columns, int reduced, int natural, const LoopLevel& sample) {
  std::vector<Var> p = pool.args();  // c, x, y, n (c vectorised: rowMajor)
  Var xO("xO"), xI("xI");
  pool.split(p[1], xO, xI, columns).unroll(xI).unroll(p[0]);
  if (index.defined()) {
    std::vector<Var> i = index.args();
    index.split(i[1], xO, xI, columns).unroll(xI).unroll(i[0]).compute_with(pool, xO);
  }
  std::vector<Var> o = conv.out.args();  // c, x, y, n
  conv.out.compute_at(pool, xO).vectorize(o[0], natural).unroll(o[0]).unroll(o[1]).unroll(o[2]);
  std::vector<Var> b = conv.acc.args();
  conv.acc.compute_at(pool, xO).vectorize(b[0], natural).unroll(b[0]).unroll(b[1]).unroll(b[2]);
  conv.acc.update()
      .reorder(b[0], b[1], b[2], conv.r.x, conv.r.y, conv.r.z, b[3])
      .vectorize(b[0], natural)
      .unroll(b[0])
      .unroll(b[1])
      .unroll(b[2]);
  relaidWeight(conv.weightT, natural);
  stagePadded(conv.staged, reduced, natural, sample);
}

// A strided data gradient by phase (Conv2d.cpp: lowerDataByPhase): per
// sample, each phase's tiles as tiledConvolution's over the phase's
// columns (within a tile the taps, so the weight vectors, are the same for
// every column), then the phases interleaved into the result.
void phasedConvolution(LoweredOp& l, int channels, int width, int strideX, int reduced, int natural,
                       const CpuModel& cpu) {
  std::vector<Var> a = l.out.args();  // c, x, y, n
  const int cv = vectorFor(channels, natural);
  l.out.compute_root().vectorize(a[0], cv).parallel(a[3]);
  const RegisterTile tile = registerTile(channels, (width + strideX - 1) / strideX, natural, cpu);
  std::vector<Var> p = l.phases.args();  // ci, xo, px, yo, py, n
  Var cO("cO"), cI("cI"), xO("xO"), xI("xI");
  l.phases.compute_at(l.out, a[3])
      .split(p[0], cO, cI, cv * tile.vectors)
      .split(p[1], xO, xI, tile.columns)
      .reorder(cI, xI, xO, p[3], p[2], p[4], cO, p[5])
      .vectorize(cI, cv)
      .unroll(cI)
      .unroll(xI);
  tileAccumulators(l, cv, reduced, natural, l.phases, xO, l.out, a[3]);
}

namespace {

// A weight gradient with fewer output channels than a vector and input
// channels in whole vectors (inception's 16 -> 8): its tiles are vectors
// of input channels x 4 output channels x the kernel's columns, each
// position 4 broadcasts of dy and KW vectors of the input for 4 x KW
// multiply-adds. Vectors of the 8 output channels ran at half width:
// inception's b5 (5x5) 0.46-0.50 -> 0.29-0.30 ms (39% -> 64-67% of the
// peak), b1 (1x1) 0.12 -> 0.048 ms, its step 2.60 -> 2.41 ms (two-unit
// Xeon, 3 alternating rounds, 2026-12-06). The chunk's sums are stored
// input channels innermost; the sum of the chunks gathers them.
void acrossInputChannels(Func partAcc, const RDom& r, int outChannels, int natural) {
  std::vector<Var> q = partAcc.args();  // co, kx, ky, ci, n
  partAcc.compute_root().reorder_storage(q[3], q[0], q[1], q[2], q[4]).vectorize(q[3], natural).parallel(q[4]);
  Var ciO("ciO"), ciI("ciI"), coO("coO"), coI("coI");
  partAcc.update()
      .split(q[3], ciO, ciI, natural)
      .split(q[0], coO, coI, std::min(outChannels, 4), TailStrategy::GuardWithIf)
      .reorder(ciI, coI, q[1], r.x, r.y, coO, q[2], ciO, r.z, q[4])
      .vectorize(ciI)
      .unroll(coI)
      .unroll(q[1])
      .parallel(q[4]);
}

// dy routed to its window's argmax by a max pool whose windows do not
// overlap, computed inside the weight gradient (fuse inlined the pool's
// gradient: conv1's): the pool's window.
std::optional<ops::Window> routedByPool(const Lowered& L, const Op& op) {
  if (L.written(op.operands[0])) return std::nullopt;
  const LoweredOp* p = L.producer(op.operands[0]);
  if (!p || p->op->kind != OpKind::MaxPoolBwd) return std::nullopt;
  const ops::Window w = ops::windowOf(p->op->attrs);
  if (w.SX != w.KW || w.SY != w.KH || w.PX != 0 || w.PY != 0) return std::nullopt;
  return w;
}

}  // namespace

// Per chunk of samples (parallel over the chunks), tiles of (vectors of
// output channels) x (the kernel's columns) x (its rows, where they fit in
// the registers) accumulate over the output positions of each sample in
// turn, reading zero-padded copies of the chunk's inputs. Then the sum of
// the chunks. Neither order depends on the number of threads or the tile.
// The rows in the tile: conv1's 16 channels x 5 columns were 5
// accumulators, each position 1 + 5 loads for 5 multiply-adds and fewer
// chains than a two-unit core keeps busy (cpu.chains: 8); x 5 rows they
// are 25, and 26 loads for 25.
void weightGradient(const Lowered& L, LoweredOp& l, const Graph& g, int natural, const CpuModel& cpu) {
  const Op& op = *l.op;
  const int CO = channelsOf(g, op.operands[0]), inChannels = channelsOf(g, op.operands[1]);
  // Fewer channels than a vector, not a power of two (LeNet-5's 6): the
  // sums of the padding channels too (dy is zero there: Conv2d.cpp), in
  // one whole vector.
  const int C = computedChannels(CO, natural);
  const int v = vectorFor(C, natural);
  const int maxTile = cpu.avx512 ? 4 : 2;
  int tw = 1;
  while (tw * 2 <= maxTile && v * tw * 2 <= C) tw *= 2;
  const ops::Window k = ops::windowOf(op.attrs);
  const bool rows = tw * k.KW * k.KH + 3 <= (cpu.avx512 ? 28 : 12);  // + dy's vector and two broadcasts
  Func part = l.partial, partAcc = l.partialAcc, input = l.staged;
  std::vector<Var> q = partAcc.args();  // co, kx, ky, ci, n
  RDom r = l.r;
  Func dy = l.stagedDy;
  const bool across = CO < natural && inChannels % natural == 0;
  const bool tiled = !across && C % (v * tw) == 0;
  const std::optional<ops::Window> pool = tiled && rows ? routedByPool(L, op) : std::nullopt;  // read in place (below)
  // Where the tiles add one sample at a time: one sample's padded input
  // at a time, written to L1 just before the tiles read it (a chunk's at
  // a time it was written to L2 and read back: conv2's weight gradient
  // 0.85 -> 0.80 ms, conv3's 0.90 -> 0.87, medians of 6 alternating
  // rounds, 2026-12-05); dy a sample's copy when it is computed on the
  // fly (an inlined activation gradient: once per element, not per tap),
  // read in place when a kernel wrote it.
  const bool dyStaged = !L.written(op.operands[0]) && !pool;
  // A row of dy at a time where the input has fewer channels than a
  // vector (a first layer): each element of dy then meets few
  // multiply-adds (conv1's 25 per channel), so the sample's staged dy
  // (50 KB: past L1, read back once per kernel row) was as costly as a
  // third of the sums. Its rows now stay in L1; the tiles' sums go to
  // memory and back once per row of positions (their order is the same:
  // checkpoints identical). mnist's AVX2 trainer, whose conv1 tiles hold
  // no kernel rows: its weight gradient 63.9% -> 70.4% of the peak
  // (--conv=direct, 7 alternating rounds, 2-core Zen 4, 2026-12-06);
  // the first layers of resnet, mnist_best, vgg and cifar10 (AVX2, 3-5
  // rounds): 25 -> 32%, 25 -> 38%, 23 -> 27%, 32 -> 35%. With more input
  // channels the tiles' trips to memory cost more than they saved
  // (AVX-512: vgg's block2 87 -> 82%, resnet's down.3 84 -> 82%).
  const bool dyByRow = dyStaged && tiled && !rows && inChannels < natural;
  auto stagePerSample = [&] {
    const LoopLevel sample(partAcc, r.z);  // in the sums, its last stage
    stagePadded(input, inChannels, natural, sample);
    if (dyStaged) dy.compute_at(dyByRow ? LoopLevel(partAcc, r.y) : sample).vectorize(dy.args()[0], v);
  };
  if (across) {
    acrossInputChannels(partAcc, r, CO, natural);
    stagePerSample();
  } else if (tiled) {
    // The chunk's sums in memory, a sample at a time outermost: each
    // register tile adds one sample's positions, so that the sample's dy
    // and input stay in L1 while every tile reads them. With the samples
    // innermost each tile read the whole chunk's dy from L2 (conv3's 100
    // KB for each of its 160 tiles): on a two-unit Xeon the weight
    // gradients ran at 60-63% of the peak; conv2's 1.13 -> 0.90 ms,
    // conv3's 1.08 -> 1.01 (train --profile, --conv=direct, 5 alternating
    // rounds, 2026-12-05). The same additions in the same order for each
    // weight, so the same results (checkpoints cmp-identical). Channels
    // that leave a partial vector (LeNet-5's 6) are padded to a whole one
    // (C): guarded instead, c1's weight gradient took 0.24 -> 0.36 ms; in
    // vectors of 4 (the third form) 0.218 ms, padded to 8 0.127 (its step
    // 1.15 -> 1.07 ms; 5 alternating rounds, 2026-12-06).
    // The sums are the per-chunk partials themselves (part inlined into
    // the sum of the chunks): copied out of a per-task scratch they were
    // 6% of conv3's weight gradient (perf annotate, 2026-12-05).
    partAcc.compute_root().vectorize(q[0], v).parallel(q[4]);
    Stage sums = partAcc.update();
    Var qO("qO"), qI("qI");
    sums.split(q[0], qO, qI, v * tw).vectorize(qI, v).unroll(qI).unroll(q[1]);
    if (pool) {
      // dy routed by a max pool, read where the pool's gradient is: the
      // positions by window offset, outermost, then by window, so that
      // within a run the offset the argmax is compared with is one value,
      // each window's dy is read once (not staged at full size first) and
      // the tile's multiply-adds take it masked. conv1 (2 x 2 windows):
      // 0.254 -> 0.211 ms, 70% -> 82% of the peak (2-core AMD Zen 4,
      // --conv=direct, 5 alternating rounds, medians; 2026-12-06); staged
      // by position, the 28 x 28 dy (50 KB a sample) cost 12% of the
      // kernel. Each weight sums in another order than before (offsets,
      // then windows). AVX2's tiles hold no rows: staged there.
      RVar wx("wx"), ox("ox"), wy("wy"), oy("oy");
      sums.split(r.x, wx, ox, pool->SX)
          .split(r.y, wy, oy, pool->SY)
          .reorder(qI, q[1], q[2], wx, wy, ox, oy, qO, q[3], r.z, q[4])
          .unroll(q[2]);
    } else if (rows) {
      sums.reorder(qI, q[1], q[2], r.x, r.y, qO, q[3], r.z, q[4]).unroll(q[2]);
    } else {
      if (dyByRow)
        sums.reorder(qI, q[1], r.x, q[2], qO, q[3], r.y, r.z, q[4]);
      else
        sums.reorder(qI, q[1], r.x, r.y, qO, q[2], q[3], r.z, q[4]);
      unrollPositions(sums, r.x, static_cast<int>(g.tensors[op.operands[0]].shape[3]));
    }
    sums.parallel(q[4]);
    stagePerSample();
  } else {
    std::vector<Var> p = part.args();  // co, kx, ky, ci, n
    Var coO("coO"), coI("coI");
    part.compute_root().split(p[0], coO, coI, v * tw).vectorize(coI, v).unroll(coI).unroll(p[1]).parallel(p[4]);
    if (rows)
      part.reorder(coI, p[1], p[2], coO, p[3], p[4]).unroll(p[2]);
    else
      part.reorder(coI, p[1], coO, p[2], p[3], p[4]);
    partAcc.compute_at(part, coO).vectorize(q[0], v).unroll(q[0]).unroll(q[1]);
    Stage sums = partAcc.update();
    sums.vectorize(q[0], v).unroll(q[0]).unroll(q[1]);
    if (rows) {
      partAcc.unroll(q[2]);
      sums.reorder(q[0], q[1], q[2], r.x, r.y, r.z, q[3], q[4]).unroll(q[2]);
    } else {
      sums.reorder(q[0], q[1], r.x, r.y, r.z, q[2], q[3], q[4]);
    }
    stagePadded(input, inChannels, natural, LoopLevel(part, p[4]));
    if (!L.written(op.operands[0])) dy.compute_at(part, p[4]).vectorize(dy.args()[0], v);
  }
  // The sum of the chunks and the weight's layout (kx innermost) in one
  // pass: each task sums its channel's 5 x 5 x CO weights in registers
  // and writes them transposed.
  const Var ci = byInputChannel(l.out);
  std::vector<Var> b = l.acc.args();  // co, kx, ky, ci
  // Guarded: rounding the channels up would ask the kernels before it
  // for channels that do not exist (their results are arena views
  // of the exact size, cnnc --emit=plan).
  l.acc.compute_at(l.out, ci).vectorize(b[0], v, TailStrategy::GuardWithIf);
  l.acc.update()
      .reorder(b[0], l.acc.rvars(0)[0], b[1], b[2], b[3])
      .vectorize(b[0], v, TailStrategy::GuardWithIf);
}
}  // namespace cnnc
