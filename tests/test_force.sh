#!/usr/bin/env bash
# --force and the files that are not the run's (issue 10, defects 4 and 5).
# --force into a directory that holds no run writes the run beside the
# user's files and deletes none of them (pretrained.safetensors, a
# notes.tmp.123 of some editor); it refuses when a user's file has the name
# of a run file. Reusing a run directory removes the files a run writes
# (run.json, ledger, metrics, model, checkpoints, their temporary files) and
# nothing else. A live run holds DIR/run.lock: --force and --resume refuse
# its directory, naming its pid, even when its run.json no longer names it,
# and the live run finishes with its own files.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/force
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 600 100
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=2 --set model.trunk.0.out=32
        --set model.trunk.3.out=32 --set checkpoint.every_steps=4)
status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }
kept() { # NAME FILE CONTENT
    checks=$((checks + 1))
    [[ -f $2 && "$(cat "$2")" == "$3" ]] || fail "$1: '$2' was deleted or changed"
}

# ---- a directory of the user's files ----
mkdir -p "$dir/mine"
echo weights > "$dir/mine/pretrained.safetensors"
echo draft > "$dir/mine/notes.tmp.123"
echo table > "$dir/mine/data.csv"
expect_exit 2 "not empty, no --force" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/mine"
expect_err_contains "not empty, no --force" "exists and is not empty"
expect_exit 0 "--force beside the user's files" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/mine" --force
kept "--force into the user's directory" "$dir/mine/pretrained.safetensors" weights
kept "--force into the user's directory" "$dir/mine/notes.tmp.123" draft
kept "--force into the user's directory" "$dir/mine/data.csv" table
checks=$((checks + 1))
[[ $(status_of "$dir/mine") == complete ]] || fail "the run beside the user's files did not complete"
# ... and the same directory, now a run directory, reused: the run's files go, the user's stay
expect_exit 0 "--force over the run" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/mine" --force --stop-after 5
kept "reusing a run directory" "$dir/mine/pretrained.safetensors" weights
kept "reusing a run directory" "$dir/mine/notes.tmp.123" draft
checks=$((checks + 1))
[[ $(ls "$dir/mine"/ckpt-*.safetensors | wc -l) -eq 2 && -f $dir/mine/ckpt-00000005.safetensors &&
   ! -e $dir/mine/model.safetensors ]] || fail "the previous run's files were not removed: $(ls "$dir/mine")"

# a user's file with a run file's name, in a directory that holds no run: refused, kept
mkdir -p "$dir/clash"
echo mine > "$dir/clash/model.safetensors"
expect_exit 2 "a user's model.safetensors" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/clash" --force
expect_err_contains "a user's model.safetensors" "'$dir/clash' holds no run, but its 'model.safetensors' has the name of a run's file"
kept "a user's model.safetensors" "$dir/clash/model.safetensors" mine

# ---- an old run cleared part-way (what a kill during --force leaves) ----
# --force removes the checkpoints first, then run.json, then the rest, so a
# kill at any moment leaves no checkpoint without its run.json (issue 17's
# test_kill9 saw "cannot resume ... run.json: No such file" when run.json
# went first) and no run.json saying "complete" over a model and ledger
# already gone (test_kill9 took such a directory for a finished run when
# run.json went last). A run file that cannot be removed (here
# metrics.jsonl made a directory) stops the clearing where a kill could,
# after run.json.
expect_exit 0 "a run to clear" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/part"
checks=$((checks + 1))
ls "$dir/part"/ckpt-*.safetensors >/dev/null 2>&1 || fail "the run to clear wrote no checkpoint"
cp -r "$dir/part" "$dir/part-first"
rm "$dir/part/metrics.jsonl"
mkdir "$dir/part/metrics.jsonl"
touch "$dir/part/metrics.jsonl/keep"
expect_exit 2 "--force that cannot finish clearing" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/part" --force
expect_err_contains "--force that cannot finish clearing" "cannot remove '$dir/part/metrics.jsonl'"
checks=$((checks + 1))
ls "$dir/part"/ckpt-*.safetensors >/dev/null 2>&1 && fail "a checkpoint outlived the clearing: $(ls "$dir/part")"
checks=$((checks + 1))
[[ -e $dir/part/run.json ]] && fail "run.json outlived the checkpoints' clearing: $(ls "$dir/part")"
expect_exit 2 "--resume of a part-cleared run" -- "$REPRO" train --resume "$dir/part" --quiet
expect_err_contains "--resume of a part-cleared run" \
    "'$dir/part': it holds no run.json, only what is left of a run cleared part-way; there is nothing to resume"
expect_exit 2 "a run over a part-cleared run, no --force" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/part"
expect_err_contains "a run over a part-cleared run, no --force" "'$dir/part' exists and is not empty"
rm -r "$dir/part/metrics.jsonl"
expect_exit 0 "--force over a part-cleared run" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/part" --force
same_bits "--force over a part-cleared run" "$dir/part-first" "$dir/part"

# ---- a live run ----
"$REPRO" train "$cfg" "${common[@]}" --out "$dir/live" --set max_steps=100000 --set epochs=100000 \
    --set checkpoint.every_steps=0 &
pid=$!
for _ in $(seq 1 200); do
    [[ -s "$dir/live/ledger.jsonl" ]] && break
    sleep 0.05
done
expect_exit 2 "--force over a live run" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/live" --force
expect_err_contains "--force over a live run" "'$dir/live' holds a run in progress (pid $pid)"
# its run.json no longer names it (another host): the lock still does
sed -i 's/^\t"hostname":\t"[^"]*"/\t"hostname":\t"elsewhere"/' "$dir/live/run.json"
expect_exit 2 "--force over a live run, run.json edited" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/live" --force
expect_err_contains "--force over a live run, run.json edited" "(pid $pid)"
expect_exit 2 "--resume of a live run" -- "$REPRO" train --resume "$dir/live" --force --quiet
expect_err_contains "--resume of a live run" "(pid $pid)"
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
checks=$((checks + 1))
[[ $rc -eq 130 ]] || fail "the live run exited $rc after SIGTERM, expected 130"
checks=$((checks + 1))
[[ $(status_of "$dir/live") == interrupted ]] || fail "the live run's status: $(status_of "$dir/live")"
checks=$((checks + 1))
grep -q "\"pid\":[[:space:]]*$pid" "$dir/live/run.json" || fail "the live run's run.json is not its own"
expect_exit 0 "--force once it is gone" -- "$REPRO" train "$cfg" "${common[@]}" --out "$dir/live" --force
finish
