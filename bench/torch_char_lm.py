#!/usr/bin/python3
"""The PyTorch peer of repro's character language model
(examples/char_lm.yaml), for bench/char_lm.sh.

The same architecture and recipe: characters of the fortunes text (the .u8
files in sorted order, concatenated; the vocabulary is their sorted code
points), windows of 64 tokens predicting the next token at every position;
nn.Embedding(128, 128) plus a learned positional table [64, 128] (zeros at
the start, as repro's pos_embedding); two nn.TransformerEncoderLayer(128,
nhead=4, dim_feedforward=512, dropout=0.1, activation="gelu",
norm_first=True, batch_first=True) under a causal mask; a final LayerNorm and
Linear(128, 128) to the logits; cross-entropy averaged over the positions
and the batch; AdamW(lr 1e-3, weight_decay 0.01, betas 0.9/0.999, eps 1e-8)
on every parameter; a linear warm-up over 100 steps (step s, from 0, at
lr * (s + 1) / 100), then a cosine down to 0 at the last step (the
example's max_steps 1000 in accuracy mode: STEPS); batch 32 of
window starts drawn from a fresh permutation of the training windows each
epoch. The train/validation split is repro's own (seed 1, val_fraction
0.0005 of the window starts), computed by librepro's repro_data_split
through ctypes, so both sides hold out the same windows. (PyTorch's own
initialisation and random numbers: the same recipe, not the same bits.)

  speed:    tokens/s of the training step loop alone (forward, loss,
            backward, AdamW step, the schedule; no evaluation, no loss read
            back) over STEPS steps after WARMUP steps.
  accuracy: STEPS steps of the recipe, then the validation loss over the
            held-out windows (batches of 64, dropout off) and its bits per
            character (loss / ln 2), as repro's metrics line reports them.

usage: torch_char_lm.py speed THREADS STEPS [WARMUP]
       torch_char_lm.py accuracy THREADS STEPS
Prints one JSON line. THREADS is torch.set_num_threads; OPENBLAS_NUM_THREADS
(read by OpenBLAS when it loads) is the other half of the split, which
bench/char_lm.sh chooses. FORTUNES_DIR overrides the corpus folder;
REPRO_LIB names librepro.so (default build/librepro.so).
"""
import ctypes
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch

FORTUNES = os.environ.get("FORTUNES_DIR", "/usr/share/games/fortunes")
LIB = os.environ.get("REPRO_LIB", "build/librepro.so")
SEED, CONTEXT, VAL_FRACTION = 1, 64, 0.0005
BATCH, EVAL_BATCH, WARMUP_STEPS = 32, 64, 100
D, HEADS, FF, LAYERS, VOCAB_ROWS = 128, 4, 512, 2, 128
LR, WEIGHT_DECAY = 1e-3, 0.01


def corpus():
    """Token ids of the corpus (int64) and the vocabulary size."""
    files = sorted(glob.glob(f"{FORTUNES}/*.u8"))
    if not files:
        sys.exit(f"torch_char_lm.py: no {FORTUNES}/*.u8 (apt-get install fortunes)")
    text = "".join(open(f, encoding="utf-8").read() for f in files)
    vocab = sorted(set(text))
    ids = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([ids[c] for c in text], dtype=torch.int64), len(vocab)


def split(n):
    """repro's seeded split of the n window starts: (train, val) index tensors."""
    lib = ctypes.CDLL(LIB)
    lib.repro_data_split.argtypes = [ctypes.c_uint64, ctypes.c_int64, ctypes.c_float,
                                     ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)), ctypes.POINTER(ctypes.c_int64),
                                     ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)), ctypes.POINTER(ctypes.c_int64),
                                     ctypes.c_void_p]
    lib.repro_data_split.restype = ctypes.c_int
    tr, va = ctypes.POINTER(ctypes.c_uint32)(), ctypes.POINTER(ctypes.c_uint32)()
    nt, nv = ctypes.c_int64(), ctypes.c_int64()
    err = ctypes.create_string_buffer(4096)
    if lib.repro_data_split(SEED, n, VAL_FRACTION, ctypes.byref(tr), ctypes.byref(nt), ctypes.byref(va),
                            ctypes.byref(nv), err) != 0:
        message = err.raw[4:].split(b"\0")[0].decode()
        sys.exit(f"torch_char_lm.py: repro_data_split: {message}")
    train = torch.from_numpy(np.ctypeslib.as_array(tr, (nt.value,)).astype(np.int64))
    val = torch.from_numpy(np.ctypeslib.as_array(va, (max(nv.value, 1),))[:nv.value].astype(np.int64))
    libc = ctypes.CDLL(None)
    libc.free(tr)
    libc.free(va)
    return train, val


class CharLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = torch.nn.Embedding(VOCAB_ROWS, D)
        self.pos = torch.nn.Parameter(torch.zeros(CONTEXT, D))
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(D, HEADS, FF, 0.1, activation="gelu", norm_first=True,
                                             batch_first=True) for _ in range(LAYERS))
        self.norm = torch.nn.LayerNorm(D)
        self.logits = torch.nn.Linear(D, VOCAB_ROWS)
        self.register_buffer("mask", torch.triu(torch.full((CONTEXT, CONTEXT), float("-inf")), diagonal=1))

    def forward(self, x):
        h = self.tok(x) + self.pos
        for layer in self.layers:
            h = layer(h, src_mask=self.mask)
        return self.logits(self.norm(h))


def lr_at(step, total):
    """repro's warm-up then cosine to 0 at step `total` (src/optim/optim.c), step counted from 0."""
    if step < WARMUP_STEPS:
        return LR * (step + 1) / WARMUP_STEPS
    q = min((step - WARMUP_STEPS) / max(total - WARMUP_STEPS, 1), 1.0)
    return LR * 0.5 * (1.0 + math.cos(math.pi * q))


def setup(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    tokens, vocab = corpus()
    n = tokens.numel() - CONTEXT
    train, val = split(n)
    model = CharLM()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WEIGHT_DECAY)
    return tokens, vocab, train, val, model, opt


def windows(tokens, starts):
    """x [b, 64] and the next tokens y [b, 64] of the window starts."""
    idx = starts[:, None] + torch.arange(CONTEXT)[None, :]
    return tokens[idx], tokens[idx + 1]


def trainer(tokens, train, model, opt, total):
    loss_fn = torch.nn.CrossEntropyLoss()
    per_epoch = train.numel() // BATCH
    perm = [None]

    def step(i):
        j = i % per_epoch
        if j == 0 or perm[0] is None:  # a fresh permutation each epoch
            perm[0] = train[torch.randperm(train.numel())]
        x, y = windows(tokens, perm[0][j * BATCH:(j + 1) * BATCH])
        for g in opt.param_groups:
            g["lr"] = lr_at(i, total)
        opt.zero_grad()
        loss = loss_fn(model(x).reshape(-1, VOCAB_ROWS), y.reshape(-1))
        loss.backward()
        opt.step()

    return step


def speed(threads, steps, warmup):
    tokens, vocab, train, val, model, opt = setup(threads)
    step = trainer(tokens, train, model, opt, warmup + steps)
    model.train()
    for i in range(warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    dt = time.perf_counter() - t0
    print(json.dumps({"mode": "speed", "torch": torch.__version__, "threads": threads,
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "steps": steps,
                      "warmup": warmup, "seconds": dt, "tokens_per_sec": steps * BATCH * CONTEXT / dt}))


def accuracy(threads, steps):
    tokens, vocab, train, val, model, opt = setup(threads)
    step = trainer(tokens, train, model, opt, steps)
    model.train()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, val.numel(), EVAL_BATCH):
            x, y = windows(tokens, val[k:k + EVAL_BATCH])
            loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, VOCAB_ROWS), y.reshape(-1),
                                                     reduction="sum")
            total += loss.item()
            count += y.numel()
    val_loss = total / count
    print(json.dumps({"mode": "accuracy", "torch": torch.__version__, "threads": threads, "steps": steps,
                      "vocab": vocab, "n_train": train.numel(), "n_val": val.numel(), "val_loss": val_loss,
                      "val_bits_per_char": val_loss / math.log(2), "seconds": time.perf_counter() - t0}))


def main(argv):
    if len(argv) >= 4 and argv[1] == "speed":
        speed(int(argv[2]), int(argv[3]), int(argv[4]) if len(argv) > 4 else 20)
    elif len(argv) == 4 and argv[1] == "accuracy":
        accuracy(int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
