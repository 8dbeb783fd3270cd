// Winograd convolution F(m x m, r x r): the transforms, what they cost, and
// which convolution passes use them (`cnnc --conv`).
//
// For one tile of m x m outputs of an r x r correlation, with a = m + r - 1:
//   Y = A^T [ sum over input channels (G g G^T) . (B^T d B) ] A
// where d is the a x a input window, g the kernel, and "." the elementwise
// product: a^2 multiplies per (tile, channel pair) where direct convolution
// needs m^2 r^2. The matrices come from Toom-Cook with the points
// 0, 1, -1, 2, -2, 1/2, -1/2 (the first a - 1 of them) and infinity, the
// choice that rounds least in the literature (Barabasz et al., 2020).
// The backward passes are the exact transposes of these transforms
// (lower: compiler/ops/Winograd.cpp), so the gradients are those of what
// the forward computes.
#pragma once

#include <string>
#include <vector>

#include "ir/IR.h"
#include "support/Fma.h"

namespace cnnc {

using Matrix = std::vector<std::vector<double>>;

struct WinogradMatrices {
  int m = 0, r = 0, alpha = 0;
  Matrix AT;  // m x alpha: the output transform
  Matrix G;   // alpha x r: the kernel transform
  Matrix BT;  // alpha x alpha: the input transform
};
WinogradMatrices winogradMatrices(int m, int r);
Matrix transposed(const Matrix& a);
int nonzeros(const Matrix& a);

// `cnnc --conv`: direct everywhere, Winograd wherever it applies, or per
// pass the cheaper by the cost model (the default).
enum class ConvAlgorithm { Direct, Winograd, Auto };
bool parseConvAlgorithm(const std::string& text, ConvAlgorithm& out);

// The Winograd tile m for a convolution pass (conv2d, conv2d_bwd_data,
// conv2d_bwd_weight), or 0 for direct convolution: Winograd applies to
// stride 1, square kernels of 3 or 5; Auto takes the cheapest of direct
// and the tiles F(2), F(4), F(6) (3x3) or F(2), F(3), F(4) (5x5) by the
// cost model (convPassCost), Winograd the cheapest tile.
int chooseWinogradTile(const Graph& g, const Op& op, ConvAlgorithm algorithm, const FmaUnits& fma = {});

// Estimated cycles of one pass with tile m (0: direct) on `fma`'s units:
// multiply-adds divided among the units, the Winograd transforms (adds,
// loads, stores) not.
double convPassCost(const Graph& g, const Op& op, int m, const FmaUnits& fma = {});

// "F(4x4,5x5)"
std::string winogradName(int m, int r);

}  // namespace cnnc
