#!/usr/bin/env bash
# `make bench`: repro vs PyTorch (Debian's python3-torch) on the Fashion-MNIST
# MLP step loop, at 1 and 2 threads, in the same run on the same machine;
# then exact GEMM vs OpenBLAS. Prints samples/s and the ratios.
#   bash bench/run.sh BUILD_DIR [STEPS]
set -euo pipefail
build=${1:-build}
steps=${2:-300}
repro=$build/repro
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

repro_rate() { # threads [--set ...] -> samples/s of the step loop (first epoch's figure)
    local t=$1
    shift
    "$repro" train examples/fashion_mlp.yaml --json --force --out "$tmp/run$t" \
        --set threads="$t" --set max_steps="$steps" --set data.val_fraction=0 \
        --set data.limit_test=1000 "$@" \
        | sed -n 's/.*"event":"epoch".*"samples_per_sec":\([0-9.]*\).*/\1/p' | head -n 1
}
torch_rate() {
    "$py" bench/torch_mlp.py "$1" "$steps" | sed -n 's/.*"samples_per_sec": \([0-9.]*\).*/\1/p'
}

echo "Fashion-MNIST MLP 784-256-256-10, dropout 0.3, Adam, batch 256: training samples/s over $steps steps"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; repro ISA path: ${REPRO_ISA:-auto}"
printf '%-8s %14s %14s %8s\n' threads repro pytorch ratio
for t in 1 2; do
    r=$(repro_rate "$t")
    p=$(torch_rate "$t")
    printf '%-8s %14.0f %14.0f %8.2f\n' "$t" "$r" "$p" "$(awk -v a="$r" -v b="$p" 'BEGIN { print a / b }')"
done
echo
aug=(--set augment.shift_p=0.5 --set augment.flip_p=0.5 --set augment.noise_p=0.5 --set augment.erase_p=0.3)
"$build/bench/bench_loader" 2
echo
echo "training with augmentation (threads 1): samples/s"
printf '%-8s %14s\n' workers repro
for w in 0 2; do
    printf '%-8s %14.0f\n' "$w" "$(repro_rate 1 "${aug[@]}" --set loader.workers="$w")"
done
echo
"$build/bench/bench_gemm" 3
