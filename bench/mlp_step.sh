#!/usr/bin/env bash
# The Fashion-MNIST MLP's training step loop on the CPU (examples/fashion_mlp.yaml:
# 784-256-256-10, dropout 0.3, Adam, batch 256): samples/s at 1 and 2 threads,
# the same as GFLOP/s and as a share of the FMA peak of this machine
# (bench_fma_peak on the same ISA path), the 2-thread / 1-thread scaling, and
# (with perf) where a 1-thread step's time goes.
#
#   bash bench/mlp_step.sh BUILD_DIR [STEPS] [RUNS] [BASELINE_REPRO]
#
# STEPS steps a run (default 300), RUNS runs per thread count (default 5);
# the figure is the median of the runs' first-epoch samples/s. With
# BASELINE_REPRO (another build's repro binary) its runs are interleaved
# with ours, so both see the same machine load. REPRO_ISA=avx2 runs the
# AVX2 path (and reads it against the AVX2 FMA peak). PRECISION=bf16 trains
# in bf16 (the tensor core's arithmetic, modelled on the CPU: what an audit
# of a GPU's bf16 run costs here; the FLOPs are counted the same), with fp32
# runs of the same binary interleaved for the ratio.
#
# FLOPs a sample: 2 per multiply-add of the products the step computes:
# forward and dW of every layer, dX of all but the first (its input is the
# data): 2 * (2 * 268800 + 256*256 + 256*10) = 1.211 MFLOP. (Counting the
# first layer's dX too, "3 x forward", gives 1.613 MFLOP.) Bias, ReLU,
# dropout, loss and Adam are not counted. The %peak3xfw column reads the
# same samples/s against the "3 x forward" count, as issue 17 states its
# target (85 % of the FMA peak at 1 thread).
set -euo pipefail
build=${1:-build}
steps=${2:-300}
runs=${3:-5}
base=${4:-}
repro=$build/repro
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mflop=1.2112 # per sample, see above
mflop3=1.6128 # "3 x forward": the count of a step that also computes the first layer's dX

precision=${PRECISION:-fp32}
rate() { # binary threads [precision] -> samples/s of the first epoch
    "$1" train examples/fashion_mlp.yaml --json --force --out "$tmp/run" --set precision="${3:-$precision}" \
        --set threads="$2" --set max_steps="$steps" --set data.val_fraction=0 \
        --set data.limit_test=1000 \
        | sed -n 's/.*"event":"epoch".*"samples_per_sec":\([0-9.]*\).*/\1/p' | head -n 1
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

peak_arg=
[ "${REPRO_ISA:-}" = avx2 ] && peak_arg=avx2
peak=$("$build/bench/bench_fma_peak" $peak_arg | sed -n 's/.*: \([0-9.]*\) GFLOP\/s/\1/p')
echo "Fashion-MNIST MLP step loop ($precision), $steps steps, median of $runs runs"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ISA path: ${REPRO_ISA:-auto}; FMA peak of one core: $peak GFLOP/s; $mflop MFLOP a sample"
printf '%-8s %12s %9s %8s %9s' threads samples/s GFLOP/s %peak %peak3xfw
[ -n "$base" ] && printf ' %14s %8s' baseline ours/base
[ "$precision" != fp32 ] && printf ' %12s %9s' fp32 "$precision/fp32"
printf '\n'
declare -A ours
for t in 1 2; do
    : >"$tmp/o" >"$tmp/b" >"$tmp/f"
    for ((r = 0; r < runs; r++)); do
        rate "$repro" "$t" >>"$tmp/o"
        [ -n "$base" ] && rate "$base" "$t" >>"$tmp/b"
        [ "$precision" != fp32 ] && rate "$repro" "$t" fp32 >>"$tmp/f"
    done
    o=$(median <"$tmp/o")
    ours[$t]=$o
    awk -v s="$o" -v m="$mflop" -v m3="$mflop3" -v p="$peak" -v t="$t" \
        'BEGIN { g = s * m / 1000; printf "%-8s %12.0f %9.1f %7.1f%% %8.1f%%", t, s, g, 100 * g / (t * p),
                 100 * s * m3 / 1000 / (t * p) }'
    if [ -n "$base" ]; then
        b=$(median <"$tmp/b")
        awk -v o="$o" -v b="$b" 'BEGIN { printf " %14.0f %8.2f", b, o / b }'
    fi
    if [ "$precision" != fp32 ]; then
        f=$(median <"$tmp/f")
        awk -v o="$o" -v f="$f" 'BEGIN { printf " %12.0f %9.2f", f, o / f }'
    fi
    printf '\n'
done
awk -v a="${ours[1]}" -v b="${ours[2]}" 'BEGIN { printf "2 threads / 1 thread: %.2fx\n", b / a }'

if ! command -v perf >/dev/null || ! perf stat -e task-clock true >/dev/null 2>&1; then
    echo "(perf not available: no step breakdown)"
    exit 0
fi
# Where a 1-thread run's time goes, by function (flat profile), grouped.
# The run's start (reading and inflating the data, page faults) is listed
# apart, and the shares of the step are of what is left.
perf record -q -F 2000 -o "$tmp/perf.data" -- "$repro" train examples/fashion_mlp.yaml --force \
    --out "$tmp/run" --set precision="$precision" --set threads=1 --set max_steps="$steps" \
    --set data.val_fraction=0 --set data.limit_test=1000 --quiet >/dev/null 2>&1
perf report -i "$tmp/perf.data" --no-children -F overhead,dso,sym -g none --stdio 2>/dev/null | awk '
    /^#/ || !/%/ { next }
    {
        pct = $1; sub(/%/, "", pct); dso = $2; sym = $NF
        if (sym ~ /^repro_gemm|^run_slots$|^repro_bf16|^tile[0-9]|^pair_|^decode_/) g = "GEMM (kernels, packing)"
        else if (sym ~ /^repro_linear|^bias_grad|^backward_with/) g = "linear: bias gradient"
        else if (sym ~ /dropout|philox/) g = "dropout"
        else if (sym ~ /^forward_range$|^backward_range$|relu|act_/) g = "activation (ReLU)"
        else if (sym ~ /^forward_rows$|^backward_rows$|loss|softmax|xent|expf/) g = "loss (and dropout row loop)"
        else if (sym ~ /adam|optim/) g = "Adam"
        else if (sym ~ /gather|memmove|memcpy|fill_micro|loader|prefetch_row|convert_row/) g = "batch gather"
        else if (sym ~ /sha256|SHA256|hash|ledger/ || dso ~ /libcrypto/) g = "ledger hashing"
        else if (dso ~ /kernel|libz/ || sym ~ /inflate|idx_|sink_images|crc32|gz/) g = "start: data load, page faults, kernel"
        else g = "other"
        share[g] += pct
        if (g !~ /^start/) step += pct
    }
    END {
        printf "\n1-thread step breakdown (perf, flat profile; shares of the step, start excluded)\n"
        n = 0
        for (k in share) keys[++n] = k
        for (i = 1; i <= n; i++)
            for (j = i + 1; j <= n; j++)
                if (share[keys[j]] > share[keys[i]]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
        for (i = 1; i <= n; i++) {
            k = keys[i]
            if (k ~ /^start/) printf "  %-40s %5.1f%% of the whole run\n", k, share[k]
            else printf "  %-40s %5.1f%%\n", k, 100 * share[k] / step
        }
    }'
