"""Fixtures of the Python package's tests (run by tests/test_python.sh, or
`REPRO_LIB=build/librepro.so.0 PYTHONPATH=python python3 -m pytest tests/python`)."""
import os
import shutil
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


@pytest.fixture(scope="session")
def cli():
    """The repro command of the same build as the library."""
    exe = os.environ.get("REPRO")
    if not exe:
        lib = os.environ.get("REPRO_LIB", "")
        exe = os.path.join(os.path.dirname(lib), "repro") if lib else shutil.which("repro")
    if not exe or not os.path.exists(exe):
        pytest.skip("no repro command (set REPRO)")
    return exe


def run_cli(exe, *args):
    p = subprocess.run([exe, *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def need_fashion():
    if not os.path.exists(FASHION):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


def toy(n=600, d=20, classes=4, seed=0):
    """A small separable classification problem: float32 X, int64 labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + 2 * (X[:, 1] > 0)
    return X, y % classes


def toy_config(**over):
    cfg = {"seed": 1, "epochs": 3, "batch_size": 32, "data": {"format": "memory", "val_fraction": 0.1},
           "model": {"trunk": [{"type": "linear", "out": 16}, {"type": "relu"}, {"type": "dropout", "p": 0.1}],
                     "heads": [{"name": "class", "layers": [{"type": "linear", "out": 4}],
                                "loss": "cross_entropy"}]},
           "optim": {"name": "adam", "lr": 0.01}}
    cfg.update(over)
    return cfg
