#!/usr/bin/env python3
"""Writes small datasets for the data tests, with the Python standard
library only (CI has no PyTorch, no PIL): the same bytes on every machine.

    python3 tests/data/make_fixtures.py OUT [--bad KIND]

OUT/cifar10/     CIFAR-10's binary version: data_batch_1.bin ... data_batch_5.bin
                 (20 records each) and test_batch.bin (40), 3x32x32, labels 0-9
OUT/folder_rgb/  train/ and test/, three classes (circle, cross, stripe) of
                 16x16 RGB PNGs: 30 and 12 per class
OUT/folder_gray/ the same classes as 16x16 gray PNGs

Each class is drawn so that a small network learns it within an epoch or
two: a colour and a shape per class, with noise.

--bad KIND writes one broken variant instead, into OUT/bad (a copy of the
dataset it breaks): cifar-truncated, cifar-label, folder-size,
folder-channels, folder-notpng, folder-empty, folder-classes.
"""
import os
import struct
import sys
import zlib


class Rng:
    """xorshift64*: the same numbers on every Python."""

    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 27
        self.s = s
        return ((s * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) >> 32

    def below(self, n):
        return self.next() % n


PALETTE = [(220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 200, 40), (200, 60, 200),
           (40, 200, 200), (240, 130, 30), (120, 120, 120), (250, 250, 250), (100, 50, 20)]


def draw(label, size, channels, rng):
    """One image as planes (channels x size x size bytes): class `label`'s
    colour on a dark background, in its shape, moved and noised."""
    r, g, b = PALETTE[label % len(PALETTE)]
    dx, dy = rng.below(5) - 2, rng.below(5) - 2
    c = size // 2
    planes = [bytearray(size * size) for _ in range(channels)]
    for y in range(size):
        for x in range(size):
            u, v = x - c - dx, y - c - dy
            shape = label % 3
            if shape == 0:
                on = u * u + v * v <= (size // 3) ** 2
            elif shape == 1:
                on = abs(u) <= 1 or abs(v) <= 1
            else:
                on = (y + dy) % 4 < 2
            noise = rng.below(40)
            colour = (r, g, b) if on else (15, 15, 15)
            if channels == 1:
                gray = (colour[0] * 299 + colour[1] * 587 + colour[2] * 114) // 1000
                planes[0][y * size + x] = min(255, gray + noise)
            else:
                for k in range(3):
                    planes[k][y * size + x] = min(255, colour[k] + noise)
    return planes


def png(width, height, channels, planes):
    """An 8-bit gray or RGB PNG of `planes`."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for x in range(width):
            for k in range(channels):
                raw.append(planes[k][y * width + x])
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    colour_type = 0 if channels == 1 else 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def cifar(out):
    rng = Rng(10)
    for name, count in [(f"data_batch_{i}.bin", 20) for i in range(1, 6)] + [("test_batch.bin", 40)]:
        records = bytearray()
        for _ in range(count):
            label = rng.below(10)
            records.append(label)
            for plane in draw(label, 32, 3, rng):
                records += plane
        write(os.path.join(out, name), bytes(records))


CLASSES = ["circle", "cross", "stripe"]


def folder(out, channels):
    rng = Rng(channels)
    for part, per_class in [("train", 30), ("test", 12)]:
        for label, name in enumerate(CLASSES):
            for i in range(per_class):
                write(os.path.join(out, part, name, f"{i:03d}.png"), png(16, 16, channels, draw(label, 16, channels, rng)))


def bad(out, kind):
    """One broken dataset in out/bad."""
    target = os.path.join(out, "bad")
    if kind.startswith("cifar"):
        cifar(target)
        path = os.path.join(target, "data_batch_3.bin")
        data = bytearray(open(path, "rb").read())
        if kind == "cifar-truncated":
            data = data[:-100]
        elif kind == "cifar-label":
            data[7 * 3073] = 12
        write(path, bytes(data))
        return
    folder(target, 3)
    cls = os.path.join(target, "train", "cross")
    if kind == "folder-size":
        write(os.path.join(cls, "007.png"), png(8, 8, 3, draw(1, 8, 3, Rng(1))))
    elif kind == "folder-channels":
        write(os.path.join(cls, "007.png"), png(16, 16, 1, draw(1, 16, 1, Rng(1))))
    elif kind == "folder-notpng":
        write(os.path.join(cls, "007.png"), b"GIF89a this is not a PNG")
    elif kind == "folder-empty":
        os.makedirs(os.path.join(target, "train", "empty"))
    elif kind == "folder-classes":
        for part in ("train", "test"):
            write(os.path.join(target, part, "square", "000.png"), png(16, 16, 3, draw(0, 16, 3, Rng(2))))
    else:
        sys.exit(f"unknown --bad kind {kind}")


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--bad"):
        sys.exit(__doc__)
    out = sys.argv[1]
    if len(sys.argv) == 4:
        bad(out, sys.argv[3])
        return
    cifar(os.path.join(out, "cifar10"))
    folder(os.path.join(out, "folder_rgb"), 3)
    folder(os.path.join(out, "folder_gray"), 1)


if __name__ == "__main__":
    main()
