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

import numpy as np
import torch
from torch import nn


# Dropout as cnnc draws it (compiler/ops/Dropout.cpp): the mask is a hash of
# the step's key (dropout_key(seed, step), as the trainer computes it), the
# layer (a hash of its output's name) and each element's index in the
# batch; not PyTorch's random stream, so that the twins see cnnc's masks.
def _mix(h):
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x7FEB352D)
    h = h ^ (h >> np.uint32(15))
    h = h * np.uint32(0x846CA68B)
    return h ^ (h >> np.uint32(16))


def dropout_key(seed, step):
    """runtime/Session.h dropoutKey: splitmix64 of the seed and the 1-based step."""
    m = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + step) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return (z ^ (z >> 31)) & 0x7FFFFFFF


def _salt(name):
    h = 2166136261
    for ch in name.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


class CnncDropout(nn.Module):
    """nn.Dropout(p) with cnnc's masks; `key` is set before each training step."""

    key = 0  # shared by every layer, as the pipeline's one key per step
    native = False  # True: PyTorch's own dropout (bench/pytorch_mnist.py: PyTorch's speed)

    def __init__(self, p, name):
        super().__init__()
        self.p, self.salt = p, _salt(name)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if CnncDropout.native:
            return nn.functional.dropout(x, self.p, True)
        with np.errstate(over="ignore"):
            key = _mix(np.uint32(CnncDropout.key) ^ _mix(np.uint32(self.salt)))
            index = np.arange(x.numel(), dtype=np.uint32)
            h = _mix(_mix(index) ^ key)
        threshold = np.uint32(int(self.p * 16777216.0 + 0.5))
        keep = torch.from_numpy((h >> np.uint32(8)) >= threshold).reshape(x.shape)
        return torch.where(keep, x * (1.0 / (1.0 - self.p)), torch.zeros_like(x))


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


def conv_bn(cin, cout, kernel, stride=1, padding=0):
    return [nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout)]


