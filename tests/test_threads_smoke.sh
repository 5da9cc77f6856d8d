#!/usr/bin/env bash
# The whole training loop with 3 compute threads equals 1 thread, on a short
# run. Small enough for the ThreadSanitizer build, where it shows that the
# loop's use of the thread pool is race-free.
# ctest-labels: threads
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/threads_smoke
rm -rf "$dir"
mkdir -p "$dir"
common=(--quiet --set data.limit_train=600 --set data.limit_test=100 --set batch_size=32
        --set max_steps=12 --set ledger.hash_every=4 --set ema.enabled=true --set optim.clip_norm=1.0)
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
expect_exit 0 "threads 1" -- "$REPRO" train "$cfg" --out "$dir/t1" "${common[@]}" --set threads=1
expect_exit 0 "threads 3" -- "$REPRO" train "$cfg" --out "$dir/t3" "${common[@]}" --set threads=3 --set accum_steps=2
same_bits "threads 1 vs 3 (accum 2)" "$dir/t1" "$dir/t3"
finish
