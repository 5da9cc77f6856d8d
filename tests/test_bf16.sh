#!/bin/bash
# precision: bf16 (docs/bf16.md): the tensor core's arithmetic on the CPU.
# The bits do not depend on threads, loader workers, accumulation split,
# resuming or ISA path (tests/test_golden.sh pins them, and the GPU's on the device);
# they differ from fp32; run.json records the precision; bad input is a
# config error naming the numbers.
source "$(dirname "$0")/lib.sh"
need_fashion
set -e
T="$REPRO_TEST_TMP/bf16"
rm -rf "$T"
mkdir -p "$T"
cat > "$T/small.yaml" <<YAML
seed: 5
epochs: 2
max_steps: 12
batch_size: 64
precision: bf16
data:
  format: idx
  train_images: $FASHION/train-images-idx3-ubyte.gz
  train_labels: $FASHION/train-labels-idx1-ubyte.gz
  limit_train: 600
  val_fraction: 0.1
augment: {noise_p: 0.5, noise_std: 0.1}
model:
  trunk: [{type: linear, out: 48}, {type: relu}, {type: dropout, p: 0.2}, {type: linear, out: 24}, {type: gelu}]
  heads: [{name: class, layers: [{type: linear, out: 10}]}]
YAML
run() { # run NAME overrides...
    local name=$1
    shift
    expect_exit 0 "$name" -- "$REPRO" train "$T/small.yaml" --quiet --out "$T/$name" "$@"
}
run base --set threads=1
base=$(params_sha "$T/base")
for v in "threads=3" "accum_steps=4" "loader.workers=2" "eval_batch_size=7"; do
    run "${v//[=.]/_}" --set "$v" --set threads=2
    checks=$((checks + 1))
    [[ $(params_sha "$T/${v//[=.]/_}") == "$base" ]] || fail "bf16: $v changed params_sha256"
done
# stop mid-epoch, resume: the bits of never stopping
run stopped --set threads=2 --stop-after 7
expect_exit 0 "resume" -- "$REPRO" train --resume "$T/stopped" --quiet
checks=$((checks + 1))
[[ $(params_sha "$T/stopped") == "$base" ]] || fail "bf16: stop at 7 and resume changed params_sha256"
run fp32 --set precision=fp32
checks=$((checks + 1))
[[ $(params_sha "$T/fp32") != "$base" ]] || fail "bf16 and fp32 gave the same bits: bf16 is not in effect"
checks=$((checks + 1))
grep -q '"precision":[[:space:]]*"bf16"' "$T/base/run.json" || fail "run.json does not record precision: bf16"

# micro-batches must cut the batch on the tensor core's blocks of 16
expect_exit 2 "micro-batch of 8" -- "$REPRO" train "$T/small.yaml" --set accum_steps=8 --out "$T/bad1" --quiet
expect_err_contains "micro-batch" "accum_steps (8): with precision: bf16 the micro-batch (batch_size 64 / accum_steps 8 = 8) must be a multiple of 16, the tensor core's block of products"
checks=$((checks + 1))
[[ ! -e "$T/bad1" ]] || fail "a refused run wrote $T/bad1"
expect_exit 2 "unknown precision" -- "$REPRO" train "$T/small.yaml" --set precision=fp16 --out "$T/bad2" --quiet
expect_err_contains "precision names" "fp32, bf16"
expect_exit 2 "bf16 with mode fast" -- "$REPRO" train "$T/small.yaml" --set mode=fast --set determinism=warn --out "$T/bad3" --quiet
expect_err_contains "bf16 fast" "precision: bf16 is an exact mode of its own"
finish
