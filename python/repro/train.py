"""repro.train: a training run from Python, through librepro's repro_train."""
from __future__ import annotations

import ctypes
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np  # noqa: F401  (type hints)

from . import _lib
from .dataset import Dataset
from .errors import StopTraining
from .run import Run

STOP = object()
"""Return this from an ``on_step`` / ``on_epoch`` callback to stop the run
(as raising :class:`repro.StopTraining` does)."""

# File keys of data: cleared when arrays are given (data.format: memory).
_DATA_FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels", "train_csv", "test_csv",
                   "train_x", "train_y", "test_x", "test_y", "feature_columns", "label_column",
                   "target_columns")
_DATA_PATH_KEYS = _DATA_FILE_KEYS[:10]


@dataclass(frozen=True)
class StepInfo:
    """What on_step receives after each optimiser step: step is 1-based (the
    ledger's "step"), epoch is the ledger's "epoch" of that step (0-based)."""
    step: int
    total_steps: int
    epoch: int
    epochs: int
    step_in_epoch: int
    steps_in_epoch: int
    loss: float
    lr: float
    samples_per_sec: float
    elapsed_sec: float


@dataclass(frozen=True)
class EpochInfo:
    """What on_epoch receives after each epoch is evaluated: epoch counts the
    epochs done (1-based, metrics.jsonl's "epoch"); train_loss is the epoch's mean."""
    epoch: int
    epochs: int
    step: int
    train_loss: float
    lr: float
    val_loss: Optional[float]
    val_accuracy: Optional[float]
    test_loss: Optional[float]
    test_accuracy: Optional[float]
    early_stop: bool
    elapsed_sec: float


Callback = Callable[[Any], Any]


def _yaml_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return v
    return json.dumps(v)  # lists and mappings: JSON is YAML


