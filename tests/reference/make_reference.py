#!/usr/bin/env python3
"""Writes the PyTorch reference files the fidelity tests compare against.

Run from the repository root with PyTorch 1.13 from Debian
(apt-get install python3-torch) and MNIST in data/mnist:

    /usr/bin/python3 tests/reference/make_reference.py

For each model (mnist, lenet5) it writes, next to this script:
  <model>.ref                 the tensors below, in the format of read_ref()
  <model>_init.safetensors    the initial weights, for `train --init`
  <model>_losses.json         losses of the first 100 training steps in file
                              order (batch 64), for the trainer comparison;
                              mnist at lr 0.001: at its own lr 0.01 Adam is
                              unstable on this network (the loss jumps to
                              3.4 at step 2 and PyTorch runs with other seeds
                              die), and any two implementations drift apart
                              after step 30

<model>.ref holds: the initial weights (init.NAME), one fixed batch of the
first 64 training images and labels, the logits and loss of that batch,
every parameter gradient (grad.NAME), the parameters after 1 and 10
optimizer steps on that batch (step1.NAME, step10.NAME) and the losses of
50 steps on it (trajectory). The optimizer is the model's own (mnist: Adam
lr 0.01; lenet5: SGD lr 0.05 momentum 0.9).

Format (little-endian): magic b"CNNCREF\\0", u32 version, u32 count, then
per tensor: u32 name length, name, u32 dtype (0 f32, 1 u8, 2 i32), u32
ndim, i64 dims[ndim], data. Bump VERSION when the format changes.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import cnnc_torch  # noqa: E402
from pytorch_mnist import load  # noqa: E402

VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: 0, torch.uint8: 1, torch.int32: 2}


def write_ref(path, tensors):
    with open(path, "wb") as f:
        f.write(b"CNNCREF\0" + struct.pack("<II", VERSION, len(tensors)))
        for name, t in tensors.items():
            t = t.detach().contiguous()
            f.write(struct.pack("<I", len(name)) + name.encode())
            f.write(struct.pack("<II", DTYPES[t.dtype], t.dim()))
            f.write(struct.pack("<" + "q" * t.dim(), *t.shape))
            f.write(t.numpy().tobytes())


# Models whose train block has schedule onecycle(...) (its defaults).
ONECYCLE = {"resnet"}

# The learning rate of the 100-step trainer comparison.
TRAINER_LR = {"mnist": 0.001, "lenet5": 0.05, "resnet": 0.001, "inception": 0.001}


def optimizer(name, params, lr=None):
    if name == "mnist":
        return torch.optim.Adam(params, lr=lr or 0.01)
    if name == "resnet":
        # Its own Adam(lr=0.003) in the trainer comparison; SGD for the
        # 10 and 50 steps on one batch (FidelityTest overrides the model's
        # optimizer the same way), where Adam's division by each
        # gradient's magnitude makes last-bit differences in gradients near
        # zero a whole lr apart within a step, and batch norm feeds them
        # back: the runs were 5% apart after 10 steps.
        return torch.optim.Adam(params, lr=lr) if lr else torch.optim.SGD(params, lr=0.01)
    if name == "inception":
        return torch.optim.Adam(params, lr=lr or 0.001)
    return torch.optim.SGD(params, lr=lr or 0.05, momentum=0.9)


def buffers(model):
    """Batch norms' running statistics (float buffers), by state_dict name."""
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))}


def reference(name, images, labels, train_x, train_y):
    torch.manual_seed(0)
    model = cnnc_torch.MODELS[name]()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    out = {"images": images.reshape(64, 784).clone(), "labels": labels.to(torch.int32)}
    out.update({"init." + k: v for k, v in init.items() if v.is_floating_point()})
    x = images.float().div(255)

    # Training mode; step k's dropout masks come from dropout_key(0, k), as
    # in the trainer with seed 0. The first forward pass (logits and
    # gradients) is step 1's; its update of the running statistics is
    # undone, since the test's first step is this pass.
    model.train()
    cnnc_torch.CnncDropout.key = cnnc_torch.dropout_key(0, 1)
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    out["logits"] = logits
    out["loss"] = loss.reshape(())
    out.update({"grad." + k: p.grad.clone() for k, p in model.named_parameters()})
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if "running" in k:
                v.copy_(init[k])

    model.zero_grad()
    opt = optimizer(name, model.parameters())
    trajectory = []
    for step in range(1, 51):
        cnnc_torch.CnncDropout.key = cnnc_torch.dropout_key(0, step)
        loss = nn.functional.cross_entropy(model(x), labels)
        trajectory.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (1, 10):
            out.update({f"step{step}." + k: p.detach().clone() for k, p in model.named_parameters()})
            out.update({f"step{step}." + k: v for k, v in buffers(model).items()})
        if step == 10 and buffers(model):
            # Evaluation mode after 10 steps: the running statistics.
            model.eval()
            out["eval_logits"] = model(x).detach().clone()
            model.train()
    out["trajectory"] = torch.tensor(trajectory, dtype=torch.float32)
    write_ref(os.path.join(HERE, f"{name}.ref"), out)

    # The trainer comparison: 100 steps over the training set in file order.
    model.load_state_dict(init)
    cnnc_torch.save(os.path.join(HERE, f"{name}_init.safetensors"), init, {"format": "pt", "model": name})
    opt = optimizer(name, model.parameters(), TRAINER_LR[name])
    # The model's schedule over the run's 100 steps (the trainer's --lr sets
    # onecycle's max_lr).
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=TRAINER_LR[name], total_steps=100, anneal_strategy="cos",
                                                 cycle_momentum=False) if name in ONECYCLE else None)
    losses = []
    for step in range(100):
        cnnc_torch.CnncDropout.key = cnnc_torch.dropout_key(0, step + 1)
        xb = train_x[64 * step:64 * (step + 1)].float().div(255)
        yb = train_y[64 * step:64 * (step + 1)]
        loss = nn.functional.cross_entropy(model(xb), yb)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
    with open(os.path.join(HERE, f"{name}_losses.json"), "w") as f:
        json.dump({"torch": torch.__version__, "steps": len(losses), "batch": 64, "lr": TRAINER_LR[name],
                   "losses": losses}, f)
        f.write("\n")
    print(f"{name}: loss {out['loss'].item():.6f}, after 50 steps {trajectory[-1]:.6f}, "
          f"100 trainer steps end at {losses[-1]:.6f}")


def main():
    # The references of the models named (all by default); mnist's and
    # lenet5's were written with PyTorch 1.13 (Debian), resnet's and
    # inception's with 2.15.
    names = sys.argv[1:] or ["mnist", "lenet5", "resnet", "inception"]
    torch.set_num_threads(2)
    train_x, train_y = load("data/mnist", "train")
    images, labels = train_x[:64], train_y[:64]
    for name in names:
        reference(name, images, labels, train_x, train_y)


if __name__ == "__main__":
    main()
