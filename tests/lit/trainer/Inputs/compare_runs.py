#!/usr/bin/env python3
"""Compares two runs of a trainer from the same weights and batches (their
--log files, written with --log-every 1): the loss at every step, and the
test accuracy (equal) and loss (within the tolerance) after every epoch.
For a GPU run against the CPU.

    compare_runs.py CPU.jsonl OTHER.jsonl --rtol 1e-5 [--steps N]

Prints the largest relative difference of the losses and the accuracies;
exits 1 when a step or an epoch's test loss is outside the tolerance, an
epoch's test accuracy differs, a step is missing, or there are fewer than
N steps.
"""
import argparse
import json
import sys


def read(path):
    steps, epochs = {}, {}
    with open(path) as f:
        for line in f:
            entry = json.loads(line)
            if "step" in entry:
                steps[entry["step"]] = entry["loss"]
            elif "epoch" in entry:
                epochs[entry["epoch"]] = entry
    return steps, epochs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("other")
    ap.add_argument("--rtol", type=float, required=True)
    ap.add_argument("--steps", type=int, default=1, help="at least this many steps")
    ap.add_argument("--steps-only", action="store_true", help="runs stopped early (--max-steps): no epochs to compare")
    args = ap.parse_args()
    ref_steps, ref_epochs = read(args.reference)
    steps, epochs = read(args.other)
    if sorted(ref_steps) != sorted(steps) or len(steps) < args.steps:
        print(f"steps differ: {len(ref_steps)} in {args.reference}, {len(steps)} in {args.other} "
              f"(at least {args.steps} wanted)")
        return 1
    if sorted(ref_epochs) != sorted(epochs) or (not epochs and not args.steps_only):
        print(f"epochs differ: {sorted(ref_epochs)} and {sorted(epochs)}")
        return 1
    worst, worst_step, bad = 0.0, 0, 0
    for step, expected in sorted(ref_steps.items()):
        rel = abs(steps[step] - expected) / max(abs(expected), 1e-30)
        if rel > worst:
            worst, worst_step = rel, step
        bad += rel > args.rtol
    print(f"{len(steps)} steps: max relative difference {worst:.1e} at step {worst_step}; tolerance {args.rtol:g}")
    for e in sorted(epochs):
        a, b = ref_epochs[e], epochs[e]
        same = a["test_accuracy"] == b["test_accuracy"]
        same = same and abs(a["test_loss"] - b["test_loss"]) <= args.rtol * abs(a["test_loss"])
        print(f"epoch {e}: test accuracy {100 * a['test_accuracy']:.2f}% and {100 * b['test_accuracy']:.2f}%"
              f"{'' if same else ' DIFFER'}; test loss {a['test_loss']:.6f} and {b['test_loss']:.6f}")
        bad += not same
    if bad:
        print(f"{bad} steps or epochs outside the tolerance")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
