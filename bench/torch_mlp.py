#!/usr/bin/python3
"""The PyTorch peer of repro's Fashion-MNIST MLP step loop, for bench/run.sh.

Same model (784-256-256-10, ReLU, dropout 0.3), Adam lr 1e-3, batch 256,
cross-entropy, on the same Fashion-MNIST training images (in memory, on the
device, a fresh permutation per epoch). Prints one JSON line: samples/s of
the training step loop alone (no evaluation, no data loading, no loss read
back), after a warm-up that also absorbs compilation.

usage: torch_mlp.py THREADS STEPS [cpu|cuda] [eager|compile|compile-graphs] [fp32|bf16]
  eager           plain PyTorch (on CUDA: deterministic algorithms, no TF32)
  compile         torch.compile of the model and of the optimizer step
  compile-graphs  the model with mode="reduce-overhead" (CUDA Graphs), the step as above
  bf16            forward and loss under torch.autocast(dtype=torch.bfloat16), the
                  usual mixed-precision recipe (fp32 weights and optimiser)
FASHION_DIR overrides the data folder.
"""
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

FASHION = os.environ.get("FASHION_DIR", "/usr/share/datasets/fashion-mnist")
IMAGES = FASHION + "/train-images-idx3-ubyte.gz"
LABELS = FASHION + "/train-labels-idx1-ubyte.gz"


def load():
    with gzip.open(IMAGES, "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(LABELS, "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def main():
    threads, steps = int(sys.argv[1]), int(sys.argv[2])
    device = sys.argv[3] if len(sys.argv) > 3 else "cpu"
    variant = sys.argv[4] if len(sys.argv) > 4 else "eager"
    if variant not in ("eager", "compile", "compile-graphs"):
        sys.exit(f"torch_mlp.py: unknown variant {variant!r}")
    precision = sys.argv[5] if len(sys.argv) > 5 else "fp32"
    if precision not in ("fp32", "bf16"):
        sys.exit(f"torch_mlp.py: unknown precision {precision!r}")
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    if device == "cuda":
        torch.use_deterministic_algorithms(True)
        torch.backends.cuda.matmul.allow_tf32 = False
    x, y = load()
    x, y = x.to(device), y.to(device)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(256, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt_step = opt.step
    if variant != "eager":
        mode = "reduce-overhead" if variant == "compile-graphs" else "default"
        model = torch.compile(model, mode=mode)
        opt_step = torch.compile(opt.step)
    batch = 256
    perm = torch.randperm(x.shape[0]).to(device)
    per_epoch = x.shape[0] // batch

    def step(i):
        j = i % per_epoch
        idx = perm[j * batch:(j + 1) * batch]
        if variant == "compile-graphs":  # a new step: the graphs may reuse their outputs' memory
            torch.compiler.cudagraph_mark_step_begin()
        # under CUDA Graphs a kept .grad would alias graph memory the next run overwrites
        opt.zero_grad(set_to_none=variant == "compile-graphs")
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt_step()

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    for i in range(50 if variant != "eager" else 20):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    dt = time.perf_counter() - t0
    print(json.dumps({"peer": "pytorch", "variant": variant, "precision": precision, "version": torch.__version__,
                      "device": device,
                      "threads": threads,
                      "steps": steps, "samples_per_sec": steps * batch / dt}))


if __name__ == "__main__":
    main()
