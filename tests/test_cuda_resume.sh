#!/usr/bin/env bash
# Resume on the other device (mode exact): a run stopped on the CPU and
# resumed on the GPU (--set device=cuda), and one stopped on the GPU and
# resumed on the CPU, each also with EMA and a cosine schedule, finish with
# the bits of the run that never stopped (on either device), and run.json's
# "resumes" records the change. Skipped (77) where the build has no CUDA
# backend or the machine no GPU. Prints one PASS/FAIL line per case.
# ctest-labels: cuda
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/cuda_resume
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 5000 500
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=3 --set ledger.hash_every=10)
set +e
probe=$("$REPRO" train "$cfg" "${common[@]}" --set max_steps=1 --set device=cuda --out "$dir/probe" 2>&1)
rc=$?
set -e
if [[ $rc -ne 0 && ( "$probe" == *"no CUDA backend"* || "$probe" == *"no CUDA GPU"* ) ]]; then
    echo "SKIPPED: ${probe#repro train: }"
    exit 77
fi
case_line() { # NAME FAILURES_BEFORE
    if [[ $failures -eq $2 ]]; then echo "PASS $1"; else echo "FAIL $1"; fi
}
extras=(--set ema.enabled=true --set ema.decay=0.9 --set schedule.name=cosine --set schedule.warmup_steps=5)
for variant in plain extras; do
    args=("${common[@]}")
    [[ $variant == extras ]] && args+=("${extras[@]}")
    expect_exit 0 "$variant: full on the CPU" -- "$REPRO" train "$cfg" "${args[@]}" --set device=cpu --out "$dir/$variant-full"
    for from in cpu cuda; do
        to=$([[ $from == cpu ]] && echo cuda || echo cpu)
        before=$failures
        run=$dir/$variant-$from-$to
        expect_exit 0 "$variant: stop on $from" -- "$REPRO" train "$cfg" "${args[@]}" --set device=$from --out "$run" \
            --stop-after 100
        expect_exit 0 "$variant: resume on $to" -- "$REPRO" train --resume "$run" --quiet --set device=$to
        same_bits "$variant: $from then $to" "$dir/$variant-full" "$run"
        checks=$((checks + 1))
        grep -q "\"device\":{\"from\":\"$from\",\"to\":\"$to\"}" <(tr -d ' \t\n' <"$run/run.json") ||
            fail "$variant: run.json resumes lacks device $from -> $to"
        case_line "$variant: stop on $from, resume on $to, same bits as never stopping" "$before"
    done
done
finish