def _override_list(overrides: Union[None, Mapping[str, Any], Sequence[str]]) -> List[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{k}={_yaml_value(v)}" for k, v in overrides.items()]
    if isinstance(overrides, str):
        raise TypeError("overrides: a dict {key: value} or a list of 'key=value' strings, not one string")
    return [str(s) for s in overrides]


def _config_file(config: Union[str, "os.PathLike[str]", Mapping[str, Any]], tmp: str) -> str:
    """A path for config: itself, or a dict written as JSON (which is YAML)."""
    if isinstance(config, Mapping):
        cfg = json.loads(json.dumps(config))
        data = cfg.get("data") or {}
        for k in _DATA_PATH_KEYS:  # relative to the working directory, as in --set
            if isinstance(data.get(k), str) and data[k] and not os.path.isabs(data[k]):
                data[k] = os.path.abspath(data[k])
        path = os.path.join(tmp, "config.yaml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=1)
        return path
    if isinstance(config, (str, os.PathLike)):
        return os.fspath(config)
    raise TypeError(f"config must be a path or a dict, not {type(config).__name__}")


def _check_resume_data(run_dir: str, data: Optional[Dataset], test_data: Optional[Dataset]) -> None:
    """A resume must see the data the run started with (as `repro train
    --resume` checks the files' hashes): arrays by their hash, files too."""
    import hashlib

    from .errors import StateError
    given = {"<memory:train>": data, "<memory:test>": test_data}
    for f in Run(run_dir).record.get("data", {}).get("files", []):
        path, want = f.get("path", ""), f.get("sha256", "")
        if path in given:
            ds = given[path]
            got = ds.sha256 if ds is not None else "(not given)"
        else:
            h = hashlib.sha256()
            try:
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                got = h.hexdigest()
            except OSError as e:
                got = f"(unreadable: {e.strerror})"
        if got != want:
            raise StateError(f"cannot resume '{run_dir}': the data '{path}' has sha256 {got}, "
                             f"the run started with {want}")


def _load_config(config: Union[str, "os.PathLike[str]", Mapping[str, Any]],
                 overrides: Union[None, Mapping[str, Any], Sequence[str]], memory: bool):
    """(config handle, override strings, their C array); raises the library's error."""
    sets = _override_list(overrides)
    if memory:
        sets += ["data.format=memory"] + [f"data.{k}=" for k in _DATA_FILE_KEYS]
    L = _lib.lib()
    err = _lib.Error()
    arr = _lib.string_array(sets)
    with tempfile.TemporaryDirectory(prefix="repro-py-") as tmp:
        path = _config_file(config, tmp)
        cfg = L.repro_config_new(os.fsencode(path), arr, len(sets), ctypes.byref(err))
    if not cfg:
        _lib.raise_error(err)
    return cfg, sets, arr


def _initial(config: Any, overrides: Any, input: int, data: Optional[Dataset], path: Optional[str]) -> str:
    cfg, _, _ = _load_config(config, overrides, data is not None)
    L = _lib.lib()
    err = _lib.Error()
    hexbuf = ctypes.create_string_buffer(65)
    try:
        if data is not None and not input:
            input = data.n_features
        if L.repro_initial_params(cfg, int(input), _lib.encode(path), hexbuf, ctypes.byref(err)):
            _lib.raise_error(err)
    finally:
        L.repro_config_delete(cfg)
    return hexbuf.value.decode()


def initial_params_sha256(config: Union[str, "os.PathLike[str]", Mapping[str, Any]],
                          overrides: Union[None, Mapping[str, Any], Sequence[str]] = None,
                          *, input: int = 0, data: Optional[Dataset] = None) -> str:
    """The params_sha256 of the parameters config starts from (step 0): as
    each layer's initialiser draws them, or as ``init.from`` gives them.

    input: features per sample when the config leaves model.input to the
    data (or give ``data``, whose width is used)."""
    return _initial(config, overrides, input, data, None)


def initial_params(config: Union[str, "os.PathLike[str]", Mapping[str, Any]],
                   overrides: Union[None, Mapping[str, Any], Sequence[str]] = None,
                   *, input: int = 0, data: Optional[Dataset] = None) -> Dict[str, "np.ndarray"]:
    """The parameters config starts from (step 0) by repro name, as float32
    arrays (see :func:`initial_params_sha256`)."""
    from . import _safetensors
    with tempfile.TemporaryDirectory(prefix="repro-init-") as tmp:
        path = os.path.join(tmp, "init.safetensors")
        _initial(config, overrides, input, data, path)
        return _safetensors.read(path)[0]


class _Callbacks:
    """The progress callback: calls on_step / on_epoch, turns STOP,
    StopTraining and any exception (Ctrl-C included) into the interrupt flag."""

    def __init__(self, on_step: Optional[Callback], on_epoch: Optional[Callback]) -> None:
        self.on_step, self.on_epoch = on_step, on_epoch
        self.stop = ctypes.c_int(0)
        self.error: Optional[BaseException] = None
        self.stopped_by_callback = False
        self.fn = _lib.PROGRESS_FN(self._progress)

    def _progress(self, _ctx: int, p_ptr: Any) -> None:
        if self.stop.value:
            return
        try:
            p = p_ptr.contents
            if p.kind == 1 and self.on_step:
                ret = self.on_step(StepInfo(p.step, p.total_steps, p.epoch, p.epochs, p.step_in_epoch,
                                            p.steps_in_epoch, p.loss, p.lr, p.samples_per_sec, p.elapsed_sec))
            elif p.kind == 2 and self.on_epoch:
                acc = bool(p.has_accuracy)
                ret = self.on_epoch(EpochInfo(
                    p.epoch + 1, p.epochs, p.step, p.loss, p.lr,
                    p.val_loss if p.has_val else None, p.val_accuracy if p.has_val and acc else None,
                    p.test_loss if p.has_test else None, p.test_accuracy if p.has_test and acc else None,
                    bool(p.early_stop), p.elapsed_sec))
            else:
                return
            if ret is STOP:
                self.stopped_by_callback = True
                self.stop.value = 1
        except StopTraining:
            self.stopped_by_callback = True
            self.stop.value = 1
        except BaseException as e:  # noqa: B036 - re-raised once training has stopped cleanly
            self.error = e
            self.stop.value = 1


class TrainResult(Run):
    """The run a :func:`train` call wrote (a :class:`Run`), with its result.

    Attributes:
        params_sha256: SHA-256 of the parameters after the last step (equal
            to the CLI's for the same config and data).
        steps: optimiser steps done; interrupted: stopped before the end
            (by a callback, resumable); stopped_by_callback; result: every
            field repro_train returned (bindings.h).
    """

    def __init__(self, result: Dict[str, Any], stopped_by_callback: bool) -> None:
        super().__init__(result["run_dir"])
        self.result = result
        self.params_sha256_result: str = result["params_sha256"]
        self.steps: int = int(result["steps"])
        self.interrupted: bool = bool(result["interrupted"])
        self.stopped_by_callback = stopped_by_callback

    @property
    def params_sha256(self) -> str:  # the result's, not re-read
        return self.params_sha256_result

    def __repr__(self) -> str:
        return f"<repro.TrainResult {self.path!r} steps={self.steps} params_sha256={self.params_sha256[:12]}>"


def train(config: Union[str, "os.PathLike[str]", Mapping[str, Any]],
          overrides: Union[None, Mapping[str, Any], Sequence[str]] = None,
          out: Optional[Union[str, "os.PathLike[str]"]] = None,
          on_step: Optional[Callable[[StepInfo], Any]] = None,
          on_epoch: Optional[Callable[[EpochInfo], Any]] = None,
          *, data: Optional[Dataset] = None, test_data: Optional[Dataset] = None,
          force: bool = False, resume: Optional[Union[str, "os.PathLike[str]"]] = None) -> TrainResult:
    """Trains as ``repro train CONFIG --set K=V ... --out OUT`` does, in process.

    Args:
        config: a YAML config path, or the config as a dict (relative data
            paths in it are relative to the working directory).
        overrides: ``{"epochs": 2, "optim.lr": 1e-3}`` or ``["epochs=2"]``
            (the CLI's --set; recorded in run.json).
        out: the run directory (default runs/<config name>-<time>).
        on_step: called with a :class:`StepInfo` after every step.
        on_epoch: called with an :class:`EpochInfo` after every epoch.
            Either may return :data:`repro.STOP` or raise
            :class:`repro.StopTraining` to stop the run: it stops at that
            step (on_epoch: at the end of that epoch), checkpointed and
            marked interrupted, resumable with ``resume=``. Any other
            exception (Ctrl-C too) stops it the same way and is re-raised.
        data, test_data: :class:`Dataset` s to train and test on instead of
            the config's files (sets ``data.format: memory``).
        force: overwrite a directory that holds a complete run.
        resume: continue this interrupted run (give the same data).

    Returns:
        a :class:`TrainResult` (a :class:`Run` of the new directory).

    Raises:
        ConfigError, ReproIOError, ...: the library's error, its message as
        the CLI prints it. TypeError for arguments of the wrong type.
    """
    if data is not None and not isinstance(data, Dataset):
        raise TypeError(f"data must be a repro.Dataset (Dataset.from_arrays(X, y)), not {type(data).__name__}")
    if test_data is not None and not isinstance(test_data, Dataset):
        raise TypeError(f"test_data must be a repro.Dataset, not {type(test_data).__name__}")
    if test_data is not None and data is None:
        raise ValueError("test_data needs data (the training set) too")
    if resume is not None:
        _check_resume_data(os.fspath(resume), data, test_data)
    cfg, sets, arr = _load_config(config, overrides, data is not None)
    L = _lib.lib()
    err = _lib.Error()
    try:
        cb = _Callbacks(on_step, on_epoch)
        call = _lib.TrainCall()
        call.out_dir = _lib.encode(out)
        call.force = int(bool(force))
        call.resume_dir = _lib.encode(resume)
        call.overrides = arr
        call.n_overrides = len(sets)
        call.train_data = data._handle if data is not None else None
        call.test_data = test_data._handle if test_data is not None else None
        call.progress = cb.fn  # always: so Ctrl-C reaches Python between steps
        call.interrupt = ctypes.pointer(cb.stop)
        res = ctypes.c_void_p()
        st = L.repro_train_json(cfg, ctypes.byref(call), ctypes.byref(res), ctypes.byref(err))
        text = _lib.take_string(res.value)
    finally:
        L.repro_config_delete(cfg)
    if cb.error is not None:
        raise cb.error
    if st != 0:
        _lib.raise_error(err)
    assert text is not None
    return TrainResult(json.loads(text), cb.stopped_by_callback)
