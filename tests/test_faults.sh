#!/usr/bin/env bash
# Fault injection (issue 10), SQLite's way: in a build configured with
# -DREPRO_FAULT_INJECTION=ON (`make test-faults`; skipped in other builds)
# every write, fsync, rename and allocation of the run-directory and
# checkpoint I/O layer is counted, and REPRO_FAULT=N fails the N-th. For
# every N over a short run with checkpoints, and then over a resume of a
# stopped run, this asserts:
# - the process exits non-zero and says so, or the fault was recovered
#   (the final run.json write is retried once) and the run is complete with
#   the bits of the run that never failed;
# - run.json parses and says "failed" (or there is no run.json: the run
#   could not be created, exit 2, nothing to resume);
# - no checkpoint is torn: `--resume` (no fault) reads the newest one
#   without skipping any, and finishes with the uninterrupted bits; a run
#   that failed before its first checkpoint says it has none.
# Then REPRO_FAULT=N+ (every call from N on fails: a disk that stays full)
# and N+rename (renames only: run.json can no longer be replaced, the
# failure is noted in run.lock) leave a status the next command explains.
# REPRO_FAULT_STRIDE=K walks every K-th call only (quicker, for a smoke run).
source "$(dirname "$0")/lib.sh"
set -e
dir=$REPRO_TEST_TMP/faults
rm -rf "$dir"
mkdir -p "$dir"
stride=${REPRO_FAULT_STRIDE:-1}
expect_exit 0 "gen-data" -- "$REPRO" gen-data dual_task --out-dir "$dir/data" --n-train 400 --n-test 50
cfg=$REPRO_SOURCE_DIR/examples/dual_task.yaml
common=(--quiet --set "data.train_csv=$dir/data/dual_task_train.csv" --set "data.test_csv=$dir/data/dual_task_test.csv"
        --set batch_size=64 --set epochs=2 --set model.trunk.0.out=8 --set model.trunk.3.out=8
        --set checkpoint.every_steps=4 --set ledger.hash_every=3)
status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }

expect_exit 0 "uninterrupted" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/full"
REPRO_FAULT=0 REPRO_FAULT_COUNT=$dir/count REPRO_FAULT_TRACE=1 "$REPRO" train "$cfg" "${common[@]}" \
    --out "$dir/counted" 2>"$dir/trace"
if [[ ! -s $dir/count ]]; then
    echo "SKIPPED: $REPRO was built without -DREPRO_FAULT_INJECTION=ON (make test-faults)"
    exit 77
fi
same_bits "counting changes nothing" "$dir/full" "$dir/counted"
calls=$(cat "$dir/count")
expect_exit 0 "stopped at 5" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/stopped" --stop-after 5
rm -f "$dir/count"
cp -r "$dir/stopped" "$dir/resume-counted"
REPRO_FAULT=0 REPRO_FAULT_COUNT=$dir/count "$REPRO" train --resume "$dir/resume-counted" --quiet
resume_calls=$(cat "$dir/count")
same_bits "counting a resume changes nothing" "$dir/full" "$dir/resume-counted"

same_as_full() { # NAME DIR: ledger and final params as the uninterrupted run (cheap: no repro diff)
    checks=$((checks + 1))
    cmp -s "$dir/full/ledger.jsonl" "$2/ledger.jsonl" && [[ $(params_sha "$2") == $(params_sha "$dir/full") ]] ||
        fail "$1: not the uninterrupted bits"
}

