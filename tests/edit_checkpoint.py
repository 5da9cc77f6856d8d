#!/usr/bin/python3
"""Edits the metadata of a repro checkpoint, as a careless or hostile user
would (tests only; json + struct + hashlib, no repro code).

    edit_checkpoint.py FILE KEY=VALUE... [--rehash] [--drop KEY]... [--v1]

sets each KEY to VALUE in "__metadata__" and rewrites FILE with the same
tensors. --rehash recomputes "meta_sha256" the way repro does
(docs/reproducibility.md, "What a run directory guarantees"): SHA-256 of
"KEY=VALUE\\n" for every other metadata pair, keys in byte order; that is
what a forger who read the docs would do. --v1 turns the file into a
checkpoint of the first format (no meta_sha256)."""
import hashlib
import json
import struct
import sys


def meta_sha256(meta):
    h = hashlib.sha256()
    for key in sorted(k.encode() for k in meta if k != "meta_sha256"):
        h.update(key + b"=" + meta[key.decode()].encode() + b"\n")
    return h.hexdigest()


def main(argv):
    path, edits, rehash, drop = argv[0], [], False, []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--rehash":
            rehash = True
        elif a == "--v1":
            drop.append("meta_sha256")
            edits.append(("format", "repro-checkpoint/1"))
        elif a == "--drop":
            i += 1
            drop.append(argv[i])
        else:
            key, _, value = a.partition("=")
            edits.append((key, value))
        i += 1
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header["__metadata__"]
    for key, value in edits:
        meta[key] = value
    for key in drop:
        meta.pop(key, None)
    if rehash:
        meta["meta_sha256"] = meta_sha256(meta)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main(sys.argv[1:])
