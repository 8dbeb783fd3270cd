#!/usr/bin/env bash
# A long fuzzing run of one target (frontend, idx, safetensors, image, cifar, folder) on
# the checked build (scripts/build.sh --sanitize builds it):
#   scripts/fuzz.sh TARGET [MINUTES]      (default 10 minutes)
# Starts from the committed seeds; what it learns stays in
# build-asan/fuzz/TARGET/ (reused by the next run). A finding (crash-*,
# leak-*, timeout-*, oom-*) is saved there and the exit status is non-zero:
# fix it, then add the input to tests/fuzz/corpus/TARGET/ under a name that
# says what it was.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh frontend|idx|safetensors|image|cifar|folder [MINUTES]}
minutes=${2:-10}
binary=build-asan/tests/fuzz/${target}_fuzz
seeds=tests/fuzz/corpus/$target
[[ -x $binary ]] || { echo "fuzz: $binary is missing; run scripts/build.sh --sanitize" >&2; exit 1; }
[[ -d $seeds ]] || { echo "fuzz: no seed corpus $seeds" >&2; exit 1; }
work=build-asan/fuzz/$target
mkdir -p "$work"
echo "fuzz: $target for $minutes minutes; corpus $work, seeds $seeds"
"$binary" -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work" "$seeds"
