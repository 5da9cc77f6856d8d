#!/usr/bin/env bash
# loader.on_device: batches gathered from a copy of the data set in backend
# memory (on a GPU: no host loader, no per-step upload) must hold the bits
# the host loader's hold. On the CPU backend the same path runs (the copy is
# host memory), so CI checks it without a GPU: on vs off with accumulation
# (micro-batches cut the loader's way), a last short batch, validation and
# test evaluation, and a resume mid-epoch; and `on` with augmentation is
# refused with a clear message.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/on_device
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 3000 500
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=96 --set accum_steps=4 --set epochs=3
        --set ledger.hash_every=10 --set data.val_fraction=0.1 --set eval_batch_size=128)
train() {
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" "$@"
}
metrics_sans_rate() { sed 's/,"samples_per_sec":[^,}]*//; s/,"loader_wait_sec":[^,}]*//' "$1/metrics.jsonl"; }

train off --set loader.on_device=off --set loader.workers=2
train on --set loader.on_device=on
same_bits "on_device on vs off" "$dir/off" "$dir/on"
checks=$((checks + 1))
[[ "$(metrics_sans_rate "$dir/off")" == "$(metrics_sans_rate "$dir/on")" ]] ||
    fail "evaluation differs: $(diff <(metrics_sans_rate "$dir/off") <(metrics_sans_rate "$dir/on") | head -n 4)"
checks=$((checks + 1))
grep -q '"batches":[[:space:]]*"gathered in device memory' "$dir/on/run.json" ||
    fail "run.json does not say where the batches came from"
checks=$((checks + 1))
grep -q '"batches":[[:space:]]*"host loader"' "$dir/off/run.json" || fail "run.json: expected host loader"

# resume mid-epoch (2700 training samples, 29 steps an epoch): stop at 40
expect_exit 0 "stop at 40" -- "$REPRO" train "$cfg" --out "$dir/resumed" "${common[@]}" \
    --set loader.on_device=on --stop-after 40
expect_exit 0 "resume" -- "$REPRO" train --resume "$dir/resumed" --quiet
same_bits "on_device resumed at step 40 vs off uninterrupted" "$dir/off" "$dir/resumed"

expect_exit 2 "on with augmentation" -- "$REPRO" train "$cfg" --out "$dir/aug" "${common[@]}" \
    --set loader.on_device=on --set augment.flip_p=0.5
expect_err_contains "on with augmentation" "loader.on_device: on, but the data cannot be kept on the device: augmentation runs on the host (augment.*)"
finish
