"""Loading librepro.so.0 and declaring the C functions the package calls.

The library is found, in order, at:
  1. ``$REPRO_LIB`` (a path to the shared library);
  2. the install prefix recorded by ``make install`` (``_install.py``),
     then ``/usr/local/lib`` and ``/usr/lib``;
  3. ``ctypes.util.find_library("repro")`` (the dynamic linker's cache).
Only C functions of ``include/repro/bindings.h`` (and ``repro_status_name``)
are called; structs passed by value are only those that ever grow at the end.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import List, Optional

from .errors import ReproError, error_for_status

ABI = 1  # REPRO_BINDINGS_ABI this package speaks
ERROR_MESSAGE_MAX = 1024


class Error(ctypes.Structure):
    """repro_error"""
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * ERROR_MESSAGE_MAX)]


class ArraySet(ctypes.Structure):
    """repro_array_set"""
    _fields_ = [
        ("x", ctypes.POINTER(ctypes.c_float)),
        ("n", ctypes.c_int64), ("n_features", ctypes.c_int64),
        ("image_h", ctypes.c_int64), ("image_w", ctypes.c_int64),
        ("label", ctypes.POINTER(ctypes.c_int32)), ("n_classes", ctypes.c_int32),
        ("y", ctypes.POINTER(ctypes.c_float)), ("n_targets", ctypes.c_int64),
    ]


class Progress(ctypes.Structure):
    """repro_progress (include/repro/train.h)"""
    _fields_ = [
        ("kind", ctypes.c_int), ("run_dir", ctypes.c_char_p),
        ("epoch", ctypes.c_int), ("epochs", ctypes.c_int),
        ("step", ctypes.c_int64), ("total_steps", ctypes.c_int64),
        ("step_in_epoch", ctypes.c_int64), ("steps_in_epoch", ctypes.c_int64),
        ("loss", ctypes.c_float), ("lr", ctypes.c_float),
        ("samples_per_sec", ctypes.c_double), ("elapsed_sec", ctypes.c_double),
        ("loader_wait_sec", ctypes.c_double),
        ("has_val", ctypes.c_int), ("has_test", ctypes.c_int), ("has_accuracy", ctypes.c_int),
        ("val_loss", ctypes.c_float), ("val_accuracy", ctypes.c_float),
        ("test_loss", ctypes.c_float), ("test_accuracy", ctypes.c_float),
        ("early_stop", ctypes.c_int),
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Progress))


class TrainCall(ctypes.Structure):
    """repro_train_call (include/repro/bindings.h)"""
    _fields_ = [
        ("out_dir", ctypes.c_char_p), ("force", ctypes.c_int), ("resume_dir", ctypes.c_char_p),
        ("overrides", ctypes.POINTER(ctypes.c_char_p)), ("n_overrides", ctypes.c_int),
        ("train_data", ctypes.c_void_p), ("test_data", ctypes.c_void_p),
        ("progress", PROGRESS_FN), ("progress_ctx", ctypes.c_void_p),
        ("interrupt", ctypes.POINTER(ctypes.c_int)),
    ]


def _candidates() -> List[str]:
    names = ["librepro.so.0", "librepro.so"]
    out: List[str] = []
    env = os.environ.get("REPRO_LIB")
    if env:
        return [env]  # an explicit choice is never second-guessed
    try:
        from . import _install  # written by `make install`
        out += [os.path.join(_install.LIBDIR, n) for n in names]
    except ImportError:
        pass
    for d in ("/usr/local/lib", "/usr/local/lib64", "/usr/lib"):
        out += [os.path.join(d, n) for n in names]
    found = ctypes.util.find_library("repro")
    if found:
        out.append(found)
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("repro: cannot find librepro.so.0 (build it with `make build` and set "
                      "REPRO_LIB=build/librepro.so.0, or `make install`); tried: " + ", ".join(tried))


_lib: Optional[ctypes.CDLL] = None


def lib() -> ctypes.CDLL:
    """The loaded library, its functions declared (loaded on first use)."""
    global _lib
    if _lib is None:
        L = _load()
        _declare(L)
        abi = L.repro_bindings_abi()
        if abi != ABI:
            raise ImportError(f"repro: {L._name} speaks bindings ABI {abi}, this package {ABI}: "
                              "install the package and library from the same source")
        _lib = L
    return _lib


def _declare(L: ctypes.CDLL) -> None:
    c = ctypes
    E = c.POINTER(Error)
    sigs = {
        "repro_bindings_abi": (c.c_int, []),
        "repro_version": (c.c_char_p, []),
        "repro_status_name": (c.c_char_p, [c.c_int]),
        "repro_string_free": (None, [c.c_void_p]),
        "repro_config_new": (c.c_void_p, [c.c_char_p, c.POINTER(c.c_char_p), c.c_int, E]),
        "repro_config_delete": (None, [c.c_void_p]),
        "repro_config_json": (c.c_void_p, [c.c_void_p]),
        "repro_dataset_new": (c.c_void_p, [c.POINTER(ArraySet), E]),
        "repro_dataset_delete": (None, [c.c_void_p]),
        "repro_dataset_samples": (c.c_int64, [c.c_void_p]),
        "repro_dataset_sha256": (c.c_int, [c.c_void_p, c.c_char * 65, E]),
        "repro_train_json": (c.c_int, [c.c_void_p, c.POINTER(TrainCall), c.POINTER(c.c_void_p), E]),
        "repro_run_compare_json": (c.c_int, [c.c_char_p, c.c_char_p, c.POINTER(c.c_void_p), E]),
        "repro_verify_compare_json": (c.c_int, [c.c_char_p, c.c_char_p, c.POINTER(c.c_void_p), E]),
        "repro_initial_params": (c.c_int, [c.c_void_p, c.c_int, c.c_char_p, c.c_char * 65, E]),
        "repro_export_torch": (c.c_int, [c.c_char_p, c.c_char_p, c.POINTER(c.c_void_p), E]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(L, name)
        f.restype = res
        f.argtypes = args


def raise_error(err: Error) -> None:
    """Raises the exception for a filled repro_error."""
    raise error_for_status(err.status, err.message.decode("utf-8", "replace"))


def take_string(ptr: Optional[int]) -> Optional[str]:
    """A malloc'd C string as str, freed."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib().repro_string_free(ptr)


def encode(s: "os.PathLike[str] | str | None") -> Optional[bytes]:
    return None if s is None else os.fsencode(s)


def string_array(items: List[str]):
    arr = (ctypes.c_char_p * max(1, len(items)))()
    for i, s in enumerate(items):
        arr[i] = s.encode("utf-8")
    return arr


__all__ = ["lib", "ReproError"]
