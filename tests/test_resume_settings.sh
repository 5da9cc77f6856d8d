#!/usr/bin/env bash
# Resume with other settings that cannot change a bit (src/train/resume_policy.c):
# a run stopped on 1 thread and resumed on 3 (with 2 loader workers, 5
# accumulation micro-batches and another evaluation batch size) finishes with the bits of the run that
# never stopped, and run.json's "resumes" names the step and each change;
# a run resumed twice, the second time back on 1 thread, too. Any other
# --set is refused (exit 2) naming the key, and changes no file. Checkpoints
# are snapshots: written at every step by wall time (every_seconds tiny),
# or never (every_epoch off, every_seconds 0), the bits are the same. By
# default a run checkpoints at each epoch end (keep 2), and threads: 0
# (the default) is recorded in run.json as the cores this process may use.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/resume_settings
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 1000 200
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=50 --set model.trunk.0.out=32 --set model.trunk.3.out=32
        --set epochs=3 --set threads=1 --set ledger.hash_every=7)

train() { # name, extra args...
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" "$@"
}
json() { # RUN EXPR: a Python expression over r, run.json, printed as JSON
    /usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1] + "/run.json")); print(json.dumps(eval(sys.argv[2])))' "$1" "$2"
}
ckpts() { (cd "$1" && ls ckpt-*.safetensors 2>/dev/null | tr '\n' ' '); }
snapshot() { (cd "$1" && sha256sum -- * | sort) > "$dir/snapshot"; }
unchanged() {
    checks=$((checks + 1))
    diff -q "$dir/snapshot" <(cd "$2" && sha256sum -- * | sort) >/dev/null || fail "$1: files changed"
}

train full
# 18 steps per epoch (900 training samples after the 10% validation split)
train a --stop-after 7
expect_exit 0 "resume a on 3 threads" -- "$REPRO" train --resume "$dir/a" --quiet --set threads=3 \
    --set loader.workers=2 --set eval_batch_size=77 --set accum_steps=5
same_bits "1 thread, then 3" "$dir/full" "$dir/a"
checks=$((checks + 1))
got=$(json "$dir/a" "[r['resumes'][0]['step'], r['resumes'][0]['changed']]")
[[ $got == '[7, {"threads": {"from": 1, "to": 3}, "eval_batch_size": {"from": 1000, "to": 77}, "accum_steps": {"from": 1, "to": 5}, "loader.workers": {"from": 0, "to": 2}}]' ]] ||
    fail "run.json resumes: $got"

# twice: 3 threads from step 5, then back to 1 from step 30
train b --stop-after 5
expect_exit 0 "resume b on 3 threads" -- "$REPRO" train --resume "$dir/b" --quiet --set threads=3 --stop-after 30
expect_exit 0 "resume b again" -- "$REPRO" train --resume "$dir/b" --quiet --set loader.prefetch=5
same_bits "resumed twice" "$dir/full" "$dir/b"
checks=$((checks + 1))
got=$(json "$dir/b" "[[e['step'], e['changed']] for e in r['resumes']]")
[[ $got == '[[5, {"threads": {"from": 1, "to": 3}}], [30, {"loader.prefetch": {"from": 2, "to": 5}}]]' ]] ||
    fail "run.json resumes of b: $got"

# refusals: exit 2, the key and the reason named, nothing changed
train c --stop-after 9
snapshot "$dir/c"
for bad in optim.lr=0.1 seed=3 batch_size=10 "loader={workers: 2}" model.trunk.0.out=8 epochs=4; do
    key=${bad%%=*}
    expect_exit 2 "resume --set $bad" -- "$REPRO" train --resume "$dir/c" --quiet --set "$bad" &&
        expect_err_contains "resume --set $bad" "repro train: cannot resume '$dir/c': --set $key cannot change on resume: it may change the bits"
    unchanged "resume --set $bad" "$dir/c"
done
expect_exit 2 "resume --set with a bad value" -- "$REPRO" train --resume "$dir/c" --quiet --set threads=abc &&
    expect_err_contains "resume --set threads=abc" "threads: expected an integer"
unchanged "resume --set threads=abc" "$dir/c"
expect_exit 2 "resume with --out" -- "$REPRO" train --resume "$dir/c" --out "$dir/x" &&
    expect_err_contains "resume with --out" "CONFIG and --out cannot be combined with it"

# device is neutral only in mode exact (where a build has mode fast at all)
if "$REPRO" train "$cfg" --out "$dir/fast" "${common[@]}" --set mode=fast --set determinism=off --stop-after 3 \
    2>/dev/null; then
    snapshot "$dir/fast"
    expect_exit 2 "resume mode fast on another device" -- "$REPRO" train --resume "$dir/fast" --quiet --set device=cuda &&
        expect_err_contains "resume mode fast on another device" \
            "--set device cannot change on resume: the CPU and the GPU give the same bits only in mode exact"
    unchanged "resume mode fast on another device" "$dir/fast"
fi

# checkpoints are snapshots: every step (by wall time), or none at all
train timed --set checkpoint.every_seconds=1e-9
same_bits "a checkpoint every step" "$dir/full" "$dir/timed"
checks=$((checks + 1))
[[ $(ckpts "$dir/timed") == "ckpt-00000052.safetensors ckpt-00000053.safetensors " ]] ||
    fail "every_seconds tiny: checkpoints $(ckpts "$dir/timed")"
train none --set checkpoint.every_epoch=false --set checkpoint.every_seconds=0
same_bits "no checkpoint" "$dir/full" "$dir/none"
checks=$((checks + 1))
[[ -z $(ckpts "$dir/none") ]] || fail "every_epoch off: checkpoints $(ckpts "$dir/none")"
# by default: the end of each epoch but the last (the model is the last)
checks=$((checks + 1))
[[ $(ckpts "$dir/full") == "ckpt-00000018.safetensors ckpt-00000036.safetensors " ]] ||
    fail "default checkpoints: $(ckpts "$dir/full")"

# threads: 0 (the default) is the cores this process may run on
expect_exit 0 "train with threads 0" -- "$REPRO" train "$cfg" --out "$dir/auto" "${common[@]}" --set threads=0 \
    --set epochs=1
checks=$((checks + 1))
cores=$(/usr/bin/python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
[[ $(json "$dir/auto" "r['execution']['threads']") == "$cores" ]] ||
    fail "threads 0: run.json execution.threads $(json "$dir/auto" "r['execution']['threads']"), cores $cores"
checks=$((checks + 1))
[[ $(json "$dir/auto" "r['config']['threads']") == 0 ]] || fail "threads 0: config.threads is not 0"
finish
