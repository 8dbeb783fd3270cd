#!/usr/bin/env python3
"""Data-parallel training on one machine: 2 ranks x 1 thread against 1
rank x 2 threads (the same --distributed trainer, 4 chunks of 16), and the
plain trainer (one batch of 64 a call) on 2 threads, one epoch each,
alternated over N rounds; medians of the epoch's seconds, and the split of
the 2-rank steps into computing and collectives (train --profile).

    python3 bench/distributed.py [--model mnist] [--rounds 3] [--data data/mnist]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]


def epoch_seconds(out):
    m = re.findall(r"epoch \d+/\d+  train loss .* ([0-9.]+) s  ", out)
    if not m:
        sys.exit(f"bench: no epoch line in:\n{out}")
    return float(m[-1])


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{p.stdout}{p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mnist")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--cnnc", default="build/cnnc")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cnnc-dist-")
    dist, plain = os.path.join(work, "dist"), os.path.join(work, "plain")
    run([args.cnnc, f"models/{args.model}.cnn", "--distributed", "-o", dist])
    run([args.cnnc, f"models/{args.model}.cnn", "-o", plain])
    common = ["train", "--data", args.data, "--epochs", "1", "-q"]
    rows = {"1 rank x 2 threads (--distributed)": [], "2 ranks x 1 thread (--distributed)": [],
            "plain trainer, 2 threads": []}
    for i in range(args.rounds):
        runs = [("1 rank x 2 threads (--distributed)", [dist, *common, "--threads", "2"]),
                ("2 ranks x 1 thread (--distributed)", [*MPIRUN, "-np", "2", dist, *common, "--threads", "1"]),
                ("plain trainer, 2 threads", [plain, *common, "--threads", "2"])]
        for name, cmd in (runs if i % 2 == 0 else runs[::-1]):
            seconds = epoch_seconds(run([c for c in cmd if c != "-q"]))
            rows[name].append(seconds)
            print(f"round {i + 1}: {name:36s} {seconds:.2f} s", flush=True)
    out = run([*MPIRUN, "-np", "2", dist, "train", "--data", args.data, "--epochs", "1", "--threads", "1", "--profile"])
    split = re.search(r"distributed: .*", out)
    print(f"\n{args.model}: one epoch, medians of {args.rounds} rounds ({os.cpu_count()} cores)")
    for name, values in rows.items():
        print(f"  {name:36s} {statistics.median(values):6.2f} s")
    base = statistics.median(rows["1 rank x 2 threads (--distributed)"])
    print(f"  2 ranks / 1 rank: {statistics.median(rows['2 ranks x 1 thread (--distributed)']) / base:.2f}")
    print(f"  {split.group(0) if split else 'no profile line'}")


if __name__ == "__main__":
    main()
