// A trainer's three Halide pipelines (the training step, evaluation, the
// optimizer update), lowered and scheduled for one target, and what cnnc
// compiles for (--target). Built once per target by the driver's lower
// stage; --emit=halide and --emit=stmt print them, emit compiles them.
#pragma once

#include <Halide.h>

#include <functional>
#include <string>
#include <vector>

#include "fuse/Fuse.h"
#include "lower/Lower.h"
#include "plan/Plan.h"

namespace cnnc {

// The GPU APIs a trainer can hold pipelines for, from the same GPU
// schedule (lower/ScheduleGpu.cpp).
enum class GpuApi { Cuda, OpenCL };
const char* gpuApiName(GpuApi api);  // "cuda", "opencl"

// --target: the CPU (the host, or a Halide CPU target such as
// x86-64-linux-avx2-f16c-fma-sse41: AVX2 code built on an AVX-512 machine)
// and the GPU APIs, CUDA first (the order `--device auto` tries them).
struct Targets {
  Halide::Target cpu;
  std::vector<GpuApi> gpus;
};
// This machine's CPU target: Halide's, without Sapphire Rapids' features
// where the CPU lacks AVX512-FP16. Halide 14 takes any CPU with AVX-512
// VNNI and BF16 for a Sapphire Rapids; AMD's Zen 4 has those two but not
// FP16, and LLVM then emits FP16 moves (vmovw) that fault there: SIGILL
// in a 3-feature linear layer's weight gradient (tests/unit/RecipeTest.cpp).
Halide::Target hostTarget();
// `host`, `host,cuda,opencl`, `x86-64-linux-avx2-f16c-fma-sse41,opencl`, in
// any order; false with `why` for an empty or repeated name, no CPU or two,
// or a string that is not a Linux x86/ARM CPU target Halide knows.
bool parseTargets(const std::string& text, Targets& targets, std::string& why);
// A GPU API's target over `cpu`. CUDA: PTX for compute capability 6.1,
// which the driver compiles for any newer GPU (H100: 9.0) when the trainer
// starts. OpenCL: OpenCL C source, which the platform compiles when the
// trainer starts (pocl: once per kernel, cached in ~/.cache/pocl).
Halide::Target gpuTarget(const Halide::Target& cpu, GpuApi api);

// One kernel of the training step as a pipeline of its own (CPU targets,
// cnnc's schedules): it reads what earlier kernels wrote from the
// activation arena and writes its results there (or to the gradients, the
// loss, the buffers). Halide compiles a pipeline in time that grows with
// its stages times its size: resnet's training step as one pipeline of
// 280 stages took 44 s to compile; as 45 pipelines (one per kernel, and one
// for the running statistics) the whole trainer takes 22 s (docs/performance.md).
struct KernelPipeline {
  std::string name;  // "train_k07": the compiled function is <model>_<name>
  Halide::Pipeline pipeline;
  std::vector<Halide::Argument> args;
  // What the glue passes (runtime/Model.h's Buffers, `first`, `valid`):
  // for each argument, then for each output, in the pipeline's order.
  std::vector<std::string> argValues, outputValues;
};

struct Pipelines {
  Halide::Target target;
  Lowered step;
  Lowered evalStep;  // evaluation's own lowering, in evaluation mode
  LoweredUpdate update;
  Halide::Pipeline train, eval, optimizer;
  std::vector<Halide::Argument> trainArgs, evalArgs, updateArgs;
  // The training step as the trainer runs it: its kernels' pipelines in
  // order (CPU targets, cnnc's schedules); empty where `train` is compiled
  // whole (GPU targets, the autoschedulers). `train` stays what the tests
  // run in Halide's JIT and what --emit=halide prints.
  Lowered byKernel;
  std::vector<KernelPipeline> trainKernels;
};

// Lowers and schedules the three pipelines for `target`: cnnc's schedules
// (ScheduleCpu, or ScheduleGpu for a GPU target), or, on the CPU, one of
// Halide's autoschedulers (Mullapudi2016, Li2018, Adams2019) for the
// training and evaluation pipelines, to compare with.
Pipelines buildPipelines(const Graph& graph, const Fusion& fusion, const MemoryPlan& plan,
                         const Halide::Target& target, const std::string& autoscheduler = "");

// GPU kernels launched per call of each GPU pipeline: every stage that the
// GPU schedule computes at root is one kernel (what is computed inside it,
// shared-memory tiles included, is not).
struct GpuLaunches {
  int step = 0, eval = 0, update = 0;
};
GpuLaunches gpuLaunches(const Graph& graph, const Fusion& fusion, const Pipelines& gpu);

// --emit=halide: the pipelines' Funcs, definition by definition.
std::string printHalide(const Graph& graph, const Pipelines& pipelines);
// --emit=stmt: Halide's lowered statement of each pipeline (what runs
// where, and the copies); "" after a message when Halide fails.
std::string printStmt(const Graph& graph, Pipelines& pipelines);

// Runs `fn`, turning a Halide error into a message naming `what`; false then.
bool halideGuard(const char* what, const std::function<void()>& fn);

}  // namespace cnnc
