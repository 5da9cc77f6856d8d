#!/usr/bin/env bash
# make test-aarch64: repro cross-built for Linux aarch64 (NEON path) and run
# under qemu's user-mode emulator on an x86-64 Debian host. No aarch64
# hardware is involved: this proves the build and the bits, not the speed.
#   bash scripts/test-aarch64.sh [BUILD_DIR]   (default build-aarch64)
# Runs (REPRO_TEST_QUICK=1): the unit tests of every kernel with a NEON twin
# and of the ISA choice, then tests/test_golden.sh -- a short run of every
# example on the scalar and the NEON path, whose params_sha256 and ledger
# lines must equal the x86-64 values pinned in tests/data/golden.tsv -- and
# tests/test_isa_paths.sh. The rest of the suite (the I/O, CLI and
# crash-safety tests, nothing architecture-specific) stays with `make test`
# on the host: under emulation it would take the better part of an hour.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-aarch64}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

bash scripts/install-deps.sh          # the host's: cmake, the Fashion-MNIST files the golden runs read
bash scripts/install-deps-aarch64.sh  # the cross compiler, qemu, the arm64 libraries

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake
cmake --build "$build" -j "$jobs"

# The emulated subset: the ISA probe and refusal, every kernel family with a
# NEON twin (gemm, linear, conv, Adam, dropout's Philox) and the model and
# graph tests that loop over every path, then the golden runs.
unit='test_(isa|isa_refusal|simd_rng|gemm|linear|conv|optim|ops|model|node_ops|reduce|rng)'
e2e='test_(golden|isa_paths)'
echo "=== aarch64 under $(qemu-aarch64 --version | head -n 1)"
echo "=== ISA paths (emulated CPU): $("$build/repro-emulated" env | sed -n 's/^isa_supported\[[0-9]*\]: //p' | tr '\n' ' ')"
cd "$build"
REPRO_TEST_QUICK=1 ctest --output-on-failure -j "$jobs" -R "^($unit|$e2e)\$"
