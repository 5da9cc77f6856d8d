#!/usr/bin/python3
"""How PyTorch behaves on the axes repro promises bit-exactness on.

Trains the same small Fashion-MNIST MLP (784-256-256-10, ReLU, dropout 0.3,
Adam 1e-3, batch 256, additive Gaussian noise augmentation in the data
loader) for a fixed number of steps under each variation below, with
torch.manual_seed and torch.use_deterministic_algorithms(True), and compares
the final weights bit for bit with a baseline run:

  repeat            the same run again
  threads=2         torch.set_num_threads(2) instead of 1
  workers=2, 3      DataLoader(num_workers=N) instead of 0
  accum=4           4 micro-batches of 64 accumulated instead of one batch of 256
  resume@STEPS/2    stop half way, save model + optimiser + RNG state, restore
                    in a fresh process, continue (the recipe most users follow)

Prints one JSON object per variation and a table. Used by bench/axes.sh,
which runs the same axes for repro; docs/reproducibility.md holds the figures.

usage: torch_axes.py [STEPS] [SAMPLES]
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
LABELS = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"


def load(n):
    with gzip.open(IMAGES, "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:n]
    with gzip.open(LABELS, "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


class Noisy(torch.utils.data.Dataset):
    """Adds Gaussian noise with torch's global generator, as tutorials do."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * torch.randn(784), self.y[i]


def model():
    return torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(256, 10))


def digest(net):
    h = hashlib.sha256()
    for p in net.parameters():
        h.update(p.detach().numpy().tobytes())
    return h.hexdigest()


def train(steps, samples, threads=1, workers=0, accum=1, stop_at=None, state_in=None, state_out=None):
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(42)
    x, y = load(samples)
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator()
    g.manual_seed(42)
    loader = torch.utils.data.DataLoader(Noisy(x, y), batch_size=256, shuffle=True, num_workers=workers,
                                         generator=g, drop_last=True, persistent_workers=False)
    step = 0
    if state_in:
        s = torch.load(state_in)
        net.load_state_dict(s["model"])
        opt.load_state_dict(s["optim"])
        torch.set_rng_state(s["rng"])
        g.set_state(s["gen"])
        step = s["step"]
    while step < steps:
        for xb, yb in loader:
            if step >= steps:
                break
            opt.zero_grad()
            for xm, ym in zip(xb.chunk(accum), yb.chunk(accum)):
                loss = loss_fn(net(xm), ym) / accum
                loss.backward()
            opt.step()
            step += 1
            if stop_at is not None and step == stop_at:
                torch.save({"model": net.state_dict(), "optim": opt.state_dict(), "rng": torch.get_rng_state(),
                            "gen": g.get_state(), "step": step}, state_out)
                return None
    return digest(net)


def child(args):
    """Runs one training in a fresh process (as a resumed job would)."""
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["sha256"]


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kw = json.loads(sys.argv[2])
        print(json.dumps({"sha256": train(**kw)}))
        return
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
    base = dict(steps=steps, samples=samples)
    runs = [("repeat", {}), ("threads=2", {"threads": 2}), ("workers=2", {"workers": 2}),
            ("workers=3", {"workers": 3}), ("accum=4", {"accum": 4})]
    ref = child(base)
    rows = []
    for name, extra in runs:
        rows.append((name, child({**base, **extra})))
    with tempfile.TemporaryDirectory() as d:
        state = os.path.join(d, "state.pt")
        child({**base, "stop_at": steps // 2, "state_out": state})
        rows.append(("resume@%d" % (steps // 2), child({**base, "state_in": state})))
    print("PyTorch %s, %d steps on %d samples, deterministic algorithms on" % (torch.__version__, steps, samples))
    print("%-12s %-18s %s" % ("variation", "final weights", "same bits as baseline"))
    print("%-12s %-18s %s" % ("baseline", ref[:16], "-"))
    for name, sha in rows:
        print("%-12s %-18s %s" % (name, sha[:16], "yes" if sha == ref else "NO"))
        print(json.dumps({"peer": "pytorch", "variation": name, "sha256": sha, "same": sha == ref}), file=sys.stderr)


if __name__ == "__main__":
    main()
