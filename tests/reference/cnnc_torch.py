"""PyTorch twins of cnnc models, and cnnc checkpoints in both directions.

Needs only PyTorch (1.13 from Debian is enough). Checkpoints are read and
written by a small safetensors reader/writer of our own, so that machines
without the `safetensors` package can use them; files written here load
with the official package too (tests/reference/check_safetensors.py).

    import cnnc_torch
    model = cnnc_torch.Tutorial()
    model.load_state_dict(cnnc_torch.load("mnist.safetensors"))
"""
import json
import struct

import torch
from torch import nn


class Tutorial(nn.Module):
    """models/mnist.cnn: the tutorial network, with its flatten size fixed."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 16, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(16, 32, 5, 1, 2), nn.ReLU(), nn.ReLU(), nn.MaxPool2d(2))
        self.conv3 = nn.Sequential(nn.Conv2d(32, 64, 5, 1, 2), nn.ReLU())
        self.out = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        return self.out(self.conv3(self.conv2(self.conv1(x))).flatten(1))


class LeNet5(nn.Module):
    """models/lenet5.cnn."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2))
        self.c3 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.f5 = nn.Sequential(nn.Linear(400, 120), nn.Tanh())
        self.f6 = nn.Sequential(nn.Linear(120, 84), nn.Tanh())
        self.out = nn.Linear(84, 10)

    def forward(self, x):
        return self.out(self.f6(self.f5(self.c3(self.c1(x)).flatten(1))))


class Mlp(nn.Module):
    """models/mlp.cnn."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(784, 256), nn.ReLU())
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        return self.out(self.hidden(x.flatten(1)))


class ResNet(nn.Module):
    """models/resnet.cnn: a skip connection and a strided branch, joined with add.
    Stages are ModuleLists so that parameters keep cnnc's positions (the
    adds, at positions 3 and 1, own nothing)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU())
        self.block1 = nn.ModuleList([nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1)])
        self.down = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
        self.skip = nn.Conv2d(16, 32, 1, stride=2)
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        stem = self.stem(x)
        c0, r1, c2 = self.block1
        block1 = torch.relu(c2(r1(c0(stem))) + stem)
        join = nn.functional.max_pool2d(torch.relu(self.down(block1) + self.skip(block1)), 2)
        return self.out(join.flatten(1))


class Inception(nn.Module):
    """models/inception.cnn: three branches from one stem, joined with concat."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.b1 = nn.Sequential(nn.Conv2d(16, 8, 1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.b5 = nn.Sequential(nn.Conv2d(16, 8, 5, padding=2), nn.ReLU())
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        stem = self.stem(x)
        mix = nn.functional.max_pool2d(torch.cat([self.b1(stem), self.b3(stem), self.b5(stem)], 1), 2)
        return self.out(mix.flatten(1))


MODELS = {"mnist": Tutorial, "lenet5": LeNet5, "mlp": Mlp, "resnet": ResNet, "inception": Inception}


def load(path):
    """A state_dict from a safetensors file of F32 tensors."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32)
        state[name] = t.reshape(info["shape"]).clone()
    return state


def save(path, state_dict, metadata=None):
    """Writes a state_dict as safetensors (F32), as cnnc's trainer does."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in state_dict.items():
        raw = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
