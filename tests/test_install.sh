#!/usr/bin/env bash
# `make install` gives a usable library: headers, librepro.a, the repro
# command and repro.pc; a program built against the installed copy through
# pkg-config trains and gets the same bits as the repro command.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
build=$(dirname "$REPRO")
dest=$REPRO_TEST_TMP/install
rm -rf "$dest"
checks=$((checks + 1))
DESTDIR=$dest cmake --install "$build" --prefix /usr/local > /dev/null || fail "cmake --install failed"
pc="env PKG_CONFIG_PATH=$dest/usr/local/lib/pkgconfig pkg-config --define-variable=prefix=$dest/usr/local"
# a sanitizer build's library needs the same runtime in the program
san=$("$REPRO" env | sed -n 's/^repro.sanitize: //p')
sanflags=()
[[ -n "$san" ]] && sanflags=(-fsanitize="$san")
checks=$((checks + 1))
cc -std=c11 "${sanflags[@]}" -Wall -Wextra -Werror "$REPRO_SOURCE_DIR/examples/train_from_c.c" $($pc --cflags --libs --static repro) \
    -o "$dest/train_from_c" || fail "examples/train_from_c.c does not build against the installed library"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
expect_exit 0 "installed library trains" -- "$dest/train_from_c" "$cfg" "$dest/run-c"
expect_exit 0 "installed command trains" -- "$dest/usr/local/bin/repro" train "$cfg" --quiet --out "$dest/run-cli" \
    --set max_steps=20 --set data.limit_train=2000 --set data.limit_test=200
same_bits "library vs command" "$dest/run-c" "$dest/run-cli"

# The Python package beside the library (python3 with numpy; not for a
# sanitizer build, whose library python3 cannot load): it names the prefix's
# library folder and trains the command's bits.
if [[ -z "$san" && -f $dest/usr/local/lib/librepro.so.0 ]] && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    pydir=$(echo "$dest"/usr/local/lib/python3.*/dist-packages)
    checks=$((checks + 1))
    grep -qx "LIBDIR = '/usr/local/lib'" "$pydir/repro/_install.py" || fail "_install.py does not name /usr/local/lib"
    expect_exit 0 "installed Python package trains" -- env PYTHONPATH="$pydir" REPRO_LIB="$dest/usr/local/lib/librepro.so.0" \
        /usr/bin/python3 -c "import repro; repro.train('$cfg', overrides={'max_steps': 20, 'data.limit_train': 2000, 'data.limit_test': 200}, out='$dest/run-py')"
    same_bits "Python package vs command" "$dest/run-py" "$dest/run-cli"
fi
finish
