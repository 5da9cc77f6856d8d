"""repro: bit-for-bit reproducible neural-network training, from Python.

A thin ctypes binding of librepro (the library the ``repro`` command is
built on): the same config and data give the same ``params_sha256`` as
``repro train``. Quick start (docs/python.md)::

    import repro
    r = repro.train("examples/fashion_mlp.yaml", overrides={"epochs": 2})
    print(r.metrics[-1], r.params_sha256)
    params = r.params()                    # {"trunk.0.weight": ndarray, ...}

    ds = repro.Dataset.from_arrays(X, y)   # float32 X, integer labels y
    r = repro.train(cfg, data=ds, on_step=lambda s: repro.STOP if s.loss < 0.1 else None)
"""
from __future__ import annotations

from .compare import diff, verify
from .dataset import Dataset
from .errors import (ArgumentError, ConfigError, FormatError, InternalError, NumericError, ReproError,
                     ReproIOError, ReproMemoryError, StateError, StopTraining, UnsupportedError)
from .run import Run
from .train import STOP, EpochInfo, StepInfo, TrainResult, initial_params, initial_params_sha256, train

__version__ = "0.1.0"

__all__ = [
    "train", "initial_params_sha256", "initial_params", "Dataset", "Run", "TrainResult", "StepInfo", "EpochInfo", "STOP", "StopTraining",
    "diff", "verify", "ReproError", "ArgumentError", "ReproIOError", "FormatError", "ConfigError",
    "ReproMemoryError", "NumericError", "UnsupportedError", "StateError", "InternalError",
]
