"""safetensors files with NumPy only (the format: an 8-byte little-endian
header length, a JSON header of {name: {dtype, shape, data_offsets}} and
"__metadata__", then the tensors' bytes). PyPI's safetensors is not needed."""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v).str: k for k, v in _DTYPES.items()}


def read(path: "str | os.PathLike[str]") -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """All tensors of a safetensors file (copies, in file order) and its metadata."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{os.fspath(path)}: not a safetensors file (shorter than 8 bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{os.fspath(path)}: header length {n} runs past the end of the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(raw)[8 + n:]
    out: Dict[str, np.ndarray] = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{os.fspath(path)}: tensor {name} has unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        shape = tuple(int(d) for d in info["shape"])
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(shape)
        out[name] = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return out, dict(meta)


def write(path: "str | os.PathLike[str]", tensors: Mapping[str, np.ndarray],
          metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes tensors (in the mapping's order) and string metadata."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t)
        le = a.astype(a.dtype.newbyteorder("<"), copy=False)
        dt = _NAMES.get(le.dtype.str)
        if dt is None:
            raise TypeError(f"tensor {name}: dtype {a.dtype} cannot be written to safetensors")
        b = le.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
