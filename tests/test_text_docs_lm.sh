#!/usr/bin/env bash
# data.text_samples documents end to end, on examples/fortune_docs_lm.yaml
# with a small made-up corpus (no package needed): the documents' chunk
# count (the split's n_train + n_val), the same bits with loader workers,
# threads, gradient accumulation and a stop and resume, vocab.json's pad (id 0, a null token,
# its pad_id in run.json), `repro sample` never drawing the pad even from a
# model that learnt to predict it, and the errors (exit 2) of a corpus
# without documents and of a pad_mask or ignore_index other than the pad.
source "$(dirname "$0")/lib.sh"
set -e
dir=$REPRO_TEST_TMP/text_docs_lm
rm -rf "$dir"
mkdir -p "$dir/corpus"
for i in $(seq 1 60); do
    echo "fortune $i: the quick brown fox"
    if ((i % 3 == 0)); then echo "and a second line, longer than the context, for fortune $i"; fi
    echo "%"
done > "$dir/corpus/a.txt"
printf '%%\n%%\nq\n%%\nhi\n%%\nthe end' > "$dir/corpus/b.txt" # "", "q\n", "hi\n", "the end"
ex=$REPRO_SOURCE_DIR/examples/fortune_docs_lm.yaml
small=(--set "data.train_text=$dir/corpus/*.txt" --set data.context=24 --set data.val_fraction=0.1
       --set batch_size=8 --set eval_batch_size=16 --set max_steps=8 --set ledger.hash_every=4)
train() {
    local name=$1
    shift
    expect_exit 0 "train $name" -- "$REPRO" train "$ex" --quiet --out "$dir/$name" "${small[@]}" "$@"
}
train base
train workers --set loader.workers=2
same_bits "documents: loader workers 0 vs 2" "$dir/base" "$dir/workers"
train threads --set threads=2
same_bits "documents: threads 1 vs 2" "$dir/base" "$dir/threads"
train accum --set accum_steps=2
same_bits "documents: accum_steps 1 vs 2" "$dir/base" "$dir/accum"
train stopped --stop-after 5
expect_exit 0 "resume a documents run" -- "$REPRO" train --resume "$dir/stopped" --quiet
same_bits "documents: stopped at 5 and resumed" "$dir/base" "$dir/stopped"

# 163 samples: fortunes 1-9 (31 characters) and 10-60 (32) 2 chunks of 24
# targets each, the 20 second lines (58 and 59 more) 3 more each, then
# "q\n", "hi\n" and "the end" one each; "" is skipped. 10% held out: 16.
checks=$((checks + 1))
tr -d '\t\n ' < "$dir/base/run.json" | grep -q '"n_train":147,"n_val":16' ||
    fail "documents: not 147 + 16 samples: $(grep -E 'n_train|n_val' "$dir/base/run.json")"
# the pad: id 0, a null token, in vocab.json and run.json; "%" (only in separator lines) is no token
checks=$((checks + 1))
tr -d '\t\n' < "$dir/base/vocab.json" | grep -qF '"size":35,"pad_id":0,"tokens":[null, "\n", " ", ",", "0",' ||
    fail "vocab.json lacks the pad: $(cat "$dir/base/vocab.json")"
checks=$((checks + 1))
! grep -qF '"%"' "$dir/base/vocab.json" || fail "a separator line's '%' is in the vocabulary"
checks=$((checks + 1))
tr -d '\t\n' < "$dir/base/run.json" | grep -q "\"size\":35,\"pad_id\":0,\"sha256\":\"$(sha256sum "$dir/base/vocab.json" | cut -c1-64)\"" ||
    fail "run.json's vocab lacks pad_id or vocab.json's sha256"
checks=$((checks + 1))
grep -q '"text_samples":[[:space:]]*"documents"' "$dir/base/run.json" || fail "run.json's config lacks text_samples"

# sampling never draws the pad: a model trained without ignore_index or a
# pad mask learns to predict the pad after a document's end, and greedy
# sampling from it still prints only characters
cat > "$dir/nopad.yaml" <<YAML
seed: 2
max_steps: 60
batch_size: 16
data: {format: text, train_text: $dir/corpus/*.txt, context: 24, text_samples: documents, separator: "%",
       val_fraction: 0}
model:
  nodes:
    - {name: tok, type: embedding, num_embeddings: 48, dim: 16}
    - {name: pos, type: pos_embedding}
    - {name: fc, type: linear, out: 32}
    - {name: act, type: relu}
    - {name: logits, type: linear, out: 48}
  heads:
    - {name: lm, input: logits, loss: lm_cross_entropy}
optim: {name: adam, lr: 1.0e-2}
YAML
expect_exit 0 "train without ignore_index" -- "$REPRO" train "$dir/nopad.yaml" --quiet --out "$dir/nopad"
for t in 0 1; do
    expect_exit 0 "sample temperature $t" -- "$REPRO" sample "$dir/nopad" --prompt "the end" --prompt "hi" --tokens 30 \
        --temperature $t --seed 3 --json
    checks=$((checks + 1))
    [[ "$last_out" != *'\u0000'* && $(echo "$last_out" | head -n 1 | sed 's/.*"text":"\(.*\)"}/\1/' |
        sed 's/\\n/N/g' | wc -m) -eq 38 ]] || fail "sample temperature $t drew the pad: $last_out"
done
expect_exit 0 "sample the example's run" -- "$REPRO" sample "$dir/base" --prompt "fortune " --tokens 40 --seed 1
checks=$((checks + 1))
[[ ${#last_out} -eq 48 && "$last_out" == "fortune "* ]] || fail "sample is not the prompt and 40 characters: '$last_out'"

# errors
printf '%%\n\n%%\nq' > "$dir/none.txt"
expect_exit 2 "no documents" -- "$REPRO" train "$ex" --quiet --out "$dir/e1" "${small[@]}" \
    --set "data.train_text=$dir/none.txt"
expect_err_contains "no documents" \
    "'$dir/none.txt': no document of 2 or more characters (documents are split at lines holding only '%')"
expect_exit 2 "pad_mask of another id" -- "$REPRO" train "$ex" --quiet --out "$dir/e2" "${small[@]}" \
    --set model.nodes.2.pad_id=3
expect_err_contains "pad_mask of another id" \
    "model.nodes.2.pad_id: 3, but data.text_samples documents pads with token id 0: pad_id must be 0"
expect_exit 2 "ignore_index of another id" -- "$REPRO" train "$ex" --quiet --out "$dir/e3" "${small[@]}" \
    --set model.heads.0.ignore_index=28
expect_err_contains "ignore_index of another id" \
    "model.heads.0.ignore_index: 28, but data.text_samples documents pads with token id 0: ignore_index must be 0 (or left out)"
expect_exit 2 "separator in windows" -- "$REPRO" train "$ex" --quiet --out "$dir/e4" "${small[@]}" \
    --set data.text_samples=windows
expect_err_contains "separator in windows" "data.separator: only used when data.text_samples is documents"
finish
