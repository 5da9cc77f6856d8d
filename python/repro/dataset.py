"""Data sets given to training as NumPy arrays (data.format: memory)."""
from __future__ import annotations

import ctypes
from typing import Optional, Tuple

import numpy as np

from . import _lib


def _features(X: object) -> Tuple[np.ndarray, int, int]:
    if not isinstance(X, np.ndarray):
        raise TypeError(f"X must be a numpy.ndarray of float32, not {type(X).__name__}")
    if X.dtype != np.float32:
        raise TypeError(f"X has dtype {X.dtype}; repro trains on float32 (convert it yourself, "
                        "e.g. X.astype(np.float32), so any rounding is your choice)")
    if X.ndim not in (2, 3):
        raise ValueError(f"X has shape {X.shape}: expected [n, features] or [n, height, width] images")
    if not X.flags["C_CONTIGUOUS"]:
        raise ValueError("X is not C-contiguous (a transposed or sliced view?): pass np.ascontiguousarray(X)")
    if not X.flags["ALIGNED"] or X.dtype.byteorder == ">":
        raise ValueError("X must be aligned float32 in native byte order")
    h, w = (X.shape[1], X.shape[2]) if X.ndim == 3 else (0, 0)
    return X, h, w


def _targets(y: object, n: int) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(labels int32 [n], None) or (None, targets float32 [n][t])."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"y must be a numpy.ndarray (integer labels or float32 targets), not {type(y).__name__}")
    if y.shape[:1] != (n,):
        raise ValueError(f"y has shape {y.shape} but X has {n} samples")
    if y.dtype.kind in "iu":
        if y.ndim != 1:
            raise ValueError(f"integer labels must have shape [n], not {y.shape}")
        if y.size and (y.min() < 0 or y.max() > np.iinfo(np.int32).max):
            raise ValueError(f"labels must lie in [0, 2^31 - 1] (got {y.min()} .. {y.max()})")
        return np.ascontiguousarray(y, dtype=np.int32), None  # exact: integers in range
    if y.dtype == np.float32:
        if y.ndim not in (1, 2):
            raise ValueError(f"float32 targets must have shape [n] or [n, targets], not {y.shape}")
        if not y.flags["C_CONTIGUOUS"]:
            raise ValueError("y is not C-contiguous: pass np.ascontiguousarray(y)")
        return None, y.reshape(n, -1)
    raise TypeError(f"y has dtype {y.dtype}: expected integer class labels or float32 regression targets")


class Dataset:
    """A data set held by librepro, copied from NumPy arrays.

    Train on it with ``repro.train(config, data=ds)``; the config's
    ``data.format`` becomes ``memory`` and run.json records the set's
    :attr:`sha256` (of the array bytes) in place of file hashes.
    """

    def __init__(self) -> None:  # use from_arrays
        self._handle: Optional[int] = None
        self.n = 0
        self.n_features = 0
        self.sha256 = ""

    @classmethod
    def from_arrays(cls, X: np.ndarray, y: np.ndarray, *, n_classes: int = 0) -> "Dataset":
        """A data set from features and labels or targets.

        Args:
            X: float32, C-contiguous, shape [n, features] or [n, height, width]
               (images; a conv net reads them as one channel).
            y: integer class labels of shape [n] (any integer dtype, values in
               [0, 2^31)), or float32 regression targets of shape [n] or [n, t].
            n_classes: the number of classes (0: the largest label + 1).

        Raises:
            TypeError: an argument is not an ndarray, or has the wrong dtype.
            ValueError: wrong shapes, non-contiguous arrays, NaN/inf (from the
                library, as repro.ArgumentError, a ValueError).
        """
        X, h, w = _features(X)
        n = X.shape[0]
        labels, targets = _targets(y, n)
        a = _lib.ArraySet()
        a.x = X.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        a.n = n
        a.n_features = int(np.prod(X.shape[1:]))
        a.image_h, a.image_w = h, w
        if labels is not None:
            a.label = labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
            a.n_classes = int(n_classes)
        else:
            a.y = targets.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            a.n_targets = targets.shape[1]
        L = _lib.lib()
        err = _lib.Error()
        handle = L.repro_dataset_new(ctypes.byref(a), ctypes.byref(err))
        if not handle:
            _lib.raise_error(err)
        ds = cls()
        ds._handle = handle
        ds.n = n
        ds.n_features = int(a.n_features)
        hexbuf = ctypes.create_string_buffer(65)
        if L.repro_dataset_sha256(handle, hexbuf, ctypes.byref(err)) != 0:
            _lib.raise_error(err)
        ds.sha256 = hexbuf.value.decode()
        return ds

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"<repro.Dataset n={self.n} sha256={self.sha256[:12]}>"

    def __del__(self) -> None:
        h, self._handle = getattr(self, "_handle", None), None
        if h and _lib._lib is not None:
            _lib._lib.repro_dataset_delete(h)
