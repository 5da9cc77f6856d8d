#!/bin/bash
# Per-operation traces and `repro diff --trace`: a run whose gradient is
# perturbed by one ulp at one element of one step (REPRO_TEST_PERTURB) is
# told apart from a normal run, and --trace names that step, that layer's
# gradient tensor, that element, both values and the distance (1 ulp).
source "$(dirname "$0")/lib.sh"
need_fashion
set -e
T="$REPRO_TEST_TMP/trace"
rm -rf "$T"
mkdir -p "$T"
cat > "$T/small.yaml" <<YAML
seed: 7
epochs: 1
max_steps: 10
batch_size: 128
data:
  format: idx
  train_images: $FASHION/train-images-idx3-ubyte.gz
  train_labels: $FASHION/train-labels-idx1-ubyte.gz
  limit_train: 2000
  val_fraction: 0.1
model:
  trunk:
    - {type: linear, out: 64}
    - {type: relu}
    - {type: linear, out: 64}
    - {type: relu}
  heads:
    - {name: class, layers: [{type: linear, out: 10}], loss: cross_entropy}
ledger: {hash_every: 1}
YAML
PERTURB="step=5,tensor=trunk.2.weight,index=1234"
has() { # has NAME TEXT NEEDLE
    checks=$((checks + 1))
    [[ "$2" == *"$3"* ]] || fail "$1: output lacks '$3'; got: $2"
}

expect_exit 0 "run A" -- "$REPRO" train "$T/small.yaml" --out "$T/A" --quiet
REPRO_TEST_PERTURB=$PERTURB expect_exit 0 "run B (perturbed)" -- "$REPRO" train "$T/small.yaml" --out "$T/B" --quiet
has "B's record" "$(cat "$T/B/run.json")" '"test_perturb":'
has "B's record" "$(tr -d ' \t\n' < "$T/B/run.json")" '"test_perturb":{"step":5,"tensor":"trunk.2.weight","index":1234}'

# The ledger: step 5's update is the first thing that differs (hash_every 1).
expect_exit 1 "diff A B" -- "$REPRO" diff "$T/A" "$T/B"
has "diff A B" "$last_out" "first divergent step: 5 (ledger line 5)"
has "diff A B" "$last_out" "last step with matching params_sha256: 4"
has "diff A B" "$last_out" "  test_perturb: (absent) vs {\"step\":5,"

# --trace re-runs both (B with its own perturbation) and names the element.
expect_exit 1 "diff --trace" -- "$REPRO" diff "$T/A" "$T/B" --trace --trace-dir "$T/kept"
out=$last_out
has "diff --trace" "$out" "trace: re-ran both runs, tracing step 5 (params_sha256 last matched after step 4)"
has "diff --trace" "$out" "trace: first difference at step 5, op grad, tensor grad.trunk.2.weight [64][64]"
has "diff --trace" "$out" "  element 1234 (row 19, col 18): A 0x"
has "diff --trace" "$out" ", 1 ulp apart"
has "diff --trace" "$out" "  1 of 4096 elements differ, at most 1 ulp apart"
has "diff --trace" "$out" "result: different"
# The printed values are the traced ones, and B's is the next float up from A's.
checks=$((checks + 1))
python3 - "$T/kept" "$out" <<'PY' || fail "diff --trace: values do not match trace.bin"
import json, re, struct, sys
kept, out = sys.argv[1], sys.argv[2]
m = re.search(r"element 1234 \(row 19, col 18\): A (0x[0-9a-f]{8}) \((\S+)\) vs B (0x[0-9a-f]{8}) \((\S+)\)", out)
assert m, out
def traced(side):
    for line in open(f"{kept}/{side}/trace/trace.jsonl"):
        t = json.loads(line)
        if t["tensor"] == "grad.trunk.2.weight":
            with open(f"{kept}/{side}/trace/trace.bin", "rb") as f:
                f.seek(t["offset"] + 4 * 1234)
                return struct.unpack("<I", f.read(4))[0]
a, b = traced("a"), traced("b")
assert a == int(m.group(1), 16) and b == int(m.group(3), 16), (a, b, m.groups())
# the next binary32 value toward +inf: one step of the bit pattern, down for negatives
want = 1 if a == 0x80000000 else a - 1 if a >> 31 else a + 1
assert b == want, (hex(a), hex(b))
assert struct.pack("<f", float(m.group(2))) == struct.pack("<I", a)  # %.9g round-trips
PY

