#include "support/Fma.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace cnnc {

namespace {

constexpr int64_t kIterations = 500'000;

double secondsOf(const std::function<void()>& run) {
  double best = 1e30;
  for (int repeat = 0; repeat < 5; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// 8 dependent adds per iteration: the loop's own counter runs beside them.
double cycleSeconds() {
  const double s = secondsOf([] {
    uint64_t x = 1;
    for (int64_t i = 0; i < kIterations; ++i)
      asm volatile("add %0, %0\n\tadd %0, %0\n\tadd %0, %0\n\tadd %0, %0\n\t"
                   "add %0, %0\n\tadd %0, %0\n\tadd %0, %0\n\tadd %0, %0"
                   : "+r"(x));
  });
  return s / (8.0 * kIterations);
}

// `Chains` independent chains of multiply-adds, 8 steps of each per
// iteration; the sum returned so that nothing is optimised away.
template <int Chains>
__attribute__((target("avx512f"))) float fma512Run() {
  __m512 acc[Chains], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (int c = 0; c < Chains; ++c) acc[c] = _mm512_set1_ps(float(c));
  for (int64_t i = 0; i < kIterations; ++i)
#pragma GCC unroll 96
    for (int k = 0; k < 8 * Chains; ++k) acc[k % Chains] = _mm512_fmadd_ps(acc[k % Chains], a, b);
  float lanes[16], total = 0;
  for (int c = 0; c < Chains; ++c) {
    _mm512_storeu_ps(lanes, acc[c]);
    for (float v : lanes) total += v;
  }
  return total;
}

template <int Chains>
__attribute__((target("avx2,fma"))) float fma256Run() {
  __m256 acc[Chains], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  for (int c = 0; c < Chains; ++c) acc[c] = _mm256_set1_ps(float(c));
  for (int64_t i = 0; i < kIterations; ++i)
#pragma GCC unroll 96
    for (int k = 0; k < 8 * Chains; ++k) acc[k % Chains] = _mm256_fmadd_ps(acc[k % Chains], a, b);
  float lanes[8], total = 0;
  for (int c = 0; c < Chains; ++c) {
    _mm256_storeu_ps(lanes, acc[c]);
    for (float v : lanes) total += v;
  }
  return total;
}

// Seconds per multiply-add with `Chains` chains.
template <int Chains>
double fmaSeconds(bool avx512) {
  volatile float sink = 0;
  const double s = secondsOf([&] { sink = avx512 ? fma512Run<Chains>() : fma256Run<Chains>(); });
  return s / (8.0 * Chains * kIterations);
}

}  // namespace

FmaUnits measureFma(bool avx512) {
  const double cycle = cycleSeconds();
  const double dependent = fmaSeconds<1>(avx512);   // seconds per multiply-add, one chain
  const double independent = fmaSeconds<12>(avx512);  // seconds per multiply-add, 12 chains
  FmaUnits f;
  f.latency = std::clamp(static_cast<int>(std::lround(dependent / cycle)), 1, 16);
  f.units = std::clamp(static_cast<int>(std::lround(cycle / independent)), 1, 4);
  return f;
}

bool parseFma(const std::string& text, bool avx512, FmaUnits& out, std::string& why) {
  if (text == "host") {
    __builtin_cpu_init();
    const bool has = avx512 ? __builtin_cpu_supports("avx512f") : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!has) {
      why = avx512 ? "this machine has no AVX-512 to measure" : "this machine has no AVX2 and FMA to measure";
      return false;
    }
    out = measureFma(avx512);
    return true;
  }
  int units = 0, latency = 0, used = 0;
  if (std::sscanf(text.c_str(), "%d,%d%n", &units, &latency, &used) != 2 || used != static_cast<int>(text.size())) {
    why = "expected host or UNITS,LATENCY such as 2,4";
    return false;
  }
  if (units < 1 || units > 4 || latency < 1 || latency > 16) {
    why = "units must be 1-4 and the latency 1-16 cycles";
    return false;
  }
  out = {units, latency};
  return true;
}

std::string describeFma(const FmaUnits& fma) {
  return std::to_string(fma.units) + (fma.units == 1 ? " unit" : " units") + " x " + std::to_string(fma.latency) +
         " cycles";
}

}  // namespace cnnc
