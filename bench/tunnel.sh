#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end data-plane benchmark (root): two network namespaces joined by a
# veth pair (198.51.100.1/.2), bench-dataplane on each side with fixed test
# keys (overlay 100.64.0.1/.2), one iperf3 TCP stream through the tunnel.
# Prints Gbit/s, retransmits and CPU-s/GB of both forwarders (utime+stime
# from /proc/PID/stat divided by GB received).
#   BUILD=/path/to/build DURATION=5 bench/tunnel.sh [extra bench-dataplane args]
# Extra args go to both sides (e.g. --workers 1, --pad, --no-offload).
set -u
[ "$(id -u)" = 0 ] || { echo "tunnel.sh: needs root" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
bin=$build/bench/bench-dataplane
duration=${DURATION:-5}
[ -x "$bin" ] || { echo "tunnel.sh: $bin not built" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "tunnel.sh: iperf3 missing" >&2; exit 77; }

ns_a=umdpa$$ ns_b=umdpb$$ veth_a=vdpa$$ veth_b=vdpb$$
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	ip netns del "$ns_a" 2>/dev/null
	ip netns del "$ns_b" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

. "$here/veth.sh"
bench_veth_pair "$ns_a" "$ns_b" "$veth_a" "$veth_b" || exit 1

ip netns exec "$ns_a" "$bin" --side a --dev umdp0 --addr 100.64.0.1/24 --port 51820 \
	--peer 198.51.100.2:51820 --allowed 100.64.0.0/24 "$@" 2>"$work/a.log" &
pid_a=$!
pids+=("$pid_a")
ip netns exec "$ns_b" "$bin" --side b --dev umdp0 --addr 100.64.0.2/24 --port 51820 \
	--peer 198.51.100.1:51820 --allowed 100.64.0.0/24 "$@" 2>"$work/b.log" &
pid_b=$!
pids+=("$pid_b")
ip netns exec "$ns_b" iperf3 -s -1 >/dev/null 2>&1 &
pids+=($!)
sleep 1

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ping_out=$(ip netns exec "$ns_a" ping -c 3 -i 0.2 -q 100.64.0.2 2>&1 | tail -1)
c0=$(( $(cpu "$pid_a") + $(cpu "$pid_b") ))
if [ -n "${PERF_OUT:-}" ]; then
	perf record -q -o "$PERF_OUT" -p "$pid_a,$pid_b" -- sleep "$duration" >/dev/null 2>&1 &
	pids+=($!)
fi
ip netns exec "$ns_a" iperf3 -c 100.64.0.2 -t "$duration" -J >"$work/iperf.json" 2>&1
c1=$(( $(cpu "$pid_a") + $(cpu "$pid_b") ))
kill -INT "$pid_a" "$pid_b"
wait "$pid_a" "$pid_b" 2>/dev/null
pids=("${pids[@]:2}")
[ -n "${PERF_OUT:-}" ] && wait "${pids[-1]}" 2>/dev/null
hz=$(getconf CLK_TCK)
python3 - "$work/iperf.json" "$(( c1 - c0 ))" "$hz" "$ping_out" "$*" <<'PY'
import json, sys
path, ticks, hz, ping, args = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
try:
    d = json.load(open(path))
    recv = d["end"]["sum_received"]
    gbit = recv["bits_per_second"] / 1e9
    gb = recv["bytes"] / 1e9
    retr = d["end"]["sum_sent"].get("retransmits", 0)
except Exception as e:
    print("iperf3 failed:", open(path).read()[:500]); sys.exit(1)
cpu = ticks / hz
print(f"args [{args}]: {gbit:.2f} Gbit/s, retransmits {retr}, forwarders {cpu:.2f} CPU-s for {gb:.2f} GB = {cpu/gb:.2f} CPU-s/GB; ping {ping}", flush=True)
PY
status=$?
cat "$work/a.log" "$work/b.log" | grep -v '^bench-dataplane' >&2
exit $status
