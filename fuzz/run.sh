#!/usr/bin/env bash
# Runs every libFuzzer harness of a fuzzing build for FUZZ_SECONDS each
# (default 60), from its seed corpus fuzz/corpus/<target>/, under the
# sanitizers the build has (make fuzz: ASan + UBSan):
#   bash fuzz/run.sh BUILD_DIR [TARGET...]
# FUZZ_JOBS targets run at once (default: the number of cores); each is one
# process on one core, so 8 targets of 60 s take about 4 minutes on 2 cores.
# New inputs that reach new code go to BUILD_DIR/fuzz-corpus/<target>/ (the
# seeds in the repository are never written); a crash, a sanitizer report,
# an input taking more than 10 s or 2 GB is a finding, saved as
# BUILD_DIR/findings/<target>-<kind>-<sha1>. Exit status 1 when any target
# had a finding: add it to fuzz/corpus/<target>/ with the fix, and a
# regression test that reads it (tests/test_fuzz_regressions.c).
set -uo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(config idx csv npy safetensors checkpoint ledger runjson)
mkdir -p "$build/findings"
for t in "${targets[@]}"; do
    [[ -x $build/fuzz/fuzz_$t ]] || { echo "fuzz: $build/fuzz/fuzz_$t is missing (cmake --build $build --target fuzz_targets)"; exit 2; }
done

# One target, its output to findings/<target>.log and its exit status to
# findings/<target>.rc (read once every target has run).
fuzz_one() {
    local t=$1 dict=()
    mkdir -p "$build/fuzz-corpus/$t"
    # the dictionary of a target's tokens, when it has one
    [[ -f $here/dict/$t.dict ]] && dict=(-dict="$here/dict/$t.dict")
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$build/findings/$t-" "${dict[@]}" \
        "$build/fuzz-corpus/$t" "$here/corpus/$t" > "$build/findings/$t.log" 2>&1
    echo $? > "$build/findings/$t.rc"
}

echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
    rm -f "$build/findings/$t.rc"
    if ((running >= jobs)); then
        wait -n
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait

failed=()
for t in "${targets[@]}"; do
    echo "=== fuzz_$t: ${seconds}s"
    tail -n 12 "$build/findings/$t.log" | grep -E "^(stat::|Done|#[0-9]+ *DONE)|ERROR|SUMMARY" || true
    rc=$(cat "$build/findings/$t.rc" 2>/dev/null || echo "?")
    if [[ $rc != 0 ]]; then
        echo "fuzz_$t: FINDING (exit $rc); see $build/findings/$t.log"
        grep -E "ERROR|SUMMARY|Test unit written" "$build/findings/$t.log" | head -n 5
        failed+=("$t")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: findings in: ${failed[*]}"
    exit 1
fi
echo "fuzz: no findings in ${#targets[@]} targets (${seconds}s each)"
