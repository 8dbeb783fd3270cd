#!/usr/bin/env python3
"""Writes broken datasets and checkpoints for bad-inputs.test.

    bad_inputs.py OUT_DIR MNIST_DIR CHECKPOINT

Each dataset is a folder holding the four MNIST files (the test split taken
small from the real one) with one of them broken; each checkpoint is a
variant of CHECKPOINT (a real safetensors file) with one defect.
"""
import json, os, shutil, struct, sys

out, mnist, checkpoint = sys.argv[1:4]
NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx(path, count):
    """The first `count` items of an MNIST IDX file, header adjusted."""
    with open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        ndim = magic & 0xFF
        dims = list(struct.unpack(">%dI" % ndim, f.read(4 * ndim)))
        item = 1
        for d in dims[1:]:
            item *= d
        dims[0] = count
        return struct.pack(">I", magic) + struct.pack(">%dI" % ndim, *dims) + f.read(count * item)


def dataset(name, **broken):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for n in NAMES:
        data = broken.get(n.replace("-", "_"), idx(os.path.join(mnist, n), 100))
        with open(os.path.join(d, n), "wb") as f:
            f.write(data)


good = idx(os.path.join(mnist, "train-images-idx3-ubyte"), 100)
dataset("truncated", train_images_idx3_ubyte=good[:10])
dataset("magic", train_images_idx3_ubyte=struct.pack(">I", 0x801) + good[4:])
dataset("gigabytes", train_images_idx3_ubyte=struct.pack(">IIII", 0x803, 60000, 1000, 1000) + good[16:])
dataset("short", train_images_idx3_ubyte=good[:-100])
dataset("counts", train_labels_idx1_ubyte=idx(os.path.join(mnist, "train-labels-idx1-ubyte"), 99))
dataset("size", train_images_idx3_ubyte=struct.pack(">IIII", 0x803, 100, 32, 32) + bytes(100 * 32 * 32))

with open(checkpoint, "rb") as f:
    blob = f.read()
length = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + length])
data = blob[8 + length:]
first = next(k for k in header if k != "__metadata__")


def variant(name, header=None, raw=None):
    if raw is None:
        text = json.dumps(header).encode()
        raw = struct.pack("<Q", len(text)) + text + data
    with open(os.path.join(out, name + ".safetensors"), "wb") as f:
        f.write(raw)


def edited(change):
    h = json.loads(json.dumps(header))
    change(h)
    return h


variant("random", raw=bytes((i * 37 + 11) % 256 for i in range(4096)))
variant("past-end", raw=struct.pack("<Q", 1 << 40) + blob[8:])
second = [k for k in header if k not in ("__metadata__", first)][0]
size = header[second]["data_offsets"][1] - header[second]["data_offsets"][0]
variant("overlap", edited(lambda h: h[second].__setitem__("data_offsets", [4, 4 + size])))
variant("outside", edited(lambda h: h[first].__setitem__("data_offsets", [len(data), len(data) + 4 * 16 * 25])))
variant("dtype", edited(lambda h: h[first].__setitem__("dtype", "F64")))
variant("shape", edited(lambda h: h[first].__setitem__("shape", [8, 2, 5, 5])))
variant("missing", edited(lambda h: h.pop(first)))
extra = edited(lambda h: h.__setitem__("x", {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}))
text = json.dumps(extra).encode()
variant("extra", raw=struct.pack("<Q", len(text)) + text + data + bytes(4))
