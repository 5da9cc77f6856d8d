#!/usr/bin/env bash
# The reproducibility axes, side by side: PyTorch (Debian's python3-torch,
# bench/torch_axes.py) and repro (`repro verify`) train the same Fashion-MNIST
# MLP with dropout and noise augmentation under each variation and say
# whether the final weights are bit-identical to the baseline.
#   bash bench/axes.sh BUILD_DIR [STEPS] [SAMPLES]
set -euo pipefail
build=${1:-build}
steps=${2:-60}
samples=${3:-6000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== PyTorch"
/usr/bin/python3 bench/torch_axes.py "$steps" "$samples" 2>/dev/null
echo
echo "== repro"
"$build/repro" verify examples/fashion_mlp.yaml --out "$out/verify" --max-steps "$steps" \
    --set data.limit_train="$samples" --set data.limit_test=500 --set data.val_fraction=0 \
    --set augment.noise_p=1 --set augment.noise_std=0.1 \
    --vary threads=1,2 --vary loader.workers=0,2,3 --vary accum_steps=1,4 --resume-at $((steps / 2))
