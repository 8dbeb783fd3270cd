#!/usr/bin/env python3
"""How far PyTorch drifts from its own 100-step reference (mnist_losses.json)
when its gradients get last-bits noise, as another summation order would
give them. The yardstick for cnnc's trainer comparison with Adam.

    /usr/bin/python3 tests/reference/perturbation_drift.py 1e-6
"""
import json
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import cnnc_torch  # noqa: E402
from pytorch_mnist import load  # noqa: E402


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-6
    torch.set_num_threads(2)
    torch.manual_seed(5)
    x, y = load("data/mnist", "train")
    model = cnnc_torch.Tutorial()
    model.load_state_dict(cnnc_torch.load(os.path.join(HERE, "mnist_init.safetensors")))
    with open(os.path.join(HERE, "mnist_losses.json")) as f:
        ref = json.load(f)
    opt = torch.optim.Adam(model.parameters(), lr=ref["lr"])
    worst, first = 0.0, None
    for s, expected in enumerate(ref["losses"]):
        loss = nn.functional.cross_entropy(model(x[64 * s:64 * s + 64].float().div(255)), y[64 * s:64 * s + 64])
        rel = abs(loss.item() - expected) / expected
        worst = max(worst, rel)
        if rel > 5e-3 and first is None:
            first = s + 1
        opt.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.grad.mul_(1 + scale * torch.randn_like(p.grad))
        opt.step()
    print(f"gradients perturbed by {scale:g} relative: max relative difference {worst:.2e} over "
          f"{len(ref['losses'])} steps, first step over 5e-3: {first}")


if __name__ == "__main__":
    main()
