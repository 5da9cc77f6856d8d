#!/usr/bin/python3
"""The PyTorch peers of repro's conv-net examples (examples/fashion_cnn.yaml,
examples/fashion_resnet.yaml), for bench/cnn.sh and bench/gpu_cnn.sh.

Same architectures, Adam lr 1e-3, batch 128, cross-entropy, on the same
Fashion-MNIST images (in memory, on the device, a fresh permutation per
epoch). Two modes, each printing one JSON line:

  speed:    samples/s of the training step loop alone (no evaluation, no
            data loading, no loss read back), after a warm-up of 20 steps
            that also absorbs compilation.
  accuracy: the examples' whole recipe (10 epochs, 10% of the training set
            held out as repro does, no augmentation), then test accuracy.

usage: torch_cnn.py speed|accuracy cnn|resnet THREADS [STEPS] [cpu|cuda] [eager|compile|graphs]
  eager    plain PyTorch (on CUDA: deterministic algorithms, cudnn.deterministic,
           benchmark off, no TF32)
  compile  torch.compile of the model and of the optimizer step
  fused    eager with torch.optim.Adam(fused=True) (CUDA; CPU from PyTorch 2.4)
  graphs   the whole step captured in one CUDA Graph (fused capturable Adam)
The ResNet's batch norm is PyTorch's (statistics over the whole batch of 128,
repro uses groups of 32): the same work, not the same numbers.
FASHION_DIR overrides the data folder.
"""
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

FASHION = os.environ.get("FASHION_DIR", "/usr/share/datasets/fashion-mnist")


def load(split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(f"{FASHION}/{prefix}-images-idx3-ubyte.gz", "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz", "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        return torch.relu(y + (self.skip(x) if self.skip is not None else x))


def resnet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def setup(threads, device):
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    if device == "cuda":
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def make(arch, device, variant):
    model = (cnn() if arch == "cnn" else resnet()).to(device)
    kw = {}
    if variant in ("fused", "graphs"):
        kw["fused"] = True
    if variant == "graphs":
        kw["capturable"] = True
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, **kw)


def speed(arch, threads, steps, device, variant):
    setup(threads, device)
    x, y = load("train")
    x, y = x.to(device), y.to(device)
    model, opt = make(arch, device, variant)
    loss_fn = nn.CrossEntropyLoss()
    fwd, opt_step = model, opt.step
    if variant == "compile":
        fwd = torch.compile(model)
        opt_step = torch.compile(opt.step)
    batch = 128
    per_epoch = x.shape[0] // batch
    perm = [None]

    def batch_of(i):  # a fresh permutation at the start of every epoch
        j = i % per_epoch
        if j == 0 or perm[0] is None:
            perm[0] = torch.randperm(x.shape[0]).to(device)
        return perm[0][j * batch:(j + 1) * batch]

    def step(i):
        idx = batch_of(i)
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(fwd(x[idx]), y[idx])
        loss.backward()
        opt_step()

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    if variant == "graphs":
        sx, sy = x[:batch].clone(), y[:batch].clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):  # warm up on a side stream, as the CUDA Graphs notes ask
            for _ in range(3):
                opt.zero_grad(set_to_none=False)
                loss_fn(model(sx), sy).backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=False)
        with torch.cuda.graph(graph):
            loss = loss_fn(model(sx), sy)
            loss.backward()
            opt.step()

        def step(i):  # noqa: F811 (the captured step replays on fresh data)
            idx = batch_of(i)
            sx.copy_(x[idx])
            sy.copy_(y[idx])
            graph.replay()

    model.train()
    for i in range(20):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(20 + i)
    sync()
    sec = time.perf_counter() - t0
    print(json.dumps({"arch": arch, "device": device, "variant": variant, "threads": threads, "steps": steps,
                      "samples_per_sec": steps * batch / sec}))


def accuracy(arch, threads, device):
    setup(threads, device)
    x, y = load("train")
    xt, yt = load("test")
    g = torch.Generator().manual_seed(42)
    order = torch.randperm(x.shape[0], generator=g)
    n_val = x.shape[0] // 10
    train_idx = order[n_val:]
    x, y = x[train_idx].to(device), y[train_idx].to(device)
    xt, yt = xt.to(device), yt.to(device)
    model, opt = make(arch, device, "eager")
    loss_fn = nn.CrossEntropyLoss()
    batch = 128
    for epoch in range(10):
        model.train()
        perm = torch.randperm(x.shape[0], generator=g).to(device)
        for j in range(0, x.shape[0], batch):
            idx = perm[j:j + batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for j in range(0, xt.shape[0], 1000):
            correct += (model(xt[j:j + 1000]).argmax(1) == yt[j:j + 1000]).sum().item()
    print(json.dumps({"arch": arch, "epochs": 10, "test_accuracy": correct / xt.shape[0],
                      "torch": torch.__version__}))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mode, arch, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if arch not in ("cnn", "resnet"):
        sys.exit(f"torch_cnn.py: unknown architecture {arch!r}")
    if mode == "accuracy":
        accuracy(arch, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
    elif mode == "speed":
        steps = int(sys.argv[4]) if len(sys.argv) > 4 else 50
        device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
        variant = sys.argv[6] if len(sys.argv) > 6 else "eager"
        if variant not in ("eager", "fused", "compile", "graphs"):
            sys.exit(f"torch_cnn.py: unknown variant {variant!r}")
        speed(arch, threads, steps, device, variant)
    else:
        sys.exit(f"torch_cnn.py: unknown mode {mode!r}")


if __name__ == "__main__":
    main()
