#!/usr/bin/env bash
# The graph form of a model in training (docs/model.md):
#   - examples/fashion_mlp.yaml written as model.nodes trains to the same
#     ledger and params_sha256 as its trunk/heads form;
#   - a residual graph (add, concat, a head reading an inner node) with dropout
#     gives the same bits for threads 1/2/3, accum_steps 1/4 and a resume mid-run;
#   - graphs that do not fit are refused with file:line, exit 2, and nothing written.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/graph_train
rm -rf "$dir"
mkdir -p "$dir"
common=(--quiet --set data.limit_train=2000 --set data.limit_test=300 --set batch_size=64
        --set max_steps=60 --set epochs=100 --set ledger.hash_every=20)

# the example's own data section, then a model written as nodes
sed -n '1,/^model:/p' "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml" | sed '$d' >"$dir/head.yaml"
{
    cat "$dir/head.yaml"
    cat <<'YAML'
model:
  nodes:
    - {name: trunk.0, type: linear, out: 256}
    - {name: trunk.1, type: relu}
    - {name: trunk.2, type: dropout, p: 0.3}
    - {name: trunk.3, type: linear, out: 256}
    - {name: trunk.4, type: relu}
    - {name: trunk.5, type: dropout, p: 0.3}
  heads:
    - {name: class, layers: [{type: linear, out: 10}], loss: cross_entropy}
optim: {name: adam, lr: 1.0e-3, beta1: 0.9, beta2: 0.999, eps: 1.0e-8}
YAML
} >"$dir/mlp_nodes.yaml"
expect_exit 0 "trunk form" -- "$REPRO" train "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml" --out "$dir/trunk" "${common[@]}"
expect_exit 0 "node form" -- "$REPRO" train "$dir/mlp_nodes.yaml" --out "$dir/nodes" "${common[@]}"
same_bits "trunk/heads form vs model.nodes form" "$dir/trunk" "$dir/nodes"

{
    cat "$dir/head.yaml"
    cat <<'YAML'
model:
  nodes:
    - {name: fc1, type: linear, out: 64}
    - {name: act1, type: gelu}
    - {name: drop1, type: dropout, p: 0.2}
    - {name: fc2, type: linear, out: 64}
    - {name: act2, type: silu}
    - {name: res, type: add, inputs: [act1, act2]}
    - {name: norm, type: layernorm}
    - {name: both, type: concat, inputs: [norm, drop1]}
    - {name: fc3, type: linear, out: 10}
  heads:
    - {name: class, input: fc3}
    - {name: aux, input: norm, layers: [{type: linear, out: 10}], weight: 0.3}
optim: {name: adam, lr: 1.0e-3}
YAML
} >"$dir/residual.yaml"
train() { # name, extra args...
    local name=$1
    shift
    expect_exit 0 "residual $name" -- "$REPRO" train "$dir/residual.yaml" --out "$dir/$name" "${common[@]}" "$@"
}
train t1 --set threads=1
train t2 --set threads=2
train t3 --set threads=3
train a4 --set accum_steps=4 --set threads=2
same_bits "residual graph: threads 1 vs 2" "$dir/t1" "$dir/t2"
same_bits "residual graph: threads 1 vs 3" "$dir/t1" "$dir/t3"
same_bits "residual graph: accum 1 vs 4" "$dir/t1" "$dir/a4"
expect_exit 0 "residual stop" -- "$REPRO" train "$dir/residual.yaml" --out "$dir/resumed" "${common[@]}" \
    --set checkpoint.every_steps=10 --stop-after 37
expect_exit 0 "residual resume" -- "$REPRO" train --resume "$dir/resumed" --quiet
same_bits "residual graph: resumed at 37" "$dir/t1" "$dir/resumed"

# bad graphs: a clear config error naming the file and line, exit 2, no run directory
bad() { # name, nodes text, expected message
    { cat "$dir/head.yaml"; printf 'model:\n  nodes:\n%b  heads:\n    - {name: class}\n' "$2"; } >"$dir/$1.yaml"
    expect_exit 2 "$1" -- "$REPRO" train "$dir/$1.yaml" --out "$dir/out_$1" "${common[@]}"
    expect_err_contains "$1" "$3"
    checks=$((checks + 1))
    [[ ! -e $dir/out_$1 ]] || fail "$1: a run directory was written"
}
line=$(($(wc -l <"$dir/head.yaml") + 3))
bad_image() { # name, nodes text, expected message: as bad, on [1, 28, 28] images
    { cat "$dir/head.yaml"; printf 'model:\n  input_shape: [1, 28, 28]\n  nodes:\n%b  heads:\n    - {name: class}\n' "$2"; } \
        >"$dir/$1.yaml"
    expect_exit 2 "$1" -- "$REPRO" train "$dir/$1.yaml" --out "$dir/out_$1" "${common[@]}"
    expect_err_contains "$1" "$3"
    checks=$((checks + 1))
    [[ ! -e $dir/out_$1 ]] || fail "$1: a run directory was written"
}
tail=" - {name: f, type: flatten}\n    - {name: o, type: linear, out: 10}\n"
bad_image big_kernel "    - {name: c, type: conv2d, out: 4, kernel: 31}\n   $tail" \
    "$dir/big_kernel.yaml:$((line + 1)): model.nodes.0 'c' (conv2d): kernel 31x31 (dilation 1) is larger than the padded input 28x28 (padding 0)"
bad_image stride0 "    - {name: c, type: conv2d, out: 4, kernel: 3, stride: 0}\n   $tail" \
    "$dir/stride0.yaml:$((line + 1)):58: model.nodes.0.stride: must be >= 1, got 0"
bad_image groups "    - {name: c, type: conv2d, out: 4, kernel: 3, groups: 3}\n   $tail" \
    "model.nodes.0 'c' (conv2d): groups 3 does not divide 1 input channels"
bad_image bn_group "    - {name: c, type: conv2d, out: 4, kernel: 3}\n    - {name: b, type: batch_norm, group_size: 48}\n   $tail" \
    "model.nodes.1.group_size: batch-norm group 48 does not divide the micro-batch of 64 samples (batch_size 64 / accum_steps 1)"
bad missing "    - {name: a, type: linear, out: 10, inputs: [nope]}\n" \
    "$dir/missing.yaml:$line: model.nodes.0 'a' (linear): input 'nope' does not exist"
bad cycle "    - {name: a, type: linear, out: 10, inputs: [b]}\n    - {name: b, type: relu, inputs: [a]}\n" \
    "$dir/cycle.yaml:$line: model.nodes.0 'a' (linear): input 'b' forms a cycle"
bad shapes "    - {name: a, type: linear, out: 10}\n    - {name: b, type: add, inputs: [a, input]}\n" \
    "$dir/shapes.yaml:$((line + 1)): model.nodes.1 'b' (add): cannot add input 1 of shape [784] to input 0 of shape [10]"
finish
