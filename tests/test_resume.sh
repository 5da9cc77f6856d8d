#!/usr/bin/env bash
# Exact resume. With dropout, Adam, a cosine schedule with warmup, EMA,
# early stopping and 4 accumulation micro-batches all on, a run stopped
# (--stop-after) at step 1, mid-epoch, an epoch boundary, a step in a later
# epoch, the last step - 1, and resumed, finishes with the ledger, metrics
# (but samples_per_sec), model.safetensors and params_sha256 of the run that
# never stopped; so does a run resumed twice. Stopping at the last step
# finishes the run. Refusals (a complete run, a missing directory, only
# corrupt checkpoints, another config's checkpoint, changed data) exit 2
# with a clear message and change no file; a truncated or bit-flipped
# newest checkpoint is reported and the previous one used.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/resume
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 1200 200
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=32 --set accum_steps=4
        --set model.trunk.0.out=64 --set model.trunk.3.out=64 --set epochs=8
        --set schedule.name=cosine --set schedule.warmup_steps=7 --set schedule.min_lr=1e-5
        --set ema.enabled=true --set ema.decay=0.9
        --set early_stopping.enabled=true --set early_stopping.patience=1 --set early_stopping.min_delta=0.03
        --set ledger.hash_every=5 --set checkpoint.every_steps=10)

train() { # name, extra args...
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$cfg" --out "$dir/$name" "${common[@]}" "$@"
}
resume() { # want name, extra args...
    local want=$1 name=$2
    shift 2
    expect_exit "$want" "resume $name" -- "$REPRO" train --resume "$dir/$name" --quiet "$@"
}
status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }
metrics_sans_rate() { sed 's/,"samples_per_sec":[^,}]*//; s/,"loader_wait_sec":[^,}]*//' "$1/metrics.jsonl"; }

# same_run NAME DIR: DIR has the bits of the uninterrupted run
same_run() {
    same_bits "$1" "$dir/full" "$2"
    checks=$((checks + 1))
    [[ "$(metrics_sans_rate "$dir/full")" == "$(metrics_sans_rate "$2")" ]] ||
        fail "$1: metrics differ: $(diff <(metrics_sans_rate "$dir/full") <(metrics_sans_rate "$2") | head -n 4)"
    checks=$((checks + 1))
    cmp -s "$dir/full/model.safetensors" "$2/model.safetensors" || fail "$1: model.safetensors differs"
    checks=$((checks + 1))
    [[ $(status_of "$2") == complete ]] || fail "$1: status $(status_of "$2")"
}

# snapshot DIR / unchanged NAME DIR: every file of DIR as it was
snapshot() { (cd "$1" && sha256sum -- * | sort) > "$dir/snapshot"; }
unchanged() {
    checks=$((checks + 1))
    diff -q "$dir/snapshot" <(cd "$2" && sha256sum -- * | sort) >/dev/null || fail "$1: files changed"
}

train full
last=$(grep -c '"step"' "$dir/full/ledger.jsonl")
epoch_len=$(sed -n 's/^{"epoch":0,"step":\([0-9]*\),.*/\1/p' "$dir/full/metrics.jsonl")
checks=$((checks + 1))
grep -q '"stopped_early":[[:space:]]*true' "$dir/full/run.json" || fail "early stopping did not stop the run"
checks=$((checks + 1))
[[ $epoch_len -gt 2 && $last -gt $((2 * epoch_len)) ]] || fail "unexpected run shape: $last steps, epoch $epoch_len"

# ---- stop and resume at several steps ----
for k in 1 $((epoch_len / 2)) $epoch_len $((2 * epoch_len + 3)) $((last - 1)); do
    train "stop$k" --stop-after "$k"
    checks=$((checks + 1))
    [[ $(status_of "$dir/stop$k") == interrupted ]] || fail "stop $k: status $(status_of "$dir/stop$k")"
    checks=$((checks + 1))
    [[ $(grep -c '"step"' "$dir/stop$k/ledger.jsonl") == "$k" ]] || fail "stop $k: ledger length"
    resume 0 "stop$k"
    same_run "resumed at $k" "$dir/stop$k"
done

# ---- stopping at the last step is finishing ----
train stoplast --stop-after "$last"
same_run "stop-after the last step" "$dir/stoplast"

