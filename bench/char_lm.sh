#!/usr/bin/env bash
# repro vs PyTorch on the character language model (examples/char_lm.yaml:
# two pre-norm transformer layers, d_model 128, context 64, batch 32, AdamW,
# warm-up and cosine) on the fortunes text, in the same run on the same
# machine: training tokens/s at 1 and 2 threads, then validation bits per
# character after ACC_STEPS steps of the recipe.
#   bash bench/char_lm.sh BUILD_DIR [STEPS] [RUNS]
#   ACC_STEPS=1000 (the example's max_steps; 0 skips the accuracy part)
# Speed: both sides warm up for WARM (10) steps. repro's figure is
# STEPS * 32 * 64 tokens over the difference of train_seconds between a run
# of WARM + STEPS steps and one of WARM steps (validation off, no
# checkpoints: the two runs' start-up and end cancel); PyTorch's is its step
# loop timed after WARM steps (bench/torch_char_lm.py). Each figure is the
# median of RUNS (default 3) runs, as the machine may be shared. PyTorch
# gets its best configuration for the core count: Debian's is built on
# OpenBLAS, whose own threads come on top of torch.set_num_threads, so each
# split of THREADS cores between the two (torch T x OpenBLAS 1, torch 1 x
# OpenBLAS T) is measured and the best reported, with its configuration.
# Accuracy: repro trains the example with max_steps ACC_STEPS (the cosine
# spans them) and prints its val_bits_per_char; PyTorch runs the same
# recipe from its own initialisation over the same held-out windows (repro's
# split, through librepro's repro_data_split). FORTUNES_DIR moves the corpus.
set -euo pipefail
build=${1:-build}
steps=${2:-40}
runs=${3:-3}
warm=10
acc_steps=${ACC_STEPS:-1000}
repro=$build/repro
py=${PYTHON:-/usr/bin/python3} # PYTHON: another interpreter with PyTorch (e.g. bench/.venv/bin/python)
fortunes=${FORTUNES_DIR:-/usr/share/games/fortunes}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export REPRO_LIB=$build/librepro.so FORTUNES_DIR=$fortunes
if ! compgen -G "$fortunes/*.u8" >/dev/null; then
    echo "bench/char_lm.sh: no $fortunes/*.u8 (apt-get install fortunes)" >&2
    exit 2
fi
[[ -f $REPRO_LIB ]] || { echo "bench/char_lm.sh: no $REPRO_LIB (build the shared library)" >&2; exit 2; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
train_seconds() { # threads steps -> train_seconds of a run of that many steps
    "$repro" train examples/char_lm.yaml --json --force --out "$tmp/run" --set threads="$1" --set max_steps="$2" \
        --set data.train_text="$fortunes/*.u8" --set data.val_fraction=0 --set checkpoint.every_epoch=false \
        --set checkpoint.every_seconds=0 | sed -n 's/.*"event":"done".*"train_seconds":\([0-9.]*\).*/\1/p'
}
repro_rate() { # threads -> tokens/s (median of $runs)
    local a b
    for _ in $(seq "$runs"); do
        a=$(train_seconds "$1" "$warm")
        b=$(train_seconds "$1" $((warm + steps)))
        awk -v a="$a" -v b="$b" -v s="$steps" 'BEGIN { print s * 32 * 64 / (b - a) }'
    done | median
}
torch_rate() { # torch_threads openblas_threads -> tokens/s (median of $runs)
    for _ in $(seq "$runs"); do
        OPENBLAS_NUM_THREADS=$2 OMP_NUM_THREADS=$1 "$py" bench/torch_char_lm.py speed "$1" "$steps" "$warm" |
            sed -n 's/.*"tokens_per_sec": \([0-9.]*\).*/\1/p'
    done | median
}
torch_best() { # threads -> "tokens/s configuration"
    local best=0 split="" r cfg
    for cfg in "$1 1" "1 $1"; do
        set -- $cfg
        r=$(torch_rate "$1" "$2")
        if awk -v a="$r" -v b="$best" 'BEGIN { exit !(a > b) }'; then
            best=$r split="torch $1 x OpenBLAS $2"
        fi
        [[ $1 == 1 && $2 == 1 ]] && break # one core: one split
    done
    echo "$best $split"
}

echo "char LM (examples/char_lm.yaml), batch 32 x 64 tokens: training tokens/s over $steps steps after $warm, median of $runs runs"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); repro ISA path: ${REPRO_ISA:-auto}"
source "$(dirname "${BASH_SOURCE[0]}")/blas_core.sh" # exports OPENBLAS_CORETYPE for the peer, says which
echo "peer: $py: PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
printf '%-8s %12s %12s %8s  %s\n' threads repro pytorch ratio "peer (its best configuration)"
for t in 1 2; do
    r=$(repro_rate "$t")
    read -r pr split < <(torch_best "$t")
    printf '%-8s %12.0f %12.0f %8.2f  %s\n' "$t" "$r" "$pr" "$(awk -v a="$r" -v b="$pr" 'BEGIN { print a / b }')" "$split"
done

if [[ $acc_steps -gt 0 ]]; then
    echo
    echo "validation bits per character after $acc_steps steps (threads 2; PyTorch: its own initialisation, the same recipe and held-out windows)"
    rb=$("$repro" train examples/char_lm.yaml --json --force --out "$tmp/acc" --set threads=2 --set max_steps="$acc_steps" \
        --set data.train_text="$fortunes/*.u8" --set checkpoint.every_epoch=false --set checkpoint.every_seconds=0 |
        sed -n 's/.*"event":"epoch".*"val_bits_per_char":\([0-9.]*\).*/\1/p' | tail -n 1)
    tb=$(OPENBLAS_NUM_THREADS=1 "$py" bench/torch_char_lm.py accuracy 2 "$acc_steps" |
        sed -n 's/.*"val_bits_per_char": \([0-9.]*\).*/\1/p')
    printf '%-10s %10s\n' side bits/char repro "$rb" pytorch "$tb"
fi
