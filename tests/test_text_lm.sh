#!/usr/bin/env bash
# The character language model end to end, on a small made-up corpus (no
# package needed): data.format text trains the same bits with loader
# workers, threads, gradient accumulation and a stop and resume (and with
# ignore_index: no bit changes when no target holds the id); the vocabulary lands in the
# run directory with its hash in run.json; `repro sample` prints the same
# text on 1 or 3 threads and alone or batched with other prompts; bad text,
# a too-small embedding, prompts outside the vocabulary and runs that are
# not language models are clear errors (exit 2).
source "$(dirname "$0")/lib.sh"
set -e
dir=$REPRO_TEST_TMP/text_lm
rm -rf "$dir"
mkdir -p "$dir/corpus"
for i in $(seq 1 40); do
    echo "the quick brown fox $i jumps over the lazy dog; a cat sat on the mat."
done > "$dir/corpus/a.txt"
printf 'caf\xc3\xa9 au lait, %s\n' one two three > "$dir/corpus/b.txt"
cat > "$dir/lm.yaml" <<YAML
seed: 3
epochs: 2
max_steps: 30
batch_size: 16
data: {format: text, train_text: corpus/*.txt, context: 12, val_fraction: 0.1}
model:
  nodes:
    - {name: tok, type: embedding, num_embeddings: 48, dim: 16}
    - {name: pos, type: pos_embedding}
    - {name: fc, type: linear, out: 32}
    - {name: act, type: relu}
    - {name: dp, type: dropout, p: 0.1}
    - {name: logits, type: linear, out: 48}
  heads:
    - {name: lm, input: logits, loss: lm_cross_entropy}
optim: {name: adam, lr: 3.0e-3}
YAML
train() {
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/$name" "$@"
}
train base
train workers --set loader.workers=2
same_bits "text: loader workers 0 vs 2" "$dir/base" "$dir/workers"
train threads --set threads=2
same_bits "text: threads 1 vs 2" "$dir/base" "$dir/threads"
train accum --set accum_steps=4
same_bits "text: accum_steps 1 vs 4" "$dir/base" "$dir/accum"
train stopped --stop-after 11
expect_exit 0 "resume a text run" -- "$REPRO" train --resume "$dir/stopped" --quiet
same_bits "text: stopped at 11 and resumed" "$dir/base" "$dir/stopped"
# ignore_index: an id no target holds (the vocabulary has 42 characters)
# changes no bit; the id of ' ' (1) changes the run, and that run keeps its
# bits across threads and gradient accumulation (each sample's mean over its
# counted positions)
train ign_none --set model.heads.0.ignore_index=47
same_bits "text: ignore_index of no target vs none" "$dir/base" "$dir/ign_none"
train ign_space --set model.heads.0.ignore_index=1
checks=$((checks + 1))
[[ "$(params_sha "$dir/ign_space")" != "$(params_sha "$dir/base")" ]] || fail "ignore_index 1 changed nothing"
train ign_space_accum --set model.heads.0.ignore_index=1 --set accum_steps=4 --set threads=2
same_bits "text: ignore_index, accum_steps 1 vs 4, threads 1 vs 2" "$dir/ign_space" "$dir/ign_space_accum"

# the vocabulary: sorted code points, in the run directory, its hash in run.json
checks=$((checks + 1))
tr -d '\t\n' < "$dir/base/vocab.json" | grep -q '"size":[[:space:]]*42' || fail "vocab size: $(cat "$dir/base/vocab.json")"
checks=$((checks + 1))
tr -d '\t\n' < "$dir/base/vocab.json" | grep -qF '"tokens":["\n", " ", ",", ".", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ";", "a", "b", "c", "d", "e",' ||
    fail "vocab.json is not the sorted code points: $(cat "$dir/base/vocab.json")"
checks=$((checks + 1))
grep -q "$(sha256sum "$dir/base/vocab.json" | cut -c1-64)" "$dir/base/run.json" || fail "run.json lacks vocab.json's sha256"
checks=$((checks + 1))
grep -q '"val_bits_per_char"' "$dir/base/metrics.jsonl" || fail "metrics lack val_bits_per_char"

# sampling: threads, batching, seeds
s=(--tokens 50 --temperature 0.8 --seed 7)
expect_exit 0 "sample" -- "$REPRO" sample "$dir/base" --prompt "the " "${s[@]}"
one=$last_out
expect_exit 0 "sample threads 3" -- "$REPRO" sample "$dir/base" --prompt "the " "${s[@]}" --threads 3
checks=$((checks + 1))
[[ "$last_out" == "$one" ]] || fail "sample differs on 3 threads: '$one' vs '$last_out'"
expect_exit 0 "sample batched" -- "$REPRO" sample "$dir/base" --prompt "a cat" --prompt "the " --prompt "café" \
    "${s[@]}" --json --top-k 0
checks=$((checks + 1))
[[ "$(echo "$last_out" | sed -n 2p)" == "$(printf '{"prompt":"the ","text":"%s"}' "$one")" ]] ||
    fail "sample differs when batched: '$one' vs '$(echo "$last_out" | sed -n 2p)'"
checks=$((checks + 1))
[[ ${#one} -eq 54 && "$one" == "the "* ]] || fail "sample is not the prompt and 50 characters: '$one'"
expect_exit 0 "sample seed 8" -- "$REPRO" sample "$dir/base" --prompt "the " --tokens 50 --temperature 0.8 --seed 8
checks=$((checks + 1))
[[ "$last_out" != "$one" ]] || fail "seeds 7 and 8 gave the same text"
expect_exit 0 "sample greedy" -- "$REPRO" sample "$dir/base" --prompt "the " --tokens 20 --temperature 0
g1=$last_out
expect_exit 0 "sample greedy top-k" -- "$REPRO" sample "$dir/base" --prompt "the " --tokens 20 --temperature 0 --seed 5
checks=$((checks + 1))
[[ "$last_out" == "$g1" ]] || fail "greedy sampling depends on the seed"

# CPU == GPU, where the build and the machine have one: the same run, the same text
set +e
probe=$("$REPRO" train "$dir/lm.yaml" --quiet --set max_steps=1 --set device=cuda --out "$dir/probe" 2>&1)
set -e
if [[ "$probe" == *"no CUDA backend"* || "$probe" == *"no CUDA GPU"* ]]; then
    echo "SKIPPED: the device: cuda part (${probe#repro train: })"
else
    train cuda --set device=cuda
    same_bits "text: device cpu vs cuda" "$dir/base" "$dir/cuda"
    expect_exit 0 "sample on cuda" -- "$REPRO" sample "$dir/base" --prompt "the " "${s[@]}" --device cuda
    checks=$((checks + 1))
    [[ "$last_out" == "$one" ]] || fail "sample differs on cuda: '$one' vs '$last_out'"
fi

# bad input
expect_exit 2 "prompt outside the vocabulary" -- "$REPRO" sample "$dir/base" --prompt "the Zoo"
expect_err_contains "prompt outside the vocabulary" \
    "prompt 1: character 'Z' (U+005A) at position 4 is not in the model's vocabulary"
expect_exit 2 "sample without a prompt" -- "$REPRO" sample "$dir/base"
expect_err_contains "sample without a prompt" "no prompt given"
expect_exit 2 "sample a missing run" -- "$REPRO" sample "$dir/nope" --prompt a
expect_err_contains "sample a missing run" "cannot open '$dir/nope/run.json'"
printf 'a,b,t\n1,2,0.5\n3,4,1.5\n5,6,2.5\n7,8,3.5\n' > "$dir/reg.csv"
cat > "$dir/reg.yaml" <<YAML
max_steps: 1
batch_size: 2
data: {format: csv, train_csv: reg.csv, target_columns: [t], val_fraction: 0}
model: {trunk: [{type: linear, out: 2}], heads: [{name: r, loss: mse, layers: [{type: linear, out: 1}]}]}
YAML
expect_exit 0 "train a regression" -- "$REPRO" train "$dir/reg.yaml" --quiet --out "$dir/reg"
expect_exit 2 "sample a regression run" -- "$REPRO" sample "$dir/reg" --prompt a
expect_err_contains "sample a regression run" "not a language model run"
expect_exit 2 "vocabulary over num_embeddings" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/e1" \
    --set model.nodes.0.num_embeddings=30
expect_err_contains "vocabulary over num_embeddings" \
    "model.nodes.0 'tok' (embedding): num_embeddings 30 is smaller than the vocabulary of"
mkdir -p "$dir/bad"
: > "$dir/bad/empty.txt"
expect_exit 2 "empty text file" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/e2" --set data.train_text="$dir/bad/empty.txt"
expect_err_contains "empty text file" "'$dir/bad/empty.txt': the text file is empty"
printf 'hello \xff world\n' > "$dir/bad/latin.txt"
expect_exit 2 "not UTF-8" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/e3" --set data.train_text="$dir/bad/latin.txt"
expect_err_contains "not UTF-8" "'$dir/bad/latin.txt': invalid UTF-8 at byte 6"
printf 'short\n' > "$dir/bad/short.txt"
expect_exit 2 "shorter than the context" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/e4" --set data.train_text="$dir/bad/short.txt"
expect_err_contains "shorter than the context" "6 characters, fewer than data.context + 1 = 13"
expect_exit 2 "no file matches" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/e5" --set data.train_text="$dir/bad/*.none"
expect_err_contains "no file matches" "no file matches"
expect_exit 2 "lm loss on csv" -- "$REPRO" train "$dir/reg.yaml" --quiet --out "$dir/e6" --set model.heads.0.loss=lm_cross_entropy
expect_err_contains "lm loss on csv" "loss lm_cross_entropy needs data.format text"
expect_exit 2 "text without context" -- "$REPRO" train "$dir/lm.yaml" --quiet --out "$dir/e7" --set data.context=0
expect_err_contains "text without context" "format text needs context"
finish
