#!/usr/bin/env bash
# CPU == GPU: the Fashion MLP (dropout, Adam; then EMA, cosine schedule,
# clipping and accumulation) and the dual-task model give the same ledgers
# and params_sha256 on device: cpu and device: cuda. Skipped (77) where the
# build has no CUDA backend or the machine no GPU.
# ctest-labels: cuda
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/cuda_train
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 20000 1000
common=(--quiet "${SMALL_DATA[@]}" --set max_steps=500 --set ledger.hash_every=50)
set +e
probe=$("$REPRO" train "$cfg" "${common[@]}" --set max_steps=1 --set device=cuda --out "$dir/probe" 2>&1)
rc=$?
set -e
if [[ $rc -ne 0 && ( "$probe" == *"no CUDA backend"* || "$probe" == *"no CUDA GPU"* ) ]]; then
    echo "SKIPPED: ${probe#repro train: }"
    exit 77
fi
for d in cpu cuda; do
    expect_exit 0 "fashion $d" -- "$REPRO" train "$cfg" "${common[@]}" --set device=$d --out "$dir/f$d"
    expect_exit 0 "fashion extras $d" -- "$REPRO" train "$cfg" "${common[@]}" --set device=$d --out "$dir/x$d" \
        --set max_steps=200 --set ema.enabled=true --set schedule.name=cosine --set optim.clip_norm=1 --set accum_steps=4
done
same_bits "fashion cpu vs cuda (500 steps)" "$dir/fcpu" "$dir/fcuda"
same_bits "fashion with EMA, cosine, clipping, accum 4: cpu vs cuda" "$dir/xcpu" "$dir/xcuda"
checks=$((checks + 1))
grep -q '"gpu_name"' "$dir/fcuda/run.json" || fail "run.json lacks the GPU's name"
"$REPRO" gen-data dual_task --out-dir "$dir/dual" > /dev/null
for d in cpu cuda; do
    expect_exit 0 "dual task $d" -- "$REPRO" train "$REPRO_SOURCE_DIR/examples/dual_task.yaml" --quiet \
        --set data.train_csv="$dir/dual/dual_task_train.csv" --set data.test_csv="$dir/dual/dual_task_test.csv" \
        --set max_steps=300 --set device=$d --out "$dir/d$d"
done
same_bits "dual task cpu vs cuda" "$dir/dcpu" "$dir/dcuda"
finish
