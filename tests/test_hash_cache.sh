#!/usr/bin/env bash
# The data file hash cache (src/record/hash_cache.c). REPRO_TEST_HASH_LOG
# lists each file read in full to hash it. A first start reads the four
# files; a second start and a resume read none, and record the same
# sha256s; --rehash reads them all; a touched file is read again; an edit
# that keeps the size and sets the modification time back is caught by the
# status-change time (read again, and a resume refuses the changed data); a
# corrupt cache entry is ignored (read again, right hash); no cache folder
# that can be made costs only the speed-up. Files changed less than 2 s
# before they are hashed are not remembered (a same-tick edit would keep
# every time): the test waits that long.
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/hash_cache
rm -rf "$dir"
mkdir -p "$dir"
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
small_fashion "$dir/data" 300 100
export REPRO_CACHE_DIR=$dir/cache REPRO_TEST_HASH_LOG=$dir/read.log
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=50 --set model.trunk.0.out=16 --set model.trunk.3.out=16
        --set epochs=2 --set threads=1)
sleep 2.2

reads() { # NAME WANT: the files read since the last call
    checks=$((checks + 1))
    local got
    got=$(sed 's|.*/||' "$dir/read.log" 2>/dev/null | tr '\n' ' ')
    rm -f "$dir/read.log"
    [[ $got == "$2" ]] || fail "$1: read '$got', expected '$2'"
}
hashes() { /usr/bin/python3 -c 'import json,sys; print([f["sha256"] for f in json.load(open(sys.argv[1]+"/run.json"))["data"]["files"]])' "$1"; }
all="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz "

expect_exit 0 "first start" -- "$REPRO" train "$cfg" --out "$dir/r1" "${common[@]}"
reads "first start" "$all"
expect_exit 0 "second start" -- "$REPRO" train "$cfg" --out "$dir/r2" "${common[@]}" --stop-after 3
reads "second start" ""
checks=$((checks + 1))
[[ $(hashes "$dir/r1") == "$(hashes "$dir/r2")" ]] || fail "cached hashes differ from the read ones"
expect_exit 0 "resume" -- "$REPRO" train --resume "$dir/r2" --quiet --stop-after 5
reads "resume" ""
expect_exit 0 "resume --rehash" -- "$REPRO" train --resume "$dir/r2" --quiet --rehash --stop-after 7
reads "resume --rehash" "$all"
expect_exit 0 "start --rehash" -- "$REPRO" train "$cfg" --out "$dir/r3" "${common[@]}" --rehash --stop-after 1
reads "start --rehash" "$all"

touch "$dir/data/train-labels-idx1-ubyte.gz"
sleep 2.2
expect_exit 0 "start after touch" -- "$REPRO" train "$cfg" --out "$dir/r4" "${common[@]}" --stop-after 1
reads "start after touch" "train-labels-idx1-ubyte.gz "

# the same size, the modification time set back: ctime still moved
f=$dir/data/t10k-labels-idx1-ubyte.gz
stamp=$(stat -c %y "$f")
/usr/bin/python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[4] ^= 1  # the gzip header's mtime: the same size, still valid
open(p, "r+b").write(bytes(b))
PY
touch -d "$stamp" "$f"
checks=$((checks + 1))
[[ $(stat -c %y "$f") == "$stamp" ]] || fail "touch -d did not restore the modification time"
expect_exit 2 "resume after a same-size edit" -- "$REPRO" train --resume "$dir/r2" --quiet &&
    expect_err_contains "resume after a same-size edit" "data file '$f' changed since the run started"
reads "resume after a same-size edit" "t10k-labels-idx1-ubyte.gz "

# a corrupt entry: ignored, the file read again, the right hash recorded
for e in "$dir"/cache/hashes/*; do
    sed -i 's/ [0-9a-f]\{64\} / 0000000000000000000000000000000000000000000000000000000000000000 /' "$e"
done
expect_exit 0 "start with a corrupt cache" -- "$REPRO" train "$cfg" --out "$dir/r5" "${common[@]}" --stop-after 1
reads "start with a corrupt cache" "$all"
checks=$((checks + 1))
[[ $(hashes "$dir/r5") == "$(/usr/bin/python3 -c '
import hashlib, json, sys
print([hashlib.sha256(open(f["path"], "rb").read()).hexdigest() for f in json.load(open(sys.argv[1] + "/run.json"))["data"]["files"]])' "$dir/r5")" ]] ||
    fail "the hashes recorded after a corrupt cache are not the files'"

# a cache folder that cannot be made: no cache, the run still works
echo file >"$dir/not_a_dir"
REPRO_CACHE_DIR=$dir/not_a_dir/sub expect_exit 0 "no cache folder" -- "$REPRO" train "$cfg" --out "$dir/r6" \
    "${common[@]}" --stop-after 1
reads "no cache folder" "$all"
finish
