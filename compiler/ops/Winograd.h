// Winograd lowerings of conv2d's three passes (the math: fuse/Winograd.h).
// Per tile of m x m outputs (tiles numbered t = tx + TX ty per sample):
//   forward:  x -> V = B^T d B;  w -> U = G g G^T;  M = sum_ci U V;  y = A^T M A
//   data:     dy -> D = A dY A^T;  dV = sum_co U D;  dx = sum over tiles of B dV B^T
//   weight:   dU = sum over tiles and samples of D V;  dw = G^T dU G
// the exact transposes of the forward's linear maps.
#pragma once

#include <Halide.h>

#include "lower/LowerContext.h"

namespace cnnc {

// The forward with its (folded) weight wT (co, kx, ky, ci) and bias.
LoweredOp& lowerWinogradForward(LowerContext& cx, const Op& op, Halide::Func wT, Halide::Expr bias, int m);
// The data gradient with the weight re-laid input channels innermost, wT (ci, kx, ky, co).
LoweredOp& lowerWinogradData(LowerContext& cx, const Op& op, Halide::Func wT, int m);
LoweredOp& lowerWinogradWeight(LowerContext& cx, const Op& op, int m);

}  // namespace cnnc
