#!/usr/bin/python3
"""An independent safetensors reader (json + struct + numpy, no repro code).

Prints, for the file given, one line per metadata pair and per tensor:
    meta KEY=VALUE
    tensor NAME dtype=F32 shape=[d0,d1] bits_sum=N
where bits_sum is the sum of the tensor's float32 bit patterns (as unsigned
32-bit integers) modulo 2**64, an exact checksum that tests/test_record.c
computes independently in C."""
import json
import struct
import sys

import numpy as np


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    for key, value in header.pop("__metadata__", {}).items():
        print(f"meta {key}={value}")
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", info["dtype"]
        x = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        bits = x.view("<u4").astype(np.uint64)
        shape = ",".join(str(d) for d in x.shape)
        print(f"tensor {name} dtype=F32 shape=[{shape}] bits_sum={int(bits.sum())}")


if __name__ == "__main__":
    main(sys.argv[1])
