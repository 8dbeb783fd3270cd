#!/usr/bin/env python3
"""Writes MNIST (data/mnist, the four IDX files) as a folder dataset of
70,000 gray 28x28 PNGs: OUT/train/<digit>/<index>.png and OUT/test/...,
for `data folder` and its loading speed (standard library only).

    python3 bench/mnist_to_folder.py [--data data/mnist] OUT
"""
import argparse
import gzip
import os
import struct
import zlib


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def png(width, height, pixels):
    raw = b"".join(b"\0" + pixels[y * width:(y + 1) * width] for y in range(height))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist")
    p.add_argument("out")
    a = p.parse_args()
    for prefix, part in (("train", "train"), ("t10k", "test")):
        (n, rows, cols), pixels = idx(os.path.join(a.data, f"{prefix}-images-idx3-ubyte"))
        _, labels = idx(os.path.join(a.data, f"{prefix}-labels-idx1-ubyte"))
        for d in range(10):
            os.makedirs(os.path.join(a.out, part, str(d)), exist_ok=True)
        size = rows * cols
        for i in range(n):
            with open(os.path.join(a.out, part, str(labels[i]), f"{i:05d}.png"), "wb") as f:
                f.write(png(cols, rows, pixels[i * size:(i + 1) * size]))
        print(f"{part}: {n} images")


if __name__ == "__main__":
    main()
