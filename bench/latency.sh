#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Added-latency A/B harness (root): two umbrad nodes in two network
# namespaces joined by a veth pair; ping through the tunnel and over the raw
# veth in the same run, interleaved, and print min/avg/p50/p99 RTT of both
# and the RTT umbra adds. Also reports the daemons' CPU while idle (must be
# ~0: no busy polling without traffic).
#   BUILDS="/work/build-lat /tmp/base" ROUNDS=3 bench/latency.sh
# Environment:
#   BUILDS    build dirs (or dirs holding umbrad + umbra) to compare; each
#             round runs every build once, in order (A/B interleaved);
#             DIR@VAR=x,VAR2=y sets umbrad's environment; "quicktun" runs
#             the quicktun peer instead (reference)
#   ROUNDS=3  rounds; a median over rounds is printed per build
#   MODES="idle fast"  idle: COUNT_IDLE pings 0.1 s apart (like the peer
#             lab: an idle tunnel); fast: COUNT_FAST pings INTERVAL_FAST apart
#   COUNT_IDLE=40 COUNT_FAST=2000 INTERVAL_FAST=0.002 SIZE=56 CPUS=
set -u
[ "$(id -u)" = 0 ] || { echo "latency.sh: needs root" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
builds=${BUILDS:-$here/../build}
rounds=${ROUNDS:-3}
modes=${MODES:-idle fast}
count_idle=${COUNT_IDLE:-40}
count_fast=${COUNT_FAST:-2000}
interval_fast=${INTERVAL_FAST:-0.002}
size=${SIZE:-56}
# CPUS=0: run daemons and ping on these CPUs only (taskset), to separate
# scheduling effects from per-packet cost
pin=${CPUS:+taskset -c $CPUS}

. "$here/nodes.sh"
bench_setup lt || exit 1

start_nodes() { bench_start_tunnel "$1" 0; }

# rtt FILE: "min avg p50 p99" in ms from ping's per-reply lines.
rtt() {
	sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$1" | sort -g | awk '
		{ v[NR] = $1; s += $1 }
		END {
			if (NR == 0) { print "NA NA NA NA"; exit }
			p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
			printf "%.3f %.3f %.3f %.3f\n", v[1], s / NR, p50, p99
		}'
}

cpu_ticks() { local s=0 p v; for p in "${pids[@]}"; do v=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12+$13}'); s=$((s + v)); done; echo $s; }

results=$work/results
: >"$results"
for r in $(seq 1 "$rounds"); do
	for b in $builds; do
		start_nodes "$b" || exit 1
		sleep 0.5
		c0=$(cpu_ticks)
		sleep 2
		c1=$(cpu_ticks)
		idle_cpu=$(awk -v t=$((c1 - c0)) -v h="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", 100 * t / h / 2}')
		for m in $modes; do
			if [ "$m" = idle ]; then args="-c $count_idle -i 0.1"; else args="-c $count_fast -i $interval_fast"; fi
			# raw and tunnel alternate within the round
			ip netns exec "$ns_a" $pin ping $args -s "$size" "$(bench_tunnel_dst raw 0)" >"$work/raw.txt" 2>&1
			ip netns exec "$ns_a" $pin ping $args -s "$size" "$(bench_tunnel_dst tunnel 0)" >"$work/tun.txt" 2>&1
			read -r rmin ravg rp50 rp99 <<<"$(rtt "$work/raw.txt")"
			read -r tmin tavg tp50 tp99 <<<"$(rtt "$work/tun.txt")"
			echo "$b $m $r $rmin $ravg $rp50 $rp99 $tmin $tavg $tp50 $tp99 $idle_cpu" >>"$results"
			printf '%-28s %-4s r%s raw min/avg/p50/p99 %s %s %s %s | umbra %s %s %s %s | idle CPU %s%%\n' \
				"$b" "$m" "$r" "$rmin" "$ravg" "$rp50" "$rp99" "$tmin" "$tavg" "$tp50" "$tp99" "$idle_cpu"
		done
		bench_stop_tunnels
	done
done

echo "median over $rounds rounds (ms): umbra min/avg/p50/p99, raw min/avg, added (umbra - raw) min/avg/p50/p99"
for b in $builds; do
	for m in $modes; do
		awk -v b="$b" -v m="$m" '$1 == b && $2 == m' "$results" | python3 -c '
import sys, statistics as st
rows = [l.split() for l in sys.stdin if l.strip()]
if not rows: sys.exit()
col = lambda i: st.median(float(r[i]) for r in rows)
b, m = rows[0][0], rows[0][1]
t = [col(i) for i in (7, 8, 9, 10)]; raw = [col(i) for i in (3, 4, 5, 6)]
add = [x - y for x, y in zip(t, raw)]
print(f"{b:<28} {m:<4} umbra {t[0]:.3f} {t[1]:.3f} {t[2]:.3f} {t[3]:.3f}  raw {raw[0]:.3f} {raw[1]:.3f}  "
      f"added {add[0]:.3f} {add[1]:.3f} {add[2]:.3f} {add[3]:.3f}  idle CPU {col(11):.1f}%")
'
	done
done
