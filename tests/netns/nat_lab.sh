#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT traversal through the shared NAT lab (../shared/lab/nat) with the
# adapter kept in this repository (bench/lab/nat-umbra.sh): a relay on a
# public address, two nodes behind the lab's NATs that know only each
# other's peer ID and the relay. The lab classifies each pair's path from
# packet counters in its own namespaces, not from umbra's word.
#
# Expected (issue 5): direct where both sides map endpoint-independently or
# one side is public, direct over the LAN for f:f, and every pair connects
# (through the relay for c:c and g:g, through the TLS relay for e:b).
# UM_NAT_PAIRS overrides the subset; UM_NAT_LAB the lab's directory.
#
# Then one impaired pair (issue 14): UM_NAT_IMPAIRED (b:b) with
# UM_NAT_IMPAIRED_DELAY_MS (20 ms one way on every link) and
# UM_NAT_IMPAIRED_LOSS_PCT (2% per link and direction) must connect within
# UM_NAT_IMPAIRED_TIMEOUT (20 s); any path, and the bursts' ping loss is
# only reported (each ping crosses four to eight lossy hops). Adds ~25 s.
# UM_NAT_IMPAIRED= (empty) leaves it out.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${UM_BUILD:-$repo/build}
lab=${UM_NAT_LAB:-}
if [ -z "$lab" ]; then
	for d in "$repo/../shared/lab/nat" /work/shared/lab/nat; do
		[ -x "$d/lab.sh" ] && { lab=$d; break; }
	done
fi
if [ -z "$lab" ] || [ ! -x "$lab/lab.sh" ]; then
	echo "SKIP: NAT lab not found (set UM_NAT_LAB)"
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for tool in turnserver socat iptables python3 flock; do
	command -v $tool >/dev/null || { echo "FAIL: $tool missing (scripts/install-deps)"; exit 1; }
done

pairs=${UM_NAT_PAIRS:-"b:b d:d c:a a:b b:d f:f c:c g:g e:b"}
impaired=${UM_NAT_IMPAIRED-b:b}
results=$(mktemp -d -t um-natlab.XXXXXX)
trap 'rm -rf "$results"' EXIT
mkdir -p "$results/impaired"

# The lab uses fixed namespace names: one run at a time on this machine.
# shellcheck disable=SC2086
flock /tmp/umbra-natlab.lock env ADAPTER="$repo/bench/lab/nat-umbra.sh" UMBRA_BUILD="$build" \
	RESULTS_DIR="$results" SETTLE=${SETTLE:-3} CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-15} \
	"$lab/lab.sh" matrix $pairs >"$results/run.log" 2>&1
status=$?
if [ -n "$impaired" ]; then
	# shellcheck disable=SC2086
	flock /tmp/umbra-natlab.lock env ADAPTER="$repo/bench/lab/nat-umbra.sh" UMBRA_BUILD="$build" \
		RESULTS_DIR="$results/impaired" SETTLE=${SETTLE:-3} CONNECT_TIMEOUT=${UM_NAT_IMPAIRED_TIMEOUT:-20} \
		DELAY_MS=${UM_NAT_IMPAIRED_DELAY_MS:-20} LOSS_PCT=${UM_NAT_IMPAIRED_LOSS_PCT:-2} \
		"$lab/lab.sh" matrix $impaired >"$results/impaired/run.log" 2>&1 || status=1
fi
table=$(ls "$results"/matrix-*.tsv 2>/dev/null | head -1)
if [ $status -ne 0 ] || [ -z "$table" ]; then
	echo "FAIL: lab.sh exited $status"
	cat "$results/run.log"
	exit 1
fi
cat "$table"

# expect A B WANT: WANT is the path both bursts must show (connected = any
# working path). Every pair: no loss in the late burst, first reply <= 3 s.
fail=0
check() {
	local a=$1 b=$2 want=$3 row
	row=$(awk -F'\t' -v a="$a" -v b="$b" '$1 == a && $2 == b' "$table")
	if [ -z "$row" ]; then
		echo "FAIL $a:$b: no result row"
		fail=1
		return
	fi
	local early first late loss
	early=$(cut -f3 <<<"$row")
	first=$(cut -f4 <<<"$row")
	late=$(cut -f7 <<<"$row")
	loss=$(cut -f9 <<<"$row")
	if [ "$late" = failed ] || [ "$early" = failed ]; then
		echo "FAIL $a:$b: no connection"
		fail=1
	elif [ "$want" != connected ] && [ "$late" != "$want" ]; then
		echo "FAIL $a:$b: path $late, want $want"
		fail=1
	elif [ "$loss" != 0 ]; then
		echo "FAIL $a:$b: ${loss}% loss in the late burst"
		fail=1
	elif [ "$first" -gt 3000 ]; then
		echo "FAIL $a:$b: first reply after $first ms"
		fail=1
	else
		echo "ok   $a:$b: $late, first reply $first ms"
	fi
}
for p in $pairs; do
	a=${p%:*} b=${p#*:}
	case "$a$b" in
	ff) want=direct-lan ;;
	cc | gg | e? | ?e | cb | bc | cd | dc) want=connected ;;
	*) want=direct ;;
	esac
	check "$a" "$b" "$want"
done
# The impaired pair: connected within its time limit (lab.sh gives up on
# the first reply after CONNECT_TIMEOUT and reports "failed").
itable=$(ls "$results"/impaired/matrix-*.tsv 2>/dev/null | head -1)
for p in $impaired; do
	a=${p%:*} b=${p#*:}
	row=$([ -n "$itable" ] && awk -F'\t' -v a="$a" -v b="$b" '$1 == a && $2 == b' "$itable")
	if [ -z "$row" ]; then
		echo "FAIL $a:$b impaired: no result row"
		fail=1
	elif [ "$(cut -f3 <<<"$row")" = failed ] || [ "$(cut -f7 <<<"$row")" = failed ]; then
		echo "FAIL $a:$b impaired: no connection within ${UM_NAT_IMPAIRED_TIMEOUT:-20} s"
		fail=1
	else
		echo "ok   $a:$b impaired (${UM_NAT_IMPAIRED_DELAY_MS:-20} ms, ${UM_NAT_IMPAIRED_LOSS_PCT:-2}% loss):" \
			"first reply $(cut -f4 <<<"$row") ms, $(cut -f3 <<<"$row") then $(cut -f7 <<<"$row"), burst loss" \
			"$(cut -f6 <<<"$row")% / $(cut -f9 <<<"$row")%"
	fi
done
if [ $fail -ne 0 ]; then
	sed -n '1,200p' "$results/run.log"
	[ -e "$results/impaired/run.log" ] && sed -n '1,100p' "$results/impaired/run.log"
	for f in "$results"/logs/*umbra-*.log; do
		[ -e "$f" ] && { echo "== $f"; tail -n 30 "$f"; }
	done
	exit 1
fi
echo "PASS: $pairs${impaired:+; impaired: $impaired}"
