#!/usr/bin/env bash
# Smaller defects of issue 10 (defect 9), each once:
# - an IDX header that claims more images than the file holds is reported as
#   such ("the header claims ... the file holds ..."), not as "out of memory";
# - progress piped into `head` that exits early does not kill the run
#   (SIGPIPE): progress stops, training goes on and the run completes;
# - `repro train /dev/zero` (or any huge file) is refused as a config
#   quickly, instead of being read until memory runs out;
# - SIGHUP (the terminal went away) stops a run like SIGINT and SIGTERM:
#   checkpoint, status interrupted, exit 130, resumable.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/hostile
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 600 100
common=("${SMALL_DATA[@]}" --set batch_size=32 --set model.trunk.0.out=16 --set model.trunk.3.out=16)
status_of() { sed -n 's/^\t"status":\t"\([a-z]*\)".*/\1/p' "$1/run.json"; }

# ---- an IDX header claiming 4294967280 images of 28x28 over 100 bytes of data ----
/usr/bin/python3 - "$dir/liar-images-idx3-ubyte" <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 4294967280, 28, 28) + bytes(100))
PY
expect_exit 2 "lying IDX header" -- timeout 60 "$REPRO" train "$cfg" --quiet "${common[@]}" --out "$dir/liar" \
    --set "data.train_images=$dir/liar-images-idx3-ubyte" || true
expect_err_contains "lying IDX header" "liar-images-idx3-ubyte': truncated: the header claims 4294967280 images of 28x28"
expect_err_contains "lying IDX header" "the file holds 100"

# ---- progress into a pipe closed early ----
set +e
"$REPRO" train "$cfg" "${common[@]}" --out "$dir/piped" --set epochs=6 2>"$dir/piped.err" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
set -e
checks=$((checks + 1))
[[ $rc -eq 0 ]] || fail "progress into a closed pipe: exit $rc (141 is death by SIGPIPE); $(cat "$dir/piped.err")"
checks=$((checks + 1))
[[ $(status_of "$dir/piped") == complete ]] || fail "progress into a closed pipe: status $(status_of "$dir/piped")"
expect_exit 0 "the same run, quiet" -- "$REPRO" train "$cfg" --quiet "${common[@]}" --out "$dir/quiet" --set epochs=6
same_bits "progress into a closed pipe" "$dir/quiet" "$dir/piped"

# ---- a config that never ends ----
expect_exit 2 "/dev/zero as a config" -- timeout 60 "$REPRO" train /dev/zero || true
expect_err_contains "/dev/zero as a config" "config '/dev/zero' is larger than"
head -c 3000000 /dev/zero | tr '\0' '#' > "$dir/huge.yaml"
expect_exit 2 "a 3 MB config" -- "$REPRO" train "$dir/huge.yaml" || true
expect_err_contains "a 3 MB config" "config '$dir/huge.yaml' is larger than"

# ---- SIGHUP ----
"$REPRO" train "$cfg" --quiet "${common[@]}" --out "$dir/hup" --set epochs=1000 --set max_steps=100000 &
pid=$!
for _ in $(seq 1 200); do
    [[ -s "$dir/hup/ledger.jsonl" ]] && break
    sleep 0.05
done
kill -HUP "$pid"
set +e
wait "$pid"
rc=$?
set -e
checks=$((checks + 1))
[[ $rc -eq 130 ]] || fail "SIGHUP: exit $rc, expected 130 (129 is death by SIGHUP)"
checks=$((checks + 1))
[[ $(status_of "$dir/hup") == interrupted ]] || fail "SIGHUP: status $(status_of "$dir/hup")"
checks=$((checks + 1))
ls "$dir/hup"/ckpt-*.safetensors >/dev/null 2>&1 || fail "SIGHUP: no checkpoint"
finish
