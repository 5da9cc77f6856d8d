#!/bin/bash
# `repro diff` on hand-made run directories: exit status 0 identical, 1
# different, 2 error, and the lines it prints for each case.
set -u
: "${REPRO:?REPRO must name the repro binary}"
T="${REPRO_TEST_TMP:-/tmp}/diff"
rm -rf "$T"
mkdir -p "$T"
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

H1=$(printf '1%.0s' {1..64})
H2=$(printf '2%.0s' {1..64})
H3=$(printf '3%.0s' {1..64})

# make_run DIR THREADS FINAL_HASH: a complete run record; the ledger comes on stdin.
make_run() {
    mkdir -p "$1"
    cat > "$1/run.json" <<JSON
{"format": "repro-run/1", "status": "complete", "start_time": "2024-01-01T00:00:0${RANDOM:0:1}Z",
 "pid": $RANDOM, "config": {"seed": 7, "threads": $2},
 "env": {"isa_path": "avx2", "cpu": {"model": "Test CPU"}},
 "final": {"step": 4, "params_sha256": "$3"}}
JSON
    cat > "$1/ledger.jsonl"
}

ledger() { # ledger LOSS3_BITS HASH4
    cat <<L
{"step":1,"epoch":0,"loss":"0x40000000","loss_dec":"2","lr":"0x3a83126f"}
{"step":2,"epoch":0,"loss":"0x3fc00000","loss_dec":"1.5","lr":"0x3a83126f","params_sha256":"$H1","optim_sha256":"$H1"}
{"step":3,"epoch":0,"loss":"$1","loss_dec":"1","lr":"0x3a83126f"}
{"step":4,"epoch":1,"loss":"0x3f000000","loss_dec":"0.5","lr":"0x3a83126f","params_sha256":"$2","optim_sha256":"$H1"}
L
}

# expect STATUS NAME ARGS...: runs repro diff, keeps stdout in $out, stderr in $errout.
expect() {
    local want=$1 name=$2
    shift 2
    out=$("$REPRO" diff "$@" 2>"$T/stderr")
    local got=$?
    errout=$(cat "$T/stderr")
    [ "$got" = "$want" ] || fail "$name: exit status $got, expected $want; stdout: $out; stderr: $errout"
}
has() { # has NAME TEXT NEEDLE
    case "$2" in *"$3"*) ;; *) fail "$1: output lacks '$3'; got: $2" ;; esac
}

ledger 0x3f800000 "$H2" | make_run "$T/a" 1 "$H2"
ledger 0x3f800000 "$H2" | make_run "$T/same" 4 "$H2"
ledger 0x3f800001 "$H2" | make_run "$T/loss" 1 "$H2"
ledger 0x3f800000 "$H3" | make_run "$T/hash" 1 "$H3"
ledger 0x3f800001 "$H3" | make_run "$T/both" 1 "$H3"
ledger 0x3f800000 "$H2" | head -n 3 | make_run "$T/prefix" 1 "$H2"
ledger 0x3f800000 "$H2" | make_run "$T/final" 1 "$H3"
ledger 0x3f800000 "$H2" | sed '2s/"loss":"0x3fc00000"/"loss":1.5/' | make_run "$T/bad" 1 "$H2"

expect 0 identical "$T/a" "$T/same"
has identical "$out" "run records differ (informative):"
has identical "$out" "  config.threads: 1 vs 4"
has identical "$out" "ledgers agree on all 4 lines"
has identical "$out" "final params_sha256: equal ($H2)"
has identical "$out" "result: identical"

expect 1 loss "$T/a" "$T/loss"
has loss "$out" "run records: no differences in config or environment"
has loss "$out" "first divergent step: 3 (ledger line 3)"
has loss "$out" "  loss: A 0x3f800000 (1) vs B 0x3f800001 (1.00000012)"
has loss "$out" "last step with matching params_sha256: 2"
has loss "$out" "result: different"

expect 1 hash "$T/a" "$T/hash"
has hash "$out" "first divergent step: 4 (ledger line 4)"
has hash "$out" "  params_sha256: A $H2 vs B $H3"
has hash "$out" "final params_sha256: A $H2 vs B $H3"

expect 1 both "$T/a" "$T/both"
has both "$out" "first divergent step: 3 (ledger line 3)"
has both "$out" "first fingerprint difference: 4 (ledger line 4)"
has both "$out" "  params_sha256: A $H2 vs B $H3"

expect 1 prefix "$T/a" "$T/prefix"
has prefix "$out" "ledgers: A has 4 lines, B has 3"
has prefix "$out" "ledger B is a prefix of ledger A: the first 3 lines agree"
expect 1 prefix-swapped "$T/prefix" "$T/a"
has prefix-swapped "$out" "ledger A is a prefix of ledger B: the first 3 lines agree"

expect 1 final "$T/a" "$T/final"
has final "$out" "ledgers agree on all 4 lines"
has final "$out" "final params_sha256: A $H2 vs B $H3"

expect 1 quiet --quiet "$T/a" "$T/loss"
[ -z "$out" ] || fail "quiet: printed '$out'"

expect 2 missing "$T/a" "$T/no-such-run"
has missing "$errout" "repro diff: cannot open run directory '$T/no-such-run': No such file or directory"
expect 2 malformed "$T/a" "$T/bad"
has malformed "$errout" "repro diff: $T/bad/ledger.jsonl:2: missing or invalid \"loss\""
expect 2 usage "$T/a"
has usage "$errout" "need two run directories"
expect 0 help --help
has help "$out" "usage: repro diff RUN_A RUN_B [--json] [--quiet]"

expect 1 json --json "$T/a" "$T/loss"
if command -v python3 >/dev/null; then
    summary=$(printf '%s' "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
d = r["ledger"]["first_divergence"]
print(r["identical"], d["line"], d["fields"], d["a"]["loss"], d["b"]["loss"], r["ledger"]["last_hash_match_step"])')
    [ "$summary" = "False 3 ['loss'] 0x3f800000 0x3f800001 2" ] || fail "json: got '$summary'"
else
    echo "skipping the JSON parse check: python3 is missing"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_diff: $failures failures" >&2
    exit 1
fi
echo "test_diff: all cases passed"
