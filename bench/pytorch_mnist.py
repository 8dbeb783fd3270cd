#!/usr/bin/env python3
"""A model of models/ in PyTorch, trained the way cnnc's trainer trains it.

Data preloaded as tensors (uint8, scaled to [0, 1] per batch as ToTensor
does), Adam (or SGD with --momentum), batch 64, the last partial batch
kept, evaluation on the test set after every epoch. Prints one line per
epoch in the trainer's format.

    /usr/bin/python3 bench/pytorch_mnist.py --epochs 1 --lr 0.001 --threads 2
    bench/pytorch_mnist.py --model lenet5 --sgd --momentum 0.9 --lr 0.05

Time to accuracy, as the trainer's `--stop-at ACC --eval-every K`: the test
set is also evaluated every K steps, and the run stops at the first
evaluation reaching ACC percent, printing the training time to it
(evaluations not counted). `--crop P` and `--flip` augment the training
batches as torchvision's RandomCrop(28, padding=P) and
RandomHorizontalFlip(0.5) do, on the device, per sample.

CIFAR-10's binary version with `--format cifar10 --data DIR`, normalised
per channel with `--normalize cifar10` (transforms.Normalize with the
statistics of models/cifar10.cnn), as models/cifar10.cnn trains:
`--sgd --momentum 0.9 --nesterov --weight-decay 5e-4 --onecycle`.
"""
import argparse
import gzip
import os
import struct
import time

import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from cnnc_torch import MODELS, CnncDropout  # noqa: E402  (models/*.cnn in PyTorch)



def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(folder, prefix):
    def path(name):
        p = os.path.join(folder, name)
        return p if os.path.exists(p) else p + ".gz"
    images = read_idx(path(prefix + "-images-idx3-ubyte"))
    labels = read_idx(path(prefix + "-labels-idx1-ubyte")).long()
    return images.unsqueeze(1), labels


def load_cifar10(folder, part):
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if part == "train" else ["test_batch.bin"]
    raw = b"".join(open(os.path.join(folder, n), "rb").read() for n in names)
    records = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, 3073)
    return records[:, 1:].reshape(-1, 3, 32, 32).clone(), records[:, 0].long()


