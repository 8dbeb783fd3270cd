// plan: where every tensor of a training step lives, decided at compile
// time. Parameters, gradients and each optimizer state are flat arenas
// (one tensor after another, each 512-byte aligned, PyTorch's order); the
// tensors the step's kernels write (fuse) go into one activation arena at
// fixed offsets. The runtime allocates the arenas once; the pipeline writes
// its kernels' results into them (Halide allocates only its own scratch,
// from a pool that stops growing after the first step).
//
// Each activation gets its own range: the step is one Halide pipeline,
// whose stage order Halide chooses, so two tensors sharing a range could
// not be proven never to be alive together.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fuse/Fuse.h"
#include "ir/IR.h"

namespace cnnc {

struct Slot {
  int tensor = -1;
  int64_t offset = 0;  // in floats from the arena's start
  int64_t count = 0;   // floats (a tensor of bytes takes a quarter as many, rounded up)
  int writer = -1;     // the kernel that writes it (index into Fusion::kernels)
  int lastReader = -1; // the last kernel that reads it (-1: only the pipeline's caller)
};

struct MemoryPlan {
  std::vector<Slot> params;       // offsets into the parameter arena (and the gradient arena, the same)
  int64_t paramFloats = 0;        // arena size, alignment included
  int stateArenas = 0;            // optimizer state arenas, each paramFloats
  std::vector<Slot> buffers;      // batch norms' running statistics, in the buffer arena
  int64_t bufferFloats = 0;
  std::vector<Slot> activations;  // the kernels' results in the activation arena
  int64_t activationFloats = 0;
};

MemoryPlan planMemory(const Graph& graph, const Fusion& fusion);

// Floats from one tensor's start to the next's: 512-byte alignment. On
// OpenCL a tensor of an arena is a sub-buffer, whose origin must be a
// multiple of the device's CL_DEVICE_MEM_BASE_ADDR_ALIGN: 1024 bits on
// pocl, at most 4096 bits (512 bytes) on the GPUs we know of. The CPU's
// vectors (64 bytes) and CUDA (256-byte transactions) are served too.
constexpr int64_t kSlotAlignFloats = 128;
inline int64_t alignedFloats(int64_t count) { return (count + kSlotAlignFloats - 1) / kSlotAlignFloats * kSlotAlignFloats; }

// The floats a tensor takes in its arena: its bytes, in floats, rounded up.
inline int64_t floatsOf(const Tensor& t) { return (numElements(t.shape) * dtypeBytes(t.dtype) + 3) / 4; }

// --emit=plan: every arena, every tensor's range, and the peak bytes.
std::string printPlan(const Graph& graph, const Fusion& fusion, const MemoryPlan& plan);

}  // namespace cnnc
