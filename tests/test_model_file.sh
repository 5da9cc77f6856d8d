#!/usr/bin/env bash
# model.safetensors of a tiny Fashion-MNIST run, read by the independent
# reader tests/read_safetensors.py (json + struct + numpy, no repro code):
# the tensors of the MLP in the layout model.h documents (trunk first,
# weight [out][in] before bias, the head after), F32, the metadata of the
# run, and the tensor bytes, concatenated in file order, hash to the run's
# params_sha256 (the SHA-256 of the model's parameter buffer).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
py=/usr/bin/python3
if [[ ! -x $py ]] || ! $py -c 'import numpy' 2>/dev/null; then
    echo "SKIPPED: /usr/bin/python3 with numpy is needed to read safetensors independently"
    exit 77
fi
dir=$REPRO_TEST_TMP/model_file
rm -rf "$dir"
mkdir -p "$dir"
small=(--quiet --set data.limit_train=300 --set data.limit_test=100 --set max_steps=3 --set batch_size=32)
expect_exit 0 "train" -- "$REPRO" train "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml" "${small[@]}" --out "$dir/run"
file=$dir/run/model.safetensors
expect_exit 0 "read_safetensors.py" -- $py "$REPRO_SOURCE_DIR/tests/read_safetensors.py" "$file"
listing=$last_out

checks=$((checks + 1))
got=$(sed -n 's/^tensor \([^ ]*\) dtype=\([^ ]*\) shape=\(\[[0-9,]*\]\).*/\1 \2 \3/p' <<<"$listing")
want="trunk.0.weight F32 [256,784]
trunk.0.bias F32 [256]
trunk.3.weight F32 [256,256]
trunk.3.bias F32 [256]
heads.class.0.weight F32 [10,256]
heads.class.0.bias F32 [10]"
[[ "$got" == "$want" ]] || fail "tensors (name dtype shape):
$got
expected:
$want"

for kv in step=3 seed=42 format=pt \
          "config_sha256=$(sed -n 's/.*"config_sha256":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' "$dir/run/run.json" | head -n 1)"; do
    checks=$((checks + 1))
    grep -qx "meta $kv" <<<"$listing" || fail "metadata lacks '$kv'; it has: $(grep '^meta' <<<"$listing" | tr '\n' ' ')"
done

# the data section: tensors back to back in file order, their bytes the
# parameter buffer whose SHA-256 run.json records
checks=$((checks + 1))
sha=$($py - "$file" <<'PY'
import hashlib, json, struct, sys
blob = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + n])
header.pop("__metadata__", None)
data = blob[8 + n:]
end = 0
h = hashlib.sha256()
for name, info in header.items():
    b, e = info["data_offsets"]
    assert b == end, (name, b, end)
    h.update(data[b:e])
    end = e
assert end == len(data), (end, len(data))
print(h.hexdigest())
PY
) || fail "the data section is not the tensors back to back"
want_sha=$(params_sha "$dir/run")
[[ -n "$sha" && "$sha" == "$want_sha" ]] || fail "SHA-256 of the tensors '$sha' is not params_sha256 '$want_sha'"
finish
