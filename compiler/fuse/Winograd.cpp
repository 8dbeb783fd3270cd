#include "fuse/Winograd.h"

#include <fmt/format.h>

#include <cmath>

#include "ir/Ops.h"
#include "support/Invariant.h"

namespace cnnc {

namespace {

// The interpolation points: 0, 1, -1, 2, -2, 1/2, -1/2, 3, -3, 1/3, -1/3.
std::vector<double> points(int count) {
  const double all[] = {0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 1.0 / 3, -1.0 / 3};
  if (count > static_cast<int>(std::size(all))) internalError("a Winograd tile too large for its points");
  return std::vector<double>(all, all + count);
}

// The coefficients (constant term first) of the product of (x - p) over
// the points p but `skip` (-1: none).
std::vector<double> productOfRoots(const std::vector<double>& p, int skip) {
  std::vector<double> c{1.0};
  for (size_t l = 0; l < p.size(); ++l) {
    if (static_cast<int>(l) == skip) continue;
    std::vector<double> next(c.size() + 1, 0.0);
    for (size_t t = 0; t < c.size(); ++t) {
      next[t + 1] += c[t];
      next[t] -= p[l] * c[t];
    }
    c = next;
  }
  return c;
}

}  // namespace

// Toom-Cook for the correlation y_i = sum_k g_k d_{i+k}: the transpose
// of the linear convolution algorithm that evaluates both factors at the
// points (A, G) and interpolates the product (B = the interpolation
// matrix: the Lagrange polynomials on the finite points, and the product
// of all (x - p) for the point at infinity). The Lagrange denominators go
// into G, which is computed once per call.
WinogradMatrices winogradMatrices(int m, int r) {
  WinogradMatrices w;
  w.m = m;
  w.r = r;
  w.alpha = m + r - 1;
  const int a = w.alpha, finite = a - 1;
  const std::vector<double> p = points(finite);
  w.AT.assign(m, std::vector<double>(a, 0.0));
  w.G.assign(a, std::vector<double>(r, 0.0));
  w.BT.assign(a, std::vector<double>(a, 0.0));
  for (int j = 0; j < finite; ++j) {
    double f = 1.0;
    for (int l = 0; l < finite; ++l)
      if (l != j) f *= p[j] - p[l];
    for (int i = 0; i < m; ++i) w.AT[i][j] = std::pow(p[j], i);
    for (int k = 0; k < r; ++k) w.G[j][k] = std::pow(p[j], k) / f;
    const std::vector<double> lagrange = productOfRoots(p, j);
    for (size_t t = 0; t < lagrange.size(); ++t) w.BT[j][t] = lagrange[t];
  }
  w.AT[m - 1][finite] = 1.0;
  w.G[finite][r - 1] = 1.0;
  const std::vector<double> all = productOfRoots(p, -1);
  for (size_t t = 0; t < all.size(); ++t) w.BT[finite][t] = all[t];
  return w;
}

Matrix transposed(const Matrix& a) {
  Matrix t(a.empty() ? 0 : a[0].size(), std::vector<double>(a.size()));
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) t[j][i] = a[i][j];
  return t;
}

int nonzeros(const Matrix& a) {
  int n = 0;
  for (const auto& row : a)
    for (double v : row) n += v != 0.0;
  return n;
}

bool parseConvAlgorithm(const std::string& text, ConvAlgorithm& out) {
  if (text == "direct") out = ConvAlgorithm::Direct;
  else if (text == "winograd") out = ConvAlgorithm::Winograd;
  else if (text == "auto") out = ConvAlgorithm::Auto;
  else return false;
  return true;
}

std::string winogradName(int m, int r) { return fmt::format("F({}x{},{}x{})", m, m, r, r); }

namespace {

bool isConvPass(OpKind k) {
  return k == OpKind::Conv2d || k == OpKind::Conv2dBwdData || k == OpKind::Conv2dBwdWeight;
}

// Channels in and out and the output's size, for every pass the forward's:
// the data gradient reads dy (the forward's output), the weight gradient
// dy and x.
struct PassShape {
  int64_t CI, CO, OW, OH;
};
PassShape passShape(const Graph& g, const Op& op) {
  const Shape& first = g.tensors[op.operands[0]].shape;
  const Shape& result = g.tensors[op.result].shape;
  switch (op.kind) {
    case OpKind::Conv2d: return {first[1], result[1], result[3], result[2]};
    case OpKind::Conv2dBwdData: return {result[1], first[1], first[3], first[2]};
    default: return {g.tensors[op.operands[1]].shape[1], first[1], first[3], first[2]};
  }
}

// Measured fractions of the FMA peak (train --profile, 2-core AMD EPYC,
// one 512-bit unit):
// direct convolutions 80-90%; the per-position GEMMs lower (short
// reductions, their accumulators loaded and stored more often); the
// transforms are adds and loads more than multiply-adds.
constexpr double kDirectEfficiency = 0.85, kGemmEfficiency = 0.70, kTransformEfficiency = 0.35;

}  // namespace

double convPassCost(const Graph& g, const Op& op, int m, const FmaUnits& fma) {
  const PassShape s = passShape(g, op);
  const int r = static_cast<int>(op.attrs.pair("kernel")[0]);
  const double units = fma.units;
  if (m == 0) return double(s.OW * s.OH * s.CI * s.CO * r * r) / kDirectEfficiency / units;
  const WinogradMatrices w = winogradMatrices(m, r);
  const int64_t a = w.alpha, tiles = ((s.OW + m - 1) / m) * ((s.OH + m - 1) / m);
  const double gemm = double(tiles * a * a * s.CI * s.CO) / kGemmEfficiency / units;
  const double inputSide = double(tiles * 2 * a * nonzeros(w.BT));   // B^T d B (or its transpose), per channel
  const double outputSide = double(tiles * (a + m) * nonzeros(w.AT));  // A^T M A (or its transpose), per channel
  double transforms = 0;
  switch (op.kind) {
    case OpKind::Conv2d: transforms = inputSide * s.CI + outputSide * s.CO; break;
    case OpKind::Conv2dBwdData: {
      const int64_t cover = (a + m - 1) / m;  // tiles overlapping each pixel, per dimension
      transforms = outputSide * s.CO + inputSide * s.CI + double(s.OW * s.OH * s.CI * cover * cover);
      break;
    }
    default: transforms = outputSide * s.CO + inputSide * s.CI; break;
  }
  return gemm + transforms / kTransformEfficiency;
}

int chooseWinogradTile(const Graph& g, const Op& op, ConvAlgorithm algorithm, const FmaUnits& fma) {
  if (!isConvPass(op.kind) || algorithm == ConvAlgorithm::Direct) return 0;
  const auto k = op.attrs.pair("kernel"), s = op.attrs.pair("stride");
  if (k[0] != k[1] || (k[0] != 3 && k[0] != 5) || s[0] != 1 || s[1] != 1) return 0;
  const std::vector<int> tiles = k[0] == 3 ? std::vector<int>{2, 4, 6} : std::vector<int>{2, 3, 4};
  int best = algorithm == ConvAlgorithm::Winograd ? tiles.front() : 0;
  double cost = convPassCost(g, op, best, fma);
  for (int m : tiles)
    if (const double c = convPassCost(g, op, m, fma); c < cost) {
      best = m;
      cost = c;
    }
  return best;
}

}  // namespace cnnc
