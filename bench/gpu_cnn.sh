#!/usr/bin/env bash
# GPU speed of the conv nets (docs/cuda.md): training samples/s of
# examples/fashion_cnn.yaml and examples/fashion_resnet.yaml, repro exact
# against PyTorch on the same GPU in the same run: eager (deterministic
# algorithms, cudnn.deterministic, benchmark off, no TF32), eager with
# Adam(fused=True), torch.compile, and the whole step as one CUDA Graph
# (fused capturable Adam); repro is also divided by the best of them. repro's figure is
# the median over epochs 2.. of the epoch's samples/s (its step loop with
# the ledger); PyTorch's is its step loop over the same number of steps.
#   bash bench/gpu_cnn.sh REPRO [EPOCHS] [cnn|resnet ...]
# FASHION_DIR: the Fashion-MNIST folder; PYTHON: a python with torch.
set -uo pipefail
repro=${1:?usage: bench/gpu_cnn.sh REPRO [EPOCHS] [cnn|resnet ...]}
epochs=${2:-4}
shift 2 || shift $#
archs=("${@:-cnn}")
[[ $# -gt 0 ]] || archs=(cnn resnet)
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=(--set "data.train_images=$fashion/train-images-idx3-ubyte.gz"
      --set "data.train_labels=$fashion/train-labels-idx1-ubyte.gz"
      --set "data.test_images=$fashion/t10k-images-idx3-ubyte.gz"
      --set "data.test_labels=$fashion/t10k-labels-idx1-ubyte.gz")
steps=$((epochs * 468)) # 60000 samples / 128

repro_rate() { # arch [--set ...]
    local arch=$1
    shift
    "$repro" train "examples/fashion_$arch.yaml" --quiet --force --out "$tmp/$arch" "${data[@]}" \
        --set device=cuda --set epochs="$epochs" --set data.val_fraction=0 "$@" 2>"$tmp/$arch.err" ||
        { echo "FAILED: $(tail -n 2 "$tmp/$arch.err")"; return; }
    "$py" - "$tmp/$arch/metrics.jsonl" <<'PY'
import json, statistics, sys
rates = [json.loads(l)["samples_per_sec"] for l in open(sys.argv[1]) if '"samples_per_sec"' in l]
print(f"{statistics.median(rates[1:] or rates):.0f}")
PY
}
torch_rate() { # arch variant
    FASHION_DIR=$fashion "$py" bench/torch_cnn.py speed "$1" 1 "$steps" cuda "$2" 2>"$tmp/torch_$1_$2.err" |
        sed -n 's/.*"samples_per_sec": \([0-9.]*\).*/\1/p' | grep . ||
        echo "FAILED: $(tail -n 1 "$tmp/torch_$1_$2.err")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else print "-" }'; }

echo "GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1); PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
for arch in "${archs[@]}"; do
    r=$(repro_rate "$arch")
    e=$(torch_rate "$arch" eager)
    c=$(torch_rate "$arch" compile)
    f=$(torch_rate "$arch" fused)
    g=$(torch_rate "$arch" graphs)
    best=$(printf '%s\n' "$e" "$f" "$c" "$g" | grep -E '^[0-9.]+$' | sort -g | tail -n 1)
    echo "fashion_$arch, batch 128, $epochs epochs: samples/s"
    printf '  %-34s %10s\n' "repro exact" "$r"
    printf '  %-34s %10s   repro/that %s\n' "PyTorch eager (deterministic)" "$e" "$(ratio "$r" "$e")"
    printf '  %-34s %10s   repro/that %s\n' "PyTorch torch.compile" "$c" "$(ratio "$r" "$c")"
    printf '  %-34s %10s   repro/that %s\n' "PyTorch eager, Adam(fused=True)" "$f" "$(ratio "$r" "$f")"
    printf '  %-34s %10s   repro/that %s\n' "PyTorch whole-step CUDA Graph" "$g" "$(ratio "$r" "$g")"
    printf '  %-34s %10s   repro/that %s\n' "best PyTorch" "${best:--}" "$(ratio "$r" "${best:-0}")"
done