# With the default hash_every (50) the ledger fingerprints only the last
# step, so that is where the runs first differ; --trace then records the
# last 8 steps (3-10), whose earlier tensors agree, and still finds the
# gradient. (A one-ulp change can also vanish: Adam's moments round it
# away within a few steps, so the knob acts at the last step here.)
expect_exit 0 "run A50" -- "$REPRO" train "$T/small.yaml" --set ledger.hash_every=50 --out "$T/A50" --quiet
REPRO_TEST_PERTURB="step=10,tensor=trunk.2.weight,index=1234" expect_exit 0 "run B50" -- \
    "$REPRO" train "$T/small.yaml" --set ledger.hash_every=50 --out "$T/B50" --quiet
expect_exit 1 "diff --trace (hash_every 50)" -- "$REPRO" diff "$T/A50" "$T/B50" --trace
has "diff --trace (hash_every 50)" "$last_out" "first divergent step: 10 (ledger line 10)"
has "diff --trace (hash_every 50)" "$last_out" "trace: re-ran both runs, tracing steps 3-10"
has "diff --trace (hash_every 50)" "$last_out" "first difference at step 10, op grad, tensor grad.trunk.2.weight"
has "diff --trace (hash_every 50)" "$last_out" "  element 1234 (row 19, col 18)"

# Identical runs: nothing to trace.
expect_exit 0 "diff A A --trace" -- "$REPRO" diff "$T/A" "$T/A" --trace
has "diff A A --trace" "$last_out" "trace: the runs are identical; nothing to trace"
has "diff A A --trace" "$last_out" "result: identical"

# A trace with accumulation names each micro-batch's tensors; the gradients
# after the whole backward are the same bits as without accumulation.
expect_exit 0 "trace accum 1" -- "$REPRO" train "$T/small.yaml" --out "$T/acc1" --quiet --trace-step 3 --trace-dir "$T/acc1/trace"
expect_exit 0 "trace accum 4" -- "$REPRO" train "$T/small.yaml" --set accum_steps=4 --out "$T/acc4" --quiet \
    --trace-step 3 --trace-dir "$T/acc4/trace"
has "trace accum 4" "$(cat "$T/acc4/trace/trace.jsonl")" '"op":"mb3.trunk.2.linear.forward","tensor":"mb3.trunk.2.linear.out","shape":[32,64]'
has "trace accum 1" "$(cat "$T/acc1/trace/trace.jsonl")" '"op":"trunk.2.linear.forward","tensor":"trunk.2.linear.out","shape":[128,64]'
checks=$((checks + 1))
g1=$(grep -E '"op":"(grad|step)"' "$T/acc1/trace/trace.jsonl" | sed 's/"offset":[0-9]*,//')
g4=$(grep -E '"op":"(grad|step)"' "$T/acc4/trace/trace.jsonl" | sed 's/"offset":[0-9]*,//')
[[ -n "$g1" && "$g1" == "$g4" ]] || fail "gradients and loss differ between accum_steps 1 and 4"
checks=$((checks + 1))
[[ $(grep -c . "$T/acc1/trace/trace.jsonl") -eq 25 ]] || fail "trace of step 3: expected 25 lines (6 params, input, 5 outputs, 2 loss, 4 dx, 6 grads, loss)"
has "traced run stops" "$(cat "$T/acc1/run.json")" '"status":	"interrupted"'
# The ReLUs here write over their linear layers' outputs (model.c,
# relu_in_place): the trace still holds each layer's output as it was,
# negatives and all, and the ReLU's is max(that, +0) element by element.
checks=$((checks + 1))
python3 - "$T/acc1/trace" <<'PY' || fail "trace after an in-place ReLU: the linear layer's output is not its own"
import json, struct, sys
d = sys.argv[1]
spans = {}
for line in open(f"{d}/trace.jsonl"):
    t = json.loads(line)
    spans[t["tensor"]] = t
