#!/usr/bin/env bash
# One training epoch of models/mnist.cnn (Adam, lr 0.001, batch 64), cnnc's
# trainer and PyTorch (data preloaded, 2 threads) alternately, N times each
# in one go on this machine; prints each run, the medians and the ratio.
# A first version of issue 7's benchmark (PyTorch 1.13 from Debian only).
#
#   bench/epoch_vs_pytorch.sh [N] [TRAINER]     (defaults: 3, build/tests/mnist_net)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
trainer=${2:-build/tests/mnist_net}
python=${PYTHON:-/usr/bin/python3}
cnnc_times=() torch_times=()
for i in $(seq "$n"); do
  line=$("$trainer" train --epochs 1 --lr 0.001 --threads 2 | grep '^epoch')
  echo "cnnc    run $i: $line"
  cnnc_times+=("$(echo "$line" | sed -E 's/.* ([0-9.]+) s .*/\1/')")
  line=$("$python" bench/pytorch_mnist.py --epochs 1 --lr 0.001 --threads 2 | grep '^epoch')
  echo "pytorch run $i: $line"
  torch_times+=("$(echo "$line" | sed -E 's/.* ([0-9.]+) s .*/\1/')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
c=$(median "${cnnc_times[@]}")
t=$(median "${torch_times[@]}")
echo "median training epoch: cnnc ${c} s, PyTorch $("$python" -c 'import torch; print(torch.__version__)') ${t} s, ratio $(awk -v c="$c" -v t="$t" 'BEGIN {printf "%.2f", c / t}')"
