// Every copy between the host and a GPU, counted where Halide makes it:
// the trainer's own (the dataset, the epoch's order, the loss) and any a
// pipeline makes of its own accord (a buffer whose host side is newer).
// The trainer is linked with -Wl,--wrap=halide_copy_to_device and
// --wrap=halide_copy_to_host (compiler/emit/Emit.cpp), so every call to
// either from the pipelines or the trainer's runtime passes through here.
// Not counted: copies inside Halide's runtime object itself, such as
// halide_buffer_copy's and those made through a device interface's
// function pointers; neither the pipelines nor cnnc's runtime use those
// (checked in the OpenCL pipelines' stmt: cnnc --emit=stmt --target=host,opencl).
#pragma once

#include <cstdint>

namespace cnnc_rt {

struct DeviceCopies {
  int64_t toDevice = 0, toHost = 0;            // copies
  int64_t bytesToDevice = 0, bytesToHost = 0;  // their sizes
  DeviceCopies& operator+=(const DeviceCopies& o) {
    toDevice += o.toDevice, toHost += o.toHost;
    bytesToDevice += o.bytesToDevice, bytesToHost += o.bytesToHost;
    return *this;
  }
  DeviceCopies operator-(const DeviceCopies& o) const {
    return {toDevice - o.toDevice, toHost - o.toHost, bytesToDevice - o.bytesToDevice, bytesToHost - o.bytesToHost};
  }
};

// The copies made so far in this process.
DeviceCopies deviceCopies();

}  // namespace cnnc_rt
