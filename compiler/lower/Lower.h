// lower: graph IR -> Halide Funcs (the algorithm only; the schedules live
// in ScheduleCpu.cpp).
//
// Layouts inside the pipelines are the compiler's choice: activations are
// channels-innermost, Func (c, x, y, n) for an IR tensor [N, C, H, W], and
// (f, n) for [N, F]. Parameters arrive in PyTorch's layout with the dims
// reversed (Halide's first dim is the innermost): conv weights
// (kx, ky, ci, co), linear weights (f, o), biases (o). Images arrive as
// raw bytes, (f, n) with f in PyTorch's C,H,W order, and are scaled to
// [0, 1] inside the pipeline as torchvision's ToTensor does.
#pragma once

#include <Halide.h>

#include <set>
#include <string>
#include <vector>

#include "fuse/Fuse.h"
#include "ir/IR.h"
#include "ir/Ops.h"
#include "plan/Plan.h"
#include "runtime/Optimizer.h"

namespace cnnc {

// Per-channel sums over a batch: each sample's column sums of its rows,
// then the sample's sums, then the sum over the samples in order (images;
// vectors sum the samples directly). Neither order depends on the threads.
struct ChannelSums {
  Halide::Func total;      // (c): a pure zero and one update over the samples
  Halide::Func perSample;  // (c, n): images only
  Halide::Func perColumn;  // (c, x, n): images only
};

// Batch norm's per-channel values, computed once per call: y = x scale + shift.
struct NormStats {
  ChannelSums sum, squares;    // training: of x, and of (x - mean)^2
  Halide::Func mean, invStd;   // training: the batch's
  Halide::Func scale, shift;   // (c)
  std::vector<Halide::Func> all() const;  // the defined ones, sums first
};

// A convolution pass lowered as Winograd (ops/Winograd.h): its stages, each
// over (channel, position xi, position nu, tile, sample) but the weight's.
struct WinogradStages {
  int m = 0;                          // the tile (0: direct convolution)
  int tiles = 0;                      // per sample (tilesX x tilesY)
  int tilesX = 0;                     // the forward's: along x
  Halide::Func xRows, x;              // B^T d B: the input's transform (forward, weight gradient)
  Halide::Func dyRows, dy;            // A dY A^T: dy's (both gradients)
  Halide::Func weightRows, weight;    // G g G^T, once per call: (co, ci, xi, nu); the data gradient's (ci, co, ...)
  Halide::Func productAcc, product;   // the GEMM at each of the alpha^2 positions
  Halide::Func backRows, back;        // out of the transformed domain: A^T M A (the forward's rows only: its output
                                      // is the second pass), B dV B^T, or G^T dU G
  Halide::Func partialAcc, partial;   // weight gradient: dU per chunk of samples
  std::vector<Halide::Func> all() const;  // the defined ones
};

// One op as Halide Funcs, with what its schedule needs to know. Which
// fields an op fills depends on its loop nest (its row's `loops`).
struct LoweredOp {
  const Op* op = nullptr;
  LoopNest loops = LoopNest::None;
  bool inlined = false;   // computed inside its consumers (fuse): no schedule of its own
  // Evaluation on the CPU: computed sample by sample inside this op's
  // kernel (ScheduleCpu.cpp: samplesTogether).
  const Op* computedIn = nullptr;
  // Computed in the loop nest of this op's kernel (fuse: FuseAs::Joined).
  const Op* joins = nullptr;
  // A direct convolution computed row by row inside this pool's kernel
  // (fuse: convolutionsIntoPools; the CPU's schedules).
  const Op* insidePool = nullptr;
  Halide::Func out;       // the op's result (a pipeline output or an intermediate)
  Halide::Func acc;       // a reduction written out by `out` (convolutions, linear), else undefined
  Halide::RDom r;         // acc's reduction domain (the partial sums' for a weight gradient)
  Halide::Func weightT;   // convolutions: the weight re-laid channels-innermost
  Halide::Func staged;    // convolutions: the zero-padded input (dy for the data gradient)
  Halide::Func stagedDy;  // weight gradients: dy, one chunk at a time
  Halide::Func partial;   // weight and bias gradients: sums per chunk or sample
  Halide::Func partialAcc;  // weight gradients: partial's reduction; bias gradients: the columns' sums
  Halide::Func phases;    // strided data gradients: (ci, xo, px, yo, py, n), x = xo * stride + px
  // Small stages worth computing once per call: a softmax's sums, a
  // loss's log-sum-exp and predictions.
  Halide::Func rowSum;
  Halide::Func lse;
  Halide::Func predicted;
  NormStats norm;  // batch norm
  WinogradStages winograd;  // a convolution pass lowered as Winograd

