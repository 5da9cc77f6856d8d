#!/usr/bin/env bash
# Data parallel on GPUs (docs/parallel.md), for each model (the conv net
# examples/fashion_cnn.yaml, the residual net examples/fashion_resnet.yaml
# with its batch norms) at a global batch that keeps a GPU busy:
#   samples/s on 1 GPU without shards, on 1 GPU with S shards, and on 2 GPUs
#   (--procs 2) with S shards exchanging through NCCL and through host memory
#   (and on 4 GPUs through NCCL, when the host has 4);
#   the 2- (and 4-) GPU scaling against 1 GPU with the same shards (the same bits);
#   the share of the training time spent in the exact tree and its exchange
#   (run.json world.exchange_sec / world.train_sec), and that time per step
#   beside a plain NCCL all-reduce of the same gradient (bench/torch_ddp.py
#   allreduce: what a non-exact exchange costs);
#   whether the 1- and 2-GPU weights agree;
#   the PyTorch DDP peer (bench/torch_ddp.py: same model, global batch,
#   Adam) at 1, 2, again 2 (and 4) GPUs, whose weights differ between 1 and 2.
# samples/s is the steady state: each run trains EPOCHS epochs of
# EPOCH_STEPS steps (data.limit_train) and reports the median of its
# epochs' rates after the first (metrics.jsonl), so start-up, the CUDA
# modules' first loads and NCCL's connections are left out, as the peer's
# warm-up is.
#   bash bench/world_gpu.sh REPRO [BATCH] [EPOCH_STEPS] [EPOCHS] [SHARDS] [MODELS...]
#   (default 1024 30 4 8 cnn resnet)
set -euo pipefail
repro=${1:?usage: world_gpu.sh REPRO [BATCH] [EPOCH_STEPS] [EPOCHS] [SHARDS] [MODELS...]}
batch=${2:-1024}
epoch_steps=${3:-30}
epochs=${4:-4}
shards=${5:-8}
steps=$((epoch_steps * epochs))
shift $(($# < 5 ? $# : 5))
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(cnn resnet)
here=$(cd "$(dirname "$0")" && pwd)
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
out=${REPRO_TEST_TMP:-/tmp}/world_gpu_bench
rm -rf "$out"
mkdir -p "$out"
export NCCL_NVLS_ENABLE=0
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
data=(--set "data.train_images=$fashion/train-images-idx3-ubyte.gz" --set "data.train_labels=$fashion/train-labels-idx1-ubyte.gz"
      --set "data.test_images=$fashion/t10k-images-idx3-ubyte.gz" --set "data.test_labels=$fashion/t10k-labels-idx1-ubyte.gz")
common=(--quiet "${data[@]}" --set device=cuda --set batch_size=$batch --set epochs=$epochs
        --set data.limit_train=$((batch * epoch_steps)) --set ledger.hash_every=1000000 --set data.val_fraction=0
        --set data.limit_test=1000)
summary() { # run dir, name, model -> one JSON line
    python3 - "$1" "$2" "$3" "$steps" <<'PY'
import json, statistics, struct, sys
run, name, model, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r = json.load(open(run + "/run.json"))
rates = [json.loads(l)["samples_per_sec"] for l in open(run + "/metrics.jsonl") if '"samples_per_sec"' in l]
with open(run + "/model.safetensors", "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
params = sum(int(__import__("math").prod(t["shape"])) for k, t in header.items() if k != "__metadata__"
             and "running" not in k)
w = r.get("world", {})
share = w["exchange_sec"] / w["train_sec"] if w.get("train_sec") else 0.0
print(json.dumps({"model": model, "run": name, "samples_per_sec": round(statistics.median(rates[1:] or rates), 1),
                  "processes": w.get("size", 1), "shards": w.get("shards", 0),
                  "exchange_share": round(share, 4),
                  "exchange_ms_per_step": round(1e3 * w.get("exchange_sec", 0.0) / steps, 3),
                  "gradient_exchange": w.get("gradient_exchange", ""), "params": params,
                  "params_sha256": r["final"]["params_sha256"]}))
PY
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
for model in "${models[@]}"; do
    cfg=$here/../examples/fashion_$model.yaml
    run() { # name, args...
        local name=$1
        shift
        "$repro" train "$cfg" "${common[@]}" --out "$out/$model.$name" "$@"
        summary "$out/$model.$name" "$name" "$model"
    }
    run g1_plain --set world.shards=0
    one=$(run g1_shards --set world.shards=$shards)
    echo "$one"
    if [[ ${gpus:-0} -lt 2 ]]; then
        echo "(one GPU: the 2-GPU runs are skipped)"
        continue
    fi
    two=$(run g2_nccl --set world.shards=$shards --procs 2)
    echo "$two"
    REPRO_WORLD_EXCHANGE=host run g2_host --set world.shards=$shards --procs 2
    four=$two # without 4 GPUs the 4-GPU figures repeat the 2-GPU run's and are left out
    ddp_worlds=(1 2 2)
    if [[ $gpus -ge 4 ]]; then
        four=$(run g4_nccl --set world.shards=$shards --procs 4)
        echo "$four"
        ddp_worlds=(1 2 2 4)
    fi
    python3 - "$one" "$two" "$four" <<'PY'
import json, sys
one, two, four = (json.loads(a) for a in sys.argv[1:4])
line = {"framework": "repro", "model": one["model"],
        "scaling_2_vs_1_gpu": round(two["samples_per_sec"] / one["samples_per_sec"], 3),
        "same_weights_1_vs_2_gpus": one["params_sha256"] == two["params_sha256"]}
if four["processes"] == 4:
    line["scaling_4_vs_1_gpu"] = round(four["samples_per_sec"] / one["samples_per_sec"], 3)
    line["same_weights_1_vs_4_gpus"] = one["params_sha256"] == four["params_sha256"]
print(json.dumps(line))
PY
    params=$(field "$one" params)
    python3 "$here/torch_ddp.py" allreduce "$params" 200 2
    if [[ $gpus -ge 4 ]]; then python3 "$here/torch_ddp.py" allreduce "$params" 200 4; fi
    python3 "$here/torch_ddp.py" "$model" "$batch" "$((steps + 10))" "${ddp_worlds[@]}" # + its 10 warm-up steps
done
