#!/usr/bin/env python3
"""Writes augment.json: torchvision's crop and flip at every offset, for
tests/unit/AugmentTest.cpp.

    .venv-torch/bin/python tests/reference/make_augment.py   (torchvision 0.29, PIL not needed)

A 2x5x6 image of bytes (C x H x W, W != H so that a swapped axis shows),
scaled to [0, 1] as ToTensor does; for each list of augment lines, every
combination of draws: crop(padding=P) is RandomCrop(size, padding=P) at
top dy, left dx (each 0..2P): F.crop(F.pad(img, [P]), dy, dx, H, W);
flip is RandomHorizontalFlip's F.hflip, when drawn. Lines apply in the
order written.
"""
import itertools
import json
import os

import torch
import torchvision
import torchvision.transforms.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
C, H, W = 2, 5, 6


def apply(img, lines, draws):
    for line, draw in zip(lines, draws):
        if line[0] == "crop":
            p = line[1]
            img = F.crop(F.pad(img, [p]), draw[1], draw[0], H, W)
        elif draw[2]:
            img = F.hflip(img)
    return img


def choices(line):
    if line[0] == "crop":
        return [(dx, dy, False) for dy in range(2 * line[1] + 1) for dx in range(2 * line[1] + 1)]
    return [(0, 0, False), (0, 0, True)]


def main():
    g = torch.Generator().manual_seed(7)
    pixels = torch.randint(1, 256, (C, H, W), generator=g, dtype=torch.uint8)
    img = pixels.float() / 255
    cases = []
    for lines in ([("crop", 2)], [("crop", 1), ("flip",)], [("flip",), ("crop", 1)]):
        outputs = []
        for draws in itertools.product(*(choices(l) for l in lines)):
            out = apply(img, lines, draws)
            outputs.append({"draws": [list(d) for d in draws], "image": out.flatten().tolist()})
        text = "\n".join("augment " + (f"crop(padding={l[1]})" if l[0] == "crop" else "flip") for l in lines)
        cases.append({"lines": text, "outputs": outputs})
    with open(os.path.join(HERE, "augment.json"), "w") as f:
        json.dump({"torchvision": torchvision.__version__, "shape": [C, H, W], "pixels": pixels.flatten().tolist(),
                   "cases": cases}, f)


if __name__ == "__main__":
    main()
