#!/usr/bin/env bash
# GPU speed (docs/cuda.md): Fashion-MNIST MLP training samples/s, repro
# exact and fast against PyTorch eager (deterministic, no TF32), eager with
# the fused Adam, torch.compile (plain and with CUDA Graphs) and the whole
# step captured in one CUDA Graph (fused capturable Adam), on the same GPU,
# in the same run; each repro row is also divided by the best of them. repro's figure is the
# median over epochs 2.. of the epoch's samples/s (its step loop with the
# ledger: every step's loss read back, parameter and optimiser hashes every
# 50 steps); PyTorch's is its step loop over the same number of steps.
#   bash bench/gpu.sh REPRO [EPOCHS]
# FASHION_DIR: the Fashion-MNIST folder; PYTHON: a python with torch.
set -uo pipefail
repro=${1:?usage: bench/gpu.sh REPRO [EPOCHS]}
epochs=${2:-6}
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=(--set "data.train_images=$fashion/train-images-idx3-ubyte.gz"
      --set "data.train_labels=$fashion/train-labels-idx1-ubyte.gz"
      --set "data.test_images=$fashion/t10k-images-idx3-ubyte.gz"
      --set "data.test_labels=$fashion/t10k-labels-idx1-ubyte.gz")
steps=$((epochs * 234)) # 60000 samples / 256; PyTorch warms up one epoch more

repro_rate() { # name [--set ...]: the median epoch samples/s (epochs 2..)
    local name=$1
    shift
    "$repro" train examples/fashion_mlp.yaml --quiet --force --out "$tmp/$name" "${data[@]}" \
        --set device=cuda --set epochs="$epochs" --set data.val_fraction=0 "$@" 2>"$tmp/$name.err" ||
        { echo "FAILED: $(tail -n 2 "$tmp/$name.err")"; return; }
    "$py" - "$tmp/$name/metrics.jsonl" <<'PY'
import json, statistics, sys
rates = [json.loads(l)["samples_per_sec"] for l in open(sys.argv[1]) if '"samples_per_sec"' in l]
print(f"{statistics.median(rates[1:] or rates):.0f}")
PY
}
torch_rate() { # variant [precision]
    FASHION_DIR=$fashion "$py" bench/torch_mlp.py 1 "$steps" cuda "$1" "${2:-fp32}" 2>"$tmp/torch_$1_${2:-fp32}.err" |
        sed -n 's/.*"samples_per_sec": \([0-9.]*\).*/\1/p' | grep . ||
        echo "FAILED: $(tail -n 1 "$tmp/torch_$1_${2:-fp32}.err")"
}

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /'
echo "Fashion-MNIST MLP 784-256-256-10, dropout 0.3, Adam, batch 256; $epochs epochs ($steps steps)"
declare -A rate
rate[exact]=$(repro_rate exact)
rate[exact_nographs]=$(REPRO_CUDA_GRAPHS=0 repro_rate exact_nographs)
rate[exact_loader]=$(repro_rate exact_loader --set loader.on_device=off --set loader.workers=4 --set loader.prefetch=8)
rate[fast]=$(repro_rate fast --set mode=fast)
rate[fast_tf32]=$(repro_rate fast_tf32 --set mode=fast --set allow_tf32=true)
rate[eager]=$(torch_rate eager)
rate[fused]=$(torch_rate fused)
rate[compile]=$(torch_rate compile)
rate[graphs]=$(torch_rate compile-graphs)
rate[graph]=$(torch_rate graph)
best_of() { # keys... -> the best rate among them, and its key
    local best=0 name=none k v
    for k in "$@"; do
        v=${rate[$k]}
        [[ $v == FAILED* || -z $v ]] && continue
        if awk -v a="$v" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$v name=$k; fi
    done
    echo "$best $name"
}
read -r best best_name < <(best_of eager fused compile graphs graph)
rate[bf16]=$(repro_rate bf16 --set precision=bf16)
rate[eager_bf16]=$(torch_rate eager bf16)
rate[compile_bf16]=$(torch_rate compile bf16)
torch_version=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null)
row() { # label key
    local v=${rate[$2]}
    if [[ $v == FAILED* ]]; then
        printf '| %-52s | %s |\n' "$1" "$v"
        return
    fi
    local e=${rate[eager]} c=${rate[compile]} g=${rate[graphs]}
    ratio() { [[ $2 == FAILED* || -z $2 || $2 == 0 ]] && echo "-" || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
    printf '| %-52s | %12.0f | %9s | %9s | %9s | %9s |\n' "$1" "$v" "$(ratio "$v" "$e")" "$(ratio "$v" "$c")" \
        "$(ratio "$v" "$g")" "$(ratio "$v" "$best")"
}
printf '| %-52s | %12s | %9s | %9s | %9s | %9s |\n' "run" "samples/s" "/ eager" "/ compile" "/ graphs" "/ best"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "--------------" "-----------" "-----------" "-----------" \
    "-----------"
row "repro exact (batches gathered on the GPU)" exact
row "repro exact, steps not as CUDA Graphs" exact_nographs
row "repro exact, host loader (4 workers)" exact_loader
row "repro fast (cuBLAS FP32, atomics; not reproducible)" fast
row "repro fast + allow_tf32 (not reproducible)" fast_tf32
row "PyTorch $torch_version eager (deterministic, no TF32)" eager
row "PyTorch eager, Adam(fused=True)" fused
row "PyTorch torch.compile (model + optimizer step)" compile
row "PyTorch torch.compile mode=reduce-overhead (graphs)" graphs
row "PyTorch whole step as one CUDA Graph (capturable Adam)" graph
echo "/ best: against the best PyTorch fp32 variant ($best_name)"
echo
echo "bf16 (ratios against the bf16 peers: / eager = autocast eager, / compile = autocast compile)"
rate[eager]=${rate[eager_bf16]} rate[compile]=${rate[compile_bf16]} rate[graphs]=FAILED
read -r best best_name < <(best_of eager_bf16 compile_bf16)
row "repro precision: bf16 (tensor cores, exact, = the CPU's bits)" bf16
row "PyTorch autocast bf16 eager" eager_bf16
row "PyTorch autocast bf16 torch.compile" compile_bf16
