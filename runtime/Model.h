// The contract between a generated trainer's glue (written by cnnc, see
// generated/<model>/glue.cpp) and the runtime library: what the model is,
// and the three pipelines to call. Plain C++17; Halide only through its
// header-only buffer type.
#pragma once

#include <HalideRuntime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "Collective.h"
#include "Optimizer.h"
#include "Schedule.h"

namespace cnnc_rt {

// How a parameter or buffer starts: PyTorch's default initialisation
// (kaiming_uniform_ from the fan-in), or a constant (batch norm).
enum class Init { FanIn, Ones, Zeros };

// One parameter (or buffer): its PyTorch state_dict name and shape, where
// it lives in the flat parameter (buffer) arena, its fan-in (for PyTorch's
// default init) and how it starts.
struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset;
  int64_t fanIn;  // 0 for a bias: it takes the fan-in of the weight before it
  Init init = Init::FanIn;
};

// Halide buffers over memory the runtime allocated once, up front.
struct Buffers {
  halide_buffer_t* images = nullptr;   // uint8 (F, S): every image of the split in use
  halide_buffer_t* labels = nullptr;   // uint8 (S)
  halide_buffer_t* order = nullptr;    // int32 (S): the order an epoch visits the samples
  std::vector<halide_buffer_t*> params;  // each a view into the parameter arena
  std::vector<halide_buffer_t*> grads;   // each a view into the gradient arena
  // Batch norms' running statistics, each a view into the buffer arena:
  // read by both pipelines, updated in place by the training step.
  std::vector<halide_buffer_t*> buffers;
  halide_buffer_t* flatBuffers = nullptr;  // float: the whole buffer arena
  int32_t noise = 0;                       // the training step's dropout key (dropoutKey)
  int32_t augment = 0;                     // the epoch's augmentation key (augmentKey)
  halide_buffer_t* output = nullptr;   // float (K, B): scores the user sees
  halide_buffer_t* loss = nullptr;     // float scalar: mean over the valid samples
  halide_buffer_t* correct = nullptr;  // int32 scalar
  halide_buffer_t* flatParams = nullptr;  // float (P)
  halide_buffer_t* flatGrads = nullptr;   // float (P)
  std::vector<halide_buffer_t*> state;    // optimizer state, float (P) each
  // The training step's kernel results, views into the activation arena.
  std::vector<halide_buffer_t*> activations;
  halide_buffer_t* flatActivations = nullptr;  // float (A): the whole arena
};

// One tensor of the activation arena, placed by cnnc (--emit=plan).
struct ActivationSpec {
  std::string name;
  std::vector<int64_t> extents;  // the pipeline's dims, innermost first
  int64_t offset;                // floats from the arena's start
  halide_type_t type;            // float; maxpool_index's int8 (or int32)
};

// One kernel of a pipeline (cnnc --emit=fused), for `train --profile`:
// its floating-point operations per call, and the Halide Funcs whose
// production (trace events) is its work.
struct KernelSpec {
  std::string name;  // "14 conv2d_bwd_weight -> grad.conv3.0.weight"
  double flopsPerCall;
  std::vector<std::string> funcs;
};

// A GPU API's versions of the three pipelines (a trainer built with
// --target=host,cuda and/or opencl holds one per API).
struct GpuSpec {
  std::string api;  // "cuda", "opencl": what --device names it
  int (*trainStep)(Buffers&, int first, int valid) = nullptr;
  int (*evaluate)(Buffers&, int first, int valid) = nullptr;
  int (*update)(Buffers&, const UpdateScalars& scalars) = nullptr;
  const halide_device_interface_t* interface = nullptr;
  // GPU kernels each call launches (one per stage computed at root).
  int launchesPerStep = 0, launchesPerEval = 0, launchesPerUpdate = 0;
  // OpenCL: which kinds of device Halide looks for ("gpu acc", "cpu"); null for CUDA.
  void (*setDeviceType)(const char* kinds) = nullptr;
};

struct ModelSpec {
  std::string name, source;
  std::vector<int64_t> sampleShape;  // CxHxW or F
  int64_t classes = 0;
  int64_t batch = 0;  // compiled into the pipelines
  std::vector<ParamSpec> params;
  int64_t totalParams = 0;
  std::vector<ParamSpec> buffers;  // offsets into the buffer arena
  int64_t bufferFloats = 0;
  // Batch norms' num_batches_tracked (int64 in checkpoints): each
  // training step adds 1 to every one.
  std::vector<std::string> counters;
  std::vector<ActivationSpec> activations;
  int64_t activationFloats = 0;
  OptimizerSpec optimizer{};
  ScheduleSpec schedule{};  // each step's learning rate from the run's lr
  int stateCount = 0;  // stateCount(optimizer): the arenas of optimizer state
  std::string loss;
  int64_t epochs = 1, seed = 0;
  bool shuffle = true;
  std::string data = "mnist";  // the format: mnist, cifar10, folder (runtime/Dataset.h)
  int64_t validation = 0;      // training samples held out (the train block's `validation`)
  // cnnc --chunks/--distributed: a training step is `chunks` calls of the
  // pipelines on `batch` samples each (runtime/Chunked.h); the file's batch
  // is batch x chunks.
  int64_t chunks = 1;
  // cnnc --distributed: starts MPI (runtime/Mpi.h); null otherwise.
  Collective* (*collective)(int* argc, char*** argv) = nullptr;
  int64_t macsPerSample = 0;       // forward
  int64_t trainMacsPerSample = 0;  // forward, weight and data gradients
  bool outputIsProbability = false;  // the model ends in softmax
  std::vector<KernelSpec> trainKernels, evalKernels;  // in execution order
  std::string summary;  // cnnc --summary of the model
  std::string builtBy;  // cnnc and Halide versions, target
  // The pipelines; each returns Halide's error code (0 on success).
  // The batch is samples order[first, first + valid), padded to `batch`.
  int (*trainStep)(Buffers&, int first, int valid) = nullptr;
  int (*evaluate)(Buffers&, int first, int valid) = nullptr;
  int (*update)(Buffers&, const UpdateScalars& scalars) = nullptr;
  std::vector<GpuSpec> gpus;  // in the order --device auto tries them; empty for a CPU-only trainer
};

// The trainer's command line (train, eval); returns the exit status.
int trainerMain(int argc, char** argv, const ModelSpec& spec);

}  // namespace cnnc_rt
