#!/usr/bin/env bash
# Data parallel on GPUs (docs/parallel.md): with world.shards set, the conv
# net, the residual net (batch norm: its running statistics gathered across
# GPUs) and the MLP give the same ledger and params_sha256 on 1 GPU, on 2
# GPUs (`--procs 2`, one GPU each; the frontiers through NCCL, and through
# host memory with REPRO_WORLD_EXCHANGE=host) and on the CPU; a 2-GPU run
# stopped mid-way resumes on 1 GPU with the same bits; a GPU rank killed or
# hung mid-run stops both ranks with a message naming it, and the run
# resumes on 1 GPU with the same bits. With 4 GPUs also: 4 GPUs give the
# 1-GPU bits, a 4-GPU run stopped mid-way resumes on 2 GPUs, 6 shards cut
# unevenly over 4 GPUs, and a rank of 4 killed stops all four. Skipped (77)
# without a CUDA build or without 2 GPUs. Prints one PASS/FAIL line per case.
# ctest-labels: cuda
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/world_gpu
rm -rf "$dir"
mkdir -p "$dir"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [[ ${gpus:-0} -lt 2 ]]; then
    echo "SKIPPED: needs 2 GPUs (found ${gpus:-0})"
    exit 77
fi
small_fashion "$dir/data" 4200 500
common=(--quiet "${SMALL_DATA[@]}" --set epochs=100 --set ledger.hash_every=5)
set +e
probe=$("$REPRO" train "$REPRO_SOURCE_DIR/examples/fashion_cnn.yaml" "${common[@]}" --set max_steps=1 \
        --set device=cuda --out "$dir/probe" 2>&1)
rc=$?
set -e
if [[ $rc -ne 0 && ( "$probe" == *"no CUDA backend"* || "$probe" == *"no CUDA GPU"* ) ]]; then
    echo "SKIPPED: ${probe#repro train: }"
    exit 77
fi
case_check() { # name run_a run_b
    local before=$failures
    same_bits "$1" "$2" "$3"
    [[ $failures -eq $before ]] && echo "PASS: $1" || echo "FAIL: $1"
}
exchange_of() { # run dir -> run.json world.gradient_exchange
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["world"]["gradient_exchange"])' "$1/run.json"
}
# WORLD_GPU_CASES=faults runs only the fault cases (default: all)
cases=${WORLD_GPU_CASES:-all}
[[ $cases == faults ]] && examples=() || examples=(fashion_cnn fashion_resnet fashion_mlp)
for ex in "${examples[@]}"; do
    cfg=$REPRO_SOURCE_DIR/examples/$ex.yaml
    w=(--set world.shards=4 --set batch_size=128 --set max_steps=30)
    expect_exit 0 "$ex cpu" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --out "$dir/$ex.cpu"
    expect_exit 0 "$ex 1 GPU" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda \
        --out "$dir/$ex.g1"
    expect_exit 0 "$ex 2 GPUs" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda --procs 2 \
        --out "$dir/$ex.g2"
    accum=8 # micro-batches of 16; the residual net's batch-norm groups are 32
    [[ $ex == fashion_resnet ]] && accum=2
    expect_exit 0 "$ex 2 GPUs, host loader, accum $accum" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" \
        --set device=cuda --procs 2 --set loader.on_device=off --set accum_steps=$accum --out "$dir/$ex.g2h"
    expect_exit 0 "$ex 2 GPUs, exchange through host memory" -- env REPRO_WORLD_EXCHANGE=host "$REPRO" train \
        "$cfg" "${common[@]}" "${w[@]}" --set device=cuda --procs 2 --out "$dir/$ex.g2x"
    how=$(exchange_of "$dir/$ex.g2")
    checks=$((checks + 1))
    if [[ $how == NCCL* ]]; then echo "PASS: $ex: 2 GPUs exchanged through NCCL ($how)"; else
        echo "FAIL: $ex: 2 GPUs did not use NCCL: $how"; failures=$((failures + 1)); fi
    case_check "$ex: 1 GPU vs CPU" "$dir/$ex.cpu" "$dir/$ex.g1"
    case_check "$ex: 2 GPUs vs 1 GPU" "$dir/$ex.g1" "$dir/$ex.g2"
    case_check "$ex: 2 GPUs through host memory vs 1 GPU" "$dir/$ex.g1" "$dir/$ex.g2x"
    case_check "$ex: 2 GPUs (host loader, accum $accum) vs 1 GPU" "$dir/$ex.g1" "$dir/$ex.g2h"
    expect_exit 0 "$ex 2 GPUs, stop at 13" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda \
        --procs 2 --set checkpoint.every_steps=5 --stop-after 13 --out "$dir/$ex.res"
    expect_exit 0 "$ex resume on 1 GPU" -- "$REPRO" train --resume "$dir/$ex.res" --quiet
    case_check "$ex: 2 GPUs stopped at 13, resumed on 1 GPU" "$dir/$ex.g1" "$dir/$ex.res"
    [[ $gpus -ge 4 ]] || continue
    expect_exit 0 "$ex 4 GPUs" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda --procs 4 \
        --out "$dir/$ex.g4"
    case_check "$ex: 4 GPUs vs 1 GPU" "$dir/$ex.g1" "$dir/$ex.g4"
    expect_exit 0 "$ex 4 GPUs, stop at 13" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda \
        --procs 4 --set checkpoint.every_steps=5 --stop-after 13 --out "$dir/$ex.res4"
    expect_exit 0 "$ex resume on 2 GPUs" -- "$REPRO" train --resume "$dir/$ex.res4" --quiet --procs 2
    case_check "$ex: 4 GPUs stopped at 13, resumed on 2 GPUs" "$dir/$ex.g1" "$dir/$ex.res4"
