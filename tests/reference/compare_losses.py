#!/usr/bin/env python3
"""Compares a trainer's per-step losses (--log with --log-every 1) with the
PyTorch losses in a reference file (tests/reference/<model>_losses.json).

    compare_losses.py LOG.jsonl REFERENCE.json [--rtol 5e-3] [--steps N]

Prints the largest relative difference and exits 1 if any step exceeds the
tolerance. Plain Python: no PyTorch needed.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("reference")
    ap.add_argument("--rtol", type=float, default=5e-3)
    ap.add_argument("--steps", type=int, default=0, help="compare only the first N steps")
    args = ap.parse_args()
    with open(args.reference) as f:
        ref = json.load(f)["losses"]
    if args.steps:
        ref = ref[:args.steps]
    ours = {}
    with open(args.log) as f:
        for line in f:
            entry = json.loads(line)
            if "step" in entry:
                ours[entry["step"]] = entry["loss"]
    missing = [s for s in range(1, len(ref) + 1) if s not in ours]
    if missing:
        print(f"{args.log}: no loss logged for steps {missing[:5]}... (run with --log-every 1)")
        return 1
    worst, worst_step, bad = 0.0, 0, 0
    for step, expected in enumerate(ref, start=1):
        rel = abs(ours[step] - expected) / abs(expected)
        if rel > worst:
            worst, worst_step = rel, step
        if rel > args.rtol:
            bad += 1
    print(f"{len(ref)} steps: max relative difference {worst:.2e} at step {worst_step} "
          f"(cnnc {ours[worst_step]:.6f}, PyTorch {ref[worst_step - 1]:.6f}); tolerance {args.rtol:g}")
    if bad:
        print(f"{bad} steps outside the tolerance")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
