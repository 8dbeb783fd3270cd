// The test runner of the binaries that JIT-compile pipelines: Halide's JIT
// compiles for HL_JIT_TARGET, else for Halide's idea of this CPU, which
// can name features the CPU lacks (lower/Pipelines.h, hostTarget): cnnc's
// host target instead, unless HL_JIT_TARGET is set.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "lower/Pipelines.h"

int main(int argc, char** argv) {
  setenv("HL_JIT_TARGET", cnnc::hostTarget().to_string().c_str(), 0);
  return Catch::Session().run(argc, argv);
}
