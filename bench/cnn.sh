#!/usr/bin/env bash
# The conv nets' training speed on the CPU: repro vs PyTorch (Debian's
# python3-torch, or $PYTHON) at 1 and 2 threads, same architecture, batch
# 128, Adam, in the same run. The peer's threads are pinned to ours:
# torch.set_num_threads(t), OMP_NUM_THREADS=t and OPENBLAS_NUM_THREADS=1
# (OpenBLAS's own threads under torch's oversubscribe a 2-core machine).
#   bash bench/cnn.sh BUILD_DIR [STEPS] [cnn|resnet ...]
# RUNS=n (default 3): runs per figure, 1 and 2 threads of both sides
# interleaved run by run; each figure is the median of its runs, and the
# scaling line gives the median and range of the per-run ratios.
# The machine's own 2-core ceiling is measured before and after
# (bench_fma_peak --cores 2: two FMA loops at once against one): on a
# virtual machine the two vCPUs may share one physical core's FMA units,
# and then no program scales past that figure. It is also measured just
# before and just after every run's pair of repro runs (1 and 2 threads):
# the scaling line then also gives the runs during which the machine had
# two cores' worth of FMA units (ceiling >= CLEAN, default 1.9, at both
# ends), the figure that says what repro's threads do; the others say what
# the machine did (on this project's Zen 5 VM it moved between 1.0x and
# 2.1x within minutes).
set -euo pipefail
build=${1:-build}
steps=${2:-60}
shift 2 || true
archs=("${@:-cnn}")
runs=${RUNS:-3}
clean=${CLEAN:-1.9}
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
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ceiling() { "$build/bench/bench_fma_peak" --cores 2 | sed -n 's/.*= \([0-9.]*\)x one core.*/\1/p'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "repro ISA path: ${REPRO_ISA:-auto}; PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
source "$(dirname "${BASH_SOURCE[0]}")/blas_core.sh" # exports OPENBLAS_CORETYPE for the peer, says which
c0=$(ceiling)
for arch in "${archs[@]}"; do
    for f in r1 r2 p1 p2 scale clean; do : >"$tmp/$f"; done
    for ((i = 0; i < runs; i++)); do
        before=$(ceiling)
        a=$(repro_rate "$arch" 1)
        b=$(repro_rate "$arch" 2)
        after=$(ceiling)
        echo "$a" >>"$tmp/r1"
        echo "$b" >>"$tmp/r2"
        awk -v a="$a" -v b="$b" 'BEGIN { print b / a }' >>"$tmp/scale"
        awk -v a="$a" -v b="$b" -v x="$before" -v y="$after" -v c="$clean" \
            'BEGIN { if (x >= c && y >= c) print b / a }' >>"$tmp/clean"
        torch_rate "$arch" 1 >>"$tmp/p1"
        torch_rate "$arch" 2 >>"$tmp/p2"
    done
    echo "examples/fashion_$arch.yaml, batch 128: training samples/s over $steps steps, median of $runs runs"
    printf '%-8s %12s %12s %8s\n' threads repro pytorch ratio
    for t in 1 2; do
        r=$(median <"$tmp/r$t")
        p=$(median <"$tmp/p$t")
        printf '%-8s %12.0f %12.0f %8.2f\n' "$t" "$r" "$p" "$(awk -v a="$r" -v b="$p" 'BEGIN { print a / b }')"
    done
    printf 'repro 2 threads / 1 thread: %.2f (runs: %s)\n' "$(median <"$tmp/scale")" \
        "$(sort -g "$tmp/scale" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
    if [[ -s $tmp/clean ]]; then
        printf '  in the %d of %d runs with a 2-core ceiling >= %s before and after: %.2f (runs: %s)\n' \
            "$(wc -l <"$tmp/clean")" "$runs" "$clean" "$(median <"$tmp/clean")" \
            "$(sort -g "$tmp/clean" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
    else
        printf '  no run had a 2-core ceiling >= %s before and after\n' "$clean"
    fi
done
printf "this machine's 2-core FMA ceiling (bench_fma_peak --cores 2): %.2fx before, %.2fx after\n" "$c0" "$(ceiling)"
