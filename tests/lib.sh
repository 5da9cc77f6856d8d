# Shared helpers for the shell tests (sourced, not run). The test runner
# sets REPRO (the CLI), REPRO_SOURCE_DIR, REPRO_TEST_TMP.
set -u
failures=0
checks=0
: "${REPRO:?REPRO must point to the repro binary}"
: "${REPRO_SOURCE_DIR:?}"
: "${REPRO_TEST_TMP:=/tmp}"
FASHION=${REPRO_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
FORTUNES=${REPRO_FORTUNES_DIR:-/usr/share/games/fortunes}

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# The ISA paths this CPU (or its REPRO_TEST_CPU_ISA_MAX cap) has, for the
# tests that train whole examples on each. REPRO_TEST_SIMD_ONLY=1 leaves the
# scalar path out of those loops: CI sets it under ASan and under the AVX2
# cap, where the scalar reference's whole runs were most of the time, and
# `make test` runs them (the kernels' own tests run the scalar path
# everywhere).
isa_paths() {
    local p
    p=$(env -u REPRO_ISA "$REPRO" env | sed -n 's/^isa_supported\[[0-9]*\]: //p')
    if [[ ${REPRO_TEST_SIMD_ONLY:-0} == 1 ]]; then
        p=$(echo "$p" | grep -vx scalar || true)
        echo "REPRO_TEST_SIMD_ONLY=1: the scalar path is left out of the whole-example runs" >&2
    fi
    echo "$p"
}

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

# signal_midrun NAME SIG RANK OUT LINES FIND -- CMD...: runs CMD (a
# data-parallel training writing run directory OUT) in the background, its
# output in $dir/NAME.out and .err; once OUT's ledger has LINES lines,
# sends SIG to rank RANK's process (its pid from `FIND RANK JOB OUT`),
# waits for CMD and kills that process if it is still there. Sets
# fault_rc (CMD's exit status) and last_err.
signal_midrun() {
    local name=$1 sig=$2 rank=$3 out=$4 lines=$5 find=$6 pid=""
    shift 7
    "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
    local job=$!
    for _ in $(seq 1 600); do
        [[ -f $out/ledger.jsonl && $(wc -l <"$out/ledger.jsonl") -ge $lines ]] && pid=$("$find" "$rank" "$job" "$out")
        [[ -n $pid ]] && break
        sleep 0.1
    done
    checks=$((checks + 1))
    [[ -n $pid ]] || fail "$name: rank $rank never got going"
    [[ -n $pid ]] && kill -"$sig" "$pid"
    set +e
    wait $job
    fault_rc=$?
    set -e
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
    last_err=$(cat "$dir/$name.err")
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

# small_fashion DIR N_TRAIN N_TEST: writes the first N_TRAIN training and
# N_TEST test samples of Fashion-MNIST as small IDX files in DIR (so that a
# test's many short runs do not each decompress the whole set) and sets
# SMALL_DATA to the --set arguments that train on them.
small_fashion() {
    local out=$1
    mkdir -p "$out"
    /usr/bin/python3 - "$FASHION" "$out" "$2" "$3" <<'PY'
import gzip, struct, sys
src, out, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for name, n in (("train-images-idx3-ubyte", n_train), ("train-labels-idx1-ubyte", n_train),
                ("t10k-images-idx3-ubyte", n_test), ("t10k-labels-idx1-ubyte", n_test)):
    blob = gzip.open(f"{src}/{name}.gz").read()
    ndim = blob[3]
    dims = list(struct.unpack(f">{ndim}I", blob[4:4 + 4 * ndim]))
    row = 1
    for d in dims[1:]:
        row *= d
    dims[0] = n
    head = blob[:4] + struct.pack(f">{ndim}I", *dims)
    body = blob[4 + 4 * ndim:4 + 4 * ndim + n * row]
    with gzip.GzipFile(f"{out}/{name}.gz", "wb", compresslevel=6, mtime=0) as f:
        f.write(head + body)
PY
    SMALL_DATA=(--set "data.train_images=$out/train-images-idx3-ubyte.gz"
                --set "data.train_labels=$out/train-labels-idx1-ubyte.gz"
                --set "data.test_images=$out/t10k-images-idx3-ubyte.gz"
                --set "data.test_labels=$out/t10k-labels-idx1-ubyte.gz")
}
