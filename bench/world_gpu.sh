#!/usr/bin/env bash
# Data parallel on GPUs (docs/parallel.md): samples/s of the conv net
# (examples/fashion_cnn.yaml; the ResNet's batch norm is one process only
# for now) at a global batch that keeps a GPU busy, on 1 GPU without shards,
# 1 GPU with 8 shards and 2 GPUs (--procs 2) with 8 shards; the share of the
# training time spent in the exact tree and exchange (run.json
# world.exchange_sec / world.train_sec); whether the 1- and 2-GPU weights
# agree; and the PyTorch DDP peer (bench/torch_ddp.py), whose weights differ.
#   bash bench/world_gpu.sh REPRO [BATCH] [STEPS]
set -euo pipefail
repro=${1:?usage: world_gpu.sh REPRO [BATCH] [STEPS]}
batch=${2:-1024}
steps=${3:-200}
here=$(cd "$(dirname "$0")" && pwd)
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
out=${REPRO_TEST_TMP:-/tmp}/world_gpu_bench
rm -rf "$out"
mkdir -p "$out"
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
data=(--set "data.train_images=$fashion/train-images-idx3-ubyte.gz" --set "data.train_labels=$fashion/train-labels-idx1-ubyte.gz"
      --set "data.test_images=$fashion/t10k-images-idx3-ubyte.gz" --set "data.test_labels=$fashion/t10k-labels-idx1-ubyte.gz")
common=(--quiet "${data[@]}" --set device=cuda --set batch_size=$batch --set max_steps=$steps --set epochs=1000
        --set ledger.hash_every=1000000 --set data.val_fraction=0 --set data.limit_test=1000)
run() { # name, args...
    local name=$1
    shift
    "$repro" train "$here/../examples/fashion_cnn.yaml" "${common[@]}" --out "$out/$name" "$@"
    python3 - "$out/$name/run.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w = r.get("world", {})
share = w["exchange_sec"] / w["train_sec"] if w.get("train_sec") else 0.0
print(json.dumps({"run": sys.argv[2], "samples_per_sec": round(r["final"]["samples_per_sec"], 1),
                  "processes": w.get("size", 1), "shards": w.get("shards", 0),
                  "exchange_share": round(share, 4), "params_sha256": r["final"]["params_sha256"]}))
PY
}
run g1_plain --set world.shards=0
run g1_shards --set world.shards=8
if [[ ${gpus:-0} -ge 2 ]]; then
    run g2_shards --set world.shards=8 --procs 2
    a=$(python3 -c "import json;print(json.load(open('$out/g1_shards/run.json'))['final']['params_sha256'])")
    b=$(python3 -c "import json;print(json.load(open('$out/g2_shards/run.json'))['final']['params_sha256'])")
    echo "{\"framework\": \"repro\", \"same_weights_1_vs_2_gpus\": $([[ $a == "$b" ]] && echo true || echo false)}"
    python3 "$here/torch_ddp.py" "$batch" "$steps" 1 2
else
    echo "(one GPU: the 2-GPU runs are skipped)"
    python3 "$here/torch_ddp.py" "$batch" "$steps" 1
fi
