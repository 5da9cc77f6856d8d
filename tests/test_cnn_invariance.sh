#!/usr/bin/env bash
# The contract on the conv-net examples (examples/fashion_cnn.yaml,
# examples/fashion_resnet.yaml with batch norm over groups of 32): the same
# ledger and params_sha256 for threads 1/2/3, accum_steps 1/2/4, loader
# workers 0/2/3 with augmentation, every ISA path, a resume mid-epoch and
# after kill -9; and a sample's evaluation output does not depend on
# eval_batch_size (the test metrics are equal). Small data, few steps;
# REPRO_TEST_QUICK=1 (CI's sanitizer and AVX2-capped runs) halves them, the
# same axes and code paths in half the time. The evaluation sets are small
# too (128 validation, 100 test samples; 100 is not a multiple of 7, so the
# eval_batch_size check has a partial batch): under ASan the evaluation of
# 556 samples was 8 of a ResNet run's 20 s.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/cnn_invariance
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 2560 100
paths=$(isa_paths)

check_example() { # example steps stop-after
    local ex=$1 steps=$2 stop=$3 cfg=$REPRO_SOURCE_DIR/examples/$1.yaml
    local common=(--quiet "${SMALL_DATA[@]}" --set batch_size=128 --set max_steps=$steps --set epochs=100
                  --set ledger.hash_every=5 --set augment.shift_p=0.5 --set augment.flip_p=0.5
                  --set data.val_fraction=0.05)
    train() { # name, extra args...
        local name=$1
        shift
        expect_exit 0 "$ex $name" -- "$REPRO" train "$cfg" --out "$dir/$ex.$name" "${common[@]}" "$@"
    }
    train base --set threads=1
    train t2 --set threads=2
    train t3 --set threads=3
    train a2 --set accum_steps=2 --set threads=2
    train a4 --set accum_steps=4 --set threads=2
    train w2 --set loader.workers=2 --set loader.prefetch=3
    train w3 --set loader.workers=3 --set threads=2
    train e7 --set eval_batch_size=7
    for v in t2 t3 a2 a4 w2 w3; do
        same_bits "$ex: base vs $v" "$dir/$ex.base" "$dir/$ex.$v"
    done
    for isa in $paths; do
        train isa_$isa --set threads=2 </dev/null
        REPRO_ISA=$isa same_bits "$ex: base vs ISA $isa" "$dir/$ex.base" "$dir/$ex.isa_$isa"
    done
    checks=$((checks + 1))
    local m1 m2
    m1=$(grep -E '"(val|test)_(loss|accuracy)"' "$dir/$ex.base/run.json" | tr -d ' \t\n')
    m2=$(grep -E '"(val|test)_(loss|accuracy)"' "$dir/$ex.e7/run.json" | tr -d ' \t\n')
    [[ -n $m1 && $m1 == "$m2" ]] || fail "$ex: eval_batch_size 7 changed the test metrics: '$m1' vs '$m2'"
    # stop mid-epoch, resume; then kill -9 twice and resume
    expect_exit 0 "$ex stop" -- "$REPRO" train "$cfg" --out "$dir/$ex.resumed" "${common[@]}" \
        --set checkpoint.every_steps=3 --stop-after "$stop"
    expect_exit 0 "$ex resume" -- "$REPRO" train --resume "$dir/$ex.resumed" --quiet
    same_bits "$ex: resumed at step $stop" "$dir/$ex.base" "$dir/$ex.resumed"
    local run=$dir/$ex.killed
    "$REPRO" train "$cfg" --out "$run" "${common[@]}" --set checkpoint.every_steps=2 &
    local pid=$! kills=0
    for delay in 1.5 1.0; do
        sleep $delay
        if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
        wait $pid 2>/dev/null || true
        if ls "$run"/ckpt-*.safetensors >/dev/null 2>&1; then
            "$REPRO" train --resume "$run" --quiet &
        else
            "$REPRO" train "$cfg" --out "$run" "${common[@]}" --set checkpoint.every_steps=2 --force &
        fi
        pid=$!
    done
    wait $pid || true
    if ! grep -q '"status":[[:space:]]*"complete"' "$run/run.json"; then
        expect_exit 0 "$ex final resume" -- "$REPRO" train --resume "$run" --quiet
    fi
    echo "$ex: $kills kill(s) -9 delivered"
    same_bits "$ex: after kill -9" "$dir/$ex.base" "$run"
}
if [[ ${REPRO_TEST_QUICK:-0} == 1 ]]; then
    check_example fashion_cnn 6 4
    check_example fashion_resnet 3 2
else
    check_example fashion_cnn 12 7
    check_example fashion_resnet 8 7
fi
finish
