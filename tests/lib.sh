# Shared helpers for the shell tests (sourced, not run). The test runner
# sets REPRO (the CLI), REPRO_SOURCE_DIR, REPRO_SHARED_DIR, REPRO_TEST_TMP.
set -u
failures=0
checks=0
: "${REPRO:?REPRO must point to the repro binary}"
: "${REPRO_SOURCE_DIR:?}"
: "${REPRO_TEST_TMP:=/tmp}"
FASHION=/usr/share/datasets/fashion-mnist

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_exit CODE NAME -- CMD...: runs CMD, checks its exit status; its
# stderr is kept in $last_err and stdout in $last_out.
expect_exit() {
    local want=$1 name=$2
    shift 3
    checks=$((checks + 1))
    set +e
    last_out=$("$@" 2>"$REPRO_TEST_TMP/stderr.$$")
    local got=$?
    set -e
    last_err=$(cat "$REPRO_TEST_TMP/stderr.$$")
    rm -f "$REPRO_TEST_TMP/stderr.$$"
    if [[ $got -ne $want ]]; then
        fail "$name: exit $got, expected $want; stderr: $last_err"
        return 1
    fi
    return 0
}

# expect_err_contains NAME TEXT: the last command's stderr contains TEXT.
expect_err_contains() {
    checks=$((checks + 1))
    if [[ "$last_err" != *"$2"* ]]; then
        fail "$1: stderr does not contain '$2'; it was: $last_err"
    fi
}

# same_bits NAME RUN_A RUN_B: ledgers byte-identical, params_sha256 equal,
# and `repro diff` agrees (exit 0).
same_bits() {
    local name=$1 a=$2 b=$3
    checks=$((checks + 1))
    if ! cmp -s "$a/ledger.jsonl" "$b/ledger.jsonl"; then
        fail "$name: ledgers differ: $(diff "$a/ledger.jsonl" "$b/ledger.jsonl" | head -n 4)"
    fi
    checks=$((checks + 1))
    local ha hb
    ha=$(params_sha "$a")
    hb=$(params_sha "$b")
    if [[ -z "$ha" || "$ha" != "$hb" ]]; then
        fail "$name: params_sha256 '$ha' vs '$hb'"
    fi
    expect_exit 0 "$name: repro diff" -- "$REPRO" diff "$a" "$b" >/dev/null || true
}

params_sha() {
    sed -n 's/.*"params_sha256"[[:space:]]*:[[:space:]]*"\([0-9a-f]\{64\}\)".*/\1/p' "$1/run.json" | head -n 1
}

need_fashion() {
    if [[ ! -f $FASHION/train-images-idx3-ubyte.gz ]]; then
        echo "SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        exit 77
    fi
}

finish() {
    if [[ $failures -ne 0 ]]; then
        echo "$(basename "$0"): $failures of $checks checks failed" >&2
        exit 1
    fi
    echo "$(basename "$0"): all $checks checks passed"
    exit 0
}
