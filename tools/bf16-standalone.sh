#!/bin/bash
# A standalone build of tests/cuda/test_cuda_bf16.cu needing only nvcc and gcc
# (the device machine's image has no Debian libraries): tools/bf16-standalone.sh [OUT_DIR]
set -e
O=${1:-/tmp/bf16}
mkdir -p $O
NV="nvcc -O2 -std=c++17 -arch=sm_90 --fmad=false -ftz=false -prec-div=true -prec-sqrt=true -I src -I include"
for f in src/ops/cpu/gemm_bf16.c src/core/status.c src/ops/cpu/isa.c src/core/pool.c; do
  gcc -O2 -std=c11 -ffp-contract=off -I src -I include -c $f -o $O/$(basename $f .c).o
done
gcc -O2 -std=c11 -ffp-contract=off -mavx2 -mfma -I src -I include -c src/ops/cpu/gemm_bf16_avx2.c -o $O/gemm_bf16_avx2.o
$NV -c src/ops/cuda/gemm_bf16.cu -o $O/gemm_bf16_cu.o
$NV tests/cuda/test_cuda_bf16.cu $O/*.o -o $O/test_cuda_bf16 -lcublas -lpthread
