#!/usr/bin/python3
"""The PyTorch peer of `test_cuda_attention --bench`: forward and backward
times of F.scaled_dot_product_attention in FP32 (TF32 off) at the same
shapes (8 heads of 64, T = 128, 512, 2048, the batch making B * H * T =
262144 query rows), full and causal, with the math and the
memory-efficient backends (flash attention has no FP32 kernel).
One line per case, as the repro bench prints them:

  BENCH torch-<backend> B=.. H=8 T=.. hd=64 full|causal  fwd X ms  bwd Y ms  fwd+bwd Z ms

usage: torch_attention.py [math|efficient|all]
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def timed(fn, reps=3):
    fn()  # warm-up
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def case(backend, name, T, causal, H=8, hd=64):
    B = 262144 // (H * T)
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.rand(B, H, T, hd, device="cuda", generator=g, requires_grad=True) for _ in range(3))
    dout = torch.rand(B, H, T, hd, device="cuda", generator=g)
    with sdpa_kernel(backend):
        def fwd():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        def both():
            o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            o.backward(dout)

        try:
            f = timed(fwd)
            fb = timed(both)
        except RuntimeError as e:  # e.g. the math backend out of memory at T = 2048
            print(f"BENCH torch-{name} B={B} H={H} T={T} hd={hd} {'causal' if causal else 'full'}  failed: {e}"
                  .splitlines()[0])
            return
    print(f"BENCH torch-{name} B={B} H={H} T={T} hd={hd} {'causal' if causal else 'full'}  "
          f"fwd {f:.3f} ms  bwd {fb - f:.3f} ms  fwd+bwd {fb:.3f} ms", flush=True)


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    backends = {"math": SDPBackend.MATH, "efficient": SDPBackend.EFFICIENT_ATTENTION}
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    for name, backend in backends.items():
        if which not in ("all", name):
            continue
        for causal in (False, True):
            for T in (128, 512, 2048):
                case(backend, name, T, causal)


if __name__ == "__main__":
    main()
