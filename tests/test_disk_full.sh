#!/usr/bin/env bash
# A disk that fills up mid-run (issue 10, defect 6). On a small tmpfs (in a
# private mount namespace: as root, or in a user namespace; skipped where
# neither is allowed) a run fills the disk appending its ledger. It must
# exit 1, say "run marked failed" only when run.json says "failed" (with the
# cause: the ledger and "No space left on device"), leave a ledger of whole
# lines only and its checkpoint whole; once there is room again,
# `--resume` finishes it with the bits of a run that never stopped.
source "$(dirname "$0")/lib.sh"
set -e
if [[ -z ${REPRO_DISK_FULL_NS:-} ]]; then
    export REPRO_DISK_FULL_NS=1
    if [[ $(id -u) -eq 0 ]] && unshare -m true 2>/dev/null; then
        exec unshare -m bash "$0" "$@"
    elif unshare -rm true 2>/dev/null; then
        exec unshare -rm bash "$0" "$@"
    fi
    echo "SKIPPED: cannot make a private mount namespace for a small tmpfs (not root, no user namespaces)"
    exit 77
fi
dir=$REPRO_TEST_TMP/disk_full
umount "$dir/small" 2>/dev/null || true
rm -rf "$dir"
mkdir -p "$dir/small"
if ! mount -t tmpfs -o size=1m tmpfs "$dir/small"; then
    echo "SKIPPED: cannot mount a tmpfs"
    exit 77
fi
trap 'umount "$dir/small" 2>/dev/null || true' EXIT
expect_exit 0 "gen-data" -- "$REPRO" gen-data dual_task --out-dir "$dir/data" --n-train 600 --n-test 100
cfg=$REPRO_SOURCE_DIR/examples/dual_task.yaml
common=(--quiet --set "data.train_csv=$dir/data/dual_task_train.csv" --set "data.test_csv=$dir/data/dual_task_test.csv"
        --set batch_size=64 --set epochs=200 --set max_steps=300 --set model.trunk.0.out=8 --set model.trunk.3.out=8
        --set ledger.hash_every=1 --set checkpoint.every_epoch=false) # the disk fills appending the ledger
status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }

expect_exit 0 "uninterrupted, on a disk with room" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/full"

# stopped at step 30 (a checkpoint), then the disk is filled but for FREE bytes
run=$dir/small/run
expect_exit 0 "stopped at 30" -- "$REPRO" train "$cfg" "${common[@]}" --out "$run" --stop-after 30
fill() {
    rm -f "$dir/small/filler"
    /usr/bin/python3 - "$dir/small" "$1" <<'PY'
import os, sys
st = os.statvfs(sys.argv[1])
with open(os.path.join(sys.argv[1], "filler"), "wb") as f:
    f.write(b"x" * (st.f_bavail * st.f_frsize - int(sys.argv[2])))
PY
}
# no room for run.lock's reserve (256 KiB): the resume is refused, nothing changes
fill 131072
cp "$run/ledger.jsonl" "$dir/ledger.before"
expect_exit 2 "a disk too full to start" -- "$REPRO" train --resume "$run" --quiet || true
expect_err_contains "a disk too full to start" "cannot reserve 256 KiB in '$run/run.lock'"
checks=$((checks + 1))
[[ $(status_of "$run") == interrupted ]] && cmp -s "$run/ledger.jsonl" "$dir/ledger.before" ||
    fail "a refused resume changed the run: status $(status_of "$run")"
# the reserve and 12 KiB: the resumed run fills the disk appending its ledger, 240 bytes a step
fill $((262144 + 12288))
expect_exit 1 "the disk fills" -- "$REPRO" train --resume "$run" --quiet || true
expect_err_contains "the disk fills" "ledger.jsonl': No space left on device"
expect_err_contains "the disk fills" "run marked failed in $run"
checks=$((checks + 1))
[[ $(status_of "$run") == failed ]] || fail "run.json says '$(status_of "$run")' after the disk filled"
checks=$((checks + 1))
grep -q '"message":.*ledger.jsonl.*No space left on device' "$run/run.json" ||
    fail "run.json's message does not say what happened: $(grep '"message"' "$run/run.json")"
checks=$((checks + 1))
[[ -s $run/ledger.jsonl && $(tail -c 1 "$run/ledger.jsonl" | od -An -c | tr -d ' ') == '\n' ]] ||
    fail "the ledger ends with a cut line: $(tail -c 80 "$run/ledger.jsonl")"
checks=$((checks + 1))
/usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$run/ledger.jsonl" ||
    fail "the ledger has a line that does not parse"
checks=$((checks + 1))
/usr/bin/python3 "$REPRO_SOURCE_DIR/tests/read_safetensors.py" "$run/ckpt-00000030.safetensors" >/dev/null ||
    fail "the checkpoint is torn"
lines=$(wc -l < "$run/ledger.jsonl")
checks=$((checks + 1))
[[ $lines -gt 30 && $lines -lt 300 ]] || fail "the disk filled at an unexpected step: $lines ledger lines"

# room again: the run resumes from its checkpoint and finishes with the same bits
rm "$dir/small/filler"
expect_exit 0 "resume once there is room" -- "$REPRO" train --resume "$run" --quiet
same_bits "resumed after a full disk" "$dir/full" "$run"
finish
