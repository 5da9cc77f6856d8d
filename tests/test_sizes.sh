#!/usr/bin/env bash
# Sizes that do not fit (issue 10, defect 8) are refused before anything is
# allocated or any run directory exists, with a message naming the key: an
# epoch of 2^63 - 1 samples (the sampler's positions are 32-bit), and
# models whose parameters, optimiser state and activations would need more
# memory than the machine has (hidden sizes of 2e7, 1e8, 1e9: were killed
# by the kernel's OOM killer, or "cannot allocate N bytes"), or more than
# 64 bits can count. The estimate, the key and the available memory are
# named. A model that fits still trains.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/sizes
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 300 50
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=32 --set max_steps=2)
n=0
refused() { # MESSAGE-PART... -- ARGS...: exit 2 within 60 s, no run directory, stderr has every part
    local parts=()
    while [[ $1 != -- ]]; do parts+=("$1"); shift; done
    shift
    n=$((n + 1))
    expect_exit 2 "refused: $*" -- timeout 60 "$REPRO" train "$cfg" "${common[@]}" --out "$dir/r$n" "$@" || true
    for p in "${parts[@]}"; do expect_err_contains "refused: $*" "$p"; done
    checks=$((checks + 1))
    [[ ! -e $dir/r$n ]] || fail "refused: $*: the run directory was created"
}

refused "sampler.samples_per_epoch: must be in 0..4294967295, got 9223372036854775807" -- \
    --set sampler.name=balanced --set sampler.samples_per_epoch=9223372036854775807
refused "sampler.samples_per_epoch" -- --set sampler.name=balanced --set sampler.samples_per_epoch=4294967296
for out in 20000000 100000000 1000000000; do
    refused "model.trunk.0.out" "GiB of memory" "available" "784 x $out" -- --set "model.trunk.0.out=$out"
done
refused "model.trunk.3.out" "GiB of memory" -- --set model.trunk.0.out=2147483647 --set model.trunk.3.out=2147483647
refused "batch_size" "activations" -- --set batch_size=2147483647 --set model.trunk.0.out=2147483647 \
    --set data.val_fraction=0
expect_exit 0 "a model that fits" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/fits"
finish
