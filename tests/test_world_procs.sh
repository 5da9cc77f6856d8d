#!/usr/bin/env bash
# Data parallel over processes forked on one host (`repro train --procs N`,
# no MPI; docs/parallel.md): with world.shards set, 2/3/4 processes give
# the ledger and params_sha256 of one process on the MLP (dropout,
# accumulation, loader workers) and the conv net; a 4-process run stopped
# mid-way resumes on 2 and on 1 with the same bits; a rank killed with
# SIGKILL or stopped (a hang) stops every rank with a message naming the
# rank and the step, leaves nothing torn, and the run resumes with the
# same bits. Small data, few steps (2 cores).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/world_procs
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 1200 200 # 1080 training samples: 16 steps of 64 and a tail of 56

mlp=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
cnn=$REPRO_SOURCE_DIR/examples/fashion_cnn.yaml
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=100 --set ledger.hash_every=4)
run() { # name, processes, config, args...
    local name=$1 n=$2 cfg=$3
    shift 3
    expect_exit 0 "$name" -- "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" --procs "$n" "$@"
}

m=(--set world.shards=4 --set max_steps=20)
run mlp.1 1 "$mlp" "${m[@]}"
run mlp.p2 2 "$mlp" "${m[@]}"
run mlp.p3 3 "$mlp" "${m[@]}" --set accum_steps=8 --set loader.workers=2
run mlp.p4 4 "$mlp" "${m[@]}" --set accum_steps=2 --set threads=2
run mlp.p2d 2 "$mlp" "${m[@]}" --set loader.on_device=on # the batches gathered in backend memory (the GPU's way)
for v in p2 p3 p4 p2d; do
    same_bits "MLP: 1 process vs $v" "$dir/mlp.1" "$dir/mlp.$v"
done
checks=$((checks + 1))
grep -q '"size":[[:space:]]*4' "$dir/mlp.p4/run.json" || fail "run.json of --procs 4 does not record world size 4"
checks=$((checks + 1))
[[ $(ls "$dir") == *mlp.p4* && -z $(ls -d "$dir"/*rank* 2>/dev/null) ]] || fail "a rank other than 0 wrote a run"

c=(--set world.shards=2 --set max_steps=4 --set ledger.hash_every=1)
run cnn.1 1 "$cnn" "${c[@]}"
run cnn.p2 2 "$cnn" "${c[@]}"
same_bits "CNN: 1 process vs 2" "$dir/cnn.1" "$dir/cnn.p2"

for to in 2 1; do
    run res.$to 4 "$mlp" "${m[@]}" --set checkpoint.every_steps=3 --stop-after 7
    expect_exit 0 "resume on $to" -- "$REPRO" train --resume "$dir/res.$to" --quiet --procs $to
    same_bits "4 processes stopped at 7, resumed on $to" "$dir/mlp.1" "$dir/res.$to"
done

rank_pid() { # rank, job: the pid of that rank among the job's children (forked in rank order)
    pgrep -P "$2" | sort -n | sed -n "$1p"
}
fault() { # name, signal, rank
    local name=$1 sig=$2 rank=$3
    signal_midrun "$name" "$sig" "$rank" "$dir/$name" 5 rank_pid -- env REPRO_TEST_LOADER_JITTER_US=3000 \
        REPRO_WORLD_TIMEOUT=4 "$REPRO" train "$mlp" --out "$dir/$name" "${common[@]}" "${m[@]}" --procs 4 \
        --set checkpoint.every_steps=2 --set loader.workers=1
    checks=$((checks + 1))
    [[ $fault_rc -eq 1 ]] || fail "$name: exit $fault_rc after rank $rank got SIG$sig, expected 1"
}
fault kill KILL 2
expect_err_contains "a killed rank: named" "rank 2 (pid "
expect_err_contains "a killed rank: its signal" "was killed by signal 9"
expect_err_contains "a killed rank: the step" "(host $(hostname)): step "
expect_err_contains "a killed rank: gone" "is gone (its connection closed"
fault hang STOP 1
expect_err_contains "a hung rank: named" "no answer from rank 1 within 4 s"
for name in kill hang; do
    expect_exit 0 "$name: resume on 3 processes" -- "$REPRO" train --resume "$dir/$name" --quiet --procs 3
    same_bits "$name: resumed on 3 processes" "$dir/mlp.1" "$dir/$name"
    # a rank killed mid-write leaves at most NAME.tmp.PID (never a torn file under a final name); the resume
    # removes it
    checks=$((checks + 1))
    ls "$dir/$name"/*.tmp.* >/dev/null 2>&1 && fail "$name: a temporary file is left after the resume: $(ls "$dir/$name")"
done

expect_exit 2 "2 processes without shards" -- "$REPRO" train "$mlp" --out "$dir/e1" "${common[@]}" --procs 2 \
    --set max_steps=2
expect_err_contains "2 processes without shards" "2 processes need world.shards"
expect_exit 2 "3 processes, 2 shards" -- "$REPRO" train "$mlp" --out "$dir/e2" "${common[@]}" --procs 3 \
    --set max_steps=2 --set world.shards=2
expect_err_contains "3 processes, 2 shards" "3 processes but world.shards is 2"
expect_exit 2 "REPRO_WORLD_EXCHANGE=bogus" -- env REPRO_WORLD_EXCHANGE=bogus "$REPRO" train "$mlp" --out "$dir/e3" \
    "${common[@]}" --procs 2 --set max_steps=2 --set world.shards=2
expect_err_contains "REPRO_WORLD_EXCHANGE=bogus" "REPRO_WORLD_EXCHANGE=bogus: expected auto, nccl or host"
expect_exit 2 "REPRO_WORLD_EXCHANGE=nccl on the CPU" -- env REPRO_WORLD_EXCHANGE=nccl "$REPRO" train "$mlp" \
    --out "$dir/e4" "${common[@]}" --procs 2 --set max_steps=2 --set world.shards=2
expect_err_contains "REPRO_WORLD_EXCHANGE=nccl on the CPU" "NCCL moves GPU memory, and this run is on the CPU"
expect_exit 2 "--procs 0" -- "$REPRO" train "$mlp" --procs 0
expect_err_contains "--procs 0" "--procs expects a number of processes in 1..64, got '0'"
finish
