#!/usr/bin/env python3
"""Writes float64 references for the convolution error table
(tests/unit/FidelityTest.cpp, "convolution passes against float64").

From the same initial weights and batch as <model>.ref (make_reference.py),
the model in float64, in training mode: every convolution's output (its
forward pass, as NAME), the gradient of its input (its data pass, as
grad_in.NAME, where the input needs one) and its weight's gradient
(grad.NAME.weight: its weight pass; the activations of the first 4
samples only), rounded to float32 (6e-8 relative,
well below the errors measured). Run from the repository root with
PyTorch and MNIST in data/mnist:

    .venv-torch/bin/python tests/reference/make_float64.py [mnist lenet5 ...]
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import cnnc_torch  # noqa: E402
from make_reference import HERE, write_ref  # noqa: E402
from pytorch_mnist import load  # noqa: E402


SAMPLES = 4


def reference(name, images, labels):
    model = cnnc_torch.MODELS[name]()
    init = cnnc_torch.load(os.path.join(HERE, f"{name}_init.safetensors"))
    model.load_state_dict(init)
    model.double().train()
    cnnc_torch.CnncDropout.key = cnnc_torch.dropout_key(0, 1)
    out, grads_in = {}, {}

    def keep_output(name):
        def hook(module, inputs, output):
            out[name] = output.detach().clone()
        return hook

    def keep_input_grad(name):
        def hook(module, grad_inputs, grad_outputs):
            if grad_inputs[0] is not None:
                grads_in[name] = grad_inputs[0].detach().clone()
        return hook

    for mod_name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            mod.register_forward_hook(keep_output(mod_name))
            mod.register_full_backward_hook(keep_input_grad(mod_name))
    x = images.double().div(255).reshape(64, 1, 28, 28).requires_grad_(False)
    loss = nn.functional.cross_entropy(model(x), labels.long())
    loss.backward()
    # The activations of the first SAMPLES samples only (the files stay small).
    tensors = {k: v[:SAMPLES].float() for k, v in out.items()}
    tensors.update({"grad_in." + k: v[:SAMPLES].float() for k, v in grads_in.items()})
    for k, p in model.named_parameters():
        if k.endswith("weight") and p.dim() == 4:
            tensors["grad." + k] = p.grad.float()
    write_ref(os.path.join(HERE, f"{name}_f64.ref"), tensors)
    print(f"{name}: {len(tensors)} tensors, loss {loss.item():.9f}")


def main():
    torch.set_num_threads(2)
    train_x, train_y = load("data/mnist", "train")
    for name in sys.argv[1:] or ["mnist", "lenet5", "resnet"]:
        reference(name, train_x[:64], train_y[:64])


if __name__ == "__main__":
    main()
