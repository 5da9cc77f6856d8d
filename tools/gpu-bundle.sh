#!/usr/bin/env bash
# Packs what a bare GPU machine (the device tool's image: nvcc, CMake and
# PyTorch, but no libyaml, cJSON, OpenSSL or OpenBLAS, and no network) needs
# to run repro's GPU tests and bench/gpu.sh, into .gpu/ (git-ignored; the
# whole folder must stay under the device tool's 64 MiB carry limit, so
# everything large is xz-compressed):
#   .gpu/bundle/bin.tar.xz             repro and the test_* binaries, built here
#                                      with -DREPRO_CUDA=ON (the CUDA tests and
#                                      test_node_ops, which checks every node
#                                      kind on the CUDA backend)
#   .gpu/bundle/libs.tar.xz            their shared libraries, minus the
#                                      CUDA toolkit's and glibc's
#   .gpu/bundle/fashion/               Fashion-MNIST (train images as xz)
#   .gpu/bundle/fortunes.tar.xz        the English fortunes (*.u8), when
#                                      installed here (the text examples)
#   .gpu/setup.sh                      source it there: unpacks the binaries
#                                      into .gpu/ and the rest into /tmp/gpu,
#                                      exports LD_LIBRARY_PATH, REPRO,
#                                      FASHION_DIR, REPRO_FASHION_DIR and,
#                                      with the fortunes, REPRO_FORTUNES_DIR
#                                      and FORTUNES_DIR
# usage: tools/gpu-bundle.sh [BUILD_DIR]   (default build-cuda)
# then, on the GPU machine (carry .gpu):
#   source .gpu/setup.sh
#   REPRO_SOURCE_DIR=$PWD REPRO_TEST_TMP=/tmp/t bash tests/test_cuda_train.sh
#   .gpu/test_cuda_ops --bench
#   bash bench/gpu.sh "$REPRO"
set -euo pipefail
build=${1:-build-cuda}
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
cmake -S . -B "$build" -DREPRO_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
tests=(test_cuda_ops test_rng_cuda test_math_cuda test_cuda_conv test_cuda_norm test_cuda_bf16 test_cuda_token test_cuda_attention test_node_ops)
cmake --build "$build" -j"$(nproc)" --target repro_cli "${tests[@]}" >/dev/null
out=.gpu
rm -rf "$out"
mkdir -p "$out/bundle/fashion" "$out/lib"
cp "$build/repro" "$out/"
for t in "${tests[@]}"; do cp "$(find "$build" -name "$t" -type f -perm -u+x | head -n 1)" "$out/"; done
# the libraries the binaries need that a CUDA image lacks
for lib in $(ldd "$out"/repro "$out"/test_* | awk '/=> \// {print $3}' | sort -u); do
    case $lib in
    */cuda*/* | */libc.so* | */libm.so* | */libdl.so* | */librt.so* | */libpthread.so* | */libstdc++* | */libgcc_s*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
    esac
done
tar -C "$out" -cf - lib | xz -6 -T0 >"$out/bundle/libs.tar.xz"
rm -rf "$out/lib"
tar -C "$out" -cf - repro "${tests[@]}" | xz -6 -T0 >"$out/bundle/bin.tar.xz"
(cd "$out" && rm -f repro "${tests[@]}")
fortunes=${REPRO_FORTUNES_DIR:-/usr/share/games/fortunes}
if compgen -G "$fortunes/*.u8" >/dev/null; then
    (cd "$fortunes" && tar -chf - ./*.u8) | xz -6 -T0 >"$out/bundle/fortunes.tar.xz"
fi
zcat "$fashion/train-images-idx3-ubyte.gz" | xz -2 -T0 >"$out/bundle/fashion/train-images-idx3-ubyte.xz"
cp "$fashion"/{train-labels-idx1-ubyte.gz,t10k-images-idx3-ubyte.gz,t10k-labels-idx1-ubyte.gz} "$out/bundle/fashion/"
cat >"$out/setup.sh" <<'SH'
# Sourced on the GPU machine, from the repository root (tools/gpu-bundle.sh).
G=/tmp/gpu
if [ ! -x .gpu/repro ]; then
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .gpu/bundle/bin.tar.xz .gpu
fi
if [ ! -f $G/done ]; then
  mkdir -p $G/fashion
  python3 - "$PWD/.gpu/bundle" $G <<'PY'
import gzip, lzma, shutil, sys, tarfile
b, g = sys.argv[1], sys.argv[2]
with tarfile.open(b + "/libs.tar.xz") as t:
    t.extractall(g)
with lzma.open(b + "/fashion/train-images-idx3-ubyte.xz") as f, \
        gzip.open(g + "/fashion/train-images-idx3-ubyte.gz", "wb", 1) as o:
    shutil.copyfileobj(f, o)
for n in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    shutil.copy(b + "/fashion/" + n, g + "/fashion/" + n)
try:
    with tarfile.open(b + "/fortunes.tar.xz") as t:
        t.extractall(g + "/fortunes")
except FileNotFoundError:
    pass
PY
  touch $G/done
fi
export LD_LIBRARY_PATH=$G/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export REPRO=$PWD/.gpu/repro FASHION_DIR=$G/fashion REPRO_FASHION_DIR=$G/fashion
if [ -d $G/fortunes ]; then
  export REPRO_FORTUNES_DIR=$G/fortunes FORTUNES_DIR=$G/fortunes
fi
# NCCL for the GPUs' exchange: the image's copy is PyTorch's (nvidia-nccl wheel)
if [ -z "${REPRO_NCCL_LIBRARY:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libnccl.so.2 '; then
  REPRO_NCCL_LIBRARY=$(python3 -c 'import glob, sys
print(next(iter(sorted(f for p in sys.path for f in glob.glob(p + "/nvidia/nccl*/lib/libnccl.so.2"))), ""))')
  export REPRO_NCCL_LIBRARY
fi
SH
du -sh "$out"
