#!/usr/bin/env bash
# Installs the Debian packages repro needs, when they are missing.
#   scripts/install-deps.sh          build + test + demo dependencies
#   scripts/install-deps.sh --bench  also what `make bench` compares against
#   scripts/install-deps.sh --fuzz   also clang and its libFuzzer runtime (`make fuzz`)
#   scripts/install-deps.sh --browser  also headless Chromium (tests/test_report.sh renders the HTML report)
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

# libopenblas-dev: mode: fast runs linear layers through OpenBLAS sgemm.
# python3-numpy, python3-pytest: the Python package and its tests (tests/python).
# fortunes: the English text of examples/char_lm_mlp.yaml (make demo-text),
# char_lm.yaml and fortune_docs_lm.yaml.
# libopenmpi-dev, openmpi-bin: data parallel over processes (docs/parallel.md;
# a build without them runs one process only).
packages=(build-essential cmake pkg-config git zlib1g-dev libyaml-dev libssl-dev libcjson-dev
          libopenblas-dev libopenmpi-dev openmpi-bin dataset-fashion-mnist python3-numpy python3-pytest fortunes)
for flag in "$@"; do
    case $flag in
    --bench) packages+=(python3-torch python3-numpy python3-venv) ;;
    --fuzz) packages+=(clang libclang-rt-dev) ;;
    --browser) packages+=(chromium) ;;
    *) echo "install-deps.sh: unknown option '$flag' (--bench, --fuzz, --browser)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "repro needs these Debian packages: ${missing[*]}" >&2
    echo "install them with:  sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
