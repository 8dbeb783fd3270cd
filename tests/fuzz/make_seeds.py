#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/).

Small valid inputs of each format plus a few near misses, so the fuzzers
start from the interesting paths. Needs only the standard library and, for
the IDX seeds, data/mnist (scripts/fetch-mnist.sh). Run from the repo root:
    python3 tests/fuzz/make_seeds.py
Findings that libFuzzer saves (crash-*, timeout-*) are added by hand, under
a name that says what they were.
"""
import gzip, json, os, shutil, struct, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)


# frontend: every model and every error example of the lit tests.
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for folder in ("models", "tests/lit/errors"):
    for name in sorted(os.listdir(os.path.join(repo, folder))):
        if name.endswith(".cnn"):
            with open(os.path.join(repo, folder, name), "rb") as f:
                put("frontend", folder.replace("/", "_") + "_" + name, f.read())

# idx: three MNIST images and labels, raw and gzip, and broken headers.
with open(os.path.join(repo, "data/mnist/train-images-idx3-ubyte"), "rb") as f:
    f.read(16)
    pixels = f.read(3 * 28 * 28)
images = struct.pack(">IIII", 0x803, 3, 28, 28) + pixels
labels = struct.pack(">II", 0x801, 3) + bytes([5, 0, 4])
put("idx", "images3", images)
put("idx", "labels3", labels)
put("idx", "images3.gz", gzip.compress(images, mtime=0))
put("idx", "labels3.gz", gzip.compress(labels, mtime=0))
put("idx", "tiny-images", struct.pack(">IIII", 0x803, 2, 2, 2) + bytes(range(8)))
put("idx", "huge-header", struct.pack(">IIII", 0x803, 60000, 28000, 28000))
put("idx", "truncated", images[:100])

# safetensors: two small tensors with metadata, and near misses.
def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, b"", 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (shape, values) in tensors.items():
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs += data
        offset += len(data)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + blobs

put("safetensors", "two-tensors", safetensors(
    {"conv1.weight": ([2, 1, 2, 2], [0.5] * 8), "conv1.bias": ([2], [0.0, -1.0])},
    {"model": "tiny", "format": "pt"}))
put("safetensors", "scalar", safetensors({"s": ([], [3.0])}))
put("safetensors", "empty-header", struct.pack("<Q", 2) + b"{}")
bad = safetensors({"w": ([2], [1.0, 2.0])}).replace(b'"F32"', b'"F16"')
put("safetensors", "f16", bad)

# image: PNG (gray, RGB, palette) and PGM (binary and ASCII).
def png(width, height, color_type, rows, palette=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\0" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

put("image", "gray.png", png(4, 3, 0, [bytes([0, 80, 160, 255])] * 3))
put("image", "rgb.png", png(2, 2, 2, [bytes([255, 0, 0, 0, 255, 0])] * 2))
put("image", "palette.png", png(2, 2, 3, [bytes([0, 1])] * 2, palette=bytes([0, 0, 0, 255, 255, 255])))
put("image", "p5.pgm", b"P5\n# a comment\n3 2\n255\n" + bytes([0, 128, 255, 255, 128, 0]))
put("image", "p2.pgm", b"P2\n3 2\n15\n0 7 15\n15 7 0\n")

# cifar: two records (labels 3 and 9), one with a label out of range, a
# truncated one.
record = lambda label, value: bytes([label]) + bytes([value]) * 3072
put("cifar", "two-records", record(3, 10) + record(9, 200))
put("cifar", "label-12", record(12, 0))
put("cifar", "truncated", record(1, 5)[:2000])

# folder: 8x8 images as a model of 3x8x8 or 1x8x8 takes them, RGBA, 16-bit
# gray, and sizes that do not fit.
put("folder", "rgb8.png", png(8, 8, 2, [bytes(range(24))] * 8))
put("folder", "gray8.png", png(8, 8, 0, [bytes(range(0, 256, 32))] * 8))
put("folder", "rgba8.png", png(8, 8, 6, [bytes(range(32))] * 8))
put("folder", "gray4.png", png(4, 4, 0, [bytes([9, 99, 199, 255])] * 4))
