#!/usr/bin/env bash
# repro vs PyTorch on the GPU: the guides' encoder size
# (examples/transformer_6l_512d.yaml: 6 layers, d_model 512, 8 heads, causal
# char LM, context 256, batch 32, FP32 with no TF32) in the same run on the
# same GPU: training tokens/s.
#   bash bench/gpu_transformer.sh REPRO [STEPS] [RUNS]
# repro's figure is STEPS * 32 * 256 tokens over the difference of
# train_seconds between a run of WARM + STEPS steps and one of WARM steps
# (validation and checkpoints off: start-up and the end cancel); PyTorch's
# (bench/torch_transformer.py) is its step loop timed after WARM steps, in
# each mode: eager with deterministic algorithms, eager without them, eager
# with Adam(fused=True), torch.compile, and the whole step as one CUDA Graph
# (fused capturable Adam); repro is also divided by the best of them. Each
# figure is the median of RUNS (default 3). MODES="eager compile ..." picks
# PyTorch's modes (default all five). PRECISION=bf16 runs repro with
# precision: bf16 and PyTorch under autocast bf16 (fp32 master weights both).
# FORTUNES_DIR moves the corpus; PYTHON names the interpreter with PyTorch.
set -euo pipefail
repro=${1:?usage: gpu_transformer.sh REPRO [STEPS] [RUNS]}
steps=${2:-30}
runs=${3:-3}
warm=10
py=${PYTHON:-python3}
precision=${PRECISION:-fp32}
export PRECISION=$precision
fortunes=${FORTUNES_DIR:-/usr/share/games/fortunes}
export FORTUNES_DIR=$fortunes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! compgen -G "$fortunes/*.u8" >/dev/null; then
    echo "bench/gpu_transformer.sh: no $fortunes/*.u8 (apt-get install fortunes, or set FORTUNES_DIR)" >&2
    exit 2
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
train_seconds() { # steps -> train_seconds of a run of that many steps
    "$repro" train examples/transformer_6l_512d.yaml --json --force --out "$tmp/run" --set device=cuda \
        --set precision="$precision" --set max_steps="$1" --set data.train_text="$fortunes/*.u8" --set data.val_fraction=0 \
        --set checkpoint.every_epoch=false --set checkpoint.every_seconds=0 |
        sed -n 's/.*"event":"done".*"train_seconds":\([0-9.]*\).*/\1/p'
}
repro_rate() {
    local a b
    for _ in $(seq "$runs"); do
        a=$(train_seconds "$warm")
        b=$(train_seconds $((warm + steps)))
        awk -v a="$a" -v b="$b" -v s="$steps" 'BEGIN { print s * 32 * 256 / (b - a) }'
    done | median
}
torch_rate() { # mode -> tokens/s
    for _ in $(seq "$runs"); do
        "$py" bench/torch_transformer.py "$1" "$steps" "$warm" | sed -n 's/.*"tokens_per_sec": \([0-9.]*\).*/\1/p'
    done | median
}

if [[ $precision == bf16 ]]; then
    what="bf16 (repro precision: bf16, exact; PyTorch autocast bf16)"
else
    what="FP32 (no TF32)"
fi
echo "6-layer d512 encoder char LM (examples/transformer_6l_512d.yaml), batch 32 x 256 tokens, $what:"
echo "training tokens/s over $steps steps after $warm, median of $runs runs"
echo "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); peer: PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
r=$(repro_rate)
printf '%-28s %12.0f\n' "repro (exact)" "$r"
best=0
for mode in ${MODES:-eager eager-nondet fused compile graphs}; do
    p=$(torch_rate "$mode")
    if [[ -z $p ]]; then
        printf '%-28s %12s\n' "pytorch $mode" "failed"
        continue
    fi
    printf '%-28s %12.0f   repro / it: %.2f\n' "pytorch $mode" "$p" "$(awk -v a="$r" -v b="$p" 'BEGIN { print a / b }')"
    best=$(awk -v a="$p" -v b="$best" 'BEGIN { print (a > b) ? a : b }')
done
printf '%-28s %12.0f   repro / it: %.2f\n' "best pytorch" "$best" "$(awk -v a="$r" -v b="$best" 'BEGIN { print (b > 0 ? a / b : 0) }')"
