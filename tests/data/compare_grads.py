#!/usr/bin/env python3
"""Checks a trainer's first step against PyTorch's gradients (standard
library only: CI has no PyTorch).

    compare_grads.py INIT AFTER GRADS --lr LR --log LOG [--tol 1e-5]

The trainer ran one SGD step at learning rate LR from INIT (momentum
changes nothing on a first step) and saved AFTER, so its gradient is
(INIT - AFTER) / LR; a large LR keeps the recovered gradient exact to
float rounding of the gradient itself, not of the weights. Each tensor's
largest difference from GRADS (tests/reference/make_data_reference.py),
relative to the tensor's largest PyTorch gradient, must be within TOL;
so must the first step's loss in LOG (train --log --log-every 1),
relative to PyTorch's.
"""
import argparse
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        begin, end = info["data_offsets"]
        out[name] = struct.unpack(f"<{(end - begin) // 4}f", body[begin:end])
    return out, header.get("__metadata__") or {}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("init")
    p.add_argument("after")
    p.add_argument("grads")
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--tol", type=float, default=1e-5)
    a = p.parse_args()
    init, _ = read(a.init)
    after, _ = read(a.after)
    ref, meta = read(a.grads)
    worst = 0.0
    for name, g in ref.items():
        if name not in init or name not in after:
            sys.exit(f"{name}: not in the trainer's weights")
        ours = [(w0 - w1) / a.lr for w0, w1 in zip(init[name], after[name])]
        scale = max(abs(x) for x in g) or 1.0
        diff = max(abs(x - y) for x, y in zip(ours, g)) / scale
        print(f"{name}: max difference {diff:.2e} of the largest gradient ({scale:.3e})")
        worst = max(worst, diff)
    with open(a.log) as f:
        steps = [json.loads(line) for line in f if '"step"' in line and '"loss"' in line]
    loss_ref = float(meta["loss"])
    loss_diff = abs(steps[0]["loss"] - loss_ref) / abs(loss_ref)
    print(f"loss: {steps[0]['loss']:.6f} against PyTorch's {loss_ref:.6f}, relative difference {loss_diff:.2e}")
    worst = max(worst, loss_diff)
    verdict = "agree" if worst <= a.tol else "DISAGREE"
    print(f"{len(ref)} gradients and the loss {verdict}: max relative difference {worst:.2e}; tolerance {a.tol:g}")
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
