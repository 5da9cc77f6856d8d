#!/usr/bin/env bash
# Every instruction-set path this CPU supports gives the scalar reference's
# ledger bit for bit (REPRO_ISA=scalar|avx2|avx512), so a run record made on
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
tested=0
for isa in avx2 avx512; do
    if grep -q "${isa/avx512/avx512f}" /proc/cpuinfo; then
        expect_exit 0 "$isa" -- env REPRO_ISA=$isa "$REPRO" train "$cfg" --out "$dir/$isa" "${common[@]}"
        same_bits "scalar vs $isa" "$dir/scalar" "$dir/$isa"
        tested=$((tested + 1))
    else
        echo "note: this CPU has no $isa; that path is not tested here"
    fi
done
# auto picks the best path and must agree too
expect_exit 0 "auto" -- "$REPRO" train "$cfg" --out "$dir/auto" "${common[@]}"
same_bits "scalar vs auto" "$dir/scalar" "$dir/auto"
# an unknown path is refused with a clear message
expect_exit 2 "bad isa" -- env REPRO_ISA=sse9 "$REPRO" train "$cfg" --out "$dir/bad" "${common[@]}"
expect_err_contains "bad isa" "sse9"
finish