  // The helper Funcs that are defined, in a fixed order (after out, acc, weightT).
  std::vector<Halide::Func> helpers() const;
};

struct Lowered {
  // The batch is gathered inside the pipeline from the whole split, so the
  // dataset can stay where the pipeline runs (CPU memory or the GPU).
  Halide::ImageParam images;               // uint8 (F, S): every sample of the split
  Halide::ImageParam labels;               // uint8 (S)
  Halide::ImageParam order;                // int32: sample indices in visiting order
  Halide::Param<int> first{"first"};       // batch sample n is order(first + n)
  Halide::Param<int> valid{"valid"};       // samples of the batch that are real
  // The training step's dropout key, from the run's seed and the step
  // (runtime: dropoutKey); each mask is a hash of it, the layer and the element.
  Halide::Param<int> noise{"noise"};
  // The epoch's augmentation key (runtime: augmentKey); the training
  // step's gather shifts and flips each sample by a hash of it and the
  // sample (lower/Augment.h). Unused without `augment` lines.
  Halide::Param<int> augment{"augment"};
  Mode mode = Mode::Training;
  // By op index: the Winograd tile of each convolution pass (fuse's
  // choice; 0: direct, and always on GPUs).
  std::vector<int> winograd;
  // cnnc's CPU schedules: strided convolutions' data gradients by phase
  // and zero-padded inputs written over zeros (LowerContext::zeroPadded)
  // have loop nests there; GPUs and autoschedulers get the direct forms.
  bool cpuLoops = false;
  std::vector<Halide::ImageParam> params;  // in graph.params order
  std::vector<Halide::ImageParam> buffers; // in graph.buffers order (running statistics)
  // Training: each buffer's new value (the same memory as its input: the
  // runtime passes one buffer for both), in graph.buffers order.
  std::vector<Halide::Func> buffersOut;
  // By tensor id: what the ops lowered after a tensor's producer read
  // (with `byKernel`, what an earlier kernel wrote is read from the arena).
  std::vector<Halide::Func> tensors;
  // By tensor id: the Func computing an op's result (undefined for inputs
  // and parameters); the same as tensors[] unless lowered `byKernel`.
  std::vector<Halide::Func> results;
  // Lowered `byKernel`: the activation arena as the kernels read it, one
  // input per slot of the plan (plan.activations order), named `arena_<tensor>`.
  std::vector<Halide::ImageParam> arenaInputs;
  // Lowered `byKernel`: the parameters' gradients as later kernels read
  // them (batch norm's dx reads dweight and dbias), in graph.params order,
  // named `gradin_<tensor>`.
  std::vector<Halide::ImageParam> gradInputs;
  std::vector<LoweredOp> ops;              // forward and backward ops, in order
  Halide::Func loss;                       // mean loss over the valid samples
  Halide::Func correct;                    // valid samples whose argmax is the label
  Halide::Func lse;                        // cross-entropy: log-sum-exp per sample (else undefined)
  std::vector<Halide::Func> grads;         // in graph.params order (after grad)
  // The kernels' results the memory plan places in the activation arena
  // (plan/Plan.h), in its order: outputs of the training pipeline.
  std::vector<Halide::Func> activations;

