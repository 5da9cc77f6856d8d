"""A run directory, read from Python (layout: docs/run-directory.md)."""
from __future__ import annotations

import json
import os
import struct
from typing import Any, Dict, List, Optional

import numpy as np

from . import _safetensors


def _jsonl(path: str) -> List[Dict[str, Any]]:
    if not os.path.exists(path):
        return []
    with open(path, "r", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bits_to_float(hex_bits: str) -> float:
    """A ledger value written as its exact bits ("0x3f7fbd77") as a float."""
    return float(np.array([int(hex_bits, 16)], dtype=np.uint32).view(np.float32)[0])


class Run:
    """A run directory: ``run.json``, ``metrics.jsonl``, ``ledger.jsonl``,
    ``model.safetensors``. Files are read when asked for, each time (a run
    being written changes under you)."""

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(os.path.join(self.path, "run.json")):
            raise FileNotFoundError(f"{self.path}: not a run directory (no run.json)")

    def __repr__(self) -> str:
        return f"repro.Run({self.path!r})"

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def record(self) -> Dict[str, Any]:
        """run.json as a dict (seed, resolved config, environment, data hashes, final)."""
        with open(self._file("run.json"), "r", encoding="utf-8") as f:
            return json.load(f)

    @property
    def config(self) -> Dict[str, Any]:
        """The resolved config the run trained with (every key, defaults included)."""
        return self.record["config"]

    @property
    def status(self) -> str:
        """"complete", "interrupted", "failed" or "running"."""
        return self.record.get("status", "")

    @property
    def params_sha256(self) -> str:
        """SHA-256 of the parameters after the last step (run.json's final)."""
        rec = self.record
        return rec.get("params_sha256") or (rec.get("final") or {}).get("params_sha256", "")

    @property
    def metrics(self) -> List[Dict[str, Any]]:
        """metrics.jsonl: one dict per evaluated epoch."""
        return _jsonl(self._file("metrics.jsonl"))

    @property
    def ledger(self) -> List[Dict[str, Any]]:
        """ledger.jsonl: one dict per step (loss and lr as exact bits, "0x..."; hashes every K steps)."""
        return _jsonl(self._file("ledger.jsonl"))

    def losses(self) -> np.ndarray:
        """Every step's loss from the ledger, exactly, as float32 [steps]."""
        bits = [int(e["loss"], 16) for e in self.ledger if "loss" in e]
        return np.array(bits, dtype=np.uint32).view(np.float32)

    def params(self) -> Dict[str, np.ndarray]:
        """The weights of model.safetensors by repro name ("trunk.0.weight", ...)
        as float32 arrays; linear weights are [out][in], conv weights
        [out][in/groups][kh][kw], as in PyTorch."""
        tensors, _ = _safetensors.read(self._file("model.safetensors"))
        return tensors

    def export_torch(self, path: "str | os.PathLike[str]") -> str:
        """Writes the weights under the names of an equivalent nn.Sequential
        (``repro export RUN --format torch -o PATH``) and returns its Python
        code, which defines ``model``. Raises UnsupportedError for a model
        with no nn.Sequential equivalent (several heads, a branching graph,
        batch_norm)."""
        import ctypes

        from . import _lib
        L = _lib.lib()
        err = _lib.Error()
        code = ctypes.c_void_p()
        if L.repro_export_torch(os.fsencode(self.path), os.fsencode(path), ctypes.byref(code), ctypes.byref(err)):
            _lib.raise_error(err)
        text = _lib.take_string(code.value)
        assert text is not None
        return text

    def torch_module(self) -> Any:
        """A new torch.nn.Sequential equivalent to the model, with the run's
        weights loaded (eval mode is the caller's choice). Needs torch."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="repro-export-") as tmp:
            path = os.path.join(tmp, "model.safetensors")
            scope: Dict[str, Any] = {}
            exec(compile(self.export_torch(path), "<repro export>", "exec"), scope)
            module = scope["model"]
            self._load_state(module, _safetensors.read(path)[0], strict=True)
        return module

    @staticmethod
    def _load_state(module: Any, tensors: Dict[str, np.ndarray], strict: bool) -> None:
        import torch  # only here: torch is optional
        module.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=strict)

    def load_into(self, module: Any, strict: bool = True) -> Any:
        """Loads the weights into a torch.nn.Module and returns it.

        The module's state_dict keys may be repro's own names (a module
        built with repro's trunk/heads or node names) or those of the
        nn.Sequential ``repro export --format torch`` describes (keys
        "0.weight", ...). Needs torch.
        """
        import tempfile

        want = set(module.state_dict().keys())
        tensors = self.params()
        if set(tensors) != want:
            with tempfile.TemporaryDirectory(prefix="repro-export-") as tmp:
                path = os.path.join(tmp, "model.safetensors")
                self.export_torch(path)
                tensors = _safetensors.read(path)[0]
        self._load_state(module, tensors, strict)
        return module
