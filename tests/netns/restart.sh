#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A peer that crashes (SIGKILL: no goodbye, stale socket file) and restarts
# re-handshakes, and traffic resumes within 2 s of its restart. Done for
# both nodes (one is the designated initiator of the pair, one is not).
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
um_config alpha a 51820 100.64.0.1/24
um_config beta b 51820 100.64.0.2/24
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
um_start alpha
um_start beta
um_wait 5 "alpha established with beta" um_established alpha beta
um_wait 5 "first packet" um_ping a 100.64.0.2

for victim in beta alpha; do
	other=alpha ns_other=a addr=100.64.0.2
	[ $victim = alpha ] && other=beta ns_other=b addr=100.64.0.1
	kill -KILL "${UM_NODE_PID[$victim]}"
	wait "${UM_NODE_PID[$victim]}" 2>/dev/null
	um_ping $ns_other $addr && um_fail "ping worked with $victim dead"
	hs0=$(um_peer_field $other $victim handshakes)
	start=$(date +%s%N)
	um_start $victim
	um_wait 2 "traffic to the restarted $victim" um_ping $ns_other $addr -W 0.2
	ms=$((($(date +%s%N) - start) / 1000000))
	hs1=$(um_peer_field $other $victim handshakes)
	((hs1 > hs0)) || um_fail "no new handshake with $victim"
	um_log "$victim restarted: traffic resumed after $ms ms"
done
um_stop alpha
um_stop beta
