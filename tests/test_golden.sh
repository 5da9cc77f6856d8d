#!/usr/bin/env bash
# Golden hashes: short runs of every example, on every ISA path this CPU
# has, must give the params_sha256, the ledger's SHA-256 and the ledger
# lines pinned in tests/data/golden.tsv. Every other bitwise test compares
# two runs on one machine; this one notices when another compiler, CPU,
# libc or a GPU (REPRO_GOLDEN_SET="--set device=cuda") changes a bit.
#
#   bash tests/test_golden.sh            check every case (make test runs
#       it as test_golden.CASE, a ctest test per case: REPRO_GOLDEN_CASES=CASE)
#   REPRO_GOLDEN_UPDATE=1 bash tests/test_golden.sh   rewrite golden.tsv
#   REPRO_GOLDEN_PATHS="neon" / REPRO_GOLDEN_CASES="fashion_mlp dual_task"
#       only those ISA paths / examples (make test-aarch64: emulation is slow)
#   REPRO_TEST_SIMD_ONLY=1: every path but scalar (CI's ASan and AVX2-capped
#       runs; tests/lib.sh, isa_paths)
# char_lm and fortune_docs_lm read Debian's fortunes text (apt-get install fortunes; CI and
# scripts/install-deps.sh install it): without it that case is SKIPPED and
# the others still run. Its pins hold for that text only: the case's first
# line pins the corpus's SHA-256, so a changed package shows as such.
# A value may change only in a commit that says why (docs/reproducibility.md).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
golden=$REPRO_SOURCE_DIR/tests/data/golden.tsv
# a directory of its own for each set of cases (ctest runs test_golden.CASE
# at once)
cases_tag=${REPRO_GOLDEN_CASES:+-${REPRO_GOLDEN_CASES// /-}}
dir=$REPRO_TEST_TMP/golden$cases_tag
rm -rf "$dir"
mkdir -p "$dir"
read -r -a extra <<<"${REPRO_GOLDEN_SET:-}"
update=${REPRO_GOLDEN_UPDATE:-0}

# Each case: an example and the overrides that make it short (and point it
# at $FASHION, which REPRO_FASHION_DIR may move). Steps 1 and the hash steps
# of the ledger are pinned line by line.
fashion="--set data.train_images=$FASHION/train-images-idx3-ubyte.gz --set data.train_labels=$FASHION/train-labels-idx1-ubyte.gz
         --set data.test_images=$FASHION/t10k-images-idx3-ubyte.gz --set data.test_labels=$FASHION/t10k-labels-idx1-ubyte.gz"
case_args() {
    case $1 in
    fashion_mlp)
        echo "$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml $fashion --set data.limit_train=2000 --set data.limit_test=300
              --set batch_size=64 --set max_steps=60 --set ledger.hash_every=20
              --set augment.noise_p=0.5 --set augment.noise_std=0.1 --set augment.flip_p=0.5" ;;
    dual_task)
        echo "$REPRO_SOURCE_DIR/examples/dual_task.yaml --set data.train_csv=$dir/data/dual_task_train.csv
              --set data.test_csv=$dir/data/dual_task_test.csv --set batch_size=64 --set max_steps=60
              --set ledger.hash_every=20" ;;
    fashion_mlp_bf16) # the tensor core's arithmetic (docs/bf16.md): CPU and GPU alike
        echo "$(case_args fashion_mlp) --set precision=bf16" ;;
    dual_task_bf16)
        echo "$(case_args dual_task) --set precision=bf16" ;;
    fashion_cnn_bf16) # bf16 linear layers beside FP32 convolutions
        echo "$(case_args fashion_cnn) --set precision=bf16" ;;
    char_lm_bf16) # a transformer's linear layers (attention's projections, the feed-forward) in bf16
        echo "$(case_args char_lm) --set precision=bf16" ;;
    fashion_cnn | fashion_resnet)
        echo "$REPRO_SOURCE_DIR/examples/$1.yaml $fashion --set data.limit_train=640 --set data.limit_test=100
              --set batch_size=64 --set max_steps=8 --set ledger.hash_every=4 --set augment.shift_p=0.5" ;;
    fashion_vit) # attention, layer norm, tanh GELU, dropout on the weights and between layers
        echo "$REPRO_SOURCE_DIR/examples/fashion_vit.yaml $fashion --set data.limit_train=640 --set data.limit_test=100
              --set batch_size=32 --set max_steps=6 --set ledger.hash_every=3" ;;
    char_lm) # causal attention, embeddings, erf GELU, AdamW and the cosine warm-up; the whole
             # corpus is read (the vocabulary is its characters), 2000 window starts kept
        echo "$REPRO_SOURCE_DIR/examples/char_lm.yaml --set data.train_text=$FORTUNES/*.u8 --set data.limit_train=2000
              --set batch_size=8 --set max_steps=4 --set ledger.hash_every=2" ;;
    fortune_docs_lm) # text_samples documents: the fortunes split, chunked and padded, the pad
                     # masked and ignored; the first 2000 samples (chunks) kept
        echo "$REPRO_SOURCE_DIR/examples/fortune_docs_lm.yaml --set data.train_text=$FORTUNES/*.u8
              --set data.limit_train=2000 --set batch_size=8 --set max_steps=4 --set ledger.hash_every=2" ;;
    esac
}
# (one line: tests/CMakeLists.txt reads it to register test_golden.CASE, a
# ctest test per case, so a failure names its case)
all_cases=(fashion_mlp dual_task fashion_cnn fashion_resnet fashion_mlp_bf16 dual_task_bf16 fashion_cnn_bf16 fashion_vit char_lm char_lm_bf16 fortune_docs_lm)
read -r -a cases <<<"${REPRO_GOLDEN_CASES:-${all_cases[*]}}"

