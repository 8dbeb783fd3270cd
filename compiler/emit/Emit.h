// emit: Halide pipelines -> AOT objects + generated glue C++ -> one
// standalone trainer executable (no Halide, LLVM or Python needed to run).
#pragma once

#include <string>
#include <vector>

#include "ir/IR.h"

namespace cnnc {

// The GPU APIs a trainer can hold pipelines for, from the same GPU
// schedule (lower/ScheduleGpu.cpp).
enum class GpuApi { Cuda, OpenCL };
const char* gpuApiName(GpuApi api);  // "cuda", "opencl"

struct EmitOptions {
  std::string output;         // the trainer's path
  std::string compiler = "";  // C++ compiler; empty: $CXX or c++
  bool verbose = false;       // print each command
  std::vector<GpuApi> gpus;   // --target=host,cuda,opencl: GPU versions of every pipeline too
  bool profile = false;       // --halide-profile: Halide's profiler in every pipeline
  // --autoschedule=NAME: the training and evaluation pipelines scheduled by
  // one of Halide's autoschedulers (Mullapudi2016, Li2018, Adams2019)
  // instead of ScheduleCpu, to compare with; CPU only.
  std::string autoscheduler;
};

// The CPU the pipelines are compiled for: the host (the default), or a
// Halide target string such as x86-64-linux-avx2-f16c-fma-sse41 (AVX2 code
// built on an AVX-512 machine). Returns false, with `why`, for a string
// that is not an x86/ARM CPU target Halide knows.
bool setCpuTarget(const std::string& halideTarget, std::string& why);

// Builds the trainer for a differentiated graph. Everything is written in
// a temporary folder and the executable renamed into place at the end, so
// on failure nothing is left at `options.output`. Returns false after
// printing what went wrong.
bool buildTrainer(const Graph& graph, const EmitOptions& options);

// --emit=halide: the pipelines' Funcs, definition by definition.
std::string printHalide(const Graph& graph);
// --emit=stmt: Halide's lowered statement of each pipeline; with GPU APIs
// in --target, of the first one's pipelines (what runs where, and the copies).
std::string printStmt(const Graph& graph, const std::vector<GpuApi>& gpus = {});
// The glue C++ that links the pipelines to the runtime (also kept in
// generated/<model>/glue.cpp).
std::string glueSource(const Graph& graph, const std::vector<GpuApi>& gpus = {});

}  // namespace cnnc
