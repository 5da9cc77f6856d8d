#!/bin/bash
# determinism: strict | warn | off. mode: fast (linear layers on OpenBLAS
# sgemm, not bit-exact) is refused under strict with a message naming the
# operation and the key, warned about once under warn (its default), and
# silent under off; run.json's "determinism" section says which operations
# were not exact. Exact mode runs under strict (the default).
source "$(dirname "$0")/lib.sh"
need_fashion
set -e
T="$REPRO_TEST_TMP/strict"
rm -rf "$T"
mkdir -p "$T"
cat > "$T/small.yaml" <<YAML
seed: 3
epochs: 1
max_steps: 4
batch_size: 64
data:
  format: idx
  train_images: $FASHION/train-images-idx3-ubyte.gz
  train_labels: $FASHION/train-labels-idx1-ubyte.gz
  limit_train: 500
  val_fraction: 0.1
model:
  trunk: [{type: linear, out: 32}, {type: relu}]
  heads: [{name: class, layers: [{type: linear, out: 10}]}]
YAML
# determinism SECTION of run.json, on one line without blanks
det() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["determinism"], separators=(",", ":")))' "$1/run.json"; }
check_eq() { # check_eq NAME GOT WANT
    checks=$((checks + 1))
    [[ "$2" == "$3" ]] || fail "$1: got '$2', expected '$3'"
}
MSG="repro train: mode: fast: linear layers would use OpenBLAS sgemm, which is not bit-exact across thread counts or machines; set determinism: warn to allow it, or mode: exact"
WARN="repro train: warning: mode: fast: linear layers use OpenBLAS sgemm, which is not bit-exact across thread counts or machines; this run is not reproducible (determinism: warn)"

# fast + strict: refused before anything is written.
expect_exit 2 "fast+strict" -- "$REPRO" train "$T/small.yaml" --set mode=fast --set determinism=strict --out "$T/fs" --quiet
check_eq "fast+strict message" "$last_err" "$MSG"
checks=$((checks + 1))
[[ ! -e "$T/fs" ]] || fail "fast+strict: wrote $T/fs"

# fast + warn (the default in mode fast): one warning, the run finishes.
expect_exit 0 "fast (default warn)" -- "$REPRO" train "$T/small.yaml" --set mode=fast --out "$T/fw" --quiet
check_eq "fast (default warn) stderr" "$last_err" "$WARN"
check_eq "fast (default warn) record" "$(det "$T/fw")" '{"mode":"warn","reproducible":false,"not_exact":["linear: OpenBLAS sgemm"]}'
expect_exit 0 "fast+warn" -- "$REPRO" train "$T/small.yaml" --set mode=fast --set determinism=warn --out "$T/fw2" --quiet
check_eq "fast+warn stderr" "$last_err" "$WARN"

# fast + off: silent, and still recorded.
expect_exit 0 "fast+off" -- "$REPRO" train "$T/small.yaml" --set mode=fast --set determinism=off --out "$T/fo" --quiet
check_eq "fast+off stderr" "$last_err" ""
check_eq "fast+off record" "$(det "$T/fo")" '{"mode":"off","reproducible":false,"not_exact":["linear: OpenBLAS sgemm"]}'

# exact + strict (the default): runs, nothing to report.
expect_exit 0 "exact" -- "$REPRO" train "$T/small.yaml" --out "$T/ex" --quiet
check_eq "exact stderr" "$last_err" ""
check_eq "exact record" "$(det "$T/ex")" '{"mode":"strict","reproducible":true,"not_exact":[]}'
expect_exit 0 "exact+warn" -- "$REPRO" train "$T/small.yaml" --set determinism=warn --out "$T/exw" --quiet
check_eq "exact+warn stderr" "$last_err" ""

# fast mode really trains through another summation order: its first loss
# agrees with exact mode's to float rounding (same forward, other order).
checks=$((checks + 1))
python3 - "$T/ex/ledger.jsonl" "$T/fw/ledger.jsonl" <<'PY' || fail "fast mode's first loss is not close to exact mode's"
import json, sys
a, b = (float(json.loads(open(p).readline())["loss_dec"]) for p in sys.argv[1:])
assert abs(a - b) <= 1e-5 * abs(a), (a, b)
PY

# The key's values are checked like every enum.
expect_exit 2 "bad value" -- "$REPRO" train "$T/small.yaml" --set determinism=lenient --out "$T/bad"
expect_err_contains "bad value" "determinism: expected one of strict, warn, off; got 'lenient'"
finish
