#!/usr/bin/env bash
# The GPU checks of issue 8, as one script for a lent GPU machine. Build
# here first (cnnc --target=host,cuda into build-gpu/, MNIST gzipped into
# build-gpu/mnist), carry build-gpu, run this there. Writes under $OUT.
set -u
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
N=build-gpu/mnist_net_cuda
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
python3 - "$out" <<'PY' > "$out/compare200.txt" 2>&1
import json, sys
out = sys.argv[1]
def losses(p):
    return [json.loads(l)["loss"] for l in open(p) if '"step"' in l]
cpu, gpu = losses(out + "/cpu200.jsonl"), losses(out + "/cuda200.jsonl")
n = min(len(cpu), len(gpu))
rel = [abs(g - c) / abs(c) for c, g in zip(cpu[:n], gpu[:n])]
worst = max(range(n), key=lambda i: rel[i]) if n else 0
print(f"{n} steps compared; max relative difference {max(rel) if n else float('nan'):.2e} at step {worst + 1}; "
      f"steps over 1e-3: {sum(r > 1e-3 for r in rel)}; first over 1e-3: {next((i + 1 for i, r in enumerate(rel) if r > 1e-3), None)}")
PY
cat "$out/compare200.txt"

# 2. One full epoch on the GPU.
timeout 180 "$N" train --device cuda --data "$D" --epochs 1 --lr 0.001 --log "$out/cuda_epoch.jsonl" > "$out/cuda_epoch.txt" 2>&1
echo "cuda epoch exit $?"; cat "$out/cuda_epoch.txt"

# 3. PyTorch on the same GPU: eager (data preloaded), then torch.compile.
timeout 90 python3 bench/pytorch_mnist.py --device cuda --data "$D" --epochs 1 --lr 0.001 > "$out/torch_eager.txt" 2>&1
echo "torch eager exit $?"; cat "$out/torch_eager.txt" | tail -3
timeout 150 python3 bench/pytorch_mnist.py --device cuda --data "$D" --epochs 1 --lr 0.001 --compile > "$out/torch_compile.txt" 2>&1
echo "torch compile exit $?"; tail -3 "$out/torch_compile.txt"
