#!/usr/bin/env python3
"""Writes optimizers.json: torch.optim's updates step for step, and
nn.CrossEntropyLoss with label smoothing, for tests/unit/GradCheckTest.cpp.

    /usr/bin/python3 tests/reference/make_optimizers.py   (PyTorch 1.13, Debian)

optimizers: each case is the .cnn's optimizer call, 8 parameters, 6 steps
of given gradients at the learning rates given per step (as a schedule
sets them: AdamW's decay uses the step's rate), and the parameters after
every step, from torch.optim (the single-tensor path, foreach=False).
label_smoothing: logits = images / 255 through a linear layer holding the
identity and zero bias (so the test's model computes the same logits), the
labels, the mean loss and the gradients of the weight and the bias.
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def optimizer_case(call, make, lrs):
    g = torch.Generator().manual_seed(len(call))
    p0 = torch.rand(8, generator=g) * 2 - 1
    grads = [(torch.rand(8, generator=g) * 2 - 1) for _ in lrs]
    p = torch.nn.Parameter(p0.clone())
    opt = make([p])
    after = []
    for lr, grad in zip(lrs, grads):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = grad.clone()
        opt.step()
        after.append(p.detach().clone().tolist())
    return {"optimizer": call, "params": p0.tolist(), "lrs": lrs, "grads": [x.tolist() for x in grads],
            "after": after}


def smoothing_case(eps, n, k, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, k), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, k, (n,), generator=g)
    layer = torch.nn.Linear(k, k)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(k))
        layer.bias.zero_()
    loss = torch.nn.functional.cross_entropy(layer(images.float() / 255), labels, label_smoothing=eps)
    loss.backward()
    return {"label_smoothing": eps, "images": images.tolist(), "labels": labels.tolist(), "loss": loss.item(),
            "weight_grad": layer.weight.grad.tolist(), "bias_grad": layer.bias.grad.tolist()}


def main():
    lrs = [0.01, 0.02, 0.03, 0.02, 0.01, 0.005]
    nf = dict(foreach=False)
    cases = [
        optimizer_case("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.001, **nf), lrs),
        optimizer_case("adamw(lr=0.003, weight_decay=0.05)",
                       lambda ps: torch.optim.AdamW(ps, lr=0.003, weight_decay=0.05, **nf), lrs),
        optimizer_case("adamw(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.5)",
                       lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.5, **nf),
                       lrs),
        optimizer_case("adam(lr=0.01, weight_decay=0.01)",
                       lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01, **nf), lrs),
        optimizer_case("sgd(lr=0.1, momentum=0.9, nesterov=true)",
                       lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, **nf), lrs),
        optimizer_case("sgd(lr=0.1, momentum=0.5, weight_decay=0.01, nesterov=true)",
                       lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.01, nesterov=True, **nf),
                       lrs),
        optimizer_case("adam", lambda ps: torch.optim.Adam(ps, **nf), lrs),
        optimizer_case("sgd(0.5)", lambda ps: torch.optim.SGD(ps, lr=0.5, **nf), lrs),
        optimizer_case("sgd(lr=0.1, momentum=0.9, weight_decay=0.001)",
                       lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.001, **nf), lrs),
    ]
    smoothing = [smoothing_case(0.1, 6, 5, 1), smoothing_case(0.3, 4, 10, 2), smoothing_case(0.0, 4, 3, 3)]
    with open(os.path.join(HERE, "optimizers.json"), "w") as f:
        json.dump({"torch": torch.__version__, "optimizers": cases, "label_smoothing": smoothing}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