done
# 6 shards over 2 GPUs: each rank's frontier is two nodes ([0,2) [2,3) and
# [3,4) [4,6)), so NCCL moves several nodes a rank and the tree's top adds
# nodes of both
if [[ $cases == all ]]; then
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
w=(--set world.shards=6 --set batch_size=96 --set max_steps=20)
expect_exit 0 "mlp 6 shards, 1 GPU" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda \
    --out "$dir/s6.g1"
expect_exit 0 "mlp 6 shards, 2 GPUs" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda \
    --procs 2 --out "$dir/s6.g2"
expect_exit 0 "mlp 6 shards, CPU, 3 processes" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --procs 3 \
    --out "$dir/s6.cpu"
case_check "mlp, 6 shards: 2 GPUs vs 1 GPU" "$dir/s6.g1" "$dir/s6.g2"
case_check "mlp, 6 shards: 2 GPUs vs 3 CPU processes" "$dir/s6.cpu" "$dir/s6.g2"
# 6 shards over 4 GPUs: an uneven cut, [0,1) [1,3) [3,4) [4,6)
if [[ $gpus -ge 4 ]]; then
    expect_exit 0 "mlp 6 shards, 4 GPUs" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --set device=cuda \
        --procs 4 --out "$dir/s6.g4"
    case_check "mlp, 6 shards: 4 GPUs (uneven) vs 1 GPU" "$dir/s6.g1" "$dir/s6.g4"
fi
fi
# faults: rank 1 (the first child) killed, or stopped (a hang), mid-run
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
w=(--set world.shards=4 --set batch_size=128 --set max_steps=150 --set device=cuda)
expect_exit 0 "mlp 150 steps, 1 GPU" -- "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --out "$dir/f.g1"
first_child() { # rank 1, job: the job's first child is rank 1
    pgrep -P "$2" | sort -n | head -n 1
}
fault() { # name, signal[, processes]
    local name=$1 sig=$2 procs=${3:-2}
    signal_midrun "$name" "$sig" 1 "$dir/f.$name" 12 first_child -- env REPRO_TEST_LOADER_JITTER_US=3000 \
        REPRO_WORLD_TIMEOUT=4 "$REPRO" train "$cfg" "${common[@]}" "${w[@]}" --procs "$procs" \
        --set checkpoint.every_steps=5 --set loader.on_device=off --set loader.workers=1 --out "$dir/f.$name"
    checks=$((checks + 1))
    if [[ $fault_rc -eq 1 ]]; then echo "PASS: $procs GPUs, rank 1 SIG$sig: exit 1"; else
        fail "$name: exit $fault_rc after rank 1 of $procs got SIG$sig, expected 1"; fi
}
fault kill KILL
expect_err_contains "a killed GPU rank: named" "rank 1 (pid "
expect_err_contains "a killed GPU rank: the step" "(host $(hostname)): step "
fault hang STOP
expect_err_contains "a hung GPU rank: the deadline" "within 4 s"
names=(kill hang)
if [[ $gpus -ge 4 ]]; then
    fault kill4 KILL 4
    expect_err_contains "a killed GPU rank of 4: named" "rank 1 (pid "
    names+=(kill4)
fi
for name in "${names[@]}"; do
    expect_exit 0 "$name: resume on 1 GPU" -- "$REPRO" train --resume "$dir/f.$name" --quiet
    case_check "$name: GPUs, a rank lost, resumed on 1 GPU" "$dir/f.g1" "$dir/f.$name"
done
finish