# after_fault NAME RUN RC BEFORE: what a fault at N left, and that --resume
# mends it. BEFORE: the run's status before the command ("" for a new run)
after_fault() {
    local name=$1 run=$2 rc=$3 before=$4
    if [[ $rc -eq 0 ]]; then # recovered: then it is the whole run
        checks=$((checks + 1))
        [[ $(status_of "$run") == complete ]] || fail "$name: exit 0 but status $(status_of "$run")"
        same_as_full "$name (recovered)" "$run"
        return
    fi
    if [[ $rc -eq 2 && -n $before ]]; then # the resume could not start: the run is as it was, or failed
        checks=$((checks + 1))
        [[ $(status_of "$run") == "$before" || $(status_of "$run") == failed ]] ||
            fail "$name: exit 2 and status '$(status_of "$run")'"
    elif [[ $rc -eq 2 ]]; then # the run could not start: nothing to resume, and resume says so
        checks=$((checks + 1))
        ! ls "$run"/ckpt-*.safetensors >/dev/null 2>&1 || fail "$name: exit 2 but a checkpoint was written"
        [[ -e $run/run.json ]] || return 0
        checks=$((checks + 1))
        [[ $(status_of "$run") == failed ]] || fail "$name: exit 2 and status '$(status_of "$run")'"
        expect_exit 2 "$name: resume" -- "$REPRO" train --resume "$run" --quiet || true
        checks=$((checks + 1))
        [[ $last_err == *"failed before it started"* || $last_err == *"has no checkpoint to resume from"* ]] ||
            fail "$name: resume does not explain: $last_err"
        return 0
    fi
    checks=$((checks + 1))
    /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$run/run.json" 2>/dev/null ||
        fail "$name: run.json does not parse"
    checks=$((checks + 1))
    [[ $(status_of "$run") == failed || $rc -eq 2 ]] ||
        fail "$name: exit $rc and status '$(status_of "$run")'; stderr: $(tail -n 2 "$dir/err")"
    set +e
    "$REPRO" train --resume "$run" --quiet 2>"$dir/resume-err"
    local rrc=$?
    set -e
    checks=$((checks + 1))
    if grep -q "note: skipped" "$dir/resume-err"; then
        fail "$name: a torn or corrupt checkpoint: $(cat "$dir/resume-err")"
    elif [[ $rrc -eq 0 ]]; then
        same_as_full "$name, resumed" "$run"
    elif ! grep -q "has no checkpoint to resume from" "$dir/resume-err"; then
        fail "$name: --resume exit $rrc: $(cat "$dir/resume-err")"
    fi
}

for ((n = 1; n <= calls; n += stride)); do
    run=$dir/run
    rm -rf "$run"
    set +e
    REPRO_FAULT=$n "$REPRO" train "$cfg" "${common[@]}" --out "$run" 2>"$dir/err"
    rc=$?
    set -e
    after_fault "fault $n of $calls in a run" "$run" "$rc" ""
done
for ((n = 1; n <= resume_calls; n += stride)); do
    run=$dir/resumed
    rm -rf "$run"
    cp -r "$dir/stopped" "$run"
    set +e
    REPRO_FAULT=$n "$REPRO" train --resume "$run" --quiet 2>"$dir/err"
    rc=$?
    set -e
    after_fault "fault $n of $resume_calls in a resume" "$run" "$rc" interrupted
done

# a disk that stays full from the middle of the run on: nothing can be
# written, not even run.lock's note; the next command says the process is
# gone without recording how the run ended. "The middle": right after the
# checkpoint of step 8 (12 steps; the last five renames are the checkpoint
# of step 12, model.safetensors and run.json three times)
half=$(($(grep ' rename$' "$dir/trace" | tail -n 6 | head -n 1 | cut -d' ' -f2) + 2))
rm -rf "$dir/full-disk"
expect_exit 1 "every call from $half fails" -- env REPRO_FAULT=$half+ "$REPRO" train "$cfg" "${common[@]}" \
    --out "$dir/full-disk" || true
expect_err_contains "every call from $half fails" "could not be marked failed"
expect_exit 0 "resumed after the disk was full" -- "$REPRO" train --resume "$dir/full-disk" --quiet || true
expect_err_contains "resumed after the disk was full" "still says \"running\", but its process"
same_as_full "resumed after the disk was full" "$dir/full-disk"

# run.json can no longer be replaced (renames fail from the middle on): the
# end is noted in run.lock, and the next command reads it
rm -rf "$dir/no-rename"
expect_exit 1 "renames fail from $half" -- env REPRO_FAULT=$half+rename "$REPRO" train "$cfg" "${common[@]}" \
    --out "$dir/no-rename" || true
expect_err_contains "renames fail from $half" "the failure is noted in run.lock"
expect_exit 0 "resumed after renames failed" -- "$REPRO" train --resume "$dir/no-rename" --quiet || true
expect_err_contains "resumed after renames failed" "noted in run.lock that it failed: failed: cannot replace"
same_as_full "resumed after renames failed" "$dir/no-rename"
echo "faults: walked $calls I/O calls of a run and $resume_calls of a resume (stride $stride)"
finish
