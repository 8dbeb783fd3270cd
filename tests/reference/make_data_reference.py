#!/usr/bin/env python3
"""Writes the PyTorch reference for the data tests: one batch's gradients
of two small networks read from the fixtures of tests/data/make_fixtures.py
as torchvision reads them, normalisation included.

Run from the repository root with PyTorch and torchvision (the benchmark
virtualenv: .venv-torch/bin/pip install torchvision pillow):

    .venv-torch/bin/python tests/reference/make_data_reference.py

For each model it writes, next to this script:
  data_<model>_init.safetensors   initial weights, for `train --init`
  data_<model>_grads.safetensors  the gradient of every parameter on the
                                  first batch (file order), the loss in
                                  its metadata

colour       tests/lit/trainer/Inputs/colour.cnn: CIFAR-10's binary format,
             the first 16 records of data_batch_1.bin, ToTensor and
             Normalize with CIFAR-10's per-channel statistics
folder_gray  tests/lit/trainer/Inputs/folder_gray.cnn: ImageFolder over
             folder_gray/train (gray PNGs), the first 8 images,
             Normalize(0.2, 0.3)
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn
from torchvision import datasets, transforms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
import cnnc_torch  # noqa: E402


def colour_model():
    m = nn.Module()
    m.conv1 = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    m.conv2 = nn.Sequential(nn.Conv2d(6, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
    m.fc = nn.Linear(392, 10)
    m.forward = lambda x: m.fc(m.conv2(m.conv1(x)).flatten(1))
    return m


def gray_model():
    m = nn.Module()
    m.conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    m.fc = nn.Linear(4 * 8 * 8, 3)
    m.forward = lambda x: m.fc(m.conv(x).flatten(1))
    return m


def cifar_batch(root, count):
    raw = np.fromfile(os.path.join(root, "cifar10", "data_batch_1.bin"), dtype=np.uint8).reshape(-1, 3073)[:count]
    labels = torch.tensor(raw[:, 0].astype(np.int64))
    # ToTensor on an HWC uint8 image: CHW floats / 255; the records are CHW already.
    images = torch.tensor(raw[:, 1:].reshape(-1, 3, 32, 32)).float().div(255)
    norm = transforms.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])
    return torch.stack([norm(x) for x in images]), labels


def folder_batch(root, count):
    from PIL import Image
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.2], [0.3])])
    data = datasets.ImageFolder(os.path.join(root, "folder_gray", "train"), transform=t,
                                loader=lambda p: Image.open(p).convert("L"))
    assert data.classes == ["circle", "cross", "stripe"], data.classes
    xs, ys = zip(*[data[i] for i in range(count)])
    return torch.stack(xs), torch.tensor(ys)


def write(name, model, batch):
    torch.manual_seed(0)
    m = model()
    init = {k: v.clone() for k, v in m.state_dict().items()}
    x, y = batch
    loss = nn.functional.cross_entropy(m(x), y)
    loss.backward()
    grads = {k: p.grad for k, p in m.named_parameters()}
    cnnc_torch.save(os.path.join(HERE, f"data_{name}_init.safetensors"), init)
    cnnc_torch.save(os.path.join(HERE, f"data_{name}_grads.safetensors"), grads,
                    {"loss": repr(loss.item()), "torch": torch.__version__})
    print(f"{name}: loss {loss.item():.6f}, {len(grads)} gradients")


def main():
    with tempfile.TemporaryDirectory() as root:
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "data", "make_fixtures.py"), root], check=True)
        write("colour", colour_model, cifar_batch(root, 16))
        write("folder_gray", gray_model, folder_batch(root, 8))


if __name__ == "__main__":
    main()
