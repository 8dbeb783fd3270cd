#!/usr/bin/env python3
"""Writes schedules.json: the learning rate of every step under PyTorch's
schedulers, for the runtime's learningRate (tests/unit/RuntimeTest.cpp).

    .venv-torch/bin/python tests/reference/make_schedules.py

Each case: the train block's schedule, the run's lr, steps per epoch and
epochs, and the rate each step trains with (read from the optimizer before
its step, as the trainer uses it). step is StepLR stepped per epoch;
onecycle is OneCycleLR stepped per step; cosine (DSL.md's warm-up and
cosine) is LambdaLR with DSL.md's formula.
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def rates(lr, steps_per_epoch, epochs, make, per_epoch):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt, steps_per_epoch * epochs)
    out = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            if not per_epoch:
                sched.step()
        if per_epoch:
            sched.step()
    return out


def cosine(warmup, steps_per_epoch):
    w = round(warmup * steps_per_epoch)

    def make(opt, total):
        def factor(k):  # LambdaLR's k is 0-based: step k + 1
            step = k + 1
            if step <= w:
                return step / w
            return (1 + math.cos(math.pi * (step - w - 1) / (total - w))) / 2
        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return make


def main():
    cases = []

    def add(schedule, lr, spe, epochs, make, per_epoch=False):
        cases.append({"schedule": schedule, "lr": lr, "steps_per_epoch": spe, "epochs": epochs,
                      "rates": rates(lr, spe, epochs, make, per_epoch)})

    add({"kind": "step", "every": 2, "gamma": 0.5}, 0.1, 7, 5,
        lambda o, t: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), per_epoch=True)
    add({"kind": "step", "every": 1, "gamma": 0.1}, 0.01, 3, 4,
        lambda o, t: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.1), per_epoch=True)
    add({"kind": "cosine", "warmup": 0.5}, 0.05, 10, 3, cosine(0.5, 10))
    add({"kind": "cosine", "warmup": 0}, 0.02, 9, 2, cosine(0, 9))
    add({"kind": "onecycle", "pct_start": 0.3, "div_factor": 25, "final_div_factor": 1e4}, 0.003, 25, 4,
        lambda o, t: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.003, total_steps=t, anneal_strategy="cos",
                                                         cycle_momentum=False))
    add({"kind": "onecycle", "pct_start": 0.25, "div_factor": 10, "final_div_factor": 100}, 0.1, 37, 1,
        lambda o, t: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=t, pct_start=0.25, div_factor=10,
                                                         final_div_factor=100, anneal_strategy="cos",
                                                         cycle_momentum=False))
    with open(os.path.join(HERE, "schedules.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} schedules, {sum(len(c['rates']) for c in cases)} rates")


if __name__ == "__main__":
    main()
