#!/usr/bin/env python3
"""Loads a cnnc checkpoint into the matching PyTorch class and evaluates it
on the MNIST test set, printing the accuracy the way the trainer does.

    /usr/bin/python3 tests/reference/eval_in_torch.py mnist weights.safetensors [--data data/mnist]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import cnnc_torch  # noqa: E402
from pytorch_mnist import NORMALIZE, evaluate, load  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(cnnc_torch.MODELS))
    ap.add_argument("weights")
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--normalize", choices=sorted(NORMALIZE), help="Normalize with these statistics, as the model's data")
    args = ap.parse_args()
    model = cnnc_torch.MODELS[args.model]()
    model.load_state_dict(cnnc_torch.load(args.weights))
    images, labels = load(args.data, "t10k")
    loss, accuracy = evaluate(model, images, labels, 64, args)
    print(f"pytorch {torch.__version__}: test accuracy {100 * accuracy:.2f}%  test loss {loss:.4f}  ({len(images)} images)")


if __name__ == "__main__":
    main()
