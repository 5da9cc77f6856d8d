#!/usr/bin/env bash
# What a user coming from PyTorch checks first (issue 14, part 5):
# - epochs count from 0 in every file: a metrics.jsonl line's "epoch" is the
#   ledger's "epoch" of the step that ended it (and `--json` progress says
#   the same); a run written when metrics counted from 1 still resumes;
# - accuracy comes with its exact parts: *_correct / *_total == *_accuracy,
#   *_total the size of the set;
# - --stop-after 0 saves the initial weights (ckpt-00000000.safetensors,
#   params.* within the initialiser's bound) and --resume from it gives the
#   bits of a run that never stopped.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/epoch_counts
rm -rf "$dir"
mkdir -p "$dir"
small_fashion "$dir/data" 600 100
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
# 540 training samples, batch 64: 9 steps an epoch, 27 in all
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=3 --set model.trunk.0.out=32
        --set model.trunk.3.out=32 --set ledger.hash_every=3)
"$REPRO" train "$cfg" "${common[@]}" --out "$dir/full"

checks=$((checks + 1))
python3 - "$dir/full" <<'PY' || fail "epochs and accuracy counts (above)"
import json, struct, sys
run = sys.argv[1]
ledger = {l["step"]: l for l in map(json.loads, open(f"{run}/ledger.jsonl"))}
metrics = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
bad = []
if [m["epoch"] for m in metrics] != [0, 1, 2]:
    bad.append(f"metrics epochs {[m['epoch'] for m in metrics]}, expected [0, 1, 2]")
for m in metrics:
    if ledger[m["step"]]["epoch"] != m["epoch"]:
        bad.append(f"metrics epoch {m['epoch']} ends at step {m['step']}, whose ledger epoch is {ledger[m['step']]['epoch']}")
    for s, total in (("val", 60), ("test", 100)):
        if m[f"{s}_total"] != total:
            bad.append(f"{s}_total {m[f'{s}_total']}, expected {total}")
        if f32(m[f"{s}_correct"] / m[f"{s}_total"]) != f32(m[f"{s}_accuracy"]):
            bad.append(f"{s}: {m[f'{s}_correct']}/{m[f'{s}_total']} is not {s}_accuracy {m[f'{s}_accuracy']}")
final = json.load(open(f"{run}/run.json"))["final"]
if f32(final["test_correct"] / final["test_total"]) != f32(final["test_accuracy"]) or final["test_total"] != 100:
    bad.append(f"final: {final['test_correct']}/{final['test_total']} vs {final['test_accuracy']}")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --json progress: the epoch events count from 0 too.
"$REPRO" train "$cfg" "${common[@]/--quiet/--json}" --out "$dir/json" > "$dir/json.out"
checks=$((checks + 1))
[[ $(grep -o '"event":"epoch","epoch":[0-9]*' "$dir/json.out" | sed 's/.*://' | tr '\n' ' ') == "0 1 2 " ]] ||
    fail "--json epoch events: $(grep '"event":"epoch"' "$dir/json.out")"

# A run whose metrics.jsonl counts from 1 (written before) still resumes.
"$REPRO" train "$cfg" "${common[@]}" --stop-after 14 --out "$dir/old" 2>/dev/null
sed -i 's/^{"epoch":0,/{"epoch":1,/' "$dir/old/metrics.jsonl"
expect_exit 0 "resume a run whose metrics count from 1" -- "$REPRO" train --resume "$dir/old" --quiet || true
checks=$((checks + 1))
cmp -s "$dir/full/ledger.jsonl" "$dir/old/ledger.jsonl" || fail "old numbering: resumed ledger differs"
# ... but a line out of its order is still refused.
"$REPRO" train "$cfg" "${common[@]}" --stop-after 22 --out "$dir/mixed" 2>/dev/null
sed -i '2s/^{"epoch":1,/{"epoch":2,/' "$dir/mixed/metrics.jsonl"
expect_exit 2 "metrics epoch out of order" -- "$REPRO" train --resume "$dir/mixed" --quiet || true
expect_err_contains "metrics epoch out of order" "metrics.jsonl:2: epoch 2, expected epoch 1"

# --stop-after 0: the initial weights.
expect_exit 0 "--stop-after 0" -- "$REPRO" train "$cfg" "${common[@]}" --stop-after 0 --out "$dir/init" || true
checks=$((checks + 1))
[[ -f $dir/init/ckpt-00000000.safetensors && ! -s $dir/init/ledger.jsonl ]] ||
    fail "--stop-after 0: no ckpt-00000000.safetensors, or a ledger line: $(ls "$dir/init")"
checks=$((checks + 1))
grep -q '"status":[[:space:]]*"interrupted"' "$dir/init/run.json" || fail "--stop-after 0: not marked interrupted"
checks=$((checks + 1))
python3 - "$dir/init/ckpt-00000000.safetensors" "$dir/full/model.safetensors" <<'PY' || fail "initial weights (above)"
import json, math, struct, sys
def load(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    head = json.loads(blob[8:8 + n])
    meta = head.pop("__metadata__", {})
    out = {}
    for k, t in head.items():
        b, e = t["data_offsets"]
        out[k] = (t["shape"], struct.unpack(f"<{(e - b) // 4}f", blob[8 + n + b:8 + n + e]))
    return out, meta
init, meta = load(sys.argv[1])
final, _ = load(sys.argv[2])
bad = []
if meta.get("step") != "0":
    bad.append(f"checkpoint step {meta.get('step')}")
w_shape, w = init["params.trunk.0.weight"]
if w_shape != [32, 784]:
    bad.append(f"trunk.0.weight shape {w_shape}")
bound = math.sqrt(6 / 784)  # kaiming_uniform (the default) with fan_in 784
if max(abs(x) for x in w) > bound or len(set(w)) < len(w) // 2:
    bad.append(f"trunk.0.weight is not a fresh initialisation (max |w| {max(map(abs, w))}, bound {bound})")
if any(x != 0 for x in init["params.trunk.0.bias"][1]):
    bad.append("a bias is not zero at step 0 (the default initialiser)")
if w == final["trunk.0.weight"][1]:
    bad.append("the initial weights equal the trained ones")
if any(x != 0 for x in init["optim.m.trunk.0.weight"][1]):
    bad.append("the optimiser state is not zero at step 0")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
expect_exit 0 "resume from step 0" -- "$REPRO" train --resume "$dir/init" --quiet || true
same_bits "resumed from the initial weights" "$dir/full" "$dir/init"
expect_exit 2 "--stop-after -1" -- "$REPRO" train "$cfg" "${common[@]}" --stop-after -1 --out "$dir/neg" || true
expect_err_contains "--stop-after -1" "--stop-after expects a step >= 0, got '-1'"
finish