def values(name):
    t = spans[name]
    n = 1
    for k in t["shape"]:
        n *= k
    with open(f"{d}/trace.bin", "rb") as f:
        f.seek(t["offset"])
        return struct.unpack(f"<{n}f", f.read(4 * n))
for layer, act in (("trunk.0.linear.out", "trunk.1.relu.out"), ("trunk.2.linear.out", "trunk.3.relu.out")):
    x, y = values(layer), values(act)
    assert len(x) == len(y) and sum(v < 0 for v in x) > len(x) // 10, (layer, "no negatives: traced after the ReLU?")
    assert all(struct.pack("<f", b) == struct.pack("<f", a if a > 0 else 0.0) for a, b in zip(x, y)), act
PY

# A ReLU read only by a max pool runs folded into it (model.c,
# relu_before_max_pool) except in a traced step, which runs every node on
# its own: the traced step's parameters are the untraced step's bits, and
# its trace holds the ReLU's own output and input gradient.
cat > "$T/cnn.yaml" <<YAML
seed: 7
epochs: 1
max_steps: 3
batch_size: 32
data:
  format: idx
  train_images: $FASHION/train-images-idx3-ubyte.gz
  train_labels: $FASHION/train-labels-idx1-ubyte.gz
  limit_train: 500
  val_fraction: 0.1
  scale: 0.00392156862745098
model:
  input_shape: [1, 28, 28]
  nodes:
    - {name: conv1, type: conv2d, out: 4, kernel: 3, padding: 1}
    - {name: relu1, type: relu}
    - {name: pool1, type: max_pool2d, kernel: 2}
    - {name: flat, type: flatten}
    - {name: fc, type: linear, out: 10}
  heads:
    - {name: class, input: fc, loss: cross_entropy}
optim: {name: adam, lr: 1.0e-3}
ledger: {hash_every: 1}
YAML
expect_exit 0 "conv net untraced" -- "$REPRO" train "$T/cnn.yaml" --out "$T/cnnA" --quiet
expect_exit 0 "conv net, step 3 traced" -- "$REPRO" train "$T/cnn.yaml" --out "$T/cnnB" --quiet \
    --trace-step 3 --trace-dir "$T/cnnB/trace"
expect_exit 0 "traced conv net vs untraced" -- "$REPRO" diff "$T/cnnA" "$T/cnnB"
has "traced conv net vs untraced" "$last_out" "ledgers agree on all 3 lines"
has "traced conv net vs untraced" "$last_out" "result: identical"
has "conv net trace" "$(cat "$T/cnnB/trace/trace.jsonl")" '"tensor":"relu1.relu.out","shape":[32,3136]'
has "conv net trace" "$(cat "$T/cnnB/trace/trace.jsonl")" '"tensor":"relu1.relu.dx","shape":[32,3136]'

# Mistakes in the knob and the flags are refused with a message.
REPRO_TEST_PERTURB="step=5,tensor=trunk.9.weight,index=0" expect_exit 2 "unknown tensor" -- \
    "$REPRO" train "$T/small.yaml" --out "$T/bad" --quiet
expect_err_contains "unknown tensor" "test perturbation: the model has no parameter tensor 'trunk.9.weight' (it has trunk.0.weight, trunk.0.bias, trunk.2.weight"
REPRO_TEST_PERTURB="step=5,tensor=trunk.2.weight,index=4096" expect_exit 2 "index out of range" -- \
    "$REPRO" train "$T/small.yaml" --out "$T/bad" --quiet
expect_err_contains "index out of range" "test perturbation: index 4096 is outside trunk.2.weight (4096 elements)"
REPRO_TEST_PERTURB="step=five" expect_exit 2 "bad knob" -- "$REPRO" train "$T/small.yaml" --out "$T/bad" --quiet
expect_err_contains "bad knob" "REPRO_TEST_PERTURB: expected \"step=S,tensor=NAME,index=I\""
expect_exit 2 "trace-step alone" -- "$REPRO" train "$T/small.yaml" --trace-step 3
expect_err_contains "trace-step alone" "--trace-step and --trace-dir go together"
expect_exit 2 "trace-step range" -- "$REPRO" train "$T/small.yaml" --trace-step 5-3 --trace-dir "$T/x"
expect_err_contains "trace-step range" "--trace-step expects a step N or a range M-N"
finish
