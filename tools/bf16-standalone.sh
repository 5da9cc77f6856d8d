#!/bin/bash
# standalone build of the bf16 test (device machine: no Debian libs needed)
set -e
O=${1:-/tmp/bf16}
mkdir -p $O
NV="nvcc -O2 -std=c++17 -arch=sm_90 --fmad=false -ftz=false -prec-div=true -prec-sqrt=true -I src -I include"
for f in src/ops/cpu/gemm_bf16.c src/core/status.c src/ops/cpu/isa.c src/core/pool.c; do
  gcc -O2 -std=c11 -ffp-contract=off -I src -I include -c $f -o $O/$(basename $f .c).o
done
$NV -c src/ops/cuda/gemm_bf16.cu -o $O/gemm_bf16_cu.o
$NV tests/cuda/test_cuda_bf16.cu $O/*.o -o $O/test_cuda_bf16 -lcublas -lpthread
