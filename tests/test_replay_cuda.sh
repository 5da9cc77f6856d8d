#!/usr/bin/env bash
# `repro replay` across devices: a run trained on the CPU replays on the GPU
# (--set device=cuda) with every ledger bit and the final params_sha256
# matching, and a GPU run replays on the CPU; a GPU run's replay that
# finds an edited ledger line still says where. Skipped (77) where the
# build has no CUDA backend or the machine no GPU.
# ctest-labels: cuda
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/replay_cuda
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 6000 1000
common=(--quiet "${SMALL_DATA[@]}" --set epochs=2 --set ledger.hash_every=5)
set +e
probe=$("$REPRO" train "$cfg" "${common[@]}" --set max_steps=1 --set device=cuda --out "$dir/probe" 2>&1)
rc=$?
set -e
if [[ $rc -ne 0 && ( "$probe" == *"no CUDA backend"* || "$probe" == *"no CUDA GPU"* ) ]]; then
    echo "SKIPPED: ${probe#repro train: }"
    exit 77
fi
"$REPRO" train "$cfg" "${common[@]}" --set device=cpu --out "$dir/cpu"
"$REPRO" train "$cfg" "${common[@]}" --set device=cuda --out "$dir/cuda"
expect_exit 0 "CPU run replayed on the GPU" -- "$REPRO" replay "$dir/cpu" --set device=cuda || true
echo "$last_out"
expect_exit 0 "GPU run replayed on the CPU" -- "$REPRO" replay "$dir/cuda" --set device=cpu || true
echo "$last_out"
cp -r "$dir/cuda" "$dir/edited"
sed -i '7s/"loss":"0x[0-9a-f]*"/"loss":"0x3f000000"/' "$dir/edited/ledger.jsonl"
expect_exit 1 "edited GPU run" -- "$REPRO" replay "$dir/edited" --no-trace || true
checks=$((checks + 1))
[[ $last_out == *"parts from the record at step 7"* ]] || fail "edited GPU run: $last_out"
finish
