#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine. Build here first:
#   mkdir -p build-gpu && build/cnnc models/mnist.cnn --target=host,cuda,opencl -o build-gpu/mnist_net_gpu
#   mkdir -p build-gpu/mnist && gzip -c data/mnist/FILE > build-gpu/mnist/FILE.gz  (each of the four)
# then carry build-gpu and run this there. Writes under $OUT. CUDA against
# the CPU (200 steps from the same weights), one epoch, PyTorch eager and
# torch.compile on the same GPU; then the same agreement on OpenCL when the
# machine has an OpenCL driver for its GPU (NVIDIA's ICD), which pocl's
# runs in CI cannot show (a real GPU's OpenCL compiler, alignment, timing).
set -u
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
N=build-gpu/mnist_net_gpu
D=build-gpu/mnist
INIT=tests/reference/mnist_init.safetensors
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  lscpu | grep -E 'Model name|^CPU\(s\)'
  grep -o -m1 avx512f /proc/cpuinfo || echo "no avx512f"
  python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

# 1. 200 steps from the same weights and order: CUDA, then the CPU build.
timeout 100 "$N" train --device cuda --data "$D" --init "$INIT" --no-shuffle --epochs 1 --limit 12800 --lr 0.001 \
  --log "$out/cuda200.jsonl" --log-every 1 > "$out/cuda200.txt" 2>&1
echo "cuda200 exit $?"; cat "$out/cuda200.txt"
timeout 60 "$N" train --device cpu --data "$D" --init "$INIT" --no-shuffle --epochs 1 --limit 12800 --lr 0.001 \
  --log "$out/cpu200.jsonl" --log-every 1 > "$out/cpu200.txt" 2>&1
echo "cpu200 exit $?"; cat "$out/cpu200.txt"
python3 tests/lit/trainer/Inputs/compare_runs.py "$out/cpu200.jsonl" "$out/cuda200.jsonl" --rtol 1e-3 --steps 200 \
  > "$out/compare200.txt" 2>&1
echo "compare exit $?"; cat "$out/compare200.txt"
timeout 60 "$N" train --device cuda --data "$D" --limit 320 --epochs 1 --profile > "$out/cuda_profile.txt" 2>&1
grep -E 'launches|copies' "$out/cuda_profile.txt"

# 2. One full epoch on the GPU.
timeout 180 "$N" train --device cuda --data "$D" --epochs 1 --lr 0.001 --log "$out/cuda_epoch.jsonl" > "$out/cuda_epoch.txt" 2>&1
echo "cuda epoch exit $?"; cat "$out/cuda_epoch.txt"

# 3. PyTorch on the same GPU: eager (data preloaded), then torch.compile.
timeout 90 python3 bench/pytorch_mnist.py --device cuda --data "$D" --epochs 1 --lr 0.001 > "$out/torch_eager.txt" 2>&1
echo "torch eager exit $?"; cat "$out/torch_eager.txt" | tail -3
timeout 150 python3 bench/pytorch_mnist.py --device cuda --data "$D" --epochs 1 --lr 0.001 --compile > "$out/torch_compile.txt" 2>&1
echo "torch compile exit $?"; tail -3 "$out/torch_compile.txt"

# 4. OpenCL on the same GPU, when there is a driver for it.
timeout 60 "$N" info > "$out/info.txt" 2>&1; grep -A2 devices "$out/info.txt"
if grep -q 'opencl: *a device is usable' "$out/info.txt"; then
  timeout 120 "$N" train --device opencl --data "$D" --init "$INIT" --no-shuffle --epochs 1 --limit 12800 --lr 0.001 \
    --log "$out/opencl200.jsonl" --log-every 1 > "$out/opencl200.txt" 2>&1
  echo "opencl200 exit $?"; cat "$out/opencl200.txt"
  python3 tests/lit/trainer/Inputs/compare_runs.py "$out/cpu200.jsonl" "$out/opencl200.jsonl" --rtol 1e-3 --steps 200
  timeout 60 "$N" train --device opencl --data "$D" --limit 320 --epochs 1 --profile 2>&1 | grep -E 'launches|copies'
fi
