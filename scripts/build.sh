#!/usr/bin/env bash
# One step from a fresh clone to a built cnnc: installs missing Debian
# packages, configures with CMake + Ninja into build/, and builds.
#
#   scripts/build.sh              the release build, in build/
#   scripts/build.sh --sanitize   the checked build, in build-asan/: clang-14
#                                 with AddressSanitizer + UBSan over everything,
#                                 and the libFuzzer targets (tests/fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--sanitize" ]]; then
  scripts/install-deps.sh --sanitize
  dir=build-asan
  config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
          -DCNNC_SANITIZE=ON -DCNNC_FUZZ=ON)
else
  scripts/install-deps.sh
  dir=build
  config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
cmake -S . -B "$dir" -G Ninja "${config[@]}" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
cmake --build "$dir"
rm -f "$dir.log"
