// The multiply-add units of the CPU a trainer is compiled for: what
// Halide's Target does not say (`cnnc --fma`, docs/performance.md).
#pragma once

#include <string>

namespace cnnc {

// A core starts `units` vector multiply-adds per cycle, each ready
// `latency` cycles later. A register tile needs units x latency
// independent accumulators to keep the units busy (the CPU schedules'
// cost model), and the convolution cost model divides multiply-adds, not
// the Winograd transforms' adds, loads and stores, by the units.
// The default is a two-unit AVX-512 Xeon's (and an AVX2 core's: two
// 256-bit units); AMD's Zen 4 runs one 512-bit multiply-add per cycle
// (`--fma=1,4`, what `--fma=host` measures there).
struct FmaUnits {
  int units = 2;
  int latency = 4;
  int chains() const { return units * latency; }
  bool operator==(const FmaUnits& o) const { return units == o.units && latency == o.latency; }
};

// "U,L" (units 1-4, latency 1-16), or "host": measured on this machine at
// 512-bit vectors when `avx512`, else 256-bit. False with `why`.
bool parseFma(const std::string& text, bool avx512, FmaUnits& out, std::string& why);

// This core's: the cycle time from a chain of dependent integer adds (one
// cycle each), the latency from one chain of dependent multiply-adds, the
// units from 12 independent chains; each the best of five runs (a shared
// machine only ever slows a run down). About 0.1 s.
FmaUnits measureFma(bool avx512);

// "2 units x 4 cycles".
std::string describeFma(const FmaUnits& fma);

}  // namespace cnnc
