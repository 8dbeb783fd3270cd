// Where a run's pipelines run: the CPU, or a GPU through one of the APIs
// the trainer was built with (cnnc --target=host,cuda,opencl); and
// Halide's error messages, which say why a device or a pipeline failed.
#pragma once

#include <HalideRuntime.h>

#include <string>

#include "Model.h"

namespace cnnc_rt {

// The pipelines a run calls, and the GPU they run on (null: the CPU).
struct Kernels {
  int (*trainStep)(Buffers&, int first, int valid) = nullptr;
  int (*evaluate)(Buffers&, int first, int valid) = nullptr;
  int (*update)(Buffers&, const UpdateScalars& scalars) = nullptr;
  const GpuSpec* gpu = nullptr;  // its interface places buffers there
};

// --device cpu|cuda|opencl|auto. auto takes the first of the trainer's GPU
// APIs (CUDA, then OpenCL) that finds a GPU, else the CPU. On OpenCL auto
// looks at GPUs and accelerators only (HL_OCL_DEVICE_TYPE overrides it):
// an OpenCL CPU device such as pocl runs far slower than the CPU
// pipelines; `--device opencl` takes any OpenCL device. `note` gets the
// line to print ("device: opencl", or the CPU and why not the others);
// false, after a message on stderr, when the device asked for cannot be had.
bool chooseDevice(const ModelSpec& spec, const std::string& device, Kernels& kernels, std::string& note);

// For `info`: whether each GPU API finds a device here (of any kind), a
// line each.
std::string deviceReport(const ModelSpec& spec);

// Halide's errors go to a handler that keeps them for the messages: the
// first and the last since the last probe (the cause, and what it led to);
// GPU libraries are opened as libX.so, else libX.so.1.
void installHalideHooks();
const std::string& halideError();

}  // namespace cnnc_rt
