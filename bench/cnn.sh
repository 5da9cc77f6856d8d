#!/usr/bin/env bash
# The conv nets' training speed on the CPU: repro vs PyTorch (Debian's
# python3-torch, or $PYTHON) at 1 and 2 threads, same architecture, batch
# 128, Adam, in the same run. The peer's threads are pinned to ours:
# torch.set_num_threads(t), OMP_NUM_THREADS=t and OPENBLAS_NUM_THREADS=1
# (OpenBLAS's own threads under torch's oversubscribe a 2-core machine).
#   bash bench/cnn.sh BUILD_DIR [STEPS] [cnn|resnet ...]
set -euo pipefail
build=${1:-build}
steps=${2:-60}
shift 2 || true
archs=("${@:-cnn}")
repro=$build/repro
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

repro_rate() { # example threads -> samples/s of the step loop
    "$repro" train "examples/fashion_$1.yaml" --json --force --out "$tmp/run" \
        --set threads="$2" --set max_steps="$steps" --set data.val_fraction=0 --set data.limit_test=1000 \
        | sed -n 's/.*"event":"epoch".*"samples_per_sec":\([0-9.]*\).*/\1/p' | head -n 1
}
torch_rate() { # arch threads
    OMP_NUM_THREADS=$2 OPENBLAS_NUM_THREADS=1 "$py" bench/torch_cnn.py speed "$1" "$2" "$steps" cpu eager |
        sed -n 's/.*"samples_per_sec": \([0-9.]*\).*/\1/p'
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "repro ISA path: ${REPRO_ISA:-auto}; PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
for arch in "${archs[@]}"; do
    echo "examples/fashion_$arch.yaml, batch 128: training samples/s over $steps steps"
    printf '%-8s %12s %12s %8s\n' threads repro pytorch ratio
    r1=
    for t in 1 2; do
        r=$(repro_rate "$arch" "$t")
        p=$(torch_rate "$arch" "$t")
        r1=${r1:-$r}
        printf '%-8s %12.0f %12.0f %8.2f\n' "$t" "$r" "$p" "$(awk -v a="$r" -v b="$p" 'BEGIN { print a / b }')"
    done
    printf 'repro 2 threads / 1 thread: %.2f\n' "$(awk -v a="$r" -v b="$r1" 'BEGIN { print a / b }')"
done