# ---- resumed twice ----
train twice --stop-after 3
resume 0 twice --stop-after $((epoch_len + 4))
checks=$((checks + 1))
[[ $(status_of "$dir/twice") == interrupted && $(grep -c '"step"' "$dir/twice/ledger.jsonl") == $((epoch_len + 4)) ]] ||
    fail "second stop: status $(status_of "$dir/twice")"
resume 0 twice
same_run "resumed twice" "$dir/twice"

# ---- refusals ----
snapshot "$dir/full"
resume 2 full
expect_err_contains "resume a complete run" "holds a complete run: there is nothing to resume"
unchanged "resume a complete run" "$dir/full"

expect_exit 2 "resume a missing directory" -- "$REPRO" train --resume "$dir/missing" || true
expect_err_contains "resume a missing directory" "repro train: cannot resume '$dir/missing': cannot open '$dir/missing/run.json'"
checks=$((checks + 1))
[[ ! -e $dir/missing ]] || fail "resuming a missing directory created it"

# a truncated newest checkpoint: reported, the previous one used, same bits
train trunc --stop-after 25
ck=$dir/trunc/ckpt-00000025.safetensors
checks=$((checks + 1))
[[ -f $ck && -f $dir/trunc/ckpt-00000020.safetensors ]] || fail "expected checkpoints 20 and 25: $(ls "$dir/trunc")"
truncate -s $(($(stat -c %s "$ck") / 2)) "$ck"
resume 0 trunc
expect_err_contains "truncated checkpoint" "note: skipped '$ck'"
same_run "resumed past a truncated checkpoint" "$dir/trunc"

# a flipped byte in the newest checkpoint's payload: the checksum catches it
train flip --stop-after 25
ck=$dir/flip/ckpt-00000025.safetensors
flip_byte() { # FILE OFFSET-FROM-END
    local off=$(($(stat -c %s "$1") - $2)) b
    b=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}
flip_byte "$ck" 1000
resume 0 flip
expect_err_contains "flipped byte" "note: skipped '$ck': payload checksum mismatch (corrupt file)"
same_run "resumed past a corrupt checkpoint" "$dir/flip"

# every checkpoint corrupt: refused, nothing changed
train bad --stop-after 25
flip_byte "$dir/bad/ckpt-00000025.safetensors" 1000
flip_byte "$dir/bad/ckpt-00000020.safetensors" 5000
snapshot "$dir/bad"
resume 2 bad
expect_err_contains "all checkpoints corrupt" "no usable checkpoint in '$dir/bad'"
unchanged "all checkpoints corrupt" "$dir/bad"

# a checkpoint of another config (another seed) in the run directory
train mine --stop-after 25
train other --stop-after 25 --set seed=7
cp "$dir/other/ckpt-00000025.safetensors" "$dir/mine/ckpt-00000025.safetensors"
snapshot "$dir/mine"
resume 2 mine
expect_err_contains "another config's checkpoint" "ckpt-00000025.safetensors' belongs to another config"
unchanged "another config's checkpoint" "$dir/mine"
# --force takes another config, but not a checkpoint its ledger contradicts
resume 2 mine --force
expect_err_contains "another config's checkpoint, forced" "mine/ledger.jsonl:25: loss"
unchanged "another config's checkpoint, forced" "$dir/mine"

# the config changed since the run started (its recorded overrides edited)
train edited --stop-after 25
sed -i 's/"ema.decay=0.9"/"ema.decay=0.8"/' "$dir/edited/run.json"
snapshot "$dir/edited"
resume 2 edited
expect_err_contains "changed config" "the config changed since the run started"
unchanged "changed config" "$dir/edited"

# the data changed since the run started
data=$dir/train-images-copy.gz
cp "$dir/data/train-images-idx3-ubyte.gz" "$data"
train changed --stop-after 25 --set "data.train_images=$data"
zcat "$dir/data/train-images-idx3-ubyte.gz" | gzip -1 > "$data" # the same images, other bytes
snapshot "$dir/changed"
resume 2 changed
expect_err_contains "changed data" "data file '$data' changed since the run started"
unchanged "changed data" "$dir/changed"
resume 0 changed --force
same_bits "resumed with --force on the same images recompressed" "$dir/full" "$dir/changed"
finish
