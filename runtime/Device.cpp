#include "Device.h"

#include <cstdio>
#include <cstdlib>

namespace cnnc_rt {

namespace {

std::string gError, gFirstError;  // since the last clearErrors()

void onHalideError(void*, const char* message) {
  std::string m = message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  // A failed CUDA start reports every missing function between the two.
  if (gError.empty()) gFirstError = m;
  gError = m == gFirstError ? m : gFirstError + "; " + m;
}

void clearErrors() { gError.clear(); }

// How a GPU API's devices are named in messages.
std::string deviceNoun(const std::string& api) { return api == "cuda" ? "CUDA GPU" : "OpenCL device"; }

// Whether `gpu` has a device: a one-float allocation there. False with `why`.
bool probe(const GpuSpec& gpu, std::string& why) {
  float value = 0;
  halide_dimension_t dim = {0, 1, 1, 0};
  halide_buffer_t buf{};
  buf.host = reinterpret_cast<uint8_t*>(&value);
  buf.type = {halide_type_float, 32, 1};
  buf.dimensions = 1;
  buf.dim = &dim;
  clearErrors();
  const int status = halide_device_malloc(nullptr, &buf, gpu.interface);
  if (status == 0) {
    halide_device_free(nullptr, &buf);
    return true;
  }
  why = gError.empty() ? "error " + std::to_string(status) : gError;
  clearErrors();
  return false;
}

// Halide's runtimes open libcuda.so and libOpenCL.so; a machine with only
// the drivers (no development packages) has libcuda.so.1 and
// libOpenCL.so.1 alone, as the H200 machine of bench/gpu_run.sh had.
void* loadLibrary(const char* name) {
  void* lib = halide_default_load_library(name);
  const std::string versioned = std::string(name) + ".1";
  const bool soName = versioned.size() > 5 && versioned.compare(versioned.size() - 5, 5, ".so.1") == 0;
  return lib || !soName ? lib : halide_default_load_library(versioned.c_str());
}

}  // namespace

void installHalideHooks() {
  halide_set_error_handler(onHalideError);
  halide_set_custom_load_library(loadLibrary);
}
const std::string& halideError() { return gError; }

bool chooseDevice(const ModelSpec& spec, const std::string& device, Kernels& k, std::string& note) {
  k = {spec.trainStep, spec.evaluate, spec.update, nullptr};
  note.clear();
  if (device == "cpu") return true;
  const bool asked = device != "auto";
  std::string notes;
  for (const GpuSpec& gpu : spec.gpus) {
    if (asked && gpu.api != device) continue;
    const bool gpusOnly = !asked && gpu.setDeviceType && !std::getenv("HL_OCL_DEVICE_TYPE");
    if (gpusOnly) gpu.setDeviceType("gpu acc");
    std::string why;
    if (!probe(gpu, why)) {
      const std::string noun = gpusOnly ? "OpenCL GPU" : deviceNoun(gpu.api);
      if (asked) {
        std::fprintf(stderr, "error: --device %s: no usable %s (%s)\n", device.c_str(), noun.c_str(), why.c_str());
        return false;
      }
      notes += (notes.empty() ? "" : "; ") + ("no usable " + noun + ": " + why);
      continue;
    }
    k = {gpu.trainStep, gpu.evaluate, gpu.update, &gpu};
    // The pipelines' scratch on the GPU (padded copies, partial sums) is
    // freed after each call: keep those blocks for the next call instead
    // of asking the driver (cudaMalloc synchronises) every step.
    halide_reuse_device_allocations(nullptr, true);
    note = "device: " + gpu.api + "\n";
    return true;
  }
  if (asked) {
    std::string built = "cpu", target = "host";
    for (const GpuSpec& gpu : spec.gpus) built += ", " + gpu.api, target += "," + gpu.api;
    std::fprintf(stderr, "error: --device %s: this trainer was built %s; rebuild it with cnnc --target=%s,%s\n",
                 device.c_str(), spec.gpus.empty() ? "for the CPU only" : ("for " + built).c_str(), target.c_str(),
                 device.c_str());
    return false;
  }
  if (!notes.empty()) note = "device: cpu (" + notes + ")\n";
  return true;
}

std::string deviceReport(const ModelSpec& spec) {
  std::string out;
  for (const GpuSpec& gpu : spec.gpus) {
    std::string why;
    const bool usable = probe(gpu, why);
    char line[64];
    std::snprintf(line, sizeof line, "  %-14s ", (gpu.api + ":").c_str());
    out += line + (usable ? std::string("a device is usable") : "no usable " + deviceNoun(gpu.api) + " (" + why + ")") +
           "\n";
  }
  return out;
}

}  // namespace cnnc_rt
