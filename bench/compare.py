#!/usr/bin/env python3
"""cnnc against PyTorch on this machine, side by side.

Alternates, in one go, N rounds of: cnnc's trainer, PyTorch 1.13 (Debian),
PyTorch 2.x eager and PyTorch 2.x with torch.compile (a virtualenv; rows
whose interpreter is missing are skipped and said so). Each run trains a
model of models/ one epoch (--model: mnist, the tutorial network, with
Adam lr 0.001; lenet5 with its SGD, lr 0.05, momentum 0.9; mlp with Adam lr
0.001; resnet (batch norm, dropout) with Adam under its one-cycle schedule (max_lr 0.003; OneCycleLR over the
run in PyTorch), inception, vgg and mixed (every layer of the language) with Adam lr 0.001; batch 64;
mnist_fast and mnist_best as their train blocks say (Adam, one-cycle, batch 128; mnist_best's random crops);
data preloaded, 2 threads), then evaluates the 10,000 test
images. cnnc runs twice per round: as cnnc builds it by default
(--conv=auto: Winograd where the cost model says it pays) and with
--conv=direct. Prints every run, then the medians, each row's share of the
machine's FMA peak (measured by the trainer's `info` each round, the
highest kept; the work counted is direct convolution's multiply-adds, so
Winograd can exceed 100%), the ratios to the fastest PyTorch, peak RSS, and cnnc's
compile time (median of N compiles).

    bench/compare.py [--model mnist|lenet5|mlp|resnet|inception|vgg|mixed|mnist_fast|mnist_best|cifar10|all] [--rounds 3] [--torch2 .venv-torch/bin/python]

Shared machines are noisy: compare within one run, read the medians.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each model's settings: learning rate, and PyTorch's optimizer to match
# the model's train block.
MODELS = {"mnist": ("0.001", []), "lenet5": ("0.05", ["--sgd", "--momentum", "0.9"]), "mlp": ("0.001", []),
          "resnet": ("0.003", ["--onecycle"]), "inception": ("0.001", []), "vgg": ("0.001", []),
          "mixed": ("0.001", []), "mnist_fast": ("0.01", ["--onecycle", "--batch", "128"]),
          "mnist_best": ("0.004", ["--onecycle", "--batch", "128", "--crop", "2"]),
          "cifar10": ("0.1", ["--sgd", "--momentum", "0.9", "--nesterov", "--weight-decay", "5e-4", "--onecycle",
                              "--label-smoothing", "0.1", "--crop", "4", "--flip", "--batch", "128"])}
# Models that read other data: the folder, PyTorch's flags for it, cnnc's
# extra flags, and the training images per epoch. cifar10 reads random
# pixels of CIFAR-10's size (bench/synthetic_cifar10.py): the speed is the
# real one, the accuracy chance; cnnc trains on all 50,000 (--validation 0)
# as PyTorch does.
DATA = {"cifar10": ("data/cifar10-synthetic", ["--format", "cifar10", "--normalize", "cifar10"], ["--validation", "0"],
                    50000)}


def run(cmd, env=None):
    """Runs `cmd`; returns (stdout, wall seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{out}")
    return out, seconds, usage.ru_maxrss / 1024


def number(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        sys.exit(f"bench: no {what} in:\n{text}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--cnnc", default="build/cnnc")
    ap.add_argument("--torch1", default="/usr/bin/python3", help="python with PyTorch 1.13 (Debian)")
    ap.add_argument("--torch2", default=".venv-torch/bin/python", help="python with PyTorch 2.x (PyPI)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--model", default="mnist", choices=sorted(MODELS) + ["all"])
    args = ap.parse_args()
    summary = []
    for model in sorted(MODELS) if args.model == "all" else [args.model]:
        args.model = model
        summary.append(bench(args))
    if len(summary) > 1:
        print("\nall models (medians):")
        for line in summary:
            print(line)


def bench(args):
    work = tempfile.mkdtemp(prefix="cnnc-bench-")
    trainer = os.path.join(work, args.model + "_net")
    direct = os.path.join(work, args.model + "_direct_net")
    ck = os.path.join(work, "w.safetensors")
    lr, optimizer = MODELS[args.model]
    common = ["--epochs", str(args.epochs), "--lr", lr, "--threads", "2"]
    data, torch_data, cnnc_extra, images = DATA.get(args.model, (args.data, [], [], 60000))
    if not os.path.exists(os.path.join(ROOT, data)):
        sys.exit(f"bench: no {data}" + (" (python3 bench/synthetic_cifar10.py writes it)" if args.model == "cifar10" else ""))

    rows = {}  # name -> {"train": [], "eval": [], "rss": [], "acc": []}

    def record(name, train, evaluate, rss, acc):
        r = rows.setdefault(name, {"train": [], "eval": [], "rss": [], "acc": []})
        r["train"].append(train)
        r["eval"].append(evaluate)
        r["rss"].append(rss)
        r["acc"].append(acc)
        print(f"  {name:28s} train {train:6.2f} s  eval {evaluate:6.3f} s  peak RSS {rss:6.0f} MiB  "
              f"test accuracy {acc:.2f}%", flush=True)

    pythons = []
    for name, python, extra in (("PyTorch 1.13 eager", args.torch1, []), ("PyTorch 2.x eager", args.torch2, []),
                                ("PyTorch 2.x torch.compile", args.torch2, ["--compile"])):
        path = python if os.path.isabs(python) else os.path.join(ROOT, python)
        if not os.path.exists(path):
            print(f"bench: {name}: no interpreter at {python}; skipped")
            continue
        version = subprocess.run([path, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                 text=True)
        if version.returncode != 0:
            print(f"bench: {name}: {python} has no torch; skipped")
            continue
        pythons.append((name.replace("2.x", version.stdout.strip().split("+")[0]), path, extra))

    compiles = []
    peak = flops = None
    for i in range(1, args.rounds + 1):
        print(f"round {i}/{args.rounds}", flush=True)
        _, seconds, _ = run([args.cnnc, f"models/{args.model}.cnn", "-o", trainer])
        compiles.append(seconds)
        print(f"  {'cnnc compile':28s} {seconds:.1f} s", flush=True)
        run([args.cnnc, f"models/{args.model}.cnn", "--conv=direct", "-o", direct])
        # The peak measured each round, the highest kept: a neighbour's load
        # only lowers it (one round measured 117 GFLOP/s of 230 on a shared
        # 2-core machine, which doubled every row's share).
        info, _, _ = run([trainer, "info"])
        measured = number(r"FMA peak: +([0-9.]+) GFLOP/s", info, "FMA peak")
        peak = measured if peak is None else max(peak, measured)
        flops = (number(r"training step: +([0-9.]+) MFLOP per sample", info, "training FLOPs") * 1e6,
                 2 * number(r"\(([0-9]+) multiply-adds forward", info, "forward multiply-adds"))
        print(f"  FMA peak {measured:.0f} GFLOP/s (2 threads); {flops[0] / 1e6:.1f} MFLOP per training sample, "
              f"{flops[1] / 1e6:.1f} per evaluated one", flush=True)
        # cnnc first in odd rounds, last in even ones.
        order = [("cnnc", trainer), ("cnnc --conv=direct", direct)]
        order = order + pythons if i % 2 else pythons + order
        for entry in order:
            if entry[0].startswith("cnnc"):
                out, _, rss = run([entry[1], "train", "--data", data, "--save", ck, *common, *cnnc_extra])
                train = number(r"epoch \d+/\d+ .* ([0-9.]+) s ", out.splitlines()[-1], "epoch time")
                out2, _, rss2 = run([entry[1], "eval", "--weights", ck, "--data", data, "--threads", "2"])
                evaluate = number(r"images in ([0-9.]+) s", out2, "evaluation time")
                acc = number(r"test accuracy ([0-9.]+)%", out2, "accuracy")
                record(entry[0], train, evaluate, max(rss, rss2), acc)
            else:
                name, python, extra = entry
                out, _, rss = run([python, "bench/pytorch_mnist.py", "--data", data, "--model", args.model,
                                   *optimizer, *torch_data, *common, *extra])
                last = [l for l in out.splitlines() if l.startswith("epoch")][-1]
                record(name, number(r" ([0-9.]+) s ", last, "epoch time"), number(r"eval ([0-9.]+) s", last, "eval"),
                       rss, number(r"test accuracy ([0-9.]+)%", last, "accuracy"))
    shutil.rmtree(work, ignore_errors=True)

    med = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in rows.items()}
    torch_names = [n for n in med if not n.startswith("cnnc")]
    print(f"\n{args.model}: medians of {args.rounds} rounds (machine: {os.cpu_count()} cores; "
          f"{open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}; "
          f"FMA peak {peak:.0f} GFLOP/s, the highest of the rounds)")
    print(f"| {'':28s} | train epoch | % peak | eval 10,000 | % peak | peak RSS | test accuracy |")
    print(f"|{'-' * 30}|-------------|--------|-------------|--------|----------|---------------|")
    train_flop, eval_flop = flops[0] * images * args.epochs, flops[1] * 10000
    for name, m in med.items():
        print(f"| {name:28s} | {m['train']:9.2f} s | {100 * train_flop / m['train'] / peak / 1e9:5.1f}% "
              f"| {m['eval']:9.3f} s | {100 * eval_flop / m['eval'] / peak / 1e9:5.1f}% | {m['rss']:4.0f} MiB "
              f"| {m['acc']:12.2f}% |")
    print(f"cnnc compile (models/{args.model}.cnn): median {statistics.median(compiles):.1f} s")
    line = f"{args.model}:"
    if torch_names:
        fastest_train = min(torch_names, key=lambda n: med[n]["train"])
        fastest_eval = min(torch_names, key=lambda n: med[n]["eval"])
        for name in ("cnnc", "cnnc --conv=direct"):
            ratio = (f"training {med[name]['train'] / med[fastest_train]['train']:.2f} (vs {fastest_train}), "
                     f"evaluation {med[name]['eval'] / med[fastest_eval]['eval']:.2f} (vs {fastest_eval})")
            print(f"ratio {name} / fastest PyTorch: {ratio}")
            line += f" {name} {ratio};"
    return line + f" compile {statistics.median(compiles):.1f} s"


if __name__ == "__main__":
    main()
