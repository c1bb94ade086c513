#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Key rotation under load loses nothing: rekey-interval 2 s, then a flood
# ping (as fast as the tunnel answers) and a UDP stream across several
# rotations, with zero loss required for both, and no packet dropped for a
# key reason (no key, replay, bad MAC, unknown index) on either side. The
# UDP rate (UM_UDP_RATE, default 30M) stays below what a debug build on two
# busy cores carries without socket-buffer drops, which are not what this
# test is about.
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
um_config alpha a 51820 100.64.0.1/24 tun "rekey-interval = 2"
um_config beta b 51820 100.64.0.2/24 tun "rekey-interval = 2"
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
um_start alpha
um_start beta
um_wait 5 "alpha established with beta" um_established alpha beta
um_wait 5 "first packet" um_ping a 100.64.0.2

before=$(( $(um_peer_field alpha beta rekeys) + $(um_peer_field beta alpha rekeys) ))
# Rounds of -c, not one -w run: a deadline would count the packets still in
# flight as lost. Rounds go on until 8 s have passed (several rotations).
start=$(date +%s%N) sent=0 received=0
while (($(date +%s%N) - start < 8000000000)); do
	out=$(um_exec a timeout 60 ping -q -f -c 10000 100.64.0.2 2>&1)
	read -r t r <<<"$(echo "$out" | sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p')"
	sent=$((sent + ${t:-0})) received=$((received + ${r:-0}))
done
um_log "flood ping: $sent sent, $received received in $(( ($(date +%s%N) - start) / 1000000 )) ms"
if ((sent == 0 || received != sent)); then
	for n in alpha beta; do
		um_cli $n status --json >&2
		um_exec "${UM_NODE_NS[$n]}" nstat -az UdpRcvbufErrors UdpSndbufErrors Udp6RcvbufErrors >&2
	done
	um_fail "flood ping lost $((sent - received)) packets across rotations"
fi
after=$(( $(um_peer_field alpha beta rekeys) + $(um_peer_field beta alpha rekeys) ))
((after - before >= 3)) || um_fail "only $((after - before)) rotations during the flood ping"
um_log "flood ping: 0% loss over $((after - before)) rotations"

# Datagrams the kernel dropped in either namespace: UDP socket buffer
# overflows plus device queue drops (rx and tx, every link).
kernel_drops() {
	local ns total=0 n
	for ns in a b; do
		n=$(um_exec "$ns" nstat -asz UdpRcvbufErrors UdpSndbufErrors Udp6RcvbufErrors Udp6SndbufErrors |
			awk '/^Udp/ {s += $2} END {print s + 0}')
		total=$((total + n))
		n=$(um_exec "$ns" ip -j -s link show | python3 -c 'import json,sys
print(sum(l["stats64"]["rx"]["dropped"] + l["stats64"]["tx"]["dropped"] for l in json.load(sys.stdin)))')
		total=$((total + n))
	done
	echo "$total"
}

# iperf3 comes with scripts/install-deps: missing is a failure, not a skip.
command -v iperf3 >/dev/null || um_fail "iperf3 missing (scripts/install-deps)"
um_bg b iperf3-server.log iperf3 -s -B 100.64.0.2 -p 5201
um_wait 5 "iperf3 server" um_exec b sh -c 'ss -ltn | grep -q 100.64.0.2:5201'
before=$after
kernel_before=$(kernel_drops)
um_exec a iperf3 -c 100.64.0.2 -p 5201 -u -b "${UM_UDP_RATE:-30M}" -l 1200 -t 7 -J >"$UM_TMP/iperf3.json" ||
	um_fail "iperf3 UDP run"
lost=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["end"]["sum"]; print(s["lost_packets"], s["packets"])' "$UM_TMP/iperf3.json")
after=$(( $(um_peer_field alpha beta rekeys) + $(um_peer_field beta alpha rekeys) ))
read -r lost total <<<"$lost"
# Key-related drops must be zero whatever else happens.
for side in "alpha beta" "beta alpha"; do
	set -- $side
	for reason in no_key replay bad_mac; do
		n=$(um_peer_field "$1" "$2" dropped.$reason)
		[ "$n" = 0 ] || um_fail "$1 dropped $n packets from $2 for reason $reason"
	done
	n=$(um_cli "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["dp_unknown_index"])')
	[ "$n" = 0 ] || um_fail "$1 dropped $n packets with an unknown session index"
done
um_log "iperf3 UDP ${UM_UDP_RATE:-30M}: $lost of $total datagrams lost over $((after - before)) rotations"
# Every lost datagram must be one the kernel counted as dropped (socket
# buffer or device queue overflow on a busy machine): loss that no
# counter explains would be the tunnel's, and fails the test.
kernel=$(($(kernel_drops) - kernel_before))
if ((lost > kernel)); then
	for n in alpha beta; do
		um_exec "${UM_NODE_NS[$n]}" nstat -az UdpRcvbufErrors UdpSndbufErrors Udp6RcvbufErrors Udp6SndbufErrors >&2
	done
	um_fail "UDP stream lost $lost datagrams across rotations, only $kernel counted as kernel drops"
elif ((lost != 0)); then
	um_log "note: $lost datagrams lost, all counted as kernel socket/queue drops ($kernel) on this busy machine"
fi
((after - before >= 2)) || um_fail "only $((after - before)) rotations during the UDP stream"
# Every rotation after the first handshake is between nodes that verified
# each other's key: the CHALLENGE and RESPONSE go without it (handshake v3).
short=0
for n in alpha beta; do
	short=$((short + $(um_cli $n status --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["node"]; print(d["hs_short_challenges"] + d["hs_short_responses"])')))
done
((short >= 2 * (after - before))) || um_fail "$short short CHALLENGEs/RESPONSEs for $((after - before)) rotations"
um_log "$short CHALLENGEs and RESPONSEs without the public key over $((after - before)) rotations"
um_stop alpha
um_stop beta
