#!/usr/bin/env bash
# Issue 3's promise at the level of a whole training run: the Fashion MLP
# with augmentation (shift, flip, noise, erasing) for 200 steps gives the
# same ledger and params_sha256 for loader.workers 0, 1, 2, 3, 8 and
# loader.prefetch 1, 2, 4, and with workers that sleep a pseudo-random time
# per sample (so they finish out of order).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/loader_invariance
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 4000 300
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set max_steps=200 --set epochs=100
        --set ledger.hash_every=20 --set augment.shift_p=0.5 --set augment.flip_p=0.5
        --set augment.noise_p=0.5 --set augment.erase_p=0.3)
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
train() {
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" "$@"
}
train w0 --set loader.workers=0
checks=$((checks + 1))
[[ $(grep -c '"step"' "$dir/w0/ledger.jsonl") -eq 200 ]] || fail "expected 200 ledger lines"
for w in 1 2 3 8; do
    train "w$w" --set loader.workers=$w
    same_bits "workers 0 vs $w" "$dir/w0" "$dir/w$w"
done
for p in 1 4; do
    train "w2p$p" --set loader.workers=2 --set loader.prefetch=$p
    same_bits "workers 0 vs workers 2 prefetch $p" "$dir/w0" "$dir/w2p$p"
done
REPRO_TEST_LOADER_JITTER_US=300 train jitter --set loader.workers=3 --set loader.prefetch=4 --set max_steps=60
train jitter0 --set loader.workers=0 --set max_steps=60
same_bits "workers 3 with jitter vs workers 0" "$dir/jitter0" "$dir/jitter"
# the augmentation is really on: without it the bits differ
train plain --set augment.shift_p=0 --set augment.flip_p=0 --set augment.noise_p=0 --set augment.erase_p=0
checks=$((checks + 1))
cmp -s "$dir/w0/ledger.jsonl" "$dir/plain/ledger.jsonl" && fail "augmentation changed nothing"
# the run record notes the loader settings
checks=$((checks + 1))
grep -q '"loader_workers":[[:space:]]*8' "$dir/w8/run.json" || fail "run.json does not record loader_workers"
finish