  // Whether a kernel writes `tensor` to memory; false when it is computed
  // inside the kernels that read it (fuse), or is not an op's result.
  bool written(int tensor) const;
  // The lowered op whose result `tensor` is; null for inputs and parameters.
  const LoweredOp* producer(int tensor) const;
  // Whether a kernel reading `tensor` reads it from memory: a kernel wrote
  // it, or it is an input or a parameter.
  bool inMemory(int tensor) const;
  // The tensors this pipeline's ops read, and what its caller reads (the
  // scores, the loss, the parameters' gradients). An op whose result is
  // not among them is computed for nothing here: evaluation's maxpool
  // index (kept for the backward only).
  std::set<int> readTensors(const Graph& g) const;
};

// Lowers the forward ops in `mode` and, when the graph has them, the
// backward ops: fuse's ops computed inside their readers are marked
// inlined, and the kernels' results get the plan's arena slots.
// `directOnly`: every convolution direct, whatever fuse chose (GPU
// schedules and the autoschedulers have no Winograd). `byKernel`
// (training): an op reads what another kernel wrote from the activation
// arena (arenaInputs), not the Func that computed it, so that each kernel
// can be a pipeline of its own (Pipelines.h: KernelPipeline); the helper
// results a backward op takes from its forward op (batch norm's
// statistics) are then computed again from the arena.
Lowered lowerGraph(const Graph& graph, const Fusion& fusion, const MemoryPlan& plan, Mode mode = Mode::Training,
                   bool directOnly = false, bool byKernel = false);

// The optimizer update over flat arrays of every parameter (in place).
struct LoweredUpdate {
  Halide::ImageParam params, grads;       // float (P)
  std::vector<Halide::ImageParam> state;  // adam: exp_avg, exp_avg_sq; sgd: momentum buffer
  // One per field of the step's scalars (runtime/Optimizer.h: kAdamScalars
  // or kSgdScalars), named after it, in that order.
  std::vector<Halide::Param<float>> scalars;
  Halide::Func out;                        // Tuple: new params, then new state
};
LoweredUpdate lowerUpdate(const Graph& graph);
// The graph's optimizer as a trainer holds it (the glue writes the same).
cnnc_rt::OptimizerSpec optimizerSpec(const Optimizer& optimizer);
// Sets the update's scalars for a JIT run (the tests).
void setUpdateScalars(LoweredUpdate& update, const Graph& graph, const cnnc_rt::UpdateScalars& scalars);

// The extents of an activation's Func, innermost first: (C, W, H, N) for
// an IR [N, C, H, W], (F, N) for [N, F].
std::vector<int64_t> funcExtents(const Shape& irShape);

// e^x as vector code (Halide's exp calls libm per lane): Cephes' expf with
// x clamped to [-87, 88], where e^x is a normal float; within 2 ulp of
// std::exp there (tests/unit/GradCheckTest.cpp measures it), and about
// 1.6e-38 instead of a subnormal or 0 below it.
Halide::Expr expOf(Halide::Expr x);
// 1 / (1 + e^-x) with expOf: nn.Sigmoid.
Halide::Expr sigmoidOf(Halide::Expr x);

// tanh(x) as vector code (Halide's tanh calls libm per lane); within a few
// ulp of std::tanh (tests/unit/GradCheckTest.cpp measures it).
Halide::Expr tanhOf(Halide::Expr x);

// erf(x) as vector code (Halide has none): SunPro's rational function
// below |x| = 0.84375, Abramowitz and Stegun's 7.1.26 above; within 3e-7
// (relative) of erf everywhere (tests/unit/GradCheckTest.cpp measures it).
Halide::Expr erfOf(Halide::Expr x);

// A Func name for an IR tensor: `conv1.0` -> `conv1_0`; over 48 characters,
// the first 40 and a hash (GPU kernels are named after Funcs).
std::string funcName(const std::string& tensorName);

}  // namespace cnnc
