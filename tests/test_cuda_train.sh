#!/usr/bin/env bash
# CPU == GPU: the Fashion MLP (dropout, Adam; then EMA, cosine schedule,
# clipping and accumulation) and the dual-task model give the same ledgers
# and params_sha256 on device: cpu and device: cuda, whether the GPU's
# batches are gathered in device memory (loader.on_device, the default
# there) or come from the host loader; `repro verify --vary device=cpu,cuda`
# says so. mode: fast on the GPU (cuBLAS) trains, warns and records that it
# is not reproducible, and verify refuses it. Skipped (77) where the build
# has no CUDA backend or the machine no GPU.
# ctest-labels: cuda
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
declare -A nan_err
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
    checks=$((checks + 1))
    [[ -z "$last_err" ]] || fail "fashion $d printed: $last_err" # e.g. a CUDA Graphs fallback note
    expect_exit 0 "fashion extras $d" -- "$REPRO" train "$cfg" "${common[@]}" --set device=$d --out "$dir/x$d" \
        --set max_steps=200 --set ema.enabled=true --set schedule.name=cosine --set optim.clip_norm=1 --set accum_steps=4
done
same_bits "fashion cpu vs cuda (500 steps)" "$dir/fcpu" "$dir/fcuda"
same_bits "fashion with EMA, cosine, clipping, accum 4: cpu vs cuda" "$dir/xcpu" "$dir/xcuda"
checks=$((checks + 1))
grep -q '"gpu_name"' "$dir/fcuda/run.json" || fail "run.json lacks the GPU's name"
checks=$((checks + 1))
grep -q '"batches":[[:space:]]*"gathered in device memory' "$dir/fcuda/run.json" ||
    fail "device: cuda did not gather its batches on the device"
checks=$((checks + 1))
grep -q '"step_graphs":[[:space:]]*"on"' "$dir/fcuda/run.json" || fail "device: cuda did not run its steps as graphs"
expect_exit 0 "fashion cuda, no graphs" -- env REPRO_CUDA_GRAPHS=0 "$REPRO" train "$cfg" "${common[@]}" \
    --set device=cuda --out "$dir/fcuda_nographs"
same_bits "fashion cpu vs cuda without CUDA Graphs" "$dir/fcpu" "$dir/fcuda_nographs"
expect_exit 0 "fashion cuda, host loader" -- "$REPRO" train "$cfg" "${common[@]}" --set device=cuda \
    --set loader.on_device=off --set loader.workers=2 --out "$dir/fcuda_loader"
same_bits "fashion cpu vs cuda with the host loader" "$dir/fcpu" "$dir/fcuda_loader"
expect_exit 0 "verify device=cpu,cuda" -- "$REPRO" verify "$cfg" "${SMALL_DATA[@]}" --set ema.enabled=true \
    --set accum_steps=2 --vary device=cpu,cuda --resume-at 37 --max-steps 80 --out "$dir/verify"
# resumed on the GPU (the base config's device), mid-epoch, with graphs and the loss ring in flight
expect_exit 0 "verify resume on cuda" -- "$REPRO" verify "$cfg" "${SMALL_DATA[@]}" --set device=cuda \
    --set ledger.hash_every=7 --vary loader.on_device=on,off --resume-at 41 --resume-at 100 --max-steps 130 \
    --out "$dir/verify_cuda"

# a loss that turns non-finite: the GPU, which settles losses in batches,
# names the same step as the CPU and keeps the same ledger lines before it
for d in cpu cuda; do
    expect_exit 1 "nan loss $d" -- "$REPRO" train "$cfg" "${common[@]}" --set device=$d --out "$dir/nan$d" \
        --set optim.name=sgd --set optim.lr=1e30 --set max_steps=50
    nan_err[$d]=$(grep -o 'step [0-9]*: the loss is [a-z]*' <<<"$last_err")
done
checks=$((checks + 1))
[[ -n "${nan_err[cpu]}" && "${nan_err[cpu]}" == "${nan_err[cuda]}" ]] ||
    fail "non-finite loss: cpu says '${nan_err[cpu]}', cuda says '${nan_err[cuda]}'"
checks=$((checks + 1))
cmp -s "$dir/nancpu/ledger.jsonl" "$dir/nancuda/ledger.jsonl" || fail "non-finite loss: the ledgers differ"

# mode: fast on the GPU: cuBLAS and atomics, said plainly; verify refuses it
FASTWARN="repro train: warning: mode: fast: linear layers use cuBLAS SGEMM, which is not bit-exact across GPUs, cuBLAS versions or against the CPU; this run is not reproducible (determinism: warn)"
expect_exit 0 "fast on cuda" -- "$REPRO" train "$cfg" "${common[@]}" --set device=cuda --set mode=fast \
    --set max_steps=200 --out "$dir/fast"
expect_err_contains "fast on cuda warns" "$FASTWARN"
expect_err_contains "fast on cuda warns of atomics" "bias gradients are summed with atomic adds"
checks=$((checks + 1))
python3 - "$dir/fast/run.json" "$dir/fcuda/ledger.jsonl" "$dir/fast/ledger.jsonl" <<'PY' || fail "fast on cuda: record or losses"
import json, sys
run = json.load(open(sys.argv[1]))
d = run["determinism"]
assert d["reproducible"] is False and d["not_exact"] == ["linear: cuBLAS SGEMM", "linear bias gradient: atomicAdd"], d
assert "cuBLAS SGEMM, FP32" in run["backend"]["linear"], run["backend"]
exact = [float(json.loads(l)["loss_dec"]) for l in open(sys.argv[2])]
fast = [float(json.loads(l)["loss_dec"]) for l in open(sys.argv[3])]
assert abs(exact[0] - fast[0]) <= 1e-5 * abs(exact[0]), (exact[0], fast[0])   # same forward, other order
assert abs(sum(exact[150:200]) - sum(fast[150:200])) <= 0.05 * sum(exact[150:200]), "fast trains differently"
PY
expect_exit 0 "fast + tf32 on cuda" -- "$REPRO" train "$cfg" "${common[@]}" --set device=cuda --set mode=fast \
    --set allow_tf32=true --set max_steps=20 --out "$dir/tf32"
expect_err_contains "tf32 warns" "cuBLAS uses TF32 tensor cores"
expect_exit 1 "verify refuses fast" -- "$REPRO" verify "$cfg" "${SMALL_DATA[@]}" --set mode=fast --set device=cuda \
    --vary threads=1,2 --max-steps 5 --out "$dir/verify_fast"
expect_err_contains "verify refuses fast" "mode: fast is not bit-exact, so there is nothing to verify"
"$REPRO" gen-data dual_task --out-dir "$dir/dual" > /dev/null
for d in cpu cuda; do
    expect_exit 0 "dual task $d" -- "$REPRO" train "$REPRO_SOURCE_DIR/examples/dual_task.yaml" --quiet \
        --set data.train_csv="$dir/dual/dual_task_train.csv" --set data.test_csv="$dir/dual/dual_task_test.csv" \
        --set max_steps=300 --set device=$d --out "$dir/d$d"
done
same_bits "dual task cpu vs cuda" "$dir/dcpu" "$dir/dcuda"
finish
