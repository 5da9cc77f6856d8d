#!/usr/bin/env bash
# CPU == GPU for the conv nets: examples/fashion_cnn.yaml and
# examples/fashion_resnet.yaml (batch norm over groups of 32) give the same
# ledgers and params_sha256 on device: cpu and device: cuda, with the data
# gathered on the GPU and from the host loader (with augmentation), with
# accumulation, and under `repro verify --vary device=cpu,cuda` with a
# resume; and the same bits with the parameter gradients in line
# (REPRO_CUDA_SIDE_STREAMS=0) as on their side streams. Skipped (77) where the build has no CUDA backend or the machine no GPU.
# ctest-labels: cuda
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/cuda_cnn
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 6400 500
common=(--quiet "${SMALL_DATA[@]}" --set max_steps=40 --set ledger.hash_every=10 --set epochs=100)
set +e
probe=$("$REPRO" train "$REPRO_SOURCE_DIR/examples/fashion_cnn.yaml" "${common[@]}" --set max_steps=1 \
        --set device=cuda --out "$dir/probe" 2>&1)
rc=$?
set -e
if [[ $rc -ne 0 && ( "$probe" == *"no CUDA backend"* || "$probe" == *"no CUDA GPU"* ) ]]; then
    echo "SKIPPED: ${probe#repro train: }"
    exit 77
fi
for ex in fashion_cnn fashion_resnet; do
    cfg=$REPRO_SOURCE_DIR/examples/$ex.yaml
    for d in cpu cuda; do
        expect_exit 0 "$ex $d" -- "$REPRO" train "$cfg" "${common[@]}" --set device=$d --out "$dir/$ex.$d"
        expect_exit 0 "$ex $d accum 4, host loader, augmentation" -- "$REPRO" train "$cfg" "${common[@]}" \
            --set device=$d --set accum_steps=4 --set loader.on_device=off --set augment.shift_p=0.5 \
            --set augment.flip_p=0.5 --out "$dir/$ex.$d.aug"
    done
    same_bits "$ex: cpu vs cuda" "$dir/$ex.cpu" "$dir/$ex.cuda"
    same_bits "$ex: cpu vs cuda (accum 4, host loader, augmentation)" "$dir/$ex.cpu.aug" "$dir/$ex.cuda.aug"
    expect_exit 0 "$ex verify cpu,cuda" -- "$REPRO" verify "$cfg" --vary device=cpu,cuda --resume-at 17 \
        --max-steps 30 "${SMALL_DATA[@]}" --out "$dir/$ex.verify"
done
# the parameter gradients on side streams (the default) or in line: the same kernels, the same bits
expect_exit 0 "fashion_resnet cuda, side streams off" -- env REPRO_CUDA_SIDE_STREAMS=0 "$REPRO" train \
    "$REPRO_SOURCE_DIR/examples/fashion_resnet.yaml" "${common[@]}" --set device=cuda --out "$dir/resnet.in_line"
same_bits "fashion_resnet: side streams vs in line" "$dir/fashion_resnet.cuda" "$dir/resnet.in_line"
finish
