#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Data plane through real TUN and TAP devices (root): two namespaces, a veth
# pair, bench-dataplane with fixed test keys on each side (no handshake).
# TUN: ping both ways (IPv4 and IPv6 overlay), 2 s iperf3 TCP streams over
# IPv4 and IPv6 (TSO/GRO paths), counters show
# no authentication, replay or malformed drops. TAP: ping (ARP is flooded
# and MAC addresses learned).
set -u
[ "$(id -u)" = 0 ] || exit 77
[ -c /dev/net/tun ] || exit 77
build=${UM_BUILD:-$(dirname "$0")/../../build}
bin=$build/bench/bench-dataplane
[ -x "$bin" ] || { echo "missing $bin"; exit 1; }

ns_a=umtdpa$$ ns_b=umtdpb$$
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
fail() { echo "FAIL: $*"; cat "$work"/*.log 2>/dev/null; exit 1; }

ip netns add "$ns_a" && ip netns add "$ns_b" || exit 1
ip link add vtdpa$$ netns "$ns_a" type veth peer name vtdpb$$ netns "$ns_b" || exit 1
ip -n "$ns_a" addr add 198.51.100.1/24 dev vtdpa$$
ip -n "$ns_b" addr add 198.51.100.2/24 dev vtdpb$$
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set vtdpa$$ up
ip -n "$ns_b" link set vtdpb$$ up

start() { # mode(tun|tap)
	local extra=()
	[ "$1" = tap ] && extra=(--tap)
	ip netns exec "$ns_a" "$bin" --side a --dev umt0 --addr 100.64.0.1/24 --addr fd00:64::1/64 \
		--port 51820 --peer 198.51.100.2:51820 --allowed 100.64.0.0/24 --allowed fd00:64::/64 \
		"${extra[@]}" 2>"$work/a-$1.log" &
	pid_a=$!
	ip netns exec "$ns_b" "$bin" --side b --dev umt0 --addr 100.64.0.2/24 --addr fd00:64::2/64 \
		--port 51820 --peer 198.51.100.1:51820 --allowed 100.64.0.0/24 --allowed fd00:64::/64 \
		"${extra[@]}" 2>"$work/b-$1.log" &
	pid_b=$!
	pids=("$pid_a" "$pid_b")
	for _ in $(seq 50); do
		ip -n "$ns_a" link show umt0 >/dev/null 2>&1 && ip -n "$ns_b" link show umt0 >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 0.3
}
stop() {
	kill -INT "$pid_a" "$pid_b"
	wait "$pid_a" "$pid_b" 2>/dev/null
	pids=()
}
check_counters() { # mode
	for side in a b; do
		line=$(grep "^side $side: rx" "$work/$side-$1.log") || fail "$1: no counters from $side"
		echo "$line" | grep -q "drops mac 0 replay 0 malformed 0 notallowed 0" || fail "$1: drops: $line"
	done
}

# TUN
start tun
ip netns exec "$ns_a" ping -c 3 -i 0.2 -W 2 100.64.0.2 >/dev/null || fail "tun ping a->b"
ip netns exec "$ns_b" ping -c 3 -i 0.2 -W 2 100.64.0.1 >/dev/null || fail "tun ping b->a"
ip netns exec "$ns_a" ping -c 2 -s 3000 -W 2 100.64.0.2 >/dev/null || fail "tun ping with fragments"
# iperf3 comes with scripts/install-deps: missing is a failure, not a skip.
command -v iperf3 >/dev/null || fail "iperf3 missing (scripts/install-deps)"
ip netns exec "$ns_b" iperf3 -s -1 >/dev/null 2>&1 &
srv=$!
sleep 0.3
out=$(ip netns exec "$ns_a" iperf3 -c 100.64.0.2 -t 2 2>&1) || fail "iperf3: $out"
wait "$srv" 2>/dev/null
echo "$out" | grep -E "receiver" | tail -1
# IPv6 overlay: TSO6 split and GSO_TCPV6 coalescing.
ip netns exec "$ns_a" ping -6 -c 2 -i 0.2 -W 2 fd00:64::2 >/dev/null || fail "tun ping6"
ip netns exec "$ns_b" iperf3 -s -1 >/dev/null 2>&1 &
srv=$!
sleep 0.3
out=$(ip netns exec "$ns_a" iperf3 -6 -c fd00:64::2 -t 2 2>&1) || fail "iperf3 -6: $out"
wait "$srv" 2>/dev/null
echo "$out" | grep -E "receiver" | tail -1
stop
check_counters tun

# TAP
start tap
ip netns exec "$ns_a" ping -c 3 -i 0.2 -W 2 100.64.0.2 >/dev/null || fail "tap ping a->b"
ip netns exec "$ns_b" ping -c 3 -i 0.2 -W 2 100.64.0.1 >/dev/null || fail "tap ping b->a"
stop
check_counters tap
echo "dataplane: ok"
