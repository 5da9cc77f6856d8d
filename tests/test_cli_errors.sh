#!/usr/bin/env bash
# Bad input reaches the user as one clear message on stderr and a non-zero
# exit, naming the file, key, line or step at fault.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/cli_errors
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small=(--quiet --set data.limit_train=300 --set data.limit_test=100 --set max_steps=3 --set batch_size=32)

# write_cfg NAME: a copy of the Fashion config with its data paths absolute
write_cfg() { sed "s|^\(\s*\)\(train\|test\)_\(images\|labels\): .*/\([^/]*\)$|\1\2_\3: $FASHION/\4|" "$cfg" > "$dir/$1"; }

# usage
expect_exit 2 "no command" -- "$REPRO"
expect_exit 0 "help" -- "$REPRO" --help
expect_exit 0 "train help" -- "$REPRO" train --help
expect_exit 2 "unknown command" -- "$REPRO" trian
expect_err_contains "unknown command" "unknown command 'trian'"
expect_exit 2 "unknown option" -- "$REPRO" train "$cfg" --bogus
expect_err_contains "unknown option" "unknown option '--bogus'"

# the config file
expect_exit 2 "missing config" -- "$REPRO" train "$dir/nope.yaml"
expect_err_contains "missing config" "cannot read config '$dir/nope.yaml'"
printf 'seed: 42\nepochs: [1, 2\nbatch_size: 3\n' > "$dir/syntax.yaml"
expect_exit 2 "yaml syntax" -- "$REPRO" train "$dir/syntax.yaml"
expect_err_contains "yaml syntax" "syntax.yaml:3:"
write_cfg unknown.yaml
sed -i 's/^seed:/sed:/' "$dir/unknown.yaml"
expect_exit 2 "unknown key" -- "$REPRO" train "$dir/unknown.yaml"
expect_err_contains "unknown key" "unknown key 'sed' (did you mean 'seed'?)"
expect_exit 2 "negative lr" -- "$REPRO" train "$cfg" --set optim.lr=-0.001
expect_err_contains "negative lr" "optim.lr: must be > 0"
expect_exit 2 "batch size 0" -- "$REPRO" train "$cfg" --set batch_size=0
expect_err_contains "batch size 0" "batch_size: must be >= 1, got 0"
expect_exit 2 "wrong type" -- "$REPRO" train "$cfg" --set epochs=many
expect_err_contains "wrong type" "epochs"
expect_exit 2 "set unknown key" -- "$REPRO" train "$cfg" --set optim.lrr=1
expect_err_contains "set unknown key" "unknown key 'optim.lrr' (did you mean 'optim.lr'?)"

# data files
expect_exit 2 "missing data file" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/r1" \
    --set data.train_images="$dir/missing-images.gz"
expect_err_contains "missing data file" "$dir/missing-images.gz"
head -c 5000 "$FASHION/train-images-idx3-ubyte.gz" > "$dir/truncated.gz"
expect_exit 2 "truncated gzip" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/r2" \
    --set data.train_images="$dir/truncated.gz" --set data.limit_train=0
expect_err_contains "truncated gzip" "truncated.gz"
printf 'not an idx file at all, just text\n' > "$dir/garbage.idx"
expect_exit 2 "bad idx magic" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/r3" \
    --set data.train_images="$dir/garbage.idx"
expect_err_contains "bad idx magic" "garbage.idx"
expect_exit 2 "input size mismatch" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/r4" --set model.input=100
expect_err_contains "input size mismatch" "model.input is 100 but the data has 784 features"

# CSV data: a ragged row and a non-numeric cell, named by file and line
csvcfg=$REPRO_SOURCE_DIR/examples/dual_task.yaml
{ echo "x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,x11,x12,x13,x14,target,label"
  for i in 1 2 3 4 5; do echo "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,0.5,1"; done
  echo "0,1,2,3,4,5,6,7,8,9,10,11,12,13,0.5,1"; } > "$dir/ragged.csv"
expect_exit 2 "ragged csv" -- "$REPRO" train "$csvcfg" --quiet --out "$dir/r5" \
    --set data.train_csv="$dir/ragged.csv" --set data.test_csv=""
expect_err_contains "ragged csv" "ragged.csv' line 7: 16 fields, expected 17"
sed 's/^0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,0.5,1$/0,1,2,x,4,5,6,7,8,9,10,11,12,13,14,0.5,1/' "$dir/ragged.csv" \
    | head -n 4 > "$dir/nonnum.csv"
expect_exit 2 "non-numeric csv" -- "$REPRO" train "$csvcfg" --quiet --out "$dir/r6" \
    --set data.train_csv="$dir/nonnum.csv" --set data.test_csv=""
expect_err_contains "non-numeric csv" "nonnum.csv' line 2, column 'x3': 'x' is not a number"
head -n 4 "$dir/ragged.csv" | sed '$ s/,1$/,7/' > "$dir/badlabel.csv"
expect_exit 2 "label out of range" -- "$REPRO" train "$csvcfg" --quiet --out "$dir/r7" \
    --set data.train_csv="$dir/badlabel.csv" --set data.test_csv=""
expect_err_contains "label out of range" "badlabel.csv"

# an existing complete run is kept unless --force
expect_exit 0 "first run" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/done"
cp "$dir/done/ledger.jsonl" "$dir/ledger.before"
expect_exit 2 "complete run refused" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/done"
expect_err_contains "complete run refused" "already holds a complete run"
checks=$((checks + 1))
cmp -s "$dir/done/ledger.jsonl" "$dir/ledger.before" || fail "the refused run changed the existing ledger"
expect_exit 0 "--force overwrites" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/done" --force

# a loss that becomes NaN or inf stops the run, names the step, marks it failed
expect_exit 1 "nan loss" -- "$REPRO" train "$cfg" "${small[@]}" --out "$dir/nan" --set max_steps=50 \
    --set optim.name=sgd --set optim.lr=1e30
expect_err_contains "nan loss" "step "
expect_err_contains "nan loss" "the loss is"
checks=$((checks + 1))
grep -q '"status"[[:space:]]*:[[:space:]]*"failed"' "$dir/nan/run.json" || fail "NaN run not marked failed"
finish
