#!/usr/bin/env python3
"""Reads checkpoints with the official `safetensors` package (from PyPI)
and checks they hold what our own reader sees: the same names, shapes and
values. Exits 77 (skipped) when the package is not installed.

    python3 -m venv .venv && .venv/bin/pip install safetensors numpy
    .venv/bin/python tests/reference/check_safetensors.py FILE...
"""
import json
import struct
import sys

try:
    import numpy as np
    from safetensors.numpy import load_file
except ImportError:
    print("SKIPPED: the safetensors package is not installed (pip install safetensors numpy)")
    sys.exit(77)


def own_reader(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + length + begin:8 + length + end], dtype="<f4").reshape(info["shape"])
    return out


def main():
    for path in sys.argv[1:]:
        official = load_file(path)
        ours = own_reader(path)
        assert sorted(official) == sorted(ours), f"{path}: names differ: {sorted(official)} vs {sorted(ours)}"
        for name, t in official.items():
            assert t.dtype == np.float32, f"{path}: {name} is {t.dtype}"
            assert t.shape == ours[name].shape, f"{path}: {name} shape {t.shape} vs {ours[name].shape}"
            assert np.array_equal(t, ours[name]), f"{path}: {name} values differ"
        print(f"{path}: {len(official)} tensors read by safetensors {__import__('safetensors').__version__}, "
              f"same as our reader")
    return 0


if __name__ == "__main__":
    sys.exit(main())
