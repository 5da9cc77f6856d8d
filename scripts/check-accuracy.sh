#!/usr/bin/env bash
# `make accuracy` / `make accuracy-cnn`: trains an example for its full 10
# epochs and checks the final test accuracy against its target:
#   fashion_mlp >= 0.870 (PyTorch 1.13: 0.882 with the same setup, bench/torch_mlp.py accuracy 1)
#   fashion_cnn >= 0.915 (PyTorch: bench/torch_cnn.py accuracy cnn; docs/performance.md)
#   bash scripts/check-accuracy.sh BUILD_DIR [THREADS] [EXAMPLE] [--set KEY=VALUE ...]
set -euo pipefail
build=${1:-build}
threads=${2:-$(nproc)}
example=${3:-fashion_mlp}
shift 3 || shift $#
case $example in
fashion_mlp) target=0.870 ;;
fashion_cnn) target=0.915 ;;
*) echo "check-accuracy: no target for $example" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$build/repro" train "examples/$example.yaml" --out "$out/run" --set threads="$threads" "$@" --json | tee "$out/log"
acc=$(sed -n 's/.*"event":"done".*"test_accuracy":\([0-9.e-]*\).*/\1/p' "$out/log")
if [[ -z "$acc" ]]; then
    echo "accuracy: no test_accuracy in the output" >&2
    exit 1
fi
if awk -v a="$acc" -v t="$target" 'BEGIN { exit !(a >= t) }'; then
    echo "accuracy: $example test_accuracy $acc >= $target: ok"
else
    echo "accuracy: $example test_accuracy $acc < $target: FAILED" >&2
    exit 1
fi
