#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The full NAT-lab matrix for umbra (issue 5): 25 ordered pairs of modes
# a..e plus f:f and g:g, once without and once with the lab's delay and
# loss, through bench/lab/nat-umbra.sh. Prints one table per run in the
# lab's notation (D direct, L direct over the shared LAN, R relayed,
# X no reply; number = ms from start to first reply) and the late-burst
# RTTs, and keeps the raw TSVs in OUT (default: a new temporary directory).
#   sudo bench/nat-matrix.sh                 # both runs
#   sudo RUNS=plain bench/nat-matrix.sh      # only without delay/loss
# Environment: UMBRA_BUILD (build), UM_NAT_LAB (../shared/lab/nat),
# DELAY_MS (20), LOSS_PCT (1), RUNS ("plain impaired").
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
lab=${UM_NAT_LAB:-$repo/../shared/lab/nat}
[ -x "$lab/lab.sh" ] || lab=/work/shared/lab/nat
[ -x "$lab/lab.sh" ] || { echo "NAT lab not found (UM_NAT_LAB)" >&2; exit 1; }
export UMBRA_BUILD=${UMBRA_BUILD:-$repo/build}
out=${OUT:-$(mktemp -d -t um-natmatrix.XXXXXX)}
mkdir -p "$out"

table() { # TSV -> markdown
	python3 - "$1" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "A" or len(f) < 9:
        continue
    rows[(f[0], f[1])] = f
def cell(f):
    code = {"direct": "D", "direct-lan": "L", "relayed": "R"}.get(f[6], "X")
    if code == "X":
        return "X"
    loss = "" if f[8] in ("0", "-") else " (%s%% loss)" % f[8]
    return "%s %s / %s ms%s" % (code, f[3], f[7], loss)
modes = "abcde"
print("| A\\B | " + " | ".join(modes) + " |")
print("|-----|" + "---|" * len(modes))
for a in modes:
    print("| %s | " % a + " | ".join(cell(rows[(a, b)]) if (a, b) in rows else "-" for b in modes) + " |")
for a, b in (("f", "f"), ("g", "g")):
    if (a, b) in rows:
        print("\n%s:%s %s" % (a, b, cell(rows[(a, b)])))
print("\ncell: path after the settle time, ms to first reply / late-burst RTT")
PY
}

for run in ${RUNS:-plain impaired}; do
	case $run in
	plain) env=(DELAY_MS=0 LOSS_PCT=0) ;;
	impaired) env=(DELAY_MS=${DELAY_MS:-20} LOSS_PCT=${LOSS_PCT:-1}) ;;
	*) echo "unknown run $run" >&2; exit 1 ;;
	esac
	flock /tmp/umbra-natlab.lock env "${env[@]}" ADAPTER="$repo/bench/lab/nat-umbra.sh" \
		RESULTS_DIR="$out" RUN_TAG="$run" "$lab/lab.sh" matrix >"$out/$run.log" 2>&1 ||
		{ echo "lab run $run failed, see $out/$run.log" >&2; exit 1; }
	tsv=$(ls "$out"/matrix-*-"$run"-*.tsv | head -1)
	echo "## $run (${env[*]}), $(date -u +%F) on $(nproc) CPUs"
	table "$tsv"
	echo
done
echo "raw results: $out"
