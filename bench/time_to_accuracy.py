#!/usr/bin/env python3
"""Time to accuracy: cnnc's recipes against their PyTorch twins, side by side.

For each model (models/mnist_fast.cnn: 99.0%; models/mnist_best.cnn:
99.6%), alternates N rounds of: cnnc's trainer with `--stop-at ACC
--eval-every K`, and the same network and recipe in PyTorch 2.x
(bench/pytorch_mnist.py with the model's twin from
tests/reference/cnnc_torch.py: same batch, Adam under OneCycleLR at the same
max_lr stepped per step, the same augmentation, the same evaluation
cadence), eager and with torch.compile (its warm-up not counted). Each run
prints the training time until the first evaluation that reaches the
target (evaluations not counted, in both); this prints every run, the
medians, the step each reached it at, and the ratio of cnnc's median to the
fastest PyTorch's. cnnc's compile time is reported beside (not counted,
as torch.compile's warm-up is not). 2 threads each.

    bench/time_to_accuracy.py [--model mnist_fast|mnist_best|all] [--rounds 3] [--no-compile]

The runs draw different random numbers (initialisation, order, crops), so
the step a run reaches the target at differs between cnnc and PyTorch;
both are deterministic from run to run, so the rounds measure the
machine's noise. Shared machines are noisy: read the medians.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each model's target and recipe (its train block, which the trainer's
# first line is checked against), and how often both evaluate.
RECIPES = {
    "mnist_fast": {"target": 99.0, "eval_every": 50, "torch": ["--batch", "128", "--lr", "0.01", "--onecycle",
                                                               "--epochs", "2"],
                   "header": "batch 128, lr 0.01 (one-cycle schedule)"},
    "mnist_best": {"target": 99.6, "eval_every": 100, "torch": ["--batch", "128", "--lr", "0.004", "--onecycle",
                                                                "--epochs", "12", "--crop", "2"],
                   "header": "batch 128, lr 0.004 (one-cycle schedule)"},
}


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"time_to_accuracy: {' '.join(cmd)} failed:\n{proc.stdout}")
    return proc.stdout


REACHED = re.compile(r"reached ([0-9.]+)% test accuracy \(--stop-at [0-9.]+\) at step (\d+) \(epoch (\d+)\): "
                     r"([0-9.]+) s of training")


def reached(out, what):
    m = REACHED.search(out)
    if not m:
        print(f"  {what}: did not reach the target:\n{out}", flush=True)
        return None
    return {"acc": float(m.group(1)), "step": int(m.group(2)), "epoch": int(m.group(3)), "seconds": float(m.group(4))}


def bench(model, args):
    recipe = RECIPES[model]
    work = tempfile.mkdtemp(prefix="cnnc-tta-")
    trainer = os.path.join(work, model + "_net")
    start = time.perf_counter()
    run([args.cnnc, f"models/{model}.cnn", "-o", trainer])
    compile_seconds = time.perf_counter() - start
    stop = ["--stop-at", str(recipe["target"]), "--eval-every", str(recipe["eval_every"])]
    runners = [("cnnc", [trainer, "train", "--data", args.data, "--threads", "2"] + stop)]
    twin = [args.torch2, "bench/pytorch_mnist.py", "--model", model, "--data", args.data, "--threads", "2"] + \
        recipe["torch"] + stop
    runners += [("PyTorch 2.x eager", twin)]
    if not args.no_compile:
        runners += [("PyTorch 2.x torch.compile", twin + ["--compile"])]
    print(f"{model}: to {recipe['target']}% test accuracy, evaluating every {recipe['eval_every']} steps; "
          f"cnnc compile {compile_seconds:.1f} s", flush=True)
    results = {name: [] for name, _ in runners}
    for r in range(args.rounds):
        for name, cmd in runners:
            out = run(cmd)
            if name == "cnnc" and recipe["header"] not in out:
                sys.exit(f"time_to_accuracy: {model}'s train block is not the recipe this script gives PyTorch "
                         f"({recipe['header']}):\n{out}")
            res = reached(out, name)
            results[name].append(res)
            if res:
                print(f"  round {r + 1} {name:26s} {res['seconds']:7.2f} s  {res['acc']:.2f}% at step {res['step']} "
                      f"(epoch {res['epoch']})", flush=True)
    medians = {}
    for name, runs in results.items():
        done = [x for x in runs if x]
        if len(done) == len(runs):
            medians[name] = statistics.median(x["seconds"] for x in done)
    print(f"{model} medians of {args.rounds} (training seconds to {recipe['target']}%):")
    for name, m in medians.items():
        print(f"  {name:26s} {m:7.2f} s")
    torch_names = [n for n in medians if n != "cnnc"]
    if "cnnc" in medians and torch_names:
        fastest = min(torch_names, key=lambda n: medians[n])
        print(f"  ratio cnnc / fastest PyTorch ({fastest}): {medians['cnnc'] / medians[fastest]:.2f}")
    return medians


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--cnnc", default="build/cnnc")
    ap.add_argument("--torch2", default=".venv-torch/bin/python", help="python with PyTorch 2.x (PyPI)")
    ap.add_argument("--model", default="all", choices=sorted(RECIPES) + ["all"])
    ap.add_argument("--no-compile", action="store_true", help="leave out torch.compile (mnist_best's runs are long)")
    args = ap.parse_args()
    for model in sorted(RECIPES) if args.model == "all" else [args.model]:
        bench(model, args)


if __name__ == "__main__":
    main()
