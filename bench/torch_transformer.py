#!/usr/bin/python3
"""The PyTorch peer of examples/transformer_6l_512d.yaml on the GPU, for
bench/gpu_transformer.sh: training tokens/s of the same model and recipe.

The model: nn.Embedding(128, 512) plus a learned positional table [256, 512]
(zeros at the start, as repro's pos_embedding); nn.TransformerEncoder of six
nn.TransformerEncoderLayer(512, nhead=8, dim_feedforward=2048, dropout=0.1,
activation="relu", batch_first=True) under a causal mask; Linear(512, 128)
to the logits; cross-entropy averaged over positions and batch; Adam
(lr 3e-4). Batch 32 windows of 256 characters of the fortunes text (the
.u8 files in sorted order, concatenated), a fresh permutation of the window
starts each epoch. FP32 with TF32 off on both sides; PRECISION=bf16 in the
environment runs forward and loss under torch.autocast(bfloat16) instead
(the peer of repro's precision: bf16: bf16 GEMMs, fp32 master weights).

Modes (the strongest PyTorch a user would write, each measured):
  eager          torch.use_deterministic_algorithms(True) (the reproducible
                 setting the guides ask for; CUBLAS_WORKSPACE_CONFIG set)
  eager-nondet   the same without deterministic algorithms
  fused          eager (deterministic) with torch.optim.Adam(fused=True)
  compile        torch.compile(model) (default mode), deterministic flags on
  graphs         the whole step (forward, loss, backward, fused capturable
                 Adam) captured in one CUDA Graph and replayed on fresh data,
                 deterministic flags on

usage: torch_transformer.py MODE STEPS [WARMUP]
Prints one JSON line with tokens_per_sec of the step loop (forward, loss,
backward, Adam step; no evaluation) over STEPS steps after WARMUP steps.
FORTUNES_DIR overrides the corpus folder.
"""
import glob
import json
import os
import sys
import time

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import torch  # noqa: E402

FORTUNES = os.environ.get("FORTUNES_DIR", "/usr/share/games/fortunes")
SEED, CONTEXT, BATCH = 1, 256, 32
D, HEADS, FF, LAYERS, VOCAB_ROWS = 512, 8, 2048, 6, 128
LR = 3e-4


def corpus():
    files = sorted(glob.glob(f"{FORTUNES}/*.u8"))
    if not files:
        sys.exit(f"torch_transformer.py: no {FORTUNES}/*.u8 (apt-get install fortunes)")
    text = "".join(open(f, encoding="utf-8").read() for f in files)
    vocab = sorted(set(text))
    ids = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([ids[c] for c in text], dtype=torch.int64)


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = torch.nn.Embedding(VOCAB_ROWS, D)
        self.pos = torch.nn.Parameter(torch.zeros(CONTEXT, D))
        layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, 0.1, activation="relu", batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.logits = torch.nn.Linear(D, VOCAB_ROWS)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(CONTEXT))

    def forward(self, x):
        h = self.tok(x) + self.pos
        return self.logits(self.encoder(h, mask=self.mask, is_causal=True))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("eager", "eager-nondet", "fused", "compile", "graphs"):
        sys.exit(__doc__)
    mode, steps = argv[1], int(argv[2])
    bf16 = os.environ.get("PRECISION", "fp32") == "bf16"
    warmup = int(argv[3]) if len(argv) > 3 else 10
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(mode != "eager-nondet")
    torch.manual_seed(SEED)
    dev = torch.device("cuda")
    tokens = corpus().to(dev)
    n = tokens.numel() - CONTEXT
    model = Encoder().to(dev)
    kw = {"fused": True} if mode in ("fused", "graphs") else {}
    if mode == "graphs":
        kw["capturable"] = True
    opt = torch.optim.Adam(model.parameters(), lr=LR, **kw)
    fwd = torch.compile(model) if mode == "compile" else model
    loss_fn = torch.nn.CrossEntropyLoss()
    per_epoch = n // BATCH
    offsets = torch.arange(CONTEXT, device=dev)
    state = {"perm": None}

    def batch(i):  # a fresh permutation of the window starts each epoch
        j = i % per_epoch
        if j == 0 or state["perm"] is None:
            state["perm"] = torch.randperm(n, device=dev)
        starts = state["perm"][j * BATCH:(j + 1) * BATCH]
        idx = starts[:, None] + offsets[None, :]
        return tokens[idx], tokens[idx + 1]

    def autocast():  # no cast cache: a CUDA Graph capture must not keep one
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False)

    def step(i):
        x, y = batch(i)
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(fwd(x).reshape(-1, VOCAB_ROWS), y.reshape(-1))
        loss.backward()
        opt.step()

    if mode == "graphs":
        sx, sy = batch(0)
        sx, sy = sx.clone(), sy.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up on a side stream, as the CUDA Graphs notes ask
            for _ in range(3):
                opt.zero_grad(set_to_none=False)
                with autocast():
                    loss = loss_fn(model(sx).reshape(-1, VOCAB_ROWS), sy.reshape(-1))
                loss.backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=False)
        with torch.cuda.graph(graph):
            with autocast():
                loss = loss_fn(model(sx).reshape(-1, VOCAB_ROWS), sy.reshape(-1))
            loss.backward()
            opt.step()

        def step(i):  # noqa: F811 (the captured step replays on fresh data)
            x, y = batch(i)
            sx.copy_(x)
            sy.copy_(y)
            graph.replay()

    model.train()
    for i in range(warmup):
        step(i)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    print(json.dumps({"mode": mode, "precision": "bf16" if bf16 else "fp32", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
                      "steps": steps, "warmup": warmup, "seconds": dt,
                      "tokens_per_sec": steps * BATCH * CONTEXT / dt}), flush=True)


if __name__ == "__main__":
    main(sys.argv)
