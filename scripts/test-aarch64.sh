#!/usr/bin/env bash
# make test-aarch64: repro cross-built for Linux aarch64 (NEON path) and run
# under qemu's user-mode emulator on an x86-64 Debian host. No aarch64
# hardware is involved: this proves the build and the bits, not the speed.
#   bash scripts/test-aarch64.sh [BUILD_DIR]   (default build-aarch64)
# Runs (REPRO_TEST_QUICK=1), the quick emulated subset:
#   - the unit tests of the ISA choice and of every kernel with a NEON twin
#     (test_isa, test_isa_refusal, test_simd_rng, test_gemm, test_conv,
#     test_optim, test_linear, test_ops, test_attention, test_gemm_bf16): the
#     NEON twins bitwise equal to the scalar reference, subnormals kept;
#   - tests/test_golden.sh on the NEON path (the one `auto` picks on ARM): a
#     short run of 9 of the 11 golden examples (bf16 ones, the ResNet, the
#     ViT and the char LM included; every kind of layer) whose params_sha256,
#     ledger SHA-256 and pinned ledger lines must equal the x86-64 values in
#     tests/data/golden.tsv;
#   - tests/test_isa_paths.sh: the Fashion MLP on scalar, neon and auto, bit
#     for bit, and avx2/avx512 refused.
# REPRO_AARCH64_FULL=1 runs all 11 golden examples, on the scalar path too, and adds
# the model, graph and op tests that loop over the paths (test_model,
# test_node_ops, test_reduce, test_rng): several times longer.
# The rest of the suite (run directories, checkpoints, the CLI, crash safety:
# nothing that depends on the instruction set) stays with the native
# `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-aarch64}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

bash scripts/install-deps.sh          # the host's: cmake, the Fashion-MNIST files the golden runs read
bash scripts/install-deps-aarch64.sh  # the cross compiler, qemu, the arm64 libraries

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake
cmake --build "$build" -j "$jobs"

unit='test_(isa|isa_refusal|simd_rng|gemm|conv|optim|linear|ops|attention|gemm_bf16)'
golden_paths=neon
# The golden examples run under qemu: each kind of layer and product on the
# NEON path at least once. Left out (REPRO_AARCH64_FULL=1 runs them):
# fashion_cnn (its convolutions and pooling are fashion_cnn_bf16's, its fp32
# linear layers fashion_mlp's) and fashion_mlp_bf16 (its bf16 products are
# dual_task_bf16's): about 230 s of the job's 580 under qemu on 2 cores.
golden='test_golden\.(fashion_mlp|dual_task|fashion_resnet|dual_task_bf16|fashion_cnn_bf16|fashion_vit|char_lm|char_lm_bf16|fortune_docs_lm)'
if [[ ${REPRO_AARCH64_FULL:-0} == 1 ]]; then
    unit='test_(isa|isa_refusal|simd_rng|gemm|conv|optim|linear|ops|attention|gemm_bf16|model|node_ops|reduce|rng)'
    golden='test_golden\..*'
    golden_paths=
fi
echo "=== aarch64 under $(qemu-aarch64 --version | head -n 1)"
echo "=== ISA paths (emulated CPU): $("$build/repro-emulated" env | sed -n 's/^isa_supported\[[0-9]*\]: //p' | tr '\n' ' ')"
cd "$build"
# the golden cases above, the bf16 ones included: their tensor-core model
# runs through its NEON twin (gemm_bf16_neon.c).
# fashion_vit and char_lm stay in: about 30 s each under qemu on the NEON
# path (both with the data generation: 65 s, 2026-11-30), and char_lm reads
# the host's fortunes text (install-deps.sh installs it; without it the
# case says SKIPPED). Their GELU (erf form) runs the scalar code on ARM:
# the 4-lane double twin is x86's only (gelu_erf.c).
# (REPRO_AARCH64_FULL=1 runs them on the scalar path too: far slower.)
REPRO_TEST_QUICK=1 REPRO_GOLDEN_PATHS=$golden_paths ctest --output-on-failure -j "$jobs" \
    -R "^($unit|$golden|test_isa_paths)\$"
