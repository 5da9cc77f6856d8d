#!/usr/bin/env bash
# The Python package (python/repro, docs/python.md) under pytest: tests/python/.
# Runs Debian's python3 (numpy, pytest; torch 1.13 for the PyTorch interop
# tests, which skip without it) against this build's librepro.so.0 and repro
# command. Skipped when python3-pytest or python3-numpy is missing, or for a
# sanitizer build (a sanitized library cannot be loaded into python3 alone).
source "$(dirname "$0")/lib.sh"
py=${REPRO_PYTHON:-/usr/bin/python3}
build=$(cd "$(dirname "$REPRO")" && pwd)
if ! "$py" -c 'import numpy, pytest' 2>/dev/null; then
    echo "SKIPPED: $py lacks numpy or pytest (apt-get install python3-numpy python3-pytest)"
    exit 77
fi
if [[ -n $("$REPRO" env | sed -n 's/^repro.sanitize: //p') ]]; then
    echo "SKIPPED: a sanitizer build's librepro.so cannot be loaded by python3"
    exit 77
fi
if [[ ! -f $build/librepro.so.0 ]]; then
    echo "SKIPPED: no librepro.so.0 in $build (configured with -DREPRO_SHARED=OFF)"
    exit 77
fi
mkdir -p "$REPRO_TEST_TMP/python"
cd "$REPRO_SOURCE_DIR"
REPRO_LIB=$build/librepro.so.0 PYTHONPATH=$REPRO_SOURCE_DIR/python PYTHONDONTWRITEBYTECODE=1 \
    REPRO_TEST_TMP=$REPRO_TEST_TMP/python \
    "$py" -m pytest -q -p no:cacheprovider -rs tests/python
