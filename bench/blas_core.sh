# shellcheck shell=bash
# Sourced by the CPU benchmarks: which OpenBLAS kernels the peer (Debian's
# PyTorch, which does its products in OpenBLAS, and repro's `mode: fast`)
# runs with, exported as OPENBLAS_CORETYPE for every command after it.
#
# The peer gets the kernels of the ISA path repro runs on, so a ratio
# compares like with like: OpenBLAS's AVX-512 kernels (SkylakeX) on the
# AVX-512 path, its AVX2 kernels (Haswell) on the AVX2 path (REPRO_ISA=avx2,
# or REPRO_TEST_CPU_ISA_MAX=avx2 standing in for an AVX2-only CPU).
# OpenBLAS's own CPU detection is not trusted for this: Debian's 0.3.21
# took an Emerald Rapids Xeon for a "Prescott" (SSE3 kernels, a tenth of the
# speed), and a machine's environment may carry an OPENBLAS_CORETYPE of its
# own (this project's Zen 5 machines set Haswell, which runs that CPU's
# products at 0.55-0.6x its SkylakeX kernels: bench_gemm). Set
# BENCH_OPENBLAS_CORETYPE to choose the kernels yourself.
#
# Prints one line saying what the peer runs and why.

blas_core_path() { # -> avx512 | avx2 | other: the ISA path repro takes here
    local flags want=${REPRO_ISA:-auto}
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    local has512=0 has2=0
    [[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512vl "* && $flags == *" avx512dq "* ]] && has512=1
    [[ $flags == *" avx2 "* && $flags == *" fma "* ]] && has2=1
    [[ ${REPRO_TEST_CPU_ISA_MAX:-} == avx2 ]] && has512=0
    case $want in
    avx512) ((has512)) && echo avx512 || echo other ;;
    avx2) ((has2)) && echo avx2 || echo other ;;
    auto) if ((has512)); then echo avx512; elif ((has2)); then echo avx2; else echo other; fi ;;
    *) echo other ;; # scalar: no SIMD kernels to match
    esac
}

blas_core_choose() {
    local path inherited=${OPENBLAS_CORETYPE:-}
    path=$(blas_core_path)
    if [[ -n ${BENCH_OPENBLAS_CORETYPE:-} ]]; then
        export OPENBLAS_CORETYPE=$BENCH_OPENBLAS_CORETYPE
        echo "peer OpenBLAS kernels: $OPENBLAS_CORETYPE (BENCH_OPENBLAS_CORETYPE)"
        return
    fi
    case $path in
    avx512) export OPENBLAS_CORETYPE=SkylakeX ;;
    avx2) export OPENBLAS_CORETYPE=Haswell ;;
    *)
        echo "peer OpenBLAS kernels: its own choice${inherited:+ (OPENBLAS_CORETYPE=$inherited from the environment)}"
        return
        ;;
    esac
    local why="those of repro's $path path"
    [[ -n $inherited && $inherited != "$OPENBLAS_CORETYPE" ]] && why+="; the environment's OPENBLAS_CORETYPE=$inherited replaced"
    echo "peer OpenBLAS kernels: $OPENBLAS_CORETYPE ($why)"
}

blas_core_choose
