// CPU schedules of the Winograd passes (ops/Winograd.cpp): per sample (the
// weight gradient: per run of chunks of samples), parallel; the
// transforms vectorised across channels with every position unrolled (so
// each is a constant combination of a tile's vectors); the GEMM at each
// position in register tiles, as the direct convolutions are.
#include <algorithm>

#include "lower/ScheduleParts.h"

namespace cnnc {

using namespace Halide;

namespace {

// rows (c, xi, q, t, n) -> out (c, xi, nu, t, n), per tile and vector of
// channels, computed at the loop `at`. Only the dimension a stage's
// rows are chosen by is unrolled (rows: xi, out: nu): unrolling both
// made the code of every transform 8 times larger and the training
// pipeline take 38 s to compile (mnist, 6 Winograd passes).
void transform(Func rows, Func out, int channels, int natural, const LoopLevel& at) {
  const int v = vectorFor(channels, natural);
  std::vector<Var> a = out.args();  // c, xi, nu, t, n
  Var cO("cO"), cI("cI");
  out.compute_at(at).split(a[0], cO, cI, v).reorder(cI, a[2], a[1], cO, a[3], a[4]).vectorize(cI).unroll(a[2]);
  std::vector<Var> b = rows.args();  // c, xi, q, t, n
  rows.compute_at(out, cO).reorder(b[0], b[1], b[2]).vectorize(b[0], v).unroll(b[1]);
}

// A GEMM operand stored position by position: at each (xi, nu), the
// channels of every tile and sample in one run, which the GEMM reads in
// order (stored tile by tile, each step of its reduction was a new
// cache line 8 KB from the last).
void byPosition(Func f) {
  std::vector<Var> a = f.args();  // c, xi, nu, t, n
  f.reorder_storage(a[0], a[3], a[4], a[1], a[2]);
}

// product (c, xi, nu, t, n) = sum over r of weight (c, r, xi, nu) x (r, xi,
// nu, t, n): at each position, register tiles of vectors of c x tiles.
void gemm(Func acc, Func product, int channels, int tiles, int natural, const CpuModel& cpu, Func at, Var level) {
  const int cv = vectorFor(channels, natural);
  const RegisterTile tile = registerTile(channels, tiles, natural, cpu);
  std::vector<Var> a = product.args();  // c, xi, nu, t, n
  Var cO("cO"), cI("cI"), tO("tO"), tI("tI");
  product.compute_at(at, level)
      .split(a[0], cO, cI, cv * tile.vectors)
      .split(a[3], tO, tI, tile.columns)
      .reorder(cI, tI, tO, cO, a[1], a[2], a[4])
      .vectorize(cI, cv)
      .unroll(cI)
      .unroll(tI);
  std::vector<Var> b = acc.args();
  acc.compute_at(product, tO).vectorize(b[0], cv).unroll(b[0]).unroll(b[3]);
  RVar r = acc.rvars(0)[0];
  acc.update().reorder(b[0], b[3], r, b[1], b[2], b[4]).vectorize(b[0], cv).unroll(b[0]).unroll(b[3]);
}

// weight (c, r, xi, nu) from rows (c, xi, k, r) from the re-laid weight
// (c, kx, ky, r): once per call, all three per r in one parallel loop
// (were three loops, each staged in memory: the rows 320 KB and the
// re-laid weight 200 KB for mnist's conv3). Training steps 2-3% faster
// (mnist 3.99 -> 3.90 ms, vgg 21.1 -> 20.3, resnet 12.2 -> 12.0; medians
// of 4-5 alternating rounds, 2026-12-05); evaluation within 1%.
void weightTransform(Func rows, Func weight, Func relaid, int channels, int natural) {
  const int v = vectorFor(channels, natural);
  std::vector<Var> a = weight.args();
  weight.compute_root().reorder(a[0], a[3], a[2], a[1]).vectorize(a[0], v).unroll(a[3]).parallel(a[1]);
  std::vector<Var> b = rows.args();
  rows.compute_at(weight, a[1]).vectorize(b[0], v).unroll(b[1]);
  if (relaid.defined()) relaid.compute_at(weight, a[1]).vectorize(relaid.args()[0], v);
}

}  // namespace

// Tiles per block of the GEMM and the output transform: a register
// tile's columns, so that a block's product (channels x alpha^2 floats a
// tile: 32 KB for mnist's conv2) is read back from L1 by the output
// transform; a whole sample's (128 KB for conv2) went to L2 and back.
// conv2 forward 0.60 -> 0.55 ms, its data gradient 0.64 -> 0.60 (blocks
// of 8: 0.64; 2-core AMD EPYC, 2026-12-05; vgg's within the noise).
constexpr int kBlockTiles = 4;

// The forward: per sample, blocks of up to kBlockTiles tiles (a row of
// tiles, or rows of few: mnist's conv3 is 2 x 2), each block's input transform and
// GEMM, then each output tile per vector of channels: A^T along x into
// rows, and the 4 x 4 outputs (unrolled) from them plus the bias. The
// tiles of outputs were a stage of their own, copied into the output
// with an index division per vector.
void winogradForward(LoweredOp& l, int channels, int reduced, int natural, const CpuModel& cpu) {
  WinogradStages& s = l.winograd;
  std::vector<Var> a = l.out.args();  // c, x, y, n
  const Var n = a[3];
  const int v = vectorFor(channels, natural);
  const int cols = std::min(s.tilesX, kBlockTiles);
  const int rows = std::max(1, std::min(s.tiles / s.tilesX, kBlockTiles / s.tilesX));
  Var tx("tx"), xi("xi"), ty("ty"), yi("yi"), txO("txO"), txI("txI"), tyO("tyO"), tyI("tyI"), cO("cO"), cI("cI");
  // GuardWithIf: x = m tx + xi exactly, so x % m is the unrolled xi.
  l.out.compute_root()
      .split(a[1], tx, xi, s.m, TailStrategy::GuardWithIf)
      .split(a[2], ty, yi, s.m, TailStrategy::GuardWithIf)
      .split(tx, txO, txI, cols, TailStrategy::GuardWithIf)
      .split(ty, tyO, tyI, rows, TailStrategy::GuardWithIf)
      .split(a[0], cO, cI, v)
      .reorder(cI, xi, yi, cO, txI, tyI, txO, tyO, n)
      .vectorize(cI)
      .unroll(xi)
      .unroll(yi)
      .parallel(n);
  stagePadded(l.staged, reduced, natural, LoopLevel(l.out, n));
  std::vector<Var> b = s.backRows.args();  // c, xi, q, t, n
  s.backRows.compute_at(l.out, cO).reorder(b[0], b[1], b[2]).vectorize(b[0], v).unroll(b[1]);
  transform(s.xRows, s.x, reduced, natural, LoopLevel(l.out, txO));
  byPosition(s.x);
  gemm(s.productAcc, s.product, channels, cols * rows, natural, cpu, l.out, txO);
}

void winogradConvolution(LoweredOp& l, int channels, int reduced, int natural, const CpuModel& cpu) {
  WinogradStages& s = l.winograd;
  weightTransform(s.weightRows, s.weight, l.weightT, channels, natural);
  if (s.x.defined()) {
    winogradForward(l, channels, reduced, natural, cpu);
    return;
  }
  // The data gradient: per sample, blocks of tiles: each block's dy
  // transform, GEMM and B dV B^T in turn; then each input pixel sums
  // the windows that hold it.
  std::vector<Var> a = l.out.args();  // c, x, y, n
  const Var n = a[3];
  l.out.compute_root().vectorize(a[0], vectorFor(channels, natural)).parallel(n);
  stagePadded(l.staged, reduced, natural, LoopLevel(l.out, n));  // the zero-padded dy
  const int block = std::min(s.tiles, kBlockTiles);
  transform(s.backRows, s.back, channels, natural, LoopLevel(l.out, n));
  Var tB("tB"), tI("tI");
  s.back.split(s.back.args()[3], tB, tI, block);
  transform(s.dyRows, s.dy, reduced, natural, LoopLevel(s.back, tB));
  byPosition(s.dy);
  gemm(s.productAcc, s.product, channels, block, natural, cpu, s.back, tB);
}

// Per partial (parallel over them), its chunks of samples in order: both
// transforms of the chunk, then at each position register tiles of
// (vectors of output channels) x (input channels) summed over the chunk's
// tiles and added to the partial. Then the partials in order, then
// G^T dU G.
void winogradWeightGradient(const Lowered&, LoweredOp& l, int outChannels, int inChannels, int natural, const CpuModel& cpu) {
  WinogradStages& s = l.winograd;
  const int v = vectorFor(outChannels, natural);
  const RegisterTile tile = registerTile(outChannels, inChannels, natural, cpu);
  std::vector<Var> p = s.partial.args();  // co, ci, xi, nu, partial
  const RVar chunk = s.partial.rvars(0)[0];
  Var coO("coO"), coI("coI"), ciO("ciO"), ciI("ciI");
  s.partial.compute_root().vectorize(p[0], v).parallel(p[4]);
  s.partial.update()
      .split(p[0], coO, coI, v * tile.vectors)
      .split(p[1], ciO, ciI, tile.columns)
      .reorder(coI, ciI, ciO, coO, p[2], p[3], chunk, p[4])
      .vectorize(coI, v)
      .unroll(coI)
      .unroll(ciI)
      .parallel(p[4]);
  std::vector<Var> q = s.partialAcc.args();
  std::vector<RVar> r = s.partialAcc.rvars(0);  // tiles, samples
  s.partialAcc.compute_at(s.partial, ciO).vectorize(q[0], v).unroll(q[0]).unroll(q[1]);
  s.partialAcc.update()
      .reorder(q[0], q[1], r[0], r[1], q[2], q[3], q[4])
      .vectorize(q[0], v)
      .unroll(q[0])
      .unroll(q[1]);
  const LoopLevel perChunk(s.partial, chunk);
  stagePadded(l.staged, inChannels, natural, perChunk);
  stagePadded(l.stagedDy, outChannels, natural, perChunk);
  transform(s.dyRows, s.dy, outChannels, natural, perChunk);
  transform(s.xRows, s.x, inChannels, natural, perChunk);
  byPosition(s.dy);
  byPosition(s.x);
  // Then, per input channel (parallel), the sum of the partials, G^T dU
  // G and the weight's layout (kx innermost): conv3's weight gradient
  // 0.64 -> 0.51 ms, conv2's 0.81 -> 0.73, mnist's step 4.28 -> 3.92 ms
  // (medians of 7 alternating rounds; vgg's step 19.8 -> 19.5 ms, resnet's
  // 12.2 -> 12.0; 2026-12-05), the same additions in the same order.
  const Var ci = byInputChannel(l.out);
  std::vector<Var> b = s.productAcc.args();  // co, ci, xi, nu
  s.productAcc.compute_at(l.out, ci).vectorize(b[0], v);
  s.productAcc.update().reorder(b[0], s.productAcc.rvars(0)[0], b[2], b[3], b[1]).vectorize(b[0], v);
  std::vector<Var> k = s.backRows.args();  // co, ci, kx, nu
  s.backRows.compute_at(l.out, ci).reorder(k[0], k[2], k[3], k[1]).vectorize(k[0], v).unroll(k[2]);
  std::vector<Var> d = s.back.args();  // co, ci, kx, ky
  s.back.compute_at(l.out, ci).reorder(d[0], d[2], d[3], d[1]).vectorize(d[0], v).unroll(d[3]);
}

}  // namespace cnnc
