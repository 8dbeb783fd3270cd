#!/usr/bin/env python3
"""Writes the first N images and labels of MNIST's test split (IDX files)
into a folder of their own: a small test set for slow devices.

    small_mnist.py DATA_DIR OUT_DIR N
"""
import os
import struct
import sys


def main():
    data, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(data, "t10k-images-idx3-ubyte"), "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = f.read(n * rows * cols)
    with open(os.path.join(out, "t10k-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", magic, n, rows, cols) + pixels)
    with open(os.path.join(data, "t10k-labels-idx1-ubyte"), "rb") as f:
        magic, count = struct.unpack(">II", f.read(8))
        labels = f.read(n)
    with open(os.path.join(out, "t10k-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", magic, n) + labels)


if __name__ == "__main__":
    main()
