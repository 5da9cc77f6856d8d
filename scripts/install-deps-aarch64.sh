#!/usr/bin/env bash
# Installs what `make test-aarch64` needs on a Debian x86-64 host: the
# aarch64 cross compiler, qemu's user-mode emulator, and the arm64 builds of
# repro's libraries from Debian multiarch (dpkg --add-architecture arm64).
# Missing packages only; as root it runs apt-get, otherwise it prints the
# commands to run. Used by `make test-aarch64` and .ci/run.
set -euo pipefail

host=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user cmake pkg-config)
# the same libraries as scripts/install-deps.sh, built for arm64
arm64=(libc6:arm64 libyaml-dev:arm64 libcjson-dev:arm64 zlib1g-dev:arm64 libssl-dev:arm64 libopenblas-dev:arm64)

missing=()
for p in "${host[@]}" "${arm64[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

need_arch=0
dpkg --print-foreign-architectures | grep -qx arm64 || need_arch=1

if [[ $(id -u) -ne 0 ]]; then
    echo "make test-aarch64 needs these Debian packages: ${missing[*]}" >&2
    [[ $need_arch -eq 1 ]] && echo "  sudo dpkg --add-architecture arm64" >&2
    echo "  sudo apt-get update && sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "installing: ${missing[*]}"
[[ $need_arch -eq 1 ]] && dpkg --add-architecture arm64
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
