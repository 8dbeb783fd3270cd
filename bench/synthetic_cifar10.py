#!/usr/bin/env python3
"""Writes a dataset of CIFAR-10's size in its binary format, of random
pixels and labels, for speed: data/cifar10-synthetic/ (50,000 training and
10,000 test records). CIFAR-10 itself cannot be downloaded on the
development machines; the work per image is the same, the accuracy is
chance (10%).

    python3 bench/synthetic_cifar10.py [OUT]
"""
import os
import random
import sys


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "data/cifar10-synthetic"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = bytearray()
        for _ in range(10000):
            records.append(rng.randrange(10))
            records += rng.randbytes(3072)
        with open(os.path.join(out, name), "wb") as f:
            f.write(records)
    print(f"wrote {out}: 60,000 records of random pixels")


if __name__ == "__main__":
    main()
