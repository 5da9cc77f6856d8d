#!/usr/bin/env bash
# Every GPU check and benchmark in one go, on a machine with a CUDA GPU,
# from the repository root, after tools/gpu-bundle.sh made .gpu/ here:
#   bash tools/gpu-check.sh OUT_DIR [tests|ptx|bench|accuracy|all]
# ptx: the kernels JIT-compiled by the driver from the fatbinary's
# compute_80 PTX (CUDA_FORCE_PTX_JIT=1, as on a GPU newer than the machine
# code in it) give the golden hashes and pass the kernel tests.
# Each step's whole output goes to OUT_DIR/<step>.log; the console gets a
# line per step with its exit status and the log's last lines.
set -uo pipefail
out=${1:-/tmp/gpu-check}
what=${2:-all}
source .gpu/setup.sh
export REPRO_SOURCE_DIR=$PWD REPRO_TEST_TMP=/tmp/repro-tests
mkdir -p "$out" "$REPRO_TEST_TMP"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

step() { # name command...
    local name=$1
    shift
    local t0=$SECONDS
    "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "=== $name: exit $rc ($((SECONDS - t0)) s)"
    tail -n "${TAIL:-4}" "$out/$name.log"
}

if [[ $what == tests || $what == all ]]; then
    for t in test_cuda_ops test_rng_cuda test_math_cuda test_cuda_norm test_cuda_conv test_cuda_bf16 test_cuda_token test_cuda_attention test_node_ops; do
        step "$t" ".gpu/$t"
    done
    step golden_cuda env REPRO_GOLDEN_SET="--set device=cuda" bash tests/test_golden.sh
    step cuda_train bash tests/test_cuda_train.sh
    step cuda_cnn bash tests/test_cuda_cnn.sh
    step replay_cuda bash tests/test_replay_cuda.sh
    step text_lm bash tests/test_text_lm.sh
    step world_gpu bash tests/test_world_gpu.sh   # 1 vs 2 (vs 4) GPUs vs CPU (skipped without 2 GPUs)
    step cuda_resume bash tests/test_cuda_resume.sh
fi
if [[ $what == ptx || $what == all ]]; then
    if command -v cuobjdump >/dev/null; then
        TAIL=20 step ptx_list bash -c 'cuobjdump --list-ptx "$REPRO"; cuobjdump --list-elf "$REPRO"'
    else
        echo "=== ptx_list: cuobjdump not found; skipped"
    fi
    step ptx_golden_cuda env CUDA_FORCE_PTX_JIT=1 REPRO_GOLDEN_SET="--set device=cuda" bash tests/test_golden.sh
    for t in test_cuda_ops test_cuda_conv test_cuda_norm; do
        step "ptx_$t" env CUDA_FORCE_PTX_JIT=1 ".gpu/$t"
    done
fi
if [[ $what == bench || $what == all ]]; then
    TAIL=40 step conv_layers .gpu/test_cuda_conv --bench-only
    TAIL=12 step gpu_cnn bash bench/gpu_cnn.sh "$REPRO" 3 cnn resnet
    TAIL=8 step bf16_gemm .gpu/test_cuda_bf16 --bench
    TAIL=20 step gpu_mlp bash bench/gpu.sh "$REPRO" 4
    TAIL=8 step attention .gpu/test_cuda_attention --bench
    TAIL=14 step torch_attention python3 bench/torch_attention.py all
    TAIL=8 step gpu_transformer env FORTUNES_DIR="${REPRO_FORTUNES_DIR:-/usr/share/games/fortunes}" \
        bash bench/gpu_transformer.sh "$REPRO" 30 1   # the 6-layer d512 encoder vs PyTorch eager/compile
    TAIL=20 step world_gpu_bench bash bench/world_gpu.sh "$REPRO"   # samples/s on 1, 2 (and 4) GPUs, DDP peer
fi
if [[ $what == accuracy || $what == all ]]; then
    data=(--set "data.train_images=$FASHION_DIR/train-images-idx3-ubyte.gz"
          --set "data.train_labels=$FASHION_DIR/train-labels-idx1-ubyte.gz"
          --set "data.test_images=$FASHION_DIR/t10k-images-idx3-ubyte.gz"
          --set "data.test_labels=$FASHION_DIR/t10k-labels-idx1-ubyte.gz")
    for arch in cnn resnet; do
        step "accuracy_$arch" "$REPRO" train "examples/fashion_$arch.yaml" "${data[@]}" --set device=cuda \
            --out "$out/run_$arch" --force --json
        step "torch_accuracy_$arch" python3 bench/torch_cnn.py accuracy "$arch" 1 0 cuda
        rm -rf "$out/run_$arch"
    done
    step accuracy_vit "$REPRO" train examples/fashion_vit.yaml "${data[@]}" --set device=cuda \
        --out "$out/run_vit" --force --json
    rm -rf "$out/run_vit"
fi
