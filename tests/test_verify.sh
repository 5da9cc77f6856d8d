#!/usr/bin/env bash
# repro verify: on the Fashion MLP (dropout, Adam) it finds threads 1, 2, 3,
# accum_steps 1 and 4 and resumes at steps 37 and 64 bit-for-bit identical
# to the baseline (exit 0); a variation that changes the bits (the seed) is
# caught at step 1 (exit 1); usage errors give exact messages (exit 2);
# mode: fast is refused (exit 1).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/verify
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small=(--set data.limit_train=3000 --set data.limit_test=300 --set batch_size=64)

# json_get FILE EXPR: a value of verify.json (python3, an independent reader)
json_get() {
    /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ---- everything matches ----
expect_exit 0 "verify threads/accum/resume" -- "$REPRO" verify "$cfg" --vary threads=1,2,3 \
    --vary accum_steps=1,4 --resume-at 37 --resume-at 64 --max-steps 80 "${small[@]}" --out "$dir/ok" || true
vj=$dir/ok/verify.json
checks=$((checks + 1))
[[ -f $vj ]] || fail "no verify.json"
checks=$((checks + 1))
[[ $(json_get "$vj" 'v["result"]') == identical ]] || fail "verify.json result is not identical"
checks=$((checks + 1))
names=$(json_get "$vj" '" ".join(r["name"] for r in v["runs"])')
[[ $names == "base threads=1 threads=2 threads=3 accum_steps=1 accum_steps=4 resume@37 resume@64" ]] ||
    fail "runs in verify.json: $names"
checks=$((checks + 1))
results=$(json_get "$vj" '" ".join(r["result"] for r in v["runs"][1:])')
[[ $results == "identical identical identical identical identical identical identical" ]] ||
    fail "results: $results"
checks=$((checks + 1))
hashes=$(json_get "$vj" 'len(set(r["params_sha256"] for r in v["runs"]))')
[[ $hashes == 1 ]] || fail "verify.json holds $hashes different params_sha256"
checks=$((checks + 1))
[[ $(json_get "$vj" 'v["runs"][0]["params_sha256"]') == $(params_sha "$dir/ok/base") ]] ||
    fail "verify.json's baseline hash is not the run's"
checks=$((checks + 1))
[[ $(json_get "$vj" 'len(v["runs"][6]["commands"])') == 2 &&
   $(json_get "$vj" 'v["runs"][6]["commands"][1]') == *"train --resume $dir/ok/resume-37"* ]] ||
    fail "the resume run's commands: $(json_get "$vj" 'v["runs"][6]["commands"]')"
checks=$((checks + 1))
[[ $(json_get "$vj" 'v["runs"][2]["commands"][0]') == *"--set max_steps=80 --set threads=2" ]] ||
    fail "threads=2 command: $(json_get "$vj" 'v["runs"][2]["commands"][0]')"
# the table and the progress lines
checks=$((checks + 1))
[[ $last_out == *"threads=2"*"identical"* && $last_out == *"all 7 runs are bit-for-bit identical"* ]] ||
    fail "table: $last_out"
checks=$((checks + 1))
[[ $last_err == *"[3/8] threads=2 ... identical ("*" s)"* ]] || fail "progress: $last_err"
# the resumed run really stopped at 37 and was resumed (its ledger has all 80 steps)
checks=$((checks + 1))
[[ $(grep -c '"step"' "$dir/ok/resume-37/ledger.jsonl") == 80 ]] || fail "resume-37 ledger is not 80 lines"
# matching runs are pruned of their safetensors, the baseline is not
checks=$((checks + 1))
[[ -f $dir/ok/base/model.safetensors && ! -e $dir/ok/threads=2/model.safetensors ]] ||
    fail "pruning: $(ls "$dir/ok/base" "$dir/ok/threads=2")"
# an existing directory is refused without --force
expect_exit 2 "existing DIR" -- "$REPRO" verify "$cfg" --out "$dir/ok" || true
expect_err_contains "existing DIR" "repro verify: '$dir/ok' exists and is not empty; use --force to reuse it"

# ---- a variation that changes the bits ----
expect_exit 1 "verify seed" -- "$REPRO" verify "$cfg" --vary seed=42,7 --max-steps 20 "${small[@]}" \
    --out "$dir/seed" --json || true
vj=$dir/seed/verify.json
checks=$((checks + 1))
[[ $(json_get "$vj" 'v["result"]') == different ]] || fail "seed: result is not different"
checks=$((checks + 1))
[[ $(json_get "$vj" '[r["result"] for r in v["runs"]]') == "['baseline', 'identical', 'different']" ]] ||
    fail "seed results: $(json_get "$vj" '[r["result"] for r in v["runs"]]')"
checks=$((checks + 1))
[[ $(json_get "$vj" 'v["runs"][2]["first_divergent_step"]') == 1 ]] || fail "seed=7 first divergent step is not 1"
checks=$((checks + 1))
[[ $(json_get "$vj" 'v["runs"][1]["first_divergent_step"]') == None ]] || fail "seed=42 has a divergent step"
checks=$((checks + 1))
/usr/bin/python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$last_out" || fail "--json output is not JSON"
checks=$((checks + 1))
[[ -f $dir/seed/seed=7/model.safetensors ]] || fail "a differing run lost its model"

# ---- a run that fails to train ----
expect_exit 2 "failing run" -- "$REPRO" verify "$cfg" --vary data.train_images=/nonexistent.gz \
    --max-steps 5 "${small[@]}" --out "$dir/fail" --quiet || true
expect_err_contains "failing run" "repro verify: run 'data.train_images=/nonexistent.gz' failed"
expect_err_contains "failing run" "    repro train: cannot open '/nonexistent.gz'"

# ---- usage errors ----
expect_exit 2 "no config" -- "$REPRO" verify || true
expect_err_contains "no config" "repro verify: missing CONFIG (see 'repro verify --help')"
expect_exit 2 "vary without =" -- "$REPRO" verify "$cfg" --vary threads || true
expect_err_contains "vary without =" "repro verify: --vary expects KEY=V1,V2,..., got 'threads'"
expect_exit 2 "vary no values" -- "$REPRO" verify "$cfg" --vary threads= || true
expect_err_contains "vary no values" "repro verify: --vary 'threads=' has no values"
expect_exit 2 "vary empty value" -- "$REPRO" verify "$cfg" --vary threads=1,,2 || true
expect_err_contains "vary empty value" "repro verify: --vary 'threads=1,,2' has an empty value"
expect_exit 2 "resume-at 0" -- "$REPRO" verify "$cfg" --resume-at 0 || true
expect_err_contains "resume-at 0" "repro verify: --resume-at expects a positive integer, got '0'"
expect_exit 2 "resume-at text" -- "$REPRO" verify "$cfg" --resume-at 3x || true
expect_err_contains "resume-at text" "repro verify: --resume-at expects a positive integer, got '3x'"
expect_exit 2 "resume-at last" -- "$REPRO" verify "$cfg" --resume-at 80 --max-steps 80 || true
expect_err_contains "resume-at last" "repro verify: --resume-at 80 is not before the last step (max_steps 80)"
expect_exit 2 "unknown key" -- "$REPRO" verify "$cfg" --vary thread=1 --out "$dir/none" || true
expect_err_contains "unknown key" "repro verify: thread=1: --set thread=1: unknown key 'thread'"
checks=$((checks + 1))
[[ ! -e $dir/none ]] || fail "a refused verify created its directory"
expect_exit 1 "fast mode" -- "$REPRO" verify "$cfg" --set mode=fast || true
expect_err_contains "fast mode" "repro verify: mode: fast is not bit-exact, so there is nothing to verify"
expect_exit 0 "help" -- "$REPRO" verify --help || true
checks=$((checks + 1))
[[ $last_out == *"--resume-at STEP"* ]] || fail "help text"
finish
