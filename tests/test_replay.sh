#!/usr/bin/env bash
# `repro replay RUN_DIR` (issue 14): retrains a run from its record and
# exits 0 only when every ledger line and the final params_sha256 come out
# again. Checked: a faithful run replays (0), also --until and --data-root
# (data moved) and a run whose YAML file is gone (the record is the
# authority); a ledger edited the way tests/test_tamper.sh edits ledgers
# (a loss bit, a fingerprint, a line removed) and a run made with an
# injected one-ulp perturbation (SGD: Adam can absorb one ulp of a gradient) give 1, naming the step (and, for the real
# divergence, the tensor); a record whose config was edited gives 1; a data
# file changed or missing gives 3 naming the file; an incomplete run, a
# newer format, a missing ledger and usage errors give 2.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/replay
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 600 100
# 540 training samples, batch 64: 9 steps an epoch, 18 in all; hashes every 3
common=(--quiet --set batch_size=64 --set epochs=2 --set model.trunk.0.out=32
        --set model.trunk.3.out=32 --set ledger.hash_every=3)
cp "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml" "$dir/cfg.yaml"
"$REPRO" train "$dir/cfg.yaml" "${common[@]}" "${SMALL_DATA[@]}" --out "$dir/run"

has_out() { checks=$((checks + 1)); [[ "$last_out" == *"$2"* ]] || fail "$1: stdout lacks '$2': $last_out"; }

expect_exit 0 "faithful run" -- "$REPRO" replay "$dir/run" --out "$dir/r1" || true
has_out "faithful run" "replay: identical: 18 ledger lines match bit for bit, and the final params_sha256"
expect_err_contains "faithful run" "4 data files match their recorded SHA-256"
expect_err_contains "says where" "retraining $dir/run to step 18 in $dir/r1"
same_bits "replay is the run" "$dir/run" "$dir/r1"
expect_exit 2 "out holds a run" -- "$REPRO" replay "$dir/run" --out "$dir/r1" || true
expect_err_contains "out holds a run" "'$dir/r1' already holds a run; use --force"
expect_exit 0 "--force" -- "$REPRO" replay "$dir/run" --out "$dir/r1" --force || true

# The default: a temporary folder, named, removed when everything matched.
expect_exit 0 "temporary folder" -- env TMPDIR="$dir" "$REPRO" replay "$dir/run" || true
checks=$((checks + 1))
ls -d "$dir"/repro-replay-* >/dev/null 2>&1 && fail "temporary folder: left behind after a match"

expect_exit 0 "--until" -- "$REPRO" replay "$dir/run" --until 7 --out "$dir/u7" || true
has_out "--until" "replay: identical: 7 ledger lines match bit for bit"
checks=$((checks + 1))
[[ $(wc -l < "$dir/u7/ledger.jsonl") -eq 7 ]] || fail "--until: retrained past step 7"
expect_exit 0 "--until past the end" -- "$REPRO" replay "$dir/run" --until 1000 || true
has_out "--until past the end" "replay: identical: 18 ledger lines match bit for bit, and the final params_sha256"
expect_exit 0 "threads=2 (no bit changes)" -- "$REPRO" replay "$dir/run" --set threads=2 --until 5 || true


# Data moved: --data-root finds it by name, hashes still checked.
mv "$dir/data" "$dir/moved"
expect_exit 3 "data moved" -- "$REPRO" replay "$dir/run" || true
expect_err_contains "data moved" "data file '$dir/data/train-images-idx3-ubyte.gz' is missing (moved? --data-root DIR"
expect_exit 0 "--data-root" -- "$REPRO" replay "$dir/run" --data-root "$dir/moved" --until 6 || true
printf 'x' >> "$dir/moved/t10k-labels-idx1-ubyte.gz"
expect_exit 3 "data changed" -- "$REPRO" replay "$dir/run" --data-root "$dir/moved" || true
expect_err_contains "data changed" "data file '$dir/moved/t10k-labels-idx1-ubyte.gz' changed: sha256"
rm "$dir/moved/train-labels-idx1-ubyte.gz"
expect_exit 3 "two data files" -- "$REPRO" replay "$dir/run" --data-root "$dir/moved" || true
expect_err_contains "two data files" "'$dir/moved/train-labels-idx1-ubyte.gz' is missing"
expect_err_contains "two data files" "'$dir/moved/t10k-labels-idx1-ubyte.gz' changed"
mv "$dir/moved" "$dir/data"
small_fashion "$dir/data" 600 100