class ResNet(nn.Module):
    """models/resnet.cnn: batch norm, a skip connection and a strided branch
    joined with add, a global average and dropout. Stages are ModuleLists so
    that parameters keep cnnc's positions (an add owns nothing)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block1 = nn.ModuleList([*conv_bn(32, 32, 3, padding=1), nn.ReLU(), *conv_bn(32, 32, 3, padding=1)])
        self.down = nn.Sequential(*conv_bn(32, 64, 3, stride=2, padding=1), nn.ReLU(), *conv_bn(64, 64, 3, padding=1))
        self.skip = nn.Sequential(*conv_bn(32, 64, 1, stride=2))
        self.head = nn.ModuleList([nn.AdaptiveAvgPool2d(1), nn.Flatten(), CnncDropout(0.2, "head.2")])
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        stem = self.stem(x)
        c0, b1, r2, c3, b4 = self.block1
        block1 = torch.relu(b4(c3(r2(b1(c0(stem))))) + stem)
        join = torch.relu(self.down(block1) + self.skip(block1))
        pool, flatten, dropout = self.head
        return self.out(dropout(flatten(pool(join))))


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


class Vgg(nn.Module):
    """models/vgg.cnn: pairs of 3x3 convolutions, then a 1152 -> 256 -> 10 classifier."""

    def __init__(self):
        super().__init__()

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]

        self.block1 = nn.Sequential(*conv(1, 32), *conv(32, 32), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(*conv(32, 64), *conv(64, 64), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(*conv(64, 128), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Linear(1152, 256), nn.ReLU())
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        return self.out(self.fc(self.block3(self.block2(self.block1(x))).flatten(1)))


class MnistFast(nn.Module):
    """models/mnist_fast.cnn: two 5x5 convolutions with batch norm, one linear layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(*conv_bn(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        return self.out(self.conv2(self.conv1(x)).flatten(1))


class MnistBest(nn.Module):
    """models/mnist_best.cnn: pairs of 3x3 convolutions with batch norm, 128 hidden units, dropout."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(1, 32, 3, padding=1), nn.ReLU())
        self.conv2 = nn.Sequential(*conv_bn(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.conv3 = nn.Sequential(*conv_bn(32, 64, 3, padding=1), nn.ReLU())
        self.conv4 = nn.Sequential(*conv_bn(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Linear(64 * 7 * 7, 128), nn.ReLU(), CnncDropout(0.3, "fc.2"))
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        return self.out(self.fc(self.conv4(self.conv3(self.conv2(self.conv1(x)))).flatten(1)))


class Cifar10(nn.Module):
    """models/cifar10.cnn: a stem, two residual stages that halve the size
    and double the channels (each with a strided 1x1 branch), a global
    average. Stages keep cnnc's parameter positions."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 32, 3, padding=1), nn.ReLU())
        self.block1 = nn.ModuleList([*conv_bn(32, 32, 3, padding=1), nn.ReLU(), *conv_bn(32, 32, 3, padding=1)])
        self.down1 = nn.Sequential(*conv_bn(32, 64, 3, stride=2, padding=1), nn.ReLU(), *conv_bn(64, 64, 3, padding=1))
        self.skip1 = nn.Sequential(*conv_bn(32, 64, 1, stride=2))
        self.down2 = nn.Sequential(*conv_bn(64, 128, 3, stride=2, padding=1), nn.ReLU(),
                                   *conv_bn(128, 128, 3, padding=1))
        self.skip2 = nn.Sequential(*conv_bn(64, 128, 1, stride=2))
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        stem = self.stem(x)
        c0, b1, r2, c3, b4 = self.block1
        block1 = torch.relu(b4(c3(r2(b1(c0(stem))))) + stem)
        join1 = torch.relu(self.down1(block1) + self.skip1(block1))
        join2 = torch.relu(self.down2(join1) + self.skip2(join1))
        return self.out(join2.mean((2, 3)))


class Mixed(nn.Module):
    """models/mixed.cnn: every layer of the language. Stages keep cnnc's
    parameter positions (head: flatten 0, concat 1, linear 2, batch norm 3).
    Returns the logits: the final softmax is for inference output, and the
    loss reads the logits before it, as cnnc's does."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, 16, 3, padding=1), nn.LeakyReLU(0.1), nn.MaxPool2d(2))
        self.wide = nn.Sequential(nn.Conv2d(16, 16, 5, padding=2), nn.GELU())
        self.gate = nn.Sequential(nn.Conv2d(16, 16, 1), nn.Sigmoid())
        self.deep = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.head = nn.ModuleList([nn.Flatten(), nn.Identity(), nn.Linear(2400, 64), nn.BatchNorm1d(64), nn.ReLU(),
                                   CnncDropout(0.2, "head.5")])
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        stem = self.stem(x)
        mix = nn.functional.avg_pool2d(torch.tanh(self.wide(stem) + self.gate(stem)), 2)
        deep = torch.cat([self.deep(mix), mix], 1)
        pooled = deep.mean((2, 3))
        flatten, _, linear, norm, relu, dropout = self.head
        head = dropout(relu(norm(linear(torch.cat([flatten(deep), pooled], 1)))))
        return self.out(head)


MODELS = {"mixed": Mixed, "cifar10": Cifar10, "mnist_fast": MnistFast, "mnist_best": MnistBest, "mnist": Tutorial, "lenet5": LeNet5, "mlp": Mlp, "resnet": ResNet, "inception": Inception, "vgg": Vgg}


def load(path):
    """A state_dict from a safetensors file of F32 tensors (and I64: batch
    norm's num_batches_tracked)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtypes = {"F32": torch.float32, "I64": torch.int64}
        if info["dtype"] not in dtypes:
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']}, expected F32 or I64")
        begin, end = info["data_offsets"]
        raw = bytearray(body[begin:end])
        t = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]) if raw else torch.zeros(0, dtype=dtypes[info["dtype"]])
        state[name] = t.reshape(info["shape"]).clone()
    return state


def save(path, state_dict, metadata=None):
    """Writes a state_dict as safetensors (F32; I64 for integer tensors), as
    cnnc's trainer does."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in state_dict.items():
        integer = not t.is_floating_point()
        raw = t.detach().to(torch.int64 if integer else torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "I64" if integer else "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
