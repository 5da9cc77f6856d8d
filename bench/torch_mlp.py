#!/usr/bin/python3
"""The PyTorch peer of repro's Fashion-MNIST MLP (examples/fashion_mlp.yaml),
for bench/run.sh (CPU) and bench/gpu.sh (GPU).

Same model (784-256-256-10, ReLU, dropout 0.3), Adam lr 1e-3, batch 256,
cross-entropy, on the same Fashion-MNIST training images (in memory, on the
device, a fresh permutation every epoch). Two modes, each printing one JSON
line:

  speed:    samples/s of the training step loop alone (no evaluation, no
            data loading, no loss read back) over STEPS steps, after a
            warm-up of WARMUP steps (default 234, one epoch: repro's figure
            in bench/run.sh is its second epoch, so both sides warm up for
            one epoch; the warm-up also absorbs compilation and capture).
  accuracy: the example's whole recipe: 10 epochs, 10% of the training set
            held out as repro does, batch 256, Adam 1e-3, constant rate; the
            final model's test accuracy. (PyTorch's own initialisation and
            random numbers: the same recipe, not the same bits.)

usage: torch_mlp.py [speed] THREADS STEPS [cpu|cuda] [VARIANT] [fp32|bf16] [WARMUP]
       torch_mlp.py accuracy THREADS [cpu|cuda]
  eager           plain PyTorch (on CUDA: deterministic algorithms, no TF32)
  fused           eager with torch.optim.Adam(fused=True) (one kernel per
                  step for the whole update; CUDA, and CPU from PyTorch 2.4)
  compile         torch.compile of the model and of the optimizer step
  compile-graphs  the model with mode="reduce-overhead" (CUDA Graphs), the step as above
  graph           the whole step (forward, backward, fused capturable Adam)
                  captured once in one CUDA Graph and replayed (CUDA only)
  bf16            forward and loss under torch.autocast(dtype=torch.bfloat16), the
                  usual mixed-precision recipe (fp32 weights and optimiser)
THREADS is torch.set_num_threads. On the CPU a PyTorch built on OpenBLAS
(Debian's) also has OpenBLAS's own threads, which OPENBLAS_NUM_THREADS sets
before the library loads: bench/run.sh tries each split of the cores
between the two and reports the best; the JSON names the split it ran.
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
VARIANTS = ("eager", "fused", "compile", "compile-graphs", "graph")
BATCH = 256


def load(kind="train"):
    prefix = "train" if kind == "train" else "t10k"
    with gzip.open(f"{FASHION}/{prefix}-images-idx3-ubyte.gz", "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz", "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def setup(threads, device):
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    if device == "cuda":
        torch.use_deterministic_algorithms(True)
        torch.backends.cuda.matmul.allow_tf32 = False


def make(device, variant):
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(256, 10)).to(device)
    kw = {}
    if variant in ("fused", "graph"):
        kw["fused"] = True
    if variant == "graph":
        kw["capturable"] = True
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, **kw)


def blas_threads():
    """The OpenBLAS thread count this process runs with, or None."""
    v = os.environ.get("OPENBLAS_NUM_THREADS")
    return int(v) if v else None


def speed(threads, steps, device, variant, precision, warmup):
    if variant not in VARIANTS:
        sys.exit(f"torch_mlp.py: unknown variant {variant!r}")
    if precision not in ("fp32", "bf16"):
        sys.exit(f"torch_mlp.py: unknown precision {precision!r}")
    if variant == "graph" and device != "cuda":
        sys.exit("torch_mlp.py: variant graph needs cuda")
    setup(threads, device)
    x, y = load()
    x, y = x.to(device), y.to(device)
    model, opt = make(device, variant)
    loss_fn = torch.nn.CrossEntropyLoss()
    fwd, opt_step = model, opt.step
    if variant in ("compile", "compile-graphs"):
        mode = "reduce-overhead" if variant == "compile-graphs" else "default"
        fwd = torch.compile(model, mode=mode)
        opt_step = torch.compile(opt.step)
    per_epoch = x.shape[0] // BATCH
    perm = [None]

    def batch_of(i):  # a fresh permutation at the start of every epoch
        j = i % per_epoch
        if j == 0 or perm[0] is None:
            perm[0] = torch.randperm(x.shape[0]).to(device)
        return perm[0][j * BATCH:(j + 1) * BATCH]

    def step(i):
        idx = batch_of(i)
        if variant == "compile-graphs":  # a new step: the graphs may reuse their outputs' memory
            torch.compiler.cudagraph_mark_step_begin()
        # under CUDA Graphs a kept .grad would alias graph memory the next run overwrites
        opt.zero_grad(set_to_none=variant == "compile-graphs")
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(fwd(x[idx]), y[idx])
        loss.backward()
        opt_step()

    if variant == "graph":
        sx, sy = x[:BATCH].clone(), y[:BATCH].clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):  # warm up on a side stream, as the CUDA Graphs notes ask
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
                    loss = loss_fn(model(sx), sy)
                loss.backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):  # grads are allocated inside: graph memory, reused each replay
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = loss_fn(model(sx), sy)
            loss.backward()
            opt.step()

        def step(i):  # noqa: F811 (the captured step replays on each batch)
            idx = batch_of(i)
            sx.copy_(x[idx])
            sy.copy_(y[idx])
            graph.replay()

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    model.train()
    for i in range(warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(warmup + i)
    sync()
    dt = time.perf_counter() - t0
    print(json.dumps({"peer": "pytorch", "variant": variant, "precision": precision, "version": torch.__version__,
                      "device": device,
                      "threads": threads, "openblas_threads": blas_threads(), "warmup": warmup,
                      "steps": steps, "samples_per_sec": steps * BATCH / dt}))


def accuracy(threads, device):
    setup(threads, device)
    x, y = load("train")
    xt, yt = load("test")
    g = torch.Generator().manual_seed(42)
    order = torch.randperm(x.shape[0], generator=g)
    n_val = x.shape[0] // 10  # data.val_fraction: 0.1, held out
    train_idx = order[n_val:]
    x, y = x[train_idx].to(device), y[train_idx].to(device)
    xt, yt = xt.to(device), yt.to(device)
    model, opt = make(device, "eager")
    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for _ in range(10):
        model.train()
        perm = torch.randperm(x.shape[0], generator=g).to(device)
        for j in range(0, x.shape[0], BATCH):  # the last batch is short, as repro's (drop_last: false)
            idx = perm[j:j + BATCH]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for j in range(0, xt.shape[0], 1000):
            correct += (model(xt[j:j + 1000]).argmax(1) == yt[j:j + 1000]).sum().item()
    print(json.dumps({"model": "fashion_mlp", "epochs": 10, "n_train": int(x.shape[0]),
                      "test_accuracy": correct / xt.shape[0], "torch": torch.__version__, "device": device,
                      "threads": threads, "seconds": round(time.perf_counter() - t0, 1)}))


def main():
    args = sys.argv[1:]
    mode = "speed"
    if args and args[0] in ("speed", "accuracy"):
        mode = args.pop(0)
    if mode == "accuracy":
        if not args:
            sys.exit(__doc__)
        accuracy(int(args[0]), args[1] if len(args) > 1 else "cpu")
        return
    if len(args) < 2:
        sys.exit(__doc__)
    speed(int(args[0]), int(args[1]), args[2] if len(args) > 2 else "cpu", args[3] if len(args) > 3 else "eager",
          args[4] if len(args) > 4 else "fp32", int(args[5]) if len(args) > 5 else 234)


if __name__ == "__main__":
    main()
