#!/usr/bin/env bash
# A resume cannot be fooled by an edited run directory (issue 10, defects 1
# and 2). Checkpoint metadata: every field is range-checked and checked
# against the config and the data (steps per epoch, epochs, optimiser steps,
# samples seen, early stopping) and covered by meta_sha256; an edit with the
# checksum recomputed is refused naming the field (exit 2, no file changed,
# never a busy loop); an edit that breaks the checksum makes the checkpoint
# corrupt, skipped with a note for the previous one (same bits as a run never
# stopped). A checkpoint of the first format (no meta_sha256) still resumes.
# The ledger and metrics: resume checks every line up to the checkpoint
# (present, in order, the hashes of the checkpoint's step matching its state)
# and refuses otherwise, naming the first bad line and changing no file;
# lines a killed process wrote past the checkpoint (a last one cut short) are
# fine.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/tamper
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
edit=$REPRO_SOURCE_DIR/tests/edit_checkpoint.py
small_fashion "$dir/data" 600 100
# 540 training samples, batch 64: 9 steps an epoch, 27 in all; hashes every 3
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=3 --set model.trunk.0.out=32
        --set model.trunk.3.out=32 --set checkpoint.every_steps=4 --set ledger.hash_every=3)

status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }
snapshot() { (cd "$1" && sha256sum -- * | sort) > "$dir/snapshot"; }
unchanged() {
    checks=$((checks + 1))
    diff -q "$dir/snapshot" <(cd "$2" && sha256sum -- * | sort) >/dev/null || fail "$1: files changed"
}
# resume WANT NAME: resume DIR/NAME under a time limit (a busy loop is a failure)
resume() {
    expect_exit "$1" "resume $2" -- timeout 60 "$REPRO" train --resume "$dir/$2" --quiet || true
}
complete_as_full() { # NAME DIR
    same_bits "$1" "$dir/full" "$2"
    checks=$((checks + 1))
    [[ $(status_of "$2") == complete ]] || fail "$1: status $(status_of "$2")"
}

expect_exit 0 "uninterrupted" -- "$REPRO" train "$cfg" --out "$dir/full" "${common[@]}"
expect_exit 0 "stopped at 10" -- "$REPRO" train "$cfg" --out "$dir/base" "${common[@]}" --stop-after 10
expect_exit 0 "stopped at 21" -- "$REPRO" train "$cfg" --out "$dir/base21" "${common[@]}" --stop-after 21
ck=ckpt-00000010.safetensors

# ---- checkpoint metadata edited by someone who recomputed the checksum ----
n=0
forged() { # FIELD-IN-MESSAGE KEY=VALUE...
    local field=$1
    shift
    n=$((n + 1))
    rm -rf "$dir/forged$n"
    cp -r "$dir/base" "$dir/forged$n"
    /usr/bin/python3 "$edit" "$dir/forged$n/$ck" "$@" --rehash
    snapshot "$dir/forged$n"
    resume 2 "forged$n"
    expect_err_contains "forged $*" "$ck': metadata '$field'"
    unchanged "forged $*" "$dir/forged$n"
}
forged step_in_epoch step_in_epoch=9                  # = steps per epoch: was an endless loop
forged step_in_epoch step_in_epoch=9223372036854775807
forged step_in_epoch step_in_epoch=-9223372036854775808
forged epoch epoch=7                                  # was: "complete" with steps missing
forged epoch epoch=-9223372036854775808
forged finished finished=1
forged finished finished=2
forged step step=-1                                   # was: the ledger wiped
forged step step=11
forged optim_steps optim_steps=9223372036854775807    # was: signed overflow in optim.c
forged epoch_seen epoch_seen=999
forged es_has_best es_has_best=1
forged es_bad_epochs es_bad_epochs=3
forged epoch_loss_sum epoch_loss_sum=0x7fc00000
forged last_loss last_loss=0x7f800000

# ---- an edit without the checksum: the checkpoint is corrupt, the previous one used ----
cp -r "$dir/base" "$dir/edited"
/usr/bin/python3 "$edit" "$dir/edited/$ck" step_in_epoch=9
resume 0 edited
expect_err_contains "edited metadata" "note: skipped '$dir/edited/$ck': metadata checksum mismatch"
complete_as_full "resumed past an edited checkpoint" "$dir/edited"

# ---- a checkpoint of the first format (before meta_sha256) still resumes ----
cp -r "$dir/base" "$dir/v1"
/usr/bin/python3 "$edit" "$dir/v1/$ck" --v1
resume 0 v1
complete_as_full "resumed from a repro-checkpoint/1 file" "$dir/v1"
cp -r "$dir/base" "$dir/v1bad" # ... and its fields are range-checked all the same
/usr/bin/python3 "$edit" "$dir/v1bad/$ck" --v1 epoch=7
snapshot "$dir/v1bad"
resume 2 v1bad
expect_err_contains "v1 with epoch 7" "$ck': metadata 'epoch'"
unchanged "v1 with epoch 7" "$dir/v1bad"

# ---- the ledger and metrics ----
bad_ledger() { # NAME MESSAGE: DIR/NAME was edited; resume must refuse, naming MESSAGE
    snapshot "$dir/$1"
    resume 2 "$1"
    expect_err_contains "$1" "$2"
    unchanged "$1" "$dir/$1"
}
copy21() { rm -rf "$dir/$1"; cp -r "$dir/base21" "$dir/$1"; }
L=ledger.jsonl
copy21 garbage
sed -i '10s/.*/{"step":10,garbage/' "$dir/garbage/$L"
bad_ledger garbage "$dir/garbage/$L:10:"
copy21 deleted
sed -i '5d' "$dir/deleted/$L"
bad_ledger deleted "$dir/deleted/$L:5: step 6, expected step 5"
copy21 removed20
sed -i '2,21d' "$dir/removed20/$L"
bad_ledger removed20 "$dir/removed20/$L ends at step 1, before the checkpoint's step 21"
copy21 empty
: > "$dir/empty/$L"
bad_ledger empty "$dir/empty/$L ends at step 0, before the checkpoint's step 21"
copy21 swapped
sed -i '7{h;d};8G' "$dir/swapped/$L"
bad_ledger swapped "$dir/swapped/$L:7: step 8, expected step 7"
copy21 epoch
sed -i '12s/"epoch":1/"epoch":2/' "$dir/epoch/$L"
bad_ledger epoch "$dir/epoch/$L:12: epoch 2, expected epoch 1"
copy21 hash
zeros=$(printf '0%.0s' {1..64})
sed -i "21s/\"params_sha256\":\"[0-9a-f]*\"/\"params_sha256\":\"$zeros\"/" "$dir/hash/$L"
bad_ledger hash "$dir/hash/$L:21: params_sha256 does not match the checkpoint"
copy21 garbage_after
printf '{"step":22,"epoch":2,"loss":"0x3f800000","loss_dec":"1","lr":"0x3a83126f"}\nnot json\n' >> "$dir/garbage_after/$L"
bad_ledger garbage_after "$dir/garbage_after/$L:23:"
copy21 metrics
sed -i '1d' "$dir/metrics/metrics.jsonl"
bad_ledger metrics "$dir/metrics/metrics.jsonl"

# lines a killed process wrote after the checkpoint, the last one cut short: fine
copy21 killed
sed -n '22,23p' "$dir/full/$L" >> "$dir/killed/$L"
sed -n '24p' "$dir/full/$L" | head -c 30 >> "$dir/killed/$L"
resume 0 killed
complete_as_full "resumed over lines past the checkpoint" "$dir/killed"
finish