# Tampered ledgers (as tests/test_tamper.sh edits them).
tamper() { # NAME SED_SCRIPT
    rm -rf "$dir/$1"
    cp -r "$dir/run" "$dir/$1"
    sed -i "$2" "$dir/$1/ledger.jsonl"
    checks=$((checks + 1))
    cmp -s "$dir/run/ledger.jsonl" "$dir/$1/ledger.jsonl" && fail "$1: the edit changed nothing"
    return 0
}
tamper loss '11s/"loss":"0x[0-9a-f]*"/"loss":"0x3f000000"/'
expect_exit 1 "edited loss" -- "$REPRO" replay "$dir/loss" || true
has_out "edited loss" "replay: DIFFERENT: the retraining parts from the record at step 11"
has_out "edited loss" "loss: A 0x3f000000 (0.5)"
has_out "edited loss" "trace: the re-runs agree on all"
has_out "edited loss" "was the ledger edited"
expect_err_contains "edited loss" "ledger line 11 differs; retraining stopped"
tamper hash '9s/"params_sha256":"[0-9a-f]\([0-9a-f]*\)"/"params_sha256":"0\1"/;9s/"params_sha256":"00/"params_sha256":"01/'
expect_exit 1 "edited fingerprint" -- "$REPRO" replay "$dir/hash" --no-trace || true
has_out "edited fingerprint" "first divergent step: 9"
tamper gone '5d'
expect_exit 1 "line removed" -- "$REPRO" replay "$dir/gone" --no-trace || true
has_out "line removed" "first divergent step: 6"
tamper lastgone '$d'
expect_exit 1 "last line removed" -- "$REPRO" replay "$dir/lastgone" --no-trace || true
has_out "last line removed" "replay: DIFFERENT"

# An edited config in the record: no longer its config_sha256.
rm -rf "$dir/cfgedit"
cp -r "$dir/run" "$dir/cfgedit"
sed -i 's/"seed":\t42/"seed":\t43/' "$dir/cfgedit/run.json"
expect_exit 1 "edited config" -- "$REPRO" replay "$dir/cfgedit" || true
expect_err_contains "edited config" "but its config_sha256 says"
expect_err_contains "edited config" "the record was edited"

# A real divergence: a run made with a one-ulp perturbation at step 5
# replays without it; the trace names the tensor.
REPRO_TEST_PERTURB=step=5,tensor=trunk.0.bias,index=2 \
    "$REPRO" train "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml" "${common[@]}" "${SMALL_DATA[@]}" \
    --set ledger.hash_every=1 --set optim.name=sgd --set optim.lr=0.1 --out "$dir/perturbed"
expect_exit 1 "perturbed run" -- "$REPRO" replay "$dir/perturbed" || true
has_out "perturbed run" "the retraining parts from the record at step 5"
has_out "perturbed run" "trace: first difference at step 5"
has_out "perturbed run" "tensor grad.trunk.0.bias"

# Made by another build: warned, naming both; the bits still match.
rm -rf "$dir/build" && cp -r "$dir/run" "$dir/build"
python3 - "$dir/build/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["env"]["repro"]["version"] = "0.0.9"
r["env"]["repro"]["git_commit"] = "0123456789abcdef0123456789abcdef01234567"
json.dump(r, open(sys.argv[1], "w"))
PY
expect_exit 0 "another build" -- "$REPRO" replay "$dir/build" --until 3 || true
expect_err_contains "another build" "warning: the run was made by repro 0.0.9, this is repro "
expect_err_contains "another build" "warning: the run was built from commit 0123456789abcdef0123456789abcdef01234567, this repro from "

# Runs that cannot be replayed.
rm -rf "$dir/stopped"
"$REPRO" train "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml" "${common[@]}" "${SMALL_DATA[@]}" \
    --stop-after 6 --out "$dir/stopped" 2>/dev/null
expect_exit 2 "interrupted run" -- "$REPRO" replay "$dir/stopped" || true
expect_err_contains "interrupted run" "is interrupted, not complete: its ledger ends at step 6; audit what it has with --until 6"
expect_exit 0 "interrupted run --until" -- "$REPRO" replay "$dir/stopped" --until 6 || true
rm -rf "$dir/newer" && cp -r "$dir/run" "$dir/newer"
sed -i 's|"repro-run/1"|"repro-run/2"|' "$dir/newer/run.json"
expect_exit 2 "newer format" -- "$REPRO" replay "$dir/newer" || true
expect_err_contains "newer format" "has format 'repro-run/2', newer than this repro reads (repro-run/1)"
rm -rf "$dir/noledger" && cp -r "$dir/run" "$dir/noledger" && rm "$dir/noledger/ledger.jsonl"
expect_exit 2 "no ledger" -- "$REPRO" replay "$dir/noledger" || true
expect_err_contains "no ledger" "has no ledger.jsonl: there is nothing to compare"
rm -rf "$dir/badline" && cp -r "$dir/run" "$dir/badline"
sed -i '3s/"loss":"0x[0-9a-f]*"/"loss":1.5/' "$dir/badline/ledger.jsonl"
expect_exit 2 "malformed ledger" -- "$REPRO" replay "$dir/badline" || true
expect_err_contains "malformed ledger" "ledger.jsonl:3: missing or invalid \"loss\""
expect_exit 2 "not a run" -- "$REPRO" replay "$dir/data" || true
expect_err_contains "not a run" "is not a run directory: it has no run.json"
expect_exit 2 "no argument" -- "$REPRO" replay || true
expect_err_contains "no argument" "need a run directory"
expect_exit 2 "bad --until" -- "$REPRO" replay "$dir/run" --until 0 || true
expect_err_contains "bad --until" "--until expects a step >= 1, got '0'"
# The user's YAML is gone: the record carries the config.
rm "$dir/cfg.yaml"
expect_exit 0 "config file gone" -- "$REPRO" replay "$dir/run" --until 4 || true
expect_exit 0 "--help" -- "$REPRO" replay --help || true
has_out "--help" "exit status: 0 every compared bit matched"
finish
