#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Idle-RTT A/B with all candidates running at once (root): two namespaces
# joined by a veth pair, one tunnel per SPEC side by side (see nodes.sh:
# a build dir, DIR@VAR=x,... for umbrad's environment, or "quicktun"), then
# bench-ping-interleaved pings the tunnels in rotation, COUNT pings each,
# INTERVAL seconds apart per tunnel (the peer lab's 0.1 s: every ping meets
# an idle tunnel). Because the candidates share every moment of the run,
# the VM's drift cancels out; run it twice with the order reversed to
# check that position does not matter.
#   bench/rtt_interleaved.sh SPEC...     e.g. raw build /tmp/old-build quicktun
# Environment: COUNT=300 INTERVAL=0.1 PINGER=<build>/bench/bench-ping-interleaved
set -u
[ "$(id -u)" = 0 ] || { echo "rtt_interleaved.sh: needs root" >&2; exit 77; }
[ $# -ge 1 ] || { echo "usage: rtt_interleaved.sh SPEC..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
pinger=${PINGER:-$here/../build/bench/bench-ping-interleaved}
[ -x "$pinger" ] || { echo "rtt_interleaved.sh: $pinger missing (ninja -C build)" >&2; exit 1; }
pin=
. "$here/nodes.sh"
bench_setup rt || exit 1
dsts=()
k=0
for spec in "$@"; do
	bench_start_tunnel "$spec" "$k" || exit 1
	dsts+=("$(bench_tunnel_dst "$spec" "$k")")
	k=$((k + 1))
done
sleep 1
out=$(ip netns exec "$ns_a" "$pinger" "${COUNT:-300}" "${INTERVAL:-0.1}" "${dsts[@]}") || exit 1
k=0
for spec in "$@"; do
	printf '%-36s %s\n' "$spec" "$(grep "^$(bench_tunnel_dst "$spec" "$k") " <<<"$out" | cut -c17-)"
	k=$((k + 1))
done
