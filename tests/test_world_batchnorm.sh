#!/usr/bin/env bash
# Batch norm over processes (docs/parallel.md): its running statistics are
# updated group by group in sample order; with world.shards set, 2, 3 and 4
# processes (`--procs`, and `mpirun` when this build has MPI) replay every
# rank's groups in that order, so they give the one process's ledger,
# params_sha256, running statistics (model.safetensors' tensors) and
# evaluations (which read the running statistics), across an epoch end and
# its short tail (remainder groups), with accumulation and loader workers;
# a 2-process run stopped mid-way resumes on 1 and on 3 with the same bits.
# Small data, a small net with three batch norms (conv and dense, groups of
# 4, 2 and 8), few steps (2 cores).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/world_batchnorm
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 1200 200 # 1080 training samples: 16 steps of 64 and a tail of 56 (shards of 14)

cfg=$dir/bn.yaml
cat >"$cfg" <<'YAML'
seed: 7
epochs: 100
batch_size: 64
data: {format: idx, scale: 0.00392156862745098, val_fraction: 0.1}
model:
  input_shape: [1, 28, 28]
  nodes:
    - {name: conv1, type: conv2d, out: 6, kernel: 3, padding: 1, bias: false}
    - {name: bn1, type: batch_norm, group_size: 4}
    - {name: relu1, type: relu}
    - {name: pool1, type: max_pool2d, kernel: 2}
    - {name: conv2, type: conv2d, out: 8, kernel: 3, stride: 2, padding: 1, bias: false}
    - {name: bn2, type: batch_norm, group_size: 2, momentum: 0.3}
    - {name: relu2, type: relu}
    - {name: flat, type: flatten}
    - {name: fc1, type: linear, out: 32}
    - {name: bn3, type: batch_norm, group_size: 8}
    - {name: relu3, type: relu}
    - {name: fc2, type: linear, out: 10}
  heads:
    - {name: class, input: fc2, loss: cross_entropy}
optim: {name: adam, lr: 1.0e-3}
YAML
common=(--quiet "${SMALL_DATA[@]}" --set ledger.hash_every=4 --set world.shards=4 --set max_steps=20)
run() { # name, launcher..., -- , args...
    local name=$1
    shift
    expect_exit 0 "$name" -- "$@" --out "$dir/$name" "${common[@]}"
}

# the tensors of model.safetensors (parameters and running statistics),
# without its header (which names the config)
tensors_sha() {
    local f=$1/model.safetensors n
    n=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
    tail -c +$((n + 9)) "$f" | sha256sum | cut -d' ' -f1
}
evals() { # every epoch's evaluations (they read the running statistics)
    sed 's/.*\("val_loss":[^,]*,"val_accuracy":[^,]*\).*\("test_loss":[^,]*\).*/\1 \2/' "$1/metrics.jsonl"
}
same_bn() { # name, run a, run b
    same_bits "$1" "$2" "$3"
    checks=$((checks + 1))
    [[ $(tensors_sha "$2") == "$(tensors_sha "$3")" ]] || fail "$1: running statistics or weights differ"
    checks=$((checks + 1))
    [[ $(evals "$2") == "$(evals "$3")" && $(wc -l <"$2/metrics.jsonl") -ge 2 ]] ||
        fail "$1: evaluations differ: $(diff <(evals "$2") <(evals "$3") | head -n 4)"
}

run one "$REPRO" train "$cfg"
checks=$((checks + 1))
# every running statistic moved from its start (mean 0, var 1): the comparisons compare something
/usr/bin/python3 - "$dir/one/model.safetensors" <<'PY' || fail "running statistics missing or never updated"
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
head, data = json.loads(blob[8:8 + n]), blob[8 + n:]
names = [k for k in head if ".running_" in k]
assert len(names) == 6, names
for k in names:
    lo, hi = head[k]["data_offsets"]
    start = 0.0 if k.endswith("mean") else 1.0
    vals = struct.unpack(f"<{(hi - lo) // 4}f", data[lo:hi])
    assert all(v != start for v in vals), (k, vals)
PY
run p2 "$REPRO" train "$cfg" --procs 2
run p3 "$REPRO" train "$cfg" --procs 3 --set accum_steps=8 --set loader.workers=2
run p4 "$REPRO" train "$cfg" --procs 4 --set accum_steps=2
run p2d "$REPRO" train "$cfg" --procs 2 --set loader.on_device=on
for v in p2 p3 p4 p2d; do
    same_bn "batch norm: 1 process vs $v" "$dir/one" "$dir/$v"
done

for to in 1 3; do
    run res.$to "$REPRO" train "$cfg" --procs 2 --set checkpoint.every_steps=3 --stop-after 7
    expect_exit 0 "resume on $to" -- "$REPRO" train --resume "$dir/res.$to" --quiet --procs $to
    same_bn "batch norm: 2 processes stopped at 7, resumed on $to" "$dir/one" "$dir/res.$to"
done

if command -v mpirun >/dev/null && ldd "$REPRO" 2>/dev/null | grep -q libmpi; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    for n in 2 3; do
        run mpi.$n mpirun -n $n "$REPRO" train "$cfg"
        same_bn "batch norm: 1 process vs mpirun -n $n" "$dir/one" "$dir/mpi.$n"
    done
    run mpi.res mpirun -n 3 "$REPRO" train "$cfg" --set checkpoint.every_steps=3 --stop-after 7
    expect_exit 0 "mpirun: resume on 2" -- mpirun -n 2 "$REPRO" train --resume "$dir/mpi.res" --quiet
    same_bn "batch norm: mpirun -n 3 stopped at 7, resumed on mpirun -n 2" "$dir/one" "$dir/mpi.res"
else
    echo "note: no mpirun or no MPI in this build: the mpirun runs are skipped"
fi
finish
