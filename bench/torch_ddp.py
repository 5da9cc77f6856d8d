#!/usr/bin/python3
"""The PyTorch DDP peer of repro's data parallel (bench/world_gpu.sh).

The conv net or residual net of examples/fashion_cnn.yaml and
fashion_resnet.yaml (bench/torch_cnn.py's), or the MLP of fashion_mlp.yaml
(bench/torch_mlp.py's), Adam lr 1e-3, the same global batch, trained with
DistributedDataParallel over W GPUs (NCCL, no torchrun:
torch.multiprocessing.spawn), deterministic algorithms on,
cudnn.deterministic, no TF32. Every rank takes a fixed slice of the same
global batch (so the data seen is the same for every W). Prints one JSON
line per run: samples/s of the step loop after a warm-up, and the SHA-256
of the final weights, which are the same run to run at one W and differ
between W = 1 and W = 2 (DDP averages gradients with NCCL's all-reduce, in
its own order, after each rank's local mean), while repro's do not.

usage: torch_ddp.py cnn|resnet|mlp GLOBAL_BATCH STEPS WORLD [WORLD...]   (e.g. cnn 1024 200 1 2 2)
       torch_ddp.py allreduce FLOATS ITERS WORLD
         (the plain NCCL all-reduce of FLOATS float32 across WORLD GPUs:
          milliseconds per call, after a warm-up: what a non-exact
          exchange of one gradient costs)
FASHION_DIR overrides the data folder.
"""
import hashlib
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_cnn import cnn, load, resnet  # noqa: E402


def mlp():  # examples/fashion_mlp.yaml, as bench/torch_mlp.py
    return nn.Sequential(nn.Flatten(),
                         nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(256, 10))


ARCHS = {"cnn": cnn, "resnet": resnet, "mlp": mlp}

WARMUP = 10


def init(rank, world, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast off on the lent machines
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world)


def allreduce(rank, world, floats, iters, port, out):
    init(rank, world, port)
    g = torch.ones(floats, device=torch.device("cuda", rank))
    for _ in range(WARMUP):
        dist.all_reduce(g)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(g)
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1e3 / iters
    if rank == 0:
        out.put({"framework": "nccl-allreduce", "world": world, "floats": floats, "ms_per_allreduce": ms,
                 "nccl": ".".join(map(str, torch.cuda.nccl.version()))})
    dist.destroy_process_group()


def worker(rank, world, arch, batch, steps, port, out):
    init(rank, world, port)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(42)  # the same initial weights on every rank and every W
    dev = torch.device("cuda", rank)
    x, y = load("train")
    x, y = x.to(dev), y.to(dev)
    model = nn.parallel.DistributedDataParallel(ARCHS[arch]().to(dev), device_ids=[rank])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator(device="cpu").manual_seed(7)
    order = torch.randperm(x.shape[0], generator=g).to(dev)
    per = batch // world

    def step(i):
        first = (i * batch) % (x.shape[0] - batch)
        idx = order[first + rank * per: first + (rank + 1) * per]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()

    for i in range(WARMUP):
        step(i)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(WARMUP, steps):
        step(i)
    torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    if rank == 0:
        h = hashlib.sha256()
        for p in model.module.parameters():
            h.update(p.detach().float().cpu().numpy().tobytes())
        out.put({"framework": "pytorch-ddp", "model": arch, "world": world, "global_batch": batch, "steps": steps,
                 "samples_per_sec": (steps - WARMUP) * batch / sec, "params_sha256": h.hexdigest(),
                 "torch": torch.__version__, "nccl": ".".join(map(str, torch.cuda.nccl.version()))})
    dist.destroy_process_group()


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in list(ARCHS) + ["allreduce"]:
        sys.exit(__doc__)
    what, n, steps, worlds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(w) for w in sys.argv[4:]]
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic cuBLAS asks for
    ctx = mp.get_context("spawn")
    hashes = []
    for i, world in enumerate(worlds):
        q = ctx.SimpleQueue()
        if what == "allreduce":
            mp.spawn(allreduce, args=(world, n, steps, 29500 + i, q), nprocs=world, join=True)
            print(json.dumps(q.get()), flush=True)
            continue
        mp.spawn(worker, args=(world, what, n, steps, 29500 + i, q), nprocs=world, join=True)
        r = q.get()
        hashes.append((world, r["params_sha256"]))
        print(json.dumps(r), flush=True)
    by_world = {}
    for w, h in hashes:
        by_world.setdefault(w, set()).add(h)
    if hashes:
        print(json.dumps({"framework": "pytorch-ddp", "model": what,
                          "same_weights_run_to_run": {str(w): len(h) == 1 for w, h in by_world.items()},
                          "same_weights_for_every_world": len({h for _, h in hashes}) == 1}))


if __name__ == "__main__":
    main()
