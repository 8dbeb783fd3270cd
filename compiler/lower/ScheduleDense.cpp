// CPU schedules of the linear layers and their gradients as GEMMs:
// register tiles (registerTile, ScheduleDirect.cpp) over the whole
// reduction, handed out to the threads in tasks of several tiles; a
// classifier with few outputs as vectors of partial sums per output.
#include <algorithm>

#include "lower/ScheduleParts.h"

namespace cnnc {

using namespace Halide;

namespace {

int ceilDiv(int a, int b) { return (a + b - 1) / b; }

// Register tiles per parallel task: each task is a claim and a call (it
// was claimed under Halide's pool's lock when this was measured), so a
// task of few multiply-adds costs more to hand out than to compute
// (mnist's dx of the classifier, 10 per output: 784 tasks of 160 vector
// multiply-adds). The fewest tiles that make kTaskFmas, keeping at least
// kFewestTasks tasks.
int tilesPerTask(int tiles, int fmasPerTile) {
  constexpr int kTaskFmas = 4096, kFewestTasks = 16;
  int best = 1;
  for (int d = 1; d <= tiles; ++d) {
    if (tiles % d != 0) continue;
    if (tiles / d < kFewestTasks) break;
    best = d;
    if (d * fmasPerTile >= kTaskFmas) break;
  }
  return best;
}

// A matrix product acc(v, c) += A(v, r) B(r, c) whose dimension `vecDim`
// of out (0 or 1) is contiguous in A: register tiles of (vectors along
// that dimension) x (columns along the other), as the convolutions'
// (registerTile), each accumulating over the whole reduction, the tiles
// parallel. Each sum runs over r in order, so no result depends on the
// threads or the tile.
//
// The tiles go in runs along the columns (`alongColumns`) or along the
// vectors; the callers pick the larger operand, so that the threads share
// that operand out between them and a run reads one block of it tile
// after tile. Along the columns (a gradient: A is the
// weight or the layer's input, its rows F floats apart) each run is a
// task and copies its block of A, `vectorOperand`, into a contiguous
// buffer first: read in place, a row every F floats, vgg's 32 x 256
// block of its 1152 x 256 weight fell on a quarter of L1's sets (4608 =
// 9 x 512 bytes) and was read from L2 by every tile of the run. vgg's fc
// data gradient 0.177 -> 0.149 ms a call, weight gradient 0.180 -> 0.144,
// LeNet-5's f6 0.012 -> 0.0097 and 0.0123 -> 0.0087, mixed's head 0.088
// -> 0.085 and 0.085 -> 0.077, the MLP's weight gradient 0.105 -> 0.099
// (train --profile, 3-5 alternating rounds, medians; 2-core Xeon,
// 2026-12-06). With two runs or more: LeNet-5's f6 (120 features, 2
// runs, so 2 tasks) gained as much as the others; on a machine of many
// cores so few tasks would leave cores idle, but such a GEMM is a few
// microseconds. Otherwise (and along the vectors) tasks of tilesPerTask
// tiles.
void registerGemm(LoweredOp& l, int vecDim, int vecExtent, int colExtent, int natural, const CpuModel& cpu,
                  bool alongColumns, Func vectorOperand = Func()) {
  constexpr int kFewestRuns = 2;
  const int cv = vectorFor(vecExtent, natural);
  const RegisterTile tile = registerTile(vecExtent, colExtent, natural, cpu);
  const int runs = ceilDiv(vecExtent, cv * tile.vectors);
  const int tiles = runs * ceilDiv(colExtent, tile.columns);
  const int64_t* reduced = as_const_int(l.r.x.extent());  // known for every shape cnnc checks
  const int perTask = reduced ? tilesPerTask(tiles, static_cast<int>(*reduced) * tile.vectors * tile.columns) : 1;
  std::vector<Var> a = l.out.args();
  Var v = a[vecDim], c = a[1 - vecDim], vO("vO"), vI("vI"), cO("cO"), cI("cI"), t("t"), task("task");
  const bool packed = alongColumns && vectorOperand.defined() && runs >= kFewestRuns;
  l.out.compute_root()
      .split(v, vO, vI, cv * tile.vectors)
      .split(c, cO, cI, tile.columns)
      .reorder(vI, cI, alongColumns ? cO : vO, alongColumns ? vO : cO)
      .vectorize(vI, cv)
      .unroll(vI)
      .unroll(cI);
  Var at = t;  // the loop of the tiles
  if (packed) {
    l.out.parallel(vO);
    at = cO;
    Func block = vectorOperand.in(l.acc);
    block.compute_at(l.out, vO).vectorize(block.args()[0], cv);
  } else {
    l.out.fuse(alongColumns ? cO : vO, alongColumns ? vO : cO, t)
        .split(t, task, t, perTask, TailStrategy::GuardWithIf)
        .parallel(task);
  }
  std::vector<Var> b = l.acc.args();
  Var bv = b[vecDim], bc = b[1 - vecDim];
  l.acc.compute_at(l.out, at).reorder_storage(bv, bc).reorder(bv, bc).vectorize(bv, cv).unroll(bv).unroll(bc);
  l.acc.update().reorder(bv, bc, l.r.x).vectorize(bv, cv).unroll(bv).unroll(bc);
}

// The input of a linear layer (f, n) re-laid samples-innermost for
// `consumer`, in blocks of 4 x 4: four vector loads of 4 features, held in
// registers (the block), and four vectors of 4 samples shuffled out of
// them. Loaded and stored as blocks of 16 x 16 (both vectorised), LLVM
// took each block apart into 256 scalar moves: vgg's 1152 x 64 took 46
// us on one core, in 4 x 4 blocks 9 us (8 x 8: 12 us; gathers: 19 us).
// Parallel over runs of features, each a vector's worth.
Func transposed(Func input, Func consumer, int F, int natural) {
  Func in = input.in(consumer);
  std::vector<Var> i = in.args();  // f, n
  const int b = std::min(F, 4);
  Var fP("fP"), f("f"), fO("fO"), fI("fI"), nO("nO"), nI("nI");
  in.compute_root()
      .reorder_storage(i[1], i[0])
      .split(i[0], fP, f, std::max(b, vectorFor(F, natural)))
      .tile(i[1], f, nO, fO, nI, fI, 4, b)
      .reorder(nI, fI, nO, fO, fP)
      .vectorize(nI)
      .unroll(fI)
      .parallel(fP);
  Func block = input.in(in);
  std::vector<Var> k = block.args();  // f, n
  block.compute_at(in, nO).store_in(MemoryType::Register).vectorize(k[0]).unroll(k[1]);
  return in;
}

}  // namespace

// linear: out (o, n) = bias (o) + sum over r of in (r, n) w (r, o).
// With 16 or more outputs, a GEMM over vectors of samples: the input is
// re-laid samples-innermost once per call (F x N copies for F x N x O
// multiply-adds), each weight broadcast. (Vectors of outputs would need
// the weight re-laid: O x F copies every step.) Was the classifier's
// schedule below for every layer: the MLP's 784 -> 256 at 1.3% of the
// peak, 5.9 ms per call (issue 17).
// Fewer outputs (a classifier, 3136 -> 10): per sample (parallel over the
// batch), a vector of partial sums per output over r in steps of a
// vector, a block of outputs at once (10 independent chains for mnist's
// classifier), then each vector summed. Was one scalar chain per output:
// 0.08 ms per step at 50 GFLOP/s (train --profile, 2-core AMD EPYC,
// 2026-11-28).
void dense(const Lowered& L, LoweredOp& l, const Graph& g, int natural, const CpuModel& cpu) {
  const Op& op = *l.op;
  const int O = static_cast<int>(g.tensors[op.result].shape[1]);
  const int N = static_cast<int>(g.tensors[op.result].shape[0]);
  const int F = static_cast<int>(g.tensors[op.operands[0]].shape[1]);
  std::vector<Var> b = l.acc.args();  // o, n
  if (O >= natural && N >= natural) {
    l.staged = transposed(Func(L.tensors[op.operands[0]]), l.acc, F, natural);  // a helper: timed with the kernel
    // In evaluation the tiles run along the outputs, so that each thread
    // takes its own samples (the ones it re-laid) and reads the whole
    // weight, which stays in cache from batch to batch: 2-core Xeon, 5
    // alternating rounds, ms a call: mixed's head 0.138 -> 0.118, LeNet-5's
    // f5 0.037 -> 0.035, vgg's fc 0.160 -> 0.157, the MLP's 0.102 -> 0.101.
    // In training, where the optimizer has just rewritten the weight, the
    // same order was slower (mixed 0.105 -> 0.117 ms, the MLP 0.092 ->
    // 0.118): each thread reads half of the weight from memory instead.
    registerGemm(l, 1, N, O, natural, cpu, N > O || L.mode == Mode::Evaluation);
    return;
  }
  RVar rO("rO"), rI("rI");
  Var u("u");
  l.acc.compute_root().parallel(b[1]);
  Func partial = l.acc.update().split(l.r.x, rO, rI, natural).rfactor(rI, u);
  l.acc.update().parallel(b[1]);
  // partial (o, n, u), stored u innermost: each output's vector of
  // partial sums is contiguous. Stored o innermost (rfactor's
  // order), every vector was a gather and a scatter at a stride of O:
  // LeNet-5's f5 (400 -> 120) ran at 5% of the peak, 0.52 ms a step.
  std::vector<Var> pa = partial.args();
  partial.compute_at(l.acc, b[1]).reorder_storage(u, pa[0], pa[1]).vectorize(u);
  // At most 12 outputs' vectors at once (registers).
  int block = O <= 12 ? O : 8;
  Var oO("oO"), oI("oI");
  partial.update()
      .split(b[0], oO, oI, block, TailStrategy::GuardWithIf)
      .reorder(u, oI, rO, oO)
      .vectorize(u)
      .unroll(oI);
  l.out.compute_root();
}

// linear's gradients, dx (f, n) = sum over o of dy (o, n) w (f, o) and
// dw (f, o) = sum over n of dy (o, n) x (f, n): GEMMs over vectors of f,
// which both read contiguously, dy broadcast. Were one chain per vector of
// f, the reduction innermost: the MLP's weight gradient at 1-2% of the peak.
void denseGradient(const Lowered& L, LoweredOp& l, const Graph& g, int natural, const CpuModel& cpu) {
  const Shape& s = g.tensors[l.op->result].shape;  // [N, F] or [O, F]
  registerGemm(l, 0, static_cast<int>(s[1]), static_cast<int>(s[0]), natural, cpu, s[1] > s[0],
               Func(L.tensors[l.op->operands[1]]));
}

}  // namespace cnnc
