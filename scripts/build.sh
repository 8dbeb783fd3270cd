#!/usr/bin/env bash
# One step from a fresh clone to a built cnnc: installs missing Debian
# packages, configures with CMake + Ninja into build/, and builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build
rm -f build.log
