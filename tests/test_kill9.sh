#!/usr/bin/env bash
# kill -9: `repro train` (checkpoint.every_steps=5) is SIGKILLed at seeded
# pseudo-random moments, resumed, killed again, ... until a resume finishes;
# the finished run has the bits of a run never killed. After every kill no
# ckpt-*.safetensors is torn (each parses with the independent reader
# tests/read_safetensors.py) and run.json parses. A kill before the first
# checkpoint leaves nothing to resume from: resume says so and the run is
# started afresh (--force). REPRO_SOAK_KILLS kills in all (default 20;
# `make soak` runs 200).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
kills_wanted=${REPRO_SOAK_KILLS:-20}
dir=$REPRO_TEST_TMP/kill9
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 2000 200
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=32 --set epochs=3 --set model.trunk.0.out=64
        --set model.trunk.3.out=64 --set ema.enabled=true --set schedule.name=cosine
        --set ledger.hash_every=10 --set checkpoint.every_steps=5)
run=$dir/run

expect_exit 0 "uninterrupted run" -- "$REPRO" train "$cfg" --out "$dir/full" "${common[@]}" || true
t0=$(date +%s%N)
expect_exit 0 "timing run" -- "$REPRO" train "$cfg" --out "$dir/timing" "${common[@]}" || true
run_ms=$((($(date +%s%N) - t0) / 1000000))
steps=$(grep -c '"step"' "$dir/full/ledger.jsonl")

# Delays: a seeded sequence (bash's $RANDOM seeded with a constant), up to
# 60% of an uninterrupted run, so most kills land mid-run and a resume
# sometimes gets to the end. A machine that gets slower than it was for the
# timing run (CI's other tests taking the cores) could make every process
# die before its first new checkpoint: after 3 attempts in a row that wrote
# none, the ceiling grows by half.
RANDOM=20240501
max_delay_ms=$((run_ms * 6 / 10))
stalls=0
next_delay() { delay_ms=$((RANDOM % (max_delay_ms + 1) + 10)); }
newest_ckpt() { ls "$run"/ckpt-*.safetensors 2>/dev/null | tail -n 1; }
# progress BEFORE: counts an attempt that left no newer checkpoint than BEFORE
progress() {
    if [[ $finished -eq 0 && "$(newest_ckpt)" == "$1" ]]; then
        stalls=$((stalls + 1))
        if [[ $stalls -ge 3 ]]; then
            max_delay_ms=$((max_delay_ms * 3 / 2))
            stalls=0
        fi
    else
        stalls=0
    fi
}

# check_files: no torn checkpoint, a parseable run.json
check_files() {
    checks=$((checks + 1))
    local f
    for f in "$run"/ckpt-*.safetensors; do
        [[ -e $f ]] || continue
        /usr/bin/python3 "$REPRO_SOURCE_DIR/tests/read_safetensors.py" "$f" >/dev/null 2>&1 ||
            fail "kill $kills: torn checkpoint $f"
    done
    if [[ -e $run/run.json ]]; then
        checks=$((checks + 1))
        /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$run/run.json" 2>/dev/null ||
            fail "kill $kills: run.json does not parse"
    fi
}

# start CMD...: runs it in the background and kills it after the next delay;
# sets finished=1 when it exited 0 on its own first.
start() {
    next_delay
    "$@" >"$dir/out" 2>&1 &
    local pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        kills=$((kills + 1))
        finished=0
        check_files
    else
        set +e
        wait "$pid"
        local rc=$?
        set -e
        checks=$((checks + 1))
        [[ $rc -eq 0 ]] || fail "a run exited $rc: $(tail -n 3 "$dir/out")"
        finished=1
    fi
}

kills=0
rounds=0
attempts=0
while [[ $kills -lt $kills_wanted ]]; do
    rounds=$((rounds + 1))
    start "$REPRO" train "$cfg" --out "$run" --force "${common[@]}"
    while [[ $finished -eq 0 ]]; do
        attempts=$((attempts + 1))
        if [[ $attempts -gt $((kills_wanted * 20)) ]]; then
            fail "no progress after $attempts attempts (delays up to $max_delay_ms ms; the run took $run_ms ms)"
            finish
        fi
        if grep -q '^."status":.*"complete"' "$run/run.json" 2>/dev/null; then
            finished=1 # killed as it exited, after marking the run complete
            continue
        fi
        before=$(newest_ckpt)
        if [[ -z $before ]]; then
            # killed before the first checkpoint: resume must say so
            expect_exit 2 "resume without a checkpoint" -- "$REPRO" train --resume "$run" --quiet || true
            if grep -q '"config_sha256"' "$run/run.json" 2>/dev/null; then
                expect_err_contains "resume without a checkpoint" "has no checkpoint to resume from"
            fi
            start "$REPRO" train "$cfg" --out "$run" --force "${common[@]}"
        else
            start "$REPRO" train --resume "$run" --quiet
        fi
        progress "$before"
    done
    same_bits "round $rounds ($kills kills so far)" "$dir/full" "$run"
    checks=$((checks + 1))
    cmp -s "$dir/full/model.safetensors" "$run/model.safetensors" || fail "round $rounds: model.safetensors differs"
    checks=$((checks + 1))
    ls "$run"/*.tmp.* >/dev/null 2>&1 && fail "round $rounds: temporary files left: $(ls "$run")"
done
echo "kill9: $kills kills over $rounds rounds and $attempts resumes (run: $steps steps, ${run_ms} ms; delays up to ${max_delay_ms} ms at the end)"
finish
