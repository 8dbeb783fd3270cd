// What the CPU schedules share (ScheduleCpu.cpp, ScheduleDirect.cpp,
// ScheduleWinograd.cpp, ScheduleDense.cpp).
#pragma once

#include "lower/Lower.h"
#include "ops/Common.h"

namespace cnnc {

// The widest power-of-two vector, at most `natural` lanes, that fits in
// `extent` (so a split never runs past a pipeline output).
int vectorFor(int extent, int natural);
// The widest power-of-two vector, at most `natural` lanes, that divides
// `extent` (no tail at all).
int vectorDividing(int extent, int natural);

// A zero-padded copy of an input of `channels` channels, computed at
// the loop `at`, in vectors (ScheduleCpu.cpp).
void stagePadded(Halide::Func f, int channels, int natural, const Halide::LoopLevel& at);

// A tensor's channels (dimension 1 of N, C, H, W) (ScheduleCpu.cpp).
int channelsOf(const Graph& g, int tensor);

// A convolution's weight re-laid out (co, kx, ky, ci), vectors of `cv`
// output channels, once per call (ScheduleDirect.cpp).
void relaidWeight(Halide::Func wT, int cv);

// What the schedules know of the CPU: the vector registers (Halide's
// target) and the accumulators that keep its multiply-add units busy
// (units x latency: cnnc --fma, support/Fma.h).
struct CpuModel {
  bool avx512 = true;  // 32 vector registers, else 16
  int chains = 8;
};

// A block of accumulators kept in registers: `vectors` vectors of
// channels x `columns` (output columns, tiles or input channels), the
// cheapest by loads and FMA latency per multiply-add (ScheduleDirect.cpp).
struct RegisterTile {
  int vectors = 1, columns = 1;
};
RegisterTile registerTile(int channels, int width, int natural, const CpuModel& cpu);

// The direct convolutions (ScheduleDirect.cpp): a forward or data
// gradient written as acc(c, x, y, n) += w(c, ...) * in(...) over
// `reduced` channels into `channels`, `width` columns wide; a strided data
// gradient by phase; the weight gradient per chunk of samples.
void tiledConvolution(LoweredOp& l, int channels, int width, int height, int reduced, int natural,
                      const CpuModel& cpu);
void phasedConvolution(LoweredOp& l, int channels, int width, int strideX, int reduced, int natural,
                       const CpuModel& cpu);
void weightGradient(const Lowered& L, LoweredOp& l, const Graph& g, int natural, const CpuModel& cpu);
// A direct convolution computed inside a max pool (windows that do not
// overlap) in register tiles of `columns` of the pool's windows, the
// pool's maximum and its index (when defined) taken from the registers;
// its input staged at `sample` (ScheduleDirect.cpp). poolTileColumns: the
// windows a tile, 0 where such tiles do not apply.
int poolTileColumns(int channels, int pooledWidth, const ops::Window& w, int natural, const CpuModel& cpu);
void poolTiles(LoweredOp& conv, Halide::Func pool, Halide::Func index, int columns, int reduced, int natural,
               const Halide::LoopLevel& sample);
// A weight gradient's result (kx, ky, ci, co) computed one input channel
// at a time, in parallel (ScheduleDirect.cpp): its last stages (the sum of
// the partial sums, Winograd's G^T dU G) are computed at the returned
// loop, each task's in cache.
Halide::Var byInputChannel(Halide::Func weightGradient);

// A linear layer (LoopNest::Dense) and its gradients (DenseGradient) as
// GEMMs (ScheduleDense.cpp).
void dense(const Lowered& L, LoweredOp& l, const Graph& g, int natural, const CpuModel& cpu);
void denseGradient(const Lowered& L, LoweredOp& l, const Graph& g, int natural, const CpuModel& cpu);

// A convolution pass lowered as Winograd (ScheduleWinograd.cpp): the
// forward or data gradient (`channels` out, `reduced` summed over), or the
// weight gradient.
void winogradConvolution(LoweredOp& l, int channels, int reduced, int natural, const CpuModel& cpu);
void winogradWeightGradient(const Lowered& L, LoweredOp& l, int outChannels, int inChannels, int natural,
                            const CpuModel& cpu);

}  // namespace cnnc
