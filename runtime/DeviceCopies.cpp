#include "DeviceCopies.h"

#include <HalideRuntime.h>

#include <atomic>

namespace cnnc_rt {

namespace {

std::atomic<int64_t> gToDevice{0}, gToHost{0}, gBytesToDevice{0}, gBytesToHost{0};

}  // namespace

DeviceCopies deviceCopies() { return {gToDevice.load(), gToHost.load(), gBytesToDevice.load(), gBytesToHost.load()}; }

}  // namespace cnnc_rt

// Halide copies only what is stale on the other side: to the device a
// buffer whose host side is dirty, to the host one whose device side is
// (runtime/device_interface.cpp); anything else is a no-op, not a copy.
extern "C" {
int __real_halide_copy_to_device(void* context, halide_buffer_t* buf, const halide_device_interface_t* interface);
int __real_halide_copy_to_host(void* context, halide_buffer_t* buf);

int __wrap_halide_copy_to_device(void* context, halide_buffer_t* buf, const halide_device_interface_t* interface) {
  const bool copies = buf->host && (buf->flags & halide_buffer_flag_host_dirty);
  const int status = __real_halide_copy_to_device(context, buf, interface);
  if (status == 0 && copies) {
    cnnc_rt::gToDevice += 1;
    cnnc_rt::gBytesToDevice += static_cast<int64_t>(buf->size_in_bytes());
  }
  return status;
}

int __wrap_halide_copy_to_host(void* context, halide_buffer_t* buf) {
  const bool copies = buf->host && (buf->flags & halide_buffer_flag_device_dirty);
  const int status = __real_halide_copy_to_host(context, buf);
  if (status == 0 && copies) {
    cnnc_rt::gToHost += 1;
    cnnc_rt::gBytesToHost += static_cast<int64_t>(buf->size_in_bytes());
  }
  return status;
}
}
