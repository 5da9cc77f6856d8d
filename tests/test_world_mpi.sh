#!/usr/bin/env bash
# Data parallel over processes (docs/parallel.md): with world.shards set,
# `mpirun -n 1/2/3/4/8` give the ledger and params_sha256 of the
# single-process run, on the MLP (dropout, accumulation, loader workers) and
# the conv net; a 4-process run stopped mid-way resumes on 2 processes and on
# 1 with the same bits; a rank killed with SIGKILL or stopped (a hang)
# stops every rank with a message naming it, nothing torn on disk, and the
# run resumes on another world size with the same bits. Skipped without
# mpirun or without MPI in this build. Small data, few steps (2 cores).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
if ! command -v mpirun >/dev/null || ! ldd "$REPRO" 2>/dev/null | grep -q libmpi; then
    echo "SKIPPED: no mpirun, or repro built without MPI (REPRO_MPI)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# under ASan: Open MPI's own allocations at MPI_Init are not freed at exit (not ours)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
dir=$REPRO_TEST_TMP/world_mpi
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 1200 200 # 1080 training samples: 16 steps of 64 and a tail of 56

mlp=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
cnn=$REPRO_SOURCE_DIR/examples/fashion_cnn.yaml
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=100 --set ledger.hash_every=4)
run() { # name, processes (0: no mpirun), config, args...
    local name=$1 n=$2 cfg=$3
    shift 3
    if [[ $n -eq 0 ]]; then
        expect_exit 0 "$name" -- "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" "$@"
    else
        expect_exit 0 "$name" -- mpirun -n "$n" "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" "$@"
    fi
}

# the MLP (dropout 0.3), 8 shards, across an epoch end and its short tail
m=(--set world.shards=8 --set max_steps=20 --set augment.noise_p=0.5 --set augment.noise_std=0.1)
run mlp.1 0 "$mlp" "${m[@]}"
for n in 1 2 3 4 8; do
    run mlp.n$n $n "$mlp" "${m[@]}"
    same_bits "MLP: 1 process vs mpirun -n $n" "$dir/mlp.1" "$dir/mlp.n$n"
done
checks=$((checks + 1))
grep -q '"size":[[:space:]]*8' "$dir/mlp.n8/run.json" || fail "run.json of mpirun -n 8 does not record world size 8"
# micro-batches inside shards (accum 8: 2 per shard), loader workers, and
# accumulation still never shows
a=(--set world.shards=4 --set max_steps=20)
run acc.1 0 "$mlp" "${a[@]}"
run acc.a8 0 "$mlp" "${a[@]}" --set accum_steps=8
run acc.n4 4 "$mlp" "${a[@]}" --set accum_steps=8 --set loader.workers=2
run acc.n2 2 "$mlp" "${a[@]}" --set accum_steps=2 --set loader.workers=1
same_bits "MLP shards 4: accum 1 vs accum 8" "$dir/acc.1" "$dir/acc.a8"
same_bits "MLP shards 4: 1 process vs mpirun -n 4, accum 8, 2 workers" "$dir/acc.1" "$dir/acc.n4"
same_bits "MLP shards 4: 1 process vs mpirun -n 2, accum 2, 1 worker" "$dir/acc.1" "$dir/acc.n2"

# the conv net (dropout 0.3), 4 shards
c=(--set world.shards=4 --set max_steps=5 --set ledger.hash_every=1)
run cnn.1 0 "$cnn" "${c[@]}"
for n in 2 4; do
    run cnn.n$n $n "$cnn" "${c[@]}"
    same_bits "CNN: 1 process vs mpirun -n $n" "$dir/cnn.1" "$dir/cnn.n$n"
done

# stop a 4-process run mid-epoch; resume it on 2 processes and on 1
for to in 2 0; do
    run res.$to 4 "$mlp" "${m[@]}" --set checkpoint.every_steps=3 --stop-after 7
    if [[ $to -eq 0 ]]; then
        expect_exit 0 "resume on 1 process" -- "$REPRO" train --resume "$dir/res.$to" --quiet
    else
        expect_exit 0 "resume on $to processes" -- mpirun -n $to "$REPRO" train --resume "$dir/res.$to" --quiet
    fi
    same_bits "4 processes stopped at 7, resumed on ${to/0/1}" "$dir/mlp.1" "$dir/res.$to"
done

# a rank that dies (SIGKILL) or hangs (SIGSTOP) mid-run
rank_pid() { # the pid of rank $1 of the mpirun whose run writes $2
    local p
    for p in $(pgrep -x repro); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$1" &&
            tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q -- "$2"; then
            echo "$p"
            return
        fi
    done
}
rank_of_run() { # rank, job, run dir: the pid of that rank of the mpirun writing the run dir
    rank_pid "$1" "$3"
}
fault() { # name, signal, rank
    local name=$1 sig=$2 rank=$3
    signal_midrun "$name" "$sig" "$rank" "$dir/$name" 5 rank_of_run -- env REPRO_TEST_LOADER_JITTER_US=3000 \
        REPRO_WORLD_TIMEOUT=4 mpirun -n 4 "$REPRO" train "$mlp" --out "$dir/$name" "${common[@]}" "${m[@]}" \
        --set checkpoint.every_steps=2 --set loader.workers=1
    checks=$((checks + 1))
    [[ $fault_rc -ne 0 ]] || fail "$name: mpirun exited 0 after rank $rank got SIG$sig"
}
fault kill KILL 2
expect_err_contains "a killed rank" "rank 2"
fault hang STOP 1
expect_err_contains "a hung rank: named" "no answer from rank 1"
expect_err_contains "a hung rank: the step" "step "
for name in kill hang; do
    expect_exit 0 "$name: resume on 3 processes" -- mpirun -n 3 "$REPRO" train --resume "$dir/$name" --quiet
    same_bits "$name: resumed on 3 processes" "$dir/mlp.1" "$dir/$name"
    # a rank killed mid-write leaves at most NAME.tmp.PID (never a torn file under a final name); the resume
    # removes it
    checks=$((checks + 1))
    ls "$dir/$name"/*.tmp.* >/dev/null 2>&1 && fail "$name: a temporary file is left after the resume: $(ls "$dir/$name")"
done

# what cannot be done, said with the numbers
expect_exit 1 "2 processes without shards" -- mpirun -n 2 "$REPRO" train "$mlp" --out "$dir/e1" "${common[@]}" \
    --set max_steps=2
expect_err_contains "2 processes without shards" "2 processes need world.shards"
expect_exit 1 "3 processes, 2 shards" -- mpirun -n 3 "$REPRO" train "$mlp" --out "$dir/e2" "${common[@]}" \
    --set max_steps=2 --set world.shards=2
expect_err_contains "3 processes, 2 shards" "3 processes but world.shards is 2"
expect_exit 2 "shards that do not divide the batch" -- "$REPRO" train "$mlp" --out "$dir/e3" "${common[@]}" \
    --set world.shards=3
expect_err_contains "shards that do not divide the batch" "world.shards (3) must divide batch_size (64)"
finish
