#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine. Build here first
# (AVX2 CPU code: the GPU machine's processor is not known in advance):
#   T=x86-64-linux-avx2-f16c-fma-sse41
#   build/cnnc models/mnist.cnn --conv=direct --target=$T,cuda,opencl -o build-gpu/mnist_net_gpu
#   build/cnnc models/resnet.cnn --conv=direct --target=$T,cuda -o build-gpu/resnet_net_gpu
#   strip build-gpu/*_net_gpu
#   mkdir -p build-gpu/mnist build-gpu/lib; gzip -c data/mnist/FILE > build-gpu/mnist/FILE.gz  (each of the four)
#   cp -L /lib/x86_64-linux-gnu/{libpng16.so.16,libz.so.1} build-gpu/lib/
# then carry build-gpu and run this there. Prints everything (tee'd to
# $OUT/gpu_run.txt) and packs the logs into $OUT/logs.tgz.
#  1. mnist: CUDA against the CPU (200 steps from the same weights), the
#     copies per step, one epoch; PyTorch eager and torch.compile on the
#     same GPU.
#  2. resnet (batch norm, dropout, a skip, onecycle): 10 steps CUDA against
#     the CPU, one epoch; PyTorch eager on the same GPU.
#  3. OpenCL on the same GPU when the machine has a driver for it (NVIDIA's
#     ICD), which pocl's runs in CI cannot show.
set -u
out=${OUT:-/tmp/gpu-out}
w=/tmp/gpu-work
mkdir -p "$out" "$w"
exec > >(tee "$out/gpu_run.txt") 2>&1
D=build-gpu/mnist
R=tests/reference
compare=tests/lit/trainer/Inputs/compare_runs.py

# Halide's runtimes open libcuda.so and libOpenCL.so by those names; a
# driver-only machine may have just the .so.1.
mkdir -p "$w/shim"
for lib in libcuda libOpenCL; do
  real=$(ldconfig -p | awk -v l="$lib.so.1" '$1 == l {print $NF; exit}')
  [ -z "$real" ] && real=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name "$lib.so.1" 2>/dev/null | head -1)
  echo "$lib: ${real:-none}; $lib.so in ldconfig: $(ldconfig -p | grep -c " $lib.so ")"
  [ -n "$real" ] && ln -sf "$real" "$w/shim/$lib.so"
done
export LD_LIBRARY_PATH="$w/shim:$PWD/build-gpu/lib:${LD_LIBRARY_PATH:-}"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
lscpu | grep -E 'Model name|^CPU\(s\)'
grep -o -m1 avx512f /proc/cpuinfo || echo "no avx512f"
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
timeout 30 build-gpu/mnist_net_gpu info 2>&1 | tail -8

section() { echo; echo "=== $* ($(date +%T))"; }
trainer() {  # name timeout net args...
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@" > "$w/$name.txt" 2>&1
  echo "$name exit $?"; tail -4 "$w/$name.txt"
}

section "mnist: 200 steps, CUDA against the CPU"
M=build-gpu/mnist_net_gpu
msame="--data $D --init $R/mnist_init.safetensors --no-shuffle --epochs 1 --limit 12800 --lr 0.001 --log-every 1"
trainer cuda200 60 $M train --device cuda $msame --log "$w/cuda200.jsonl"
trainer cpu200 60 $M train --device cpu $msame --log "$w/cpu200.jsonl"
python3 $compare "$w/cpu200.jsonl" "$w/cuda200.jsonl" --rtol 1e-3 --steps 200; echo "compare exit $?"
python3 $compare "$w/cpu200.jsonl" "$w/cuda200.jsonl" --rtol 1e-5 --steps 10; echo "compare 10 steps exit $?"
timeout 60 $M train --device cuda --data $D --limit 320 --epochs 1 --profile > "$w/cuda_profile.txt" 2>&1
grep -E 'launches|copies|step' "$w/cuda_profile.txt" | head -8

section "mnist: one epoch on CUDA, then PyTorch"
trainer cuda_epoch 90 $M train --device cuda --data $D --epochs 1 --lr 0.001 --log "$w/cuda_epoch.jsonl"
trainer torch_eager 60 python3 bench/pytorch_mnist.py --device cuda --data $D --epochs 1 --lr 0.001
trainer torch_compile 120 python3 bench/pytorch_mnist.py --device cuda --data $D --epochs 1 --lr 0.001 --compile

section "resnet: 10 steps, CUDA against the CPU; one epoch; PyTorch eager"
N=build-gpu/resnet_net_gpu
rsame="--data $D --init $R/resnet_init.safetensors --no-shuffle --epochs 1 --limit 640 --lr 0.001 --log-every 1"
trainer rcuda10 60 $N train --device cuda $rsame --log "$w/rcuda10.jsonl"
trainer rcpu10 60 $N train --device cpu $rsame --log "$w/rcpu10.jsonl"
python3 $compare "$w/rcpu10.jsonl" "$w/rcuda10.jsonl" --rtol 1e-5 --steps 10; echo "compare exit $?"
trainer rcuda_epoch 90 $N train --device cuda --data $D --epochs 1 --log "$w/rcuda_epoch.jsonl"
trainer rtorch_eager 90 python3 bench/pytorch_mnist.py --model resnet --onecycle --lr 0.003 --device cuda --data $D --epochs 1

section "OpenCL on the GPU, when there is a driver"
timeout 30 $M info > "$w/info.txt" 2>&1; grep -A3 -i devices "$w/info.txt"
if grep -q 'opencl: *a device is usable' "$w/info.txt"; then
  trainer opencl200 90 $M train --device opencl $msame --log "$w/opencl200.jsonl"
  python3 $compare "$w/cpu200.jsonl" "$w/opencl200.jsonl" --rtol 1e-3 --steps 200; echo "compare exit $?"
fi
section done
tar czf "$out/logs.tgz" -C "$w" --exclude shim .
