#!/usr/bin/env bash
# Writes generated/<model>/ from models/<model>.cnn: every --emit stage that
# this version of cnnc has, plus --summary. With --check, writes nothing and
# fails if any committed file differs from what cnnc prints now.
#
#   scripts/regen-generated.sh [--check] [path/to/cnnc]     (default: build/cnnc)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
cnnc=${1:-build/cnnc}
[[ -x "$cnnc" ]] || { echo "regen-generated: no cnnc at '$cnnc'; build first (cmake --build build)" >&2; exit 2; }

# One CPU target for every machine (AVX-512, as on the development
# machines), so that generated/ does not depend on the host that writes it.
cpu=x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41
# glue-gpu: the glue of a trainer with every GPU API (--target=host,cuda,opencl),
# which shows the GPU kernels launched per call.
stages=(ast ir dot grad fused plan halide glue glue-gpu summary)
drift=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for model in models/*.cnn; do
  name=$(basename "$model" .cnn)
  mkdir -p "$tmp/$name"
  for stage in "${stages[@]}"; do
    flags=(--emit=$stage --target=$cpu)
    [[ $stage == summary ]] && flags=(--summary --target=$cpu)
    [[ $stage == glue-gpu ]] && flags=(--emit=glue --target=$cpu,cuda,opencl)
    ext=txt; [[ $stage == glue* ]] && ext=cpp
    "$cnnc" "$model" "${flags[@]}" > "$tmp/$name/$stage.$ext"
  done
  if (( check )); then
    if ! diff -ru "generated/$name" "$tmp/$name"; then
      drift=1
    fi
  else
    rm -rf "generated/$name"
    mkdir -p generated
    cp -r "$tmp/$name" "generated/$name"
  fi
done
if (( check )); then
  # A committed folder whose model is gone is drift too.
  for dir in generated/*/; do
    name=$(basename "$dir")
    [[ -f models/$name.cnn ]] || { echo "generated/$name has no models/$name.cnn"; drift=1; }
  done
  if (( drift )); then
    echo "generated/ differs from what cnnc prints now; run scripts/regen-generated.sh and commit the result" >&2
    exit 1
  fi
  echo "generated/ matches cnnc for ${#stages[@]} stages of $(ls models/*.cnn | wc -l) models"
fi
