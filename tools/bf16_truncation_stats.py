#!/usr/bin/python3
"""How often does a tensor-core block truncate a term? (docs/bf16.md, "Speed")

    /usr/bin/python3 tools/bf16_truncation_stats.py [SEED]

The bf16 model (src/ops/tc_model.h) keeps each product of a block of 16 to
25 bits below the block's alignment exponent `top` and truncates the rest.
A product whose exponent e = e_a + e_b is at least top - 11 loses nothing
(its 16 significant bits, shifted left by 11, fit), so a block in which
every nonzero product has e >= top - 11 is an exact integer dot product:
the case a faster CPU path (int16 dot products, `vpdpwssd`) could take
without the truncating steps. This counts such blocks on operands like
training's (a ReLU activation or a normal x a layer's weights), per output
(a "lane") and per 16 outputs side by side (one AVX-512 vector of the
kernel, which can take the fast path only if all its lanes can).

`top` is the largest of the products' exponents and the exponent of the
accumulator c; c is taken here as the exact (float64) sum of the blocks
before, which can differ from the model's truncated sum in its last bits
but not, in practice, in its exponent.
"""
import sys

import numpy as np

BLOCK = 16
NONE = -(10**6)


def bf16(x):
    """Round float32 to bf16 (nearest even), returned as float32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(np.float32)


def exps(x):
    """The model's exponent of each value: floor(log2 |x|), -126 for subnormals; NONE for 0."""
    _, e = np.frexp(x.astype(np.float64))
    e = np.maximum(e - 1, -126)
    return np.where(x == 0, NONE, e)


def stats(A, B):
    A, B = bf16(A), bf16(B)
    M, K = A.shape
    N = B.shape[1]
    ea, eb = exps(A), exps(B)
    C = np.zeros((M, N))
    exact_lanes = lanes = exact_vecs = vecs = 0
    for k0 in range(0, K, BLOCK):
        ks = slice(k0, k0 + BLOCK)
        nz = (A[:, ks, None] != 0) & (B[None, ks, :] != 0)  # [M][16][N]
        e = ea[:, ks, None] + eb[None, ks, :]
        emax = np.where(nz, e, NONE).max(1)
        emin = np.where(nz, e, -NONE).min(1)
        _, ce = np.frexp(C)
        ec = np.where(C != 0, ce - 1, NONE)
        top = np.maximum(np.maximum(emax, ec), -133)
        exact = (emin >= top - 11) | ~nz.any(1)
        exact_lanes += exact.sum()
        lanes += exact.size
        v = exact[:, : N // 16 * 16].reshape(M, -1, 16).all(2)
        exact_vecs += v.sum()
        vecs += v.size
        C += A[:, ks].astype(np.float64) @ B[ks, :].astype(np.float64)
    return exact_lanes / lanes, exact_vecs / vecs


def main():
    rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    cases = [
        ("ReLU(N(0,1)) x N(0,0.05) weights, 64 x 256, K 784",
         np.maximum(rng.standard_normal((64, 784)), 0), rng.standard_normal((784, 256)) * 0.05),
        ("N(0,1) x N(0,0.05) weights, 64 x 256, K 256",
         rng.standard_normal((64, 256)), rng.standard_normal((256, 256)) * 0.05),
    ]
    print("operands | blocks with no truncated term: per output, per 16 outputs side by side")
    for name, A, B in cases:
        lane, vec = stats(A.astype(np.float32), B.astype(np.float32))
        print(f"{name} | {lane:.1%} | {vec:.1%}")


if __name__ == "__main__":
    main()
