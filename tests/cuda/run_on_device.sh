#!/usr/bin/env bash
# Builds and runs the CUDA tests on a GPU machine without CMake's library
# requirements (libyaml, cJSON, OpenSSL): gcc for the CPU reference kernels
# (src/core, src/rng, src/ops/cpu), nvcc for src/ops/cuda and the tests.
#   tests/cuda/run_on_device.sh [OUTDIR]     (from the repository root)
# Writes build.log, gpu.log, ops.log (checks + timings), bench_minb2.log,
# rng.log, math.log into OUTDIR.
set -u
OUT=${1:-${OUT:-/tmp/repro-cuda-out}}
mkdir -p "$OUT"
B=$(mktemp -d)
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -ffp-contract=off -fno-fast-math -fexcess-precision=standard -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc"
NVFLAGS="-std=c++17 -O3 --fmad=false -ftz=false -prec-div=true -prec-sqrt=true -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=compute_80 --Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror,-ffp-contract=off -Iinclude -Isrc"
build() {
    set -e
    for f in src/core/*.c src/rng/*.c src/ops/cpu/*.c; do
        case $f in *_neon.c) continue ;; esac # aarch64 only (the GPU hosts are x86-64)
        extra=""
        case $f in *_avx2.c) extra="-mavx2 -mfma" ;; *_avx512.c) extra="-mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma" ;; esac
        gcc $CFLAGS $extra -c "$f" -o "$B/$(basename "$f" .c).o" &
    done
    for f in src/ops/cuda/*.cu; do
        $NVCC $NVFLAGS -c "$f" -o "$B/cu_$(basename "$f" .cu).o" &
    done
    wait
    ar rcs "$B/librepro_min.a" "$B"/*.o
    $NVCC $NVFLAGS tests/cuda/test_cuda_ops.cu "$B/librepro_min.a" -lcublas -lpthread -lm -o "$B/test_cuda_ops" &
    # the GEMM with its register cap capped at 128 (2 blocks per SM), timed beside the default
    $NVCC $NVFLAGS -DREPRO_GEMM_MIN_BLOCKS=2 -c src/ops/cuda/gemm.cu -o "$B/gemm_minb2.o"
    cp "$B/librepro_min.a" "$B/librepro_minb2.a" && ar rcs "$B/librepro_minb2.a" "$B/gemm_minb2.o"
    ar d "$B/librepro_minb2.a" cu_gemm.o
    $NVCC $NVFLAGS tests/cuda/test_cuda_ops.cu "$B/librepro_minb2.a" -lcublas -lpthread -lm -o "$B/test_cuda_ops_minb2" &
    $NVCC $NVFLAGS tests/cuda/test_math_cuda.cu -o "$B/test_math_cuda" &
    $NVCC $NVFLAGS tests/cuda/test_rng_cuda.cu -o "$B/test_rng_cuda" &
    wait
    test -x "$B/test_cuda_ops" && test -x "$B/test_cuda_ops_minb2" && test -x "$B/test_math_cuda" && test -x "$B/test_rng_cuda"
}
( build ) >"$OUT/build.log" 2>&1 || { echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; }
echo "build ok"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv >"$OUT/gpu.log" 2>&1
rc=0
timeout 300 "$B/test_cuda_ops" --bench >"$OUT/ops.log" 2>&1; r=$?; echo "test_cuda_ops --bench rc=$r"; [ $r -ne 0 ] && rc=1
grep -c ^PASS "$OUT/ops.log" | sed 's/^/PASS lines: /'; grep ^FAIL "$OUT/ops.log" | head -30
grep "test_cuda_ops:" "$OUT/ops.log"; sed -n '/GEMM GFLOP/,$p' "$OUT/ops.log"
echo "--- REPRO_GEMM_MIN_BLOCKS=2 build:"
timeout 120 "$B/test_cuda_ops_minb2" --bench-only 2>&1 | tee "$OUT/bench_minb2.log" | sed -n '/GEMM GFLOP/,$p' 
"$B/test_rng_cuda" >"$OUT/rng.log" 2>&1; r=$?; echo "test_rng_cuda rc=$r"; tail -2 "$OUT/rng.log"; [ $r -ne 0 ] && rc=1
timeout 200 "$B/test_math_cuda" >"$OUT/math.log" 2>&1; r=$?; echo "test_math_cuda rc=$r"; tail -1 "$OUT/math.log"; [ $r -ne 0 ] && rc=1
exit $rc
