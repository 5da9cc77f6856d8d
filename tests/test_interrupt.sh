#!/usr/bin/env bash
# Ctrl-C (SIGINT) ends a run cleanly: the step in progress finishes, a
# checkpoint is written, the run is marked interrupted, the exit status is
# 130, no thread is left behind; `repro train --resume` then finishes with
# the bits of a run that never stopped. With loader workers running.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/interrupt
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 6000 300
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=32 --set max_steps=1500 --set epochs=100
        --set loader.workers=2 --set augment.noise_p=1)
export REPRO_TEST_LOADER_JITTER_US=100 # workers finish out of order (a test hook: src/train/test_hooks.h)
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
expect_exit 0 "uninterrupted" -- "$REPRO" train "$cfg" --out "$dir/full" "${common[@]}"

"$REPRO" train "$cfg" --out "$dir/int" "${common[@]}" &
pid=$!
for _ in $(seq 1 100); do # wait until it is training (its ledger has lines)
    [[ -s "$dir/int/ledger.jsonl" ]] && break
    sleep 0.05
done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
checks=$((checks + 1))
if [[ $rc -eq 0 ]]; then
    echo "note: the run finished before SIGINT arrived; nothing to test" >&2
    fail "SIGINT came too late (raise max_steps)"
elif [[ $rc -ne 130 ]]; then
    fail "exit status $rc after SIGINT, expected 130"
fi
checks=$((checks + 1))
grep -q '"status":[[:space:]]*"interrupted"' "$dir/int/run.json" || fail "run not marked interrupted"
checks=$((checks + 1))
ls "$dir/int"/ckpt-*.safetensors > /dev/null 2>&1 || fail "no checkpoint written on SIGINT"
expect_exit 0 "resume" -- "$REPRO" train --resume "$dir/int" --quiet
same_bits "interrupted and resumed vs uninterrupted" "$dir/full" "$dir/int"
finish
