#!/usr/bin/env bash
# `repro report` and `repro plot` (issue 14): one self-contained HTML page
# of two runs that part at a known step, loaded in headless Chromium. The
# rendered DOM has the curves (SVG paths with points), the record tables
# (config_sha256, data hashes, determinism), the first divergent step with
# the tensor `repro diff --trace` names, and no script element although the
# runs' directory and data paths hold "<script>" and "<img onerror>"; every
# string from a run is escaped. A screenshot is left in the test's output
# directory (build/tests/tmp/report/report.png). `repro plot` writes one SVG
# file that parses as XML with one point per epoch. Without Chromium the
# browser half says SKIPPED (exit 77); CI installs it (install-deps.sh
# --browser).
source "$(dirname "$0")/lib.sh"
set -e
need_fashion
dir=$REPRO_TEST_TMP/report
rm -rf "$dir"
mkdir -p "$dir"
hostile='<script>alert(1)'
data="$dir/data$hostile"
small_fashion "$data" 600 100
cfg=$REPRO_SOURCE_DIR/examples/fashion_mlp.yaml
# 540 training samples, batch 64: 9 steps an epoch, 18 in all; SGD, so that
# a one-ulp perturbation of a gradient shows (tests/test_replay.sh)
common=(--quiet "${SMALL_DATA[@]}" --set batch_size=64 --set epochs=2 --set model.trunk.0.out=32
        --set model.trunk.3.out=32 --set ledger.hash_every=1 --set optim.name=sgd --set optim.lr=0.1)
a="$dir/a$hostile"
b="$dir/b<img src=x onerror=alert(2)>"
"$REPRO" train "$cfg" "${common[@]}" --out "$a"
REPRO_TEST_PERTURB=step=5,tensor=trunk.0.bias,index=2 "$REPRO" train "$cfg" "${common[@]}" --out "$b"

page=$dir/report.html
expect_exit 0 "report" -- "$REPRO" report "$a" "$b" -o "$page" || true
expect_err_contains "report" "repro report: wrote $page"
html=$(cat "$page")
has() { # NAME NEEDLE [TEXT]
    checks=$((checks + 1))
    [[ "${3-$html}" == *"$2"* ]] || fail "$1: lacks '$2'"
}
lacks() {
    checks=$((checks + 1))
    [[ "${3-$html}" != *"$2"* ]] || fail "$1: has '$2'"
}
lacks "no script element" "<script"
lacks "no script element" "<img"
lacks "no external reference" ' src="'
lacks "no external reference" ' href="'
lacks "no external reference" "http" "$(sed 's|xmlns="http://www.w3.org/2000/svg"||g' "$page")"
has "escaped run path" "a&lt;script&gt;alert(1)"
has "escaped run path" "b&lt;img src=x onerror=alert(2)&gt;"
has "escaped data path" "data&lt;script&gt;alert(1)/train-images-idx3-ubyte.gz"

expect_exit 0 "plot" -- "$REPRO" plot "$a" --metric val_loss -o "$dir/curve.svg" || true
checks=$((checks + 1))
python3 - "$dir/curve.svg" <<'PY' || fail "plot: curve.svg (above)"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
paths = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "curve"]
assert len(paths) == 1, f"{len(paths)} curves"
points = paths[0].get("d").split()
assert paths[0].get("d").count("L") == 1 and paths[0].get("data-points") == "2", paths[0].attrib
assert "&lt;script&gt;" in open(sys.argv[1]).read() and "<script" not in open(sys.argv[1]).read()
PY
expect_exit 0 "plot --log, two runs, per step" -- "$REPRO" plot "$a" "$b" --metric loss --log || true
has "plot --log" "(log scale)" "$last_out"
has "plot per step" 'data-points="18"' "$last_out"
expect_exit 2 "plot unknown metric" -- "$REPRO" plot "$a" --metric nope || true
expect_err_contains "plot unknown metric" "no run has metric 'nope'"
expect_exit 2 "plot without --metric" -- "$REPRO" plot "$a" || true
expect_err_contains "plot without --metric" "need --metric NAME"
expect_exit 2 "report of no run" -- "$REPRO" report "$dir/none" -o "$dir/x.html" || true
expect_err_contains "report of no run" "$dir/none/run.json"
checks=$((checks + 1))
[[ ! -e $dir/x.html ]] || fail "report of no run: left a page behind"

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z $browser ]]; then
    if [[ $failures -ne 0 ]]; then finish; fi
    echo "SKIPPED: the browser half: no chromium here (scripts/install-deps.sh --browser installs it)"
    exit 77
fi
run_browser() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$dir/profile" \
        --window-size=1300,2400 "$@" "file://$page" 2>>"$dir/chromium.log"
}
dom=$(run_browser --dump-dom) || fail "chromium --dump-dom failed: $(tail -n 3 "$dir/chromium.log")"
checks=$((checks + 1))
[[ $dom == *"</html>"* ]] || fail "no DOM from chromium: $(tail -n 3 "$dir/chromium.log")"
printf '%s\n' "$dom" > "$dir/dom.html"
checks=$((checks + 1))
python3 - "$dir/dom.html" "$a" "$b" <<'PY' || fail "the rendered DOM (above)"
import html.parser, json, sys
dom_path, run_a, run_b = sys.argv[1:]
class Walk(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.curves, self.text, self.cells = [], [], [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "path" and a.get("class") == "curve":
            self.curves.append(a)
    def handle_data(self, data):
        self.text.append(data)
w = Walk()
w.feed(open(dom_path).read())
text = "".join(w.text)
bad = []
if "script" in w.tags or "img" in w.tags:
    bad.append("the page has a script or img element: a run's string was not escaped")
with_points = [c for c in w.curves if c.get("d", "").count("L") >= 1]
# per step: 2 runs; per epoch: 3 losses x 2 runs; accuracy: 2 x 2; each linear and log
if len(with_points) < 2 * (2 + 6 + 4):
    bad.append(f"{len(with_points)} curves with points, expected 24")
if not any(c.get("data-points") == "18" for c in w.curves):
    bad.append("no per-step curve of 18 points")
rec = json.load(open(f"{run_a}/run.json"))
for needle in (rec["config_sha256"], rec["params_sha256"], rec["data"]["files"][0]["sha256"],
               f"{run_a}", f"{run_b}", "first divergent step: 5", "grad.trunk.0.bias", "determinism",
               "test_perturb", "strict", "different"):
    if needle not in text:
        bad.append(f"the rendered page lacks {needle!r}")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
run_browser --screenshot="$dir/report.png" >/dev/null || true
checks=$((checks + 1))
[[ -s $dir/report.png ]] || fail "no screenshot: $(tail -n 3 "$dir/chromium.log")"
finish
