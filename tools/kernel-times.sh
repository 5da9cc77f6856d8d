#!/usr/bin/env bash
# Where a GPU run's time goes, kernel by kernel: runs COMMAND under Nsight
# Compute (ncu, each kernel timed alone) and prints the kernels' summed
# times, largest first, with their share and launch count.
#   bash tools/kernel-times.sh [TOP] -- COMMAND...
# For a training step, run a few steps and divide: the figures are per run.
set -euo pipefail
top=25
if [[ ${1:-} != -- ]]; then top=$1; shift; fi
[[ ${1:-} == -- ]] || { echo "usage: tools/kernel-times.sh [TOP] -- COMMAND..." >&2; exit 2; }
shift
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
ncu --csv --metrics gpu__time_duration.sum "$@" 2>/dev/null | grep '^"' > "$csv" || true
python3 - "$csv" "$top" <<'PY'
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
name, unit, value = head.index("Kernel Name"), head.index("Metric Unit"), head.index("Metric Value")
scale = {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0,
         "second": 1e3, "s": 1e3}
total, count = collections.Counter(), collections.Counter()
for r in body:
    k = r[name].split("(")[0][:90]
    total[k] += float(r[value].replace(",", "")) * scale[r[unit]]
    count[k] += 1
all_ms = sum(total.values())
print(f"{len(body)} kernels, {all_ms:.2f} ms of kernel time")
for k, ms in total.most_common(int(sys.argv[2])):
    print(f"{ms:9.3f} ms {100 * ms / all_ms:5.1f}% {count[k]:6d}x  {k}")
PY
