#!/usr/bin/env bash
# Relative paths resume (issue 10, defect 3). A run started with a relative
# config path whose YAML names its data relative to the file's folder (as
# the shipped examples/dual_task.yaml does), or with relative --set data
# paths, resumes (from the same directory and from another one) and
# finishes with the bits of a run that never stopped; `repro verify
# --resume-at` on such a config says identical. Data paths are resolved
# once, to absolute paths, the same way at start and at resume.
source "$(dirname "$0")/lib.sh"
set -e
dir=$REPRO_TEST_TMP/relative_paths
rm -rf "$dir"
mkdir -p "$dir/proj/examples" "$dir/elsewhere"
cp "$REPRO_SOURCE_DIR/examples/dual_task.yaml" "$dir/proj/examples/"
expect_exit 0 "gen-data" -- "$REPRO" gen-data dual_task --out-dir "$dir/proj/data" --n-train 600 --n-test 100
small=(--quiet --set epochs=2 --set batch_size=64 --set checkpoint.every_steps=3 --set model.trunk.0.out=16
       --set model.trunk.3.out=16)
cd "$dir/proj"

# the config's own relative paths (../data/... from examples/)
expect_exit 0 "uninterrupted" -- "$REPRO" train examples/dual_task.yaml "${small[@]}" --out runs/full
expect_exit 0 "stopped" -- "$REPRO" train examples/dual_task.yaml "${small[@]}" --out runs/a --stop-after 2
expect_exit 0 "resumed" -- "$REPRO" train --resume runs/a --quiet
same_bits "resumed in the same directory" runs/full runs/a
expect_exit 0 "stopped again" -- "$REPRO" train examples/dual_task.yaml "${small[@]}" --out runs/b --stop-after 4
(cd "$dir/elsewhere" && expect_exit 0 "resumed from elsewhere" -- "$REPRO" train --resume "$dir/proj/runs/b" --quiet) ||
    fail "resumed from elsewhere"
same_bits "resumed from another directory" runs/full runs/b
checks=$((checks + 1))
grep -q "\"train_csv\":[[:space:]]*\"$dir/proj/data/dual_task_train.csv\"" runs/full/run.json ||
    fail "run.json does not record the data path resolved: $(grep -o '"train_csv":[^,]*' runs/full/run.json)"

# relative --set paths (relative to the working directory)
rel=(--set data.train_csv=data/dual_task_train.csv --set data.test_csv=./data/dual_task_test.csv)
expect_exit 0 "stopped, relative --set" -- "$REPRO" train examples/dual_task.yaml "${small[@]}" "${rel[@]}" \
    --out runs/c --stop-after 3
(cd "$dir/elsewhere" && expect_exit 0 "resumed from elsewhere, relative --set" -- \
    "$REPRO" train --resume "$dir/proj/runs/c" --quiet) || fail "resumed from elsewhere, relative --set"
same_bits "relative --set paths, resumed from another directory" runs/full runs/c

# repro verify --resume-at on the shipped layout
expect_exit 0 "verify --resume-at" -- "$REPRO" verify examples/dual_task.yaml --resume-at 2 --max-steps 5 \
    --set model.trunk.0.out=16 --set model.trunk.3.out=16 --out runs/verify --quiet
finish
