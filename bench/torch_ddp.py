#!/usr/bin/python3
"""The PyTorch DDP peer of repro's data parallel (bench/world_gpu.sh).

The conv net of examples/fashion_cnn.yaml (bench/torch_cnn.py's), Adam lr
1e-3, the same global batch, trained with DistributedDataParallel over W
GPUs (NCCL, no torchrun: torch.multiprocessing.spawn), deterministic
algorithms on, cudnn.deterministic, no TF32. Every rank takes a fixed slice
of the same global batch (so the data seen is the same for every W).
Prints one JSON line per world size: samples/s of the step loop after a
warm-up, and the SHA-256 of the final weights — which differ between W = 1
and W = 2 (DDP averages gradients with NCCL's all-reduce, in its own order,
after each rank's local mean), while repro's do not.

usage: torch_ddp.py GLOBAL_BATCH STEPS WORLD [WORLD...]   (e.g. 1024 200 1 2)
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
from torch_cnn import cnn, load  # noqa: E402

WARMUP = 10


def worker(rank, world, batch, steps, port, out):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast off on the lent machines
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(42)  # the same initial weights on every rank and every W
    dev = torch.device("cuda", rank)
    x, y = load("train")
    x, y = x.to(dev), y.to(dev)
    model = nn.parallel.DistributedDataParallel(cnn().to(dev), device_ids=[rank])
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
        out.put({"framework": "pytorch-ddp", "world": world, "global_batch": batch, "steps": steps,
                 "samples_per_sec": (steps - WARMUP) * batch / sec, "params_sha256": h.hexdigest(),
                 "torch": torch.__version__, "nccl": ".".join(map(str, torch.cuda.nccl.version()))})
    dist.destroy_process_group()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    batch, steps, worlds = int(sys.argv[1]), int(sys.argv[2]), [int(w) for w in sys.argv[3:]]
    ctx = mp.get_context("spawn")
    hashes = {}
    for i, world in enumerate(worlds):
        q = ctx.SimpleQueue()
        mp.spawn(worker, args=(world, batch, steps, 29500 + i, q), nprocs=world, join=True)
        r = q.get()
        hashes[world] = r["params_sha256"]
        print(json.dumps(r), flush=True)
    if len(hashes) > 1:
        print(json.dumps({"framework": "pytorch-ddp", "same_weights_for_every_world": len(set(hashes.values())) == 1}))


if __name__ == "__main__":
    main()
