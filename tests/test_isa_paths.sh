#!/usr/bin/env bash
# Every instruction-set path this CPU supports gives the scalar reference's
# ledger bit for bit (REPRO_ISA=scalar|avx2|avx512|neon), so a run record made on
# an AVX2-only machine reproduces on an AVX-512 one and back.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/isa
rm -rf "$dir"
mkdir -p "$dir"
common=(--quiet --set data.limit_train=1000 --set data.limit_test=200 --set batch_size=32
        --set max_steps=30 --set epochs=10 --set ledger.hash_every=10 --set threads=2
        --set augment.noise_p=0.5 --set augment.flip_p=0.5)
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
expect_exit 0 "scalar" -- env REPRO_ISA=scalar "$REPRO" train "$cfg" --out "$dir/scalar" "${common[@]}"
# the paths repro itself finds (CPUID, the OS's saved state and the test
# cap REPRO_TEST_CPU_ISA_MAX), not /proc/cpuinfo's flags
paths=" $(env -u REPRO_ISA "$REPRO" env | sed -n 's/^isa_supported\[[0-9]*\]: //p' | tr '\n' ' ')"
for isa in avx2 avx512 neon; do
    if [[ $paths == *" $isa "* ]]; then
        expect_exit 0 "$isa" -- env REPRO_ISA=$isa "$REPRO" train "$cfg" --out "$dir/$isa" "${common[@]}"
        same_bits "scalar vs $isa" "$dir/scalar" "$dir/$isa"
    else
        echo "SKIPPED: scalar vs $isa (this CPU or its cap lacks $isa)"
        # and asking for it is refused, naming it
        expect_exit 2 "$isa refused" -- env REPRO_ISA=$isa "$REPRO" train "$cfg" --out "$dir/$isa" "${common[@]}"
        expect_err_contains "$isa refused" "ISA path \"$isa\" is not supported by this CPU"
    fi
done
# auto picks the best path and must agree too
expect_exit 0 "auto" -- "$REPRO" train "$cfg" --out "$dir/auto" "${common[@]}"
same_bits "scalar vs auto" "$dir/scalar" "$dir/auto"
# an unknown path is refused with a clear message
expect_exit 2 "bad isa" -- env REPRO_ISA=sse9 "$REPRO" train "$cfg" --out "$dir/bad" "${common[@]}"
expect_err_contains "bad isa" "sse9"
finish
