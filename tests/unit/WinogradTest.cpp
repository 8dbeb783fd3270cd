// The Winograd transforms (fuse/Winograd.h) in exact arithmetic: for every
// tile cnnc uses, A^T [(G g) . (B^T d)] is the correlation of d with g.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "Helpers.h"
#include "fuse/Winograd.h"

using namespace cnnc;

namespace {

std::vector<double> times(const Matrix& a, const std::vector<double>& v) {
  std::vector<double> out(a.size(), 0.0);
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < v.size(); ++j) out[i] += a[i][j] * v[j];
  return out;
}

}  // namespace

TEST_CASE("Winograd F(m, r) computes the correlation of a tile with the kernel", "[winograd]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  for (auto [m, r] : {std::pair{2, 3}, {4, 3}, {6, 3}, {2, 5}, {3, 5}, {4, 5}}) {
    const WinogradMatrices w = winogradMatrices(m, r);
    REQUIRE(w.alpha == m + r - 1);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> g(r), d(w.alpha);
      for (double& v : g) v = u(rng);
      for (double& v : d) v = u(rng);
      std::vector<double> Gg = times(w.G, g), Bd = times(w.BT, d);
      for (int k = 0; k < w.alpha; ++k) Gg[k] *= Bd[k];
      const std::vector<double> y = times(w.AT, Gg);
      for (int i = 0; i < m; ++i) {
        double direct = 0;
        for (int k = 0; k < r; ++k) direct += g[k] * d[i + k];
        INFO("F(" << m << "," << r << ") output " << i);
        CHECK(std::abs(y[i] - direct) <= 1e-12);
      }
    }
  }
}

TEST_CASE("--conv picks Winograd only where it applies, and auto by the cost model", "[winograd]") {
  ConvAlgorithm a = ConvAlgorithm::Direct;
  CHECK(parseConvAlgorithm("auto", a));
  CHECK(a == ConvAlgorithm::Auto);
  CHECK_FALSE(parseConvAlgorithm("fft", a));
  auto c = test::compile(
      "model m {\n  input 1x28x28\n  one: conv2d(32, kernel=5, padding=2)\n  wide: conv2d(64, kernel=3, padding=1)\n"
      "  strided: conv2d(64, kernel=3, stride=2)\n  point: conv2d(64, kernel=1)\n  flatten\n  out: linear(10)\n}\n");
  INFO(c.messages);
  REQUIRE(c.graph);
  auto tile = [&](int index, ConvAlgorithm algorithm) { return chooseWinogradTile(*c.graph, c.graph->ops[index], algorithm); };
  std::vector<int> convs;
  for (size_t i = 0; i < c.graph->ops.size(); ++i)
    if (c.graph->ops[i].kind == OpKind::Conv2d) convs.push_back(static_cast<int>(i));
  REQUIRE(convs.size() == 4);
  for (int k : convs) CHECK(tile(k, ConvAlgorithm::Direct) == 0);
  CHECK(tile(convs[2], ConvAlgorithm::Winograd) == 0);  // stride 2
  CHECK(tile(convs[3], ConvAlgorithm::Winograd) == 0);  // 1x1
  // One input channel: the transforms cost more than the multiplies saved.
  CHECK(tile(convs[0], ConvAlgorithm::Auto) == 0);
  CHECK(tile(convs[0], ConvAlgorithm::Winograd) != 0);
  // 32 -> 64 channels of 3x3: the largest tile that pays, F(4x4) or F(6x6).
  CHECK(tile(convs[1], ConvAlgorithm::Auto) >= 4);
  CHECK(convPassCost(*c.graph, c.graph->ops[convs[1]], tile(convs[1], ConvAlgorithm::Auto)) <
        convPassCost(*c.graph, c.graph->ops[convs[1]], 0));
}