NORMALIZE = {"cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])}


def to_input(x, args):
    """ToTensor's scaling, then Normalize per channel when asked."""
    x = x.float().div(255)
    if args.normalize:
        mean, std = (torch.tensor(v, device=x.device).view(1, -1, 1, 1) for v in NORMALIZE[args.normalize])
        x = (x - mean) / std
    return x


def augment(x, args, g):
    """RandomCrop(28, padding=P) and RandomHorizontalFlip(0.5) per sample, on
    the batch's device: each sample's offsets are drawn, then gathered."""
    if not args.crop and not args.flip:
        return x
    n, c, h, w = x.shape
    if args.crop:
        p = args.crop
        padded = nn.functional.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=g, device=g.device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=g, device=g.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None].expand(n, c, h, w + 2 * p)
        padded = padded.gather(2, rows)
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :].expand(n, c, h, w)
        x = padded.gather(3, cols)
    if args.flip:
        flip = torch.rand(n, generator=g, device=g.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


def evaluate(model, images, labels, batch, args, limit=None):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in list(range(0, len(images), batch))[:limit]:
            x = to_input(images[i:i + batch], args)
            y = labels[i:i + batch]
            logits = model(x)
            loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    model.train()
    return loss / len(images), correct / len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--model", default="mnist", choices=sorted(MODELS))
    ap.add_argument("--sgd", action="store_true", help="SGD instead of Adam")
    ap.add_argument("--momentum", type=float, default=0.0, help="SGD's momentum")
    ap.add_argument("--nesterov", action="store_true", help="SGD's Nesterov momentum")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--format", default="mnist", choices=["mnist", "cifar10"], help="what --data holds")
    ap.add_argument("--normalize", choices=sorted(NORMALIZE), help="Normalize with these statistics")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--onecycle", action="store_true",
                    help="OneCycleLR(max_lr=--lr) over the run's steps, stepped per step (the model's schedule onecycle)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (PyTorch 2.x)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (data preloaded on the device)")
    ap.add_argument("--stop-at", type=float, default=0, help="stop at the first evaluation reaching ACC percent")
    ap.add_argument("--eval-every", type=int, default=0, help="also evaluate every K steps")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--crop", type=int, default=0, help="RandomCrop's padding (0: none)")
    ap.add_argument("--flip", action="store_true", help="RandomHorizontalFlip(0.5)")
    args = ap.parse_args()
    CnncDropout.native = True  # PyTorch's own dropout: its speed, not the twin's masks

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.format == "cifar10":
        (train_x, train_y), (test_x, test_y) = load_cifar10(args.data, "train"), load_cifar10(args.data, "test")
    else:
        train_x, train_y = load(args.data, "train")
        test_x, test_y = load(args.data, "t10k")
    if args.limit:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    dev = torch.device(args.device)
    train_x, train_y, test_x, test_y = (t.to(dev) for t in (train_x, train_y, test_x, test_y))
    model = MODELS[args.model]().to(dev)
    step_model = torch.compile(model) if args.compile else model
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                          weight_decay=args.weight_decay) if args.sgd else \
        torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = (len(train_x) + args.batch - 1) // args.batch * args.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, anneal_strategy="cos",
                                                cycle_momentum=False) if args.onecycle else None
    g = torch.Generator(device=dev).manual_seed(args.seed) if dev.type == "cuda" else \
        torch.Generator().manual_seed(args.seed)
    print(f"pytorch {torch.__version__} {args.model} on {args.device}{' with torch.compile' if args.compile else ''}: training on {len(train_x)} images for {args.epochs} epochs: "
          f"batch {args.batch}, lr {args.lr}, {args.threads} threads", flush=True)
    if args.compile:
        # Compile outside the timed epoch: a few steps at the full and the
        # last partial batch size with a zero learning rate (the weights stay
        # as they are), and evaluation batches of both sizes.
        start = time.perf_counter()
        warm = torch.optim.Adam(model.parameters(), lr=0.0)
        for size in (args.batch, len(train_x) % args.batch or args.batch):
            for _ in range(2):
                loss = nn.functional.cross_entropy(step_model(to_input(train_x[:size], args)), train_y[:size])
                warm.zero_grad()
                loss.backward()
                warm.step()
        opt.zero_grad()
        evaluate(step_model, test_x, test_y, args.batch, args, limit=1)
        evaluate(step_model, test_x[-(len(test_x) % args.batch or args.batch):],
                 test_y[-(len(test_x) % args.batch or args.batch):], args.batch, args)
        print(f"torch.compile warm-up {time.perf_counter() - start:.1f} s (not counted)", flush=True)
    step, trained = 0, 0.0  # trained: seconds of training steps so far

    def reached(acc, epoch):
        if args.stop_at and 100 * acc >= args.stop_at:
            print(f"reached {100 * acc:.2f}% test accuracy (--stop-at {args.stop_at:g}) at step {step} (epoch {epoch}): "
                  f"{trained:.2f} s of training", flush=True)
            return True
        return False

    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(train_x), generator=g, device=dev)
        start = time.perf_counter()
        total, before = 0.0, trained
        for i in range(0, len(train_x), args.batch):
            idx = order[i:i + args.batch]
            x = to_input(augment(train_x[idx], args, g), args)
            y = train_y[idx]
            loss = nn.functional.cross_entropy(step_model(x), y, label_smoothing=args.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            total += loss.detach() * len(idx)
            step += 1
            if args.eval_every and step % args.eval_every == 0 and i + args.batch < len(train_x):
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                trained += time.perf_counter() - start
                _, acc = evaluate(step_model, test_x, test_y, args.batch, args)
                if reached(acc, epoch):
                    return
                start = time.perf_counter()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        trained += time.perf_counter() - start
        seconds = trained - before  # the epoch's steps, without its evaluations
        total = total.item()
        start = time.perf_counter()
        test_loss, acc = evaluate(step_model, test_x, test_y, args.batch, args)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        eval_seconds = time.perf_counter() - start
        print(f"epoch {epoch}/{args.epochs}  train loss {total / len(train_x):.4f}  test accuracy {100 * acc:.2f}%  "
              f"test loss {test_loss:.4f}  {seconds:.1f} s  {len(train_x) / seconds:.0f} images/s  "
              f"eval {eval_seconds:.3f} s", flush=True)
        if reached(acc, epoch):
            return
    if args.stop_at:
        print(f"did not reach {args.stop_at:g}% test accuracy (--stop-at) in {args.epochs} epochs", flush=True)


if __name__ == "__main__":
    main()
