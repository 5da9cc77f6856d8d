#!/usr/bin/env bash
# Runs every libFuzzer harness of a fuzzing build for FUZZ_SECONDS each
# (default 60), from its seed corpus fuzz/corpus/<target>/, under the
# sanitizers the build has (make fuzz: ASan + UBSan):
#   bash fuzz/run.sh BUILD_DIR [TARGET...]
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
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(config idx csv npy safetensors checkpoint ledger runjson)
mkdir -p "$build/findings"
failed=()
for t in "${targets[@]}"; do
    bin=$build/fuzz/fuzz_$t
    [[ -x $bin ]] || { echo "fuzz: $bin is missing (cmake --build $build --target fuzz_targets)"; exit 2; }
    mkdir -p "$build/fuzz-corpus/$t"
    echo "=== fuzz_$t: ${seconds}s"
    # the dictionary of a target's tokens, when it has one
    dict=()
    [[ -f $here/dict/$t.dict ]] && dict=(-dict="$here/dict/$t.dict")
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$build/findings/$t-" "${dict[@]}" "$build/fuzz-corpus/$t" "$here/corpus/$t" \
        > "$build/findings/$t.log" 2>&1
    rc=$?
    tail -n 12 "$build/findings/$t.log" | grep -E "^(stat::|Done|#[0-9]+ *DONE)|ERROR|SUMMARY" || true
    if [[ $rc -ne 0 ]]; then
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