# A case's data, when it is not always there: "" or why it is missing.
missing_data() {
    if [[ $1 == char_lm* || $1 == fortune_docs_lm ]] && ! compgen -G "$FORTUNES/*.u8" >/dev/null; then
        echo "the fortunes text is not installed ($FORTUNES/*.u8: apt-get install fortunes)"
    fi
}

# "case key value" lines of one run directory.
values_of() {
    local name=$1 run=$2
    if [[ $name == char_lm* || $name == fortune_docs_lm ]]; then # the corpus the pins hold for: the .u8 files in the glob's order
        # bytewise file order, as repro's glob (the shell's follows the locale)
        echo "$name corpus_sha256 $(env LC_ALL=C bash -c 'cat "$1"/*.u8' _ "$FORTUNES" | sha256sum | cut -d' ' -f1)"
    fi
    echo "$name params_sha256 $(params_sha "$run")"
    echo "$name ledger_sha256 $(sha256sum "$run/ledger.jsonl" | cut -d' ' -f1)"
    grep -E '"step":1,|params_sha256' "$run/ledger.jsonl" |
        while IFS= read -r line; do
            local step=${line#*\"step\":}
            echo "$name ledger.${step%%,*} $line"
        done
}

for c in "${cases[@]}"; do
    [[ " ${all_cases[*]} " == *" $c "* ]] || { echo "unknown golden case '$c' (REPRO_GOLDEN_CASES); the cases: ${all_cases[*]}" >&2; exit 2; }
done
if [[ " ${cases[*]} " == *" dual_task"* ]]; then # dual_task and dual_task_bf16 train on generated data
    expect_exit 0 "gen-data" -- "$REPRO" gen-data dual_task --out-dir "$dir/data" --n-train 2000 --n-test 300
fi

if [[ $update == 1 && -n ${REPRO_GOLDEN_PATHS:-}${REPRO_GOLDEN_CASES:-}${REPRO_TEST_SIMD_ONLY:-} ]]; then
    echo "REPRO_GOLDEN_UPDATE rewrites golden.tsv from every path and case: unset REPRO_GOLDEN_PATHS/CASES and REPRO_TEST_SIMD_ONLY" >&2
    exit 2
fi
supported=$(env -u REPRO_ISA "$REPRO" env | sed -n 's/^isa_supported\[[0-9]*\]: //p')
paths=$(isa_paths)
echo "ISA paths on this CPU: $(echo $paths)${extra[*]:+; extra: ${extra[*]}}"
if [[ -n ${REPRO_GOLDEN_PATHS:-} ]]; then
    paths=$REPRO_GOLDEN_PATHS
    echo "checking only: $paths (REPRO_GOLDEN_PATHS); cases: ${cases[*]}"
fi
skipped_cases=0
for c in "${cases[@]}"; do
    why=$(missing_data "$c")
    if [[ -n $why ]]; then
        [[ $update == 1 ]] && { echo "REPRO_GOLDEN_UPDATE needs every case's data: $c: $why" >&2; exit 2; }
        echo "SKIPPED: $c: $why"
        skipped_cases=$((skipped_cases + 1))
        continue
    fi
    read -r -d '' -a args < <(case_args "$c") || true
    for isa in $paths; do
        run=$dir/$c.$isa
        expect_exit 0 "$c on $isa" -- env REPRO_ISA=$isa "$REPRO" train "${args[@]}" --quiet --set threads=2 \
            "${extra[@]}" --out "$run"
        values_of "$c" "$run" >"$run.values"
        if [[ $update == 1 ]]; then
            continue
        fi
        checks=$((checks + 1))
        if ! diff <(grep "^$c " "$golden") "$run.values" >"$run.diff"; then
            fail "$c on $isa${extra[*]:+ (${extra[*]})}: differs from tests/data/golden.tsv:
$(head -n 12 "$run.diff")"
        fi
    done
done
for isa in scalar avx2 avx512 neon; do
    if [[ " $(echo $supported) " != *" $isa "* ]]; then
        echo "SKIPPED: the $isa path (this CPU or its cap lacks it)"
    elif [[ " $(echo $paths) " != *" $isa "* ]]; then
        echo "SKIPPED: the $isa path (REPRO_GOLDEN_PATHS or REPRO_TEST_SIMD_ONLY left it out)"
    fi
done

if [[ $skipped_cases -eq ${#cases[@]} && $failures -eq 0 ]]; then
    exit 77 # no case had its data: ctest says skipped
fi

if [[ $update == 1 ]]; then
    first=$(echo $paths | cut -d' ' -f1)
    {
        echo "# Golden values: short runs of each example (tests/test_golden.sh). Columns: case key value."
        echo "# Identical on every ISA path, CPU and GPU. Change only in a commit that says why."
        for c in "${cases[@]}"; do cat "$dir/$c.$first.values"; done
    } >"$golden"
    for c in "${cases[@]}"; do
        for isa in $paths; do
            cmp -s "$dir/$c.$first.values" "$dir/$c.$isa.values" || fail "$c: $isa differs from $first while updating"
        done
    done
    echo "wrote $golden"
fi
finish
