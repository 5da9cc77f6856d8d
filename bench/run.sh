#!/usr/bin/env bash
# `make bench`: repro vs PyTorch on the Fashion-MNIST MLP step loop, at 1
# and 2 threads, in the same run on the same machine; then exact GEMM vs
# OpenBLAS. Prints samples/s and the ratios.
#   bash bench/run.sh BUILD_DIR [STEPS]
# Both sides warm up for one epoch (234 steps) and are timed over the next
# STEPS (default 234, one epoch): repro's figure is its second epoch's
# samples/s (with its ledger: every step's loss written), PyTorch's its step
# loop (bench/torch_mlp.py). PyTorch gets its best configuration for the
# core count: Debian's is built on OpenBLAS, whose own threads come on top
# of torch.set_num_threads, so each split of THREADS cores between the two
# (torch T x OpenBLAS 1, torch 1 x OpenBLAS T), with the plain and (where
# that PyTorch has it on the CPU) the fused Adam, is measured and the best
# reported, with its configuration. With bench/.venv (make bench-venv: PyTorch
# from PyPI, CPU wheel) that PyTorch is measured too.
set -euo pipefail
build=${1:-build}
steps=${2:-234}
repro=$build/repro
py=/usr/bin/python3
venv_py=bench/.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

repro_rate() { # threads [--set ...] -> samples/s of the step loop (the second epoch's figure)
    local t=$1
    shift
    "$repro" train examples/fashion_mlp.yaml --json --force --out "$tmp/run$t" \
        --set threads="$t" --set epochs=2 --set max_steps=$((235 + steps)) --set data.val_fraction=0 \
        --set data.limit_test=1000 --set checkpoint.every_epoch=false --set checkpoint.every_seconds=0 "$@" \
        | sed -n 's/.*"event":"epoch".*"samples_per_sec":\([0-9.]*\).*/\1/p' | sed -n 2p
}
torch_one() { # python torch_threads openblas_threads variant -> samples/s (empty if the variant fails)
    OPENBLAS_NUM_THREADS=$3 OMP_NUM_THREADS=$2 "$1" bench/torch_mlp.py speed "$2" "$steps" cpu "$4" fp32 234 \
        2>/dev/null | sed -n 's/.*"samples_per_sec": \([0-9.]*\).*/\1/p' || true # a variant that PyTorch lacks: empty
}
torch_best() { # python threads -> "samples/s configuration": the best split of the cores, and
    # Adam(fused=True) where that PyTorch has it on the CPU (2.4 on)
    local best=0 split="" r v
    for v in eager fused; do
        for cfg in "$2 1" "1 $2"; do
            set -- "$1" "$2" $cfg
            r=$(torch_one "$1" "$3" "$4" "$v")
            if [[ -n $r ]] && awk -v a="$r" -v b="$best" 'BEGIN { exit !(a > b) }'; then
                best=$r split="torch $3 x OpenBLAS $4, $v Adam"
            fi
            [[ $2 == 1 ]] && break # one core: one split
        done
    done
    echo "$best $split"
}

echo "Fashion-MNIST MLP 784-256-256-10, dropout 0.3, Adam, batch 256: training samples/s over $steps steps after a one-epoch warm-up"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; repro ISA path: ${REPRO_ISA:-auto}"
source "$(dirname "${BASH_SOURCE[0]}")/blas_core.sh" # exports OPENBLAS_CORETYPE for the peer, says which
peers=("$py")
[[ -x $venv_py ]] && peers+=("$venv_py")
for p in "${peers[@]}"; do echo "peer: $p: PyTorch $("$p" -c 'import torch; print(torch.__version__)')"; done
printf '%-8s %12s %12s %8s  %s\n' threads repro pytorch ratio "peer (its best configuration)"
for t in 1 2; do
    r=$(repro_rate "$t")
    for p in "${peers[@]}"; do
        read -r pr split < <(torch_best "$p" "$t")
        printf '%-8s %12.0f %12.0f %8.2f  %s %s\n' "$t" "$r" "$pr" "$(awk -v a="$r" -v b="$pr" 'BEGIN { print a / b }')" \
            "$("$p" -c 'import torch; print(torch.__version__)')" "$split"
    done
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
