#!/usr/bin/env bash
# The dual-task model (shared trunk, a regression head and a classification
# head, dropout) on the synthetic data of `repro gen-data dual_task`: the
# same ledger and params_sha256 for threads 1 vs 2 and accum_steps 1 vs 4 at
# batch_size 128, and, with EMA, a cosine schedule with warmup, gradient
# clipping and early stopping, for threads 1 vs 2. The run completes and
# its validation loss falls; with the classification head's weight at 0 the
# validation loss is the regression head's alone, and it falls too.
source "$(dirname "$0")/lib.sh"
set -e
dir=$REPRO_TEST_TMP/dual_task
rm -rf "$dir"
mkdir -p "$dir"
expect_exit 0 "gen-data" -- "$REPRO" gen-data dual_task --out-dir "$dir/data" --n-train 3000 --n-test 500
common=(--quiet --set "data.train_csv=$dir/data/dual_task_train.csv" --set "data.test_csv=$dir/data/dual_task_test.csv"
        --set batch_size=128 --set epochs=5 --set max_steps=100 --set ledger.hash_every=20)
train() { # name, extra --set args...
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$REPRO_SOURCE_DIR/examples/dual_task.yaml" \
        --out "$dir/$name" "${common[@]}" "$@"
}
train t1 --set threads=1
train t2 --set threads=2
train a4 --set accum_steps=4 --set threads=1
train a4t2 --set accum_steps=4 --set threads=2
same_bits "threads 1 vs 2" "$dir/t1" "$dir/t2"
same_bits "accum_steps 1 vs 4" "$dir/t1" "$dir/a4"
same_bits "accum_steps 1 vs 4, threads 2" "$dir/t1" "$dir/a4t2"

extras=(--set ema.enabled=true --set schedule.name=cosine --set schedule.warmup_steps=10
        --set optim.clip_norm=1.0 --set early_stopping.enabled=true --set early_stopping.patience=2)
train x1 --set threads=1 "${extras[@]}"
train x2 --set threads=2 "${extras[@]}"
same_bits "ema+cosine+clip+early stop, threads 1 vs 2" "$dir/x1" "$dir/x2"

checks=$((checks + 1))
steps=$(grep -c '"step"' "$dir/t1/ledger.jsonl" || true)
[[ $steps -eq 100 ]] || fail "expected 100 ledger lines, got $steps"

# val_loss of the first and the last epoch in metrics.jsonl
val_losses() {
    sed -n 's/.*"val_loss":\([-0-9.e+]*\).*/\1/p' "$1/metrics.jsonl" | sed -n '1p;$p' | tr '\n' ' '
}
falls() { # name, run dir
    checks=$((checks + 1))
    local v
    v=($(val_losses "$2"))
    if [[ ${#v[@]} -ne 2 ]] || ! awk -v a="${v[0]}" -v b="${v[1]}" 'BEGIN { exit !(b < a) }'; then
        fail "$1: val_loss did not fall (first, last: ${v[*]})"
    fi
}
for run in t1 x1; do
    checks=$((checks + 1))
    grep -q '"status":[[:space:]]*"complete"' "$dir/$run/run.json" || fail "$run: run.json status is not complete"
    falls "$run" "$dir/$run"
done
# the regression head alone: the classification head's weight 0
train reg --set model.heads.1.weight=0
falls "regression head" "$dir/reg"
finish
