#!/usr/bin/env bash
# An NPY file changed on disk while a run reads it through its mapping
# (issue 10, defect 7). Cut short under the mapping (what np.save over the
# same path does first), the next read of a missing page raises SIGBUS:
# the run must not die of it but fail, exit 1, with run.json "failed" and a
# message naming the file. Rewritten in place at the same size (no SIGBUS,
# other bits), the run notices before it records a step computed from the
# new bytes and fails the same way. Either way the ledger holds only steps
# of the data the run started with.
source "$(dirname "$0")/lib.sh"
set -e
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "SKIPPED: needs python3-numpy"; exit 77; }
dir=$REPRO_TEST_TMP/npy_changed
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }
make_data() { # NAME: $dir/NAME-x.npy (4000 x 784 float32, 12.5 MB) and NAME-y.npy
    /usr/bin/python3 - "$dir/$1" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
np.save(sys.argv[1] + "-x.npy", rng.random((4000, 784), dtype=np.float32))
np.save(sys.argv[1] + "-y.npy", rng.integers(0, 10, 4000).astype(np.int64))
PY
    # an old modification time: a write during the run changes it even on a
    # file system that keeps whole seconds
    touch -d @1000000000 "$dir/$1-x.npy" "$dir/$1-y.npy"
}
# run NAME: trains on NAME's files in the background (long enough to be changed under it)
run() {
    "$REPRO" train "$cfg" --quiet --out "$dir/run-$1" --set data.format=npy --set data.y_is_label=true \
        --set "data.train_x=$dir/$1-x.npy" --set "data.train_y=$dir/$1-y.npy" --set data.train_images= \
        --set data.train_labels= --set data.test_images= --set data.test_labels= --set batch_size=32 \
        --set epochs=300 --set model.trunk.0.out=16 --set model.trunk.3.out=16 --set data.val_fraction=0 \
        2>"$dir/err-$1" &
    pid=$!
    for _ in $(seq 1 200); do
        [[ -s "$dir/run-$1/ledger.jsonl" ]] && break
        sleep 0.05
    done
}
# ended NAME WHAT: the run failed, saying so in run.json and on stderr, naming the file
ended() {
    set +e
    wait "$pid"
    local rc=$?
    set -e
    checks=$((checks + 1))
    [[ $rc -eq 1 ]] || fail "$2: exit $rc, expected 1 (135 is death by SIGBUS); stderr: $(cat "$dir/err-$1")"
    checks=$((checks + 1))
    [[ $(status_of "$dir/run-$1") == failed ]] || fail "$2: run.json says '$(status_of "$dir/run-$1")'"
    checks=$((checks + 1))
    grep -q "\"message\":.*$1-x.npy' changed on disk while training" "$dir/run-$1/run.json" ||
        fail "$2: run.json's message does not name the file: $(grep '"message"' "$dir/run-$1/run.json")"
    checks=$((checks + 1))
    grep -q "$1-x.npy' changed on disk while training" "$dir/err-$1" || fail "$2: stderr: $(cat "$dir/err-$1")"
}

# cut short under the mapping: SIGBUS
make_data cut
run cut
truncate -s 100000 "$dir/cut-x.npy"
ended cut "truncated under the mapping"

# rewritten in place, same size, other bytes
make_data inplace
run inplace
/usr/bin/python3 - "$dir/inplace-x.npy" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(os.path.getsize(sys.argv[1]) // 2)
    f.write(b"\x00" * 65536)
PY
ended inplace "rewritten in place"
finish
