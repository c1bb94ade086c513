#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A first session's responder sends at once (issue 14, session 14): the
# designated side installs its keys for receiving as its RESPONSE goes, so
# the other side, answering, need not hold them in `next` until the
# initiator's first packet (a round trip later; through a relay 160 ms of
# the lab's first reply). Here the router drops every ESTABLISHED (72
# bytes, type 0x04) both ways and both sides ping: no initiator ever
# completes, yet the responder's pings reach the designated side. Before,
# the responder waited for a packet that never came, and nothing passed.
# Nothing may be dropped for an unknown index (the race of session 11:
# data overtaking the receiver's key install).
#
#   a 198.51.100.2 -- router -- b 198.51.100.6
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_routed_pair
um_exec r iptables -A FORWARD -p udp -m u32 --u32 "0>>22&0x3C@4>>16=80&&0>>22&0x3C@8>>24=0x04" \
	-m comment --comment established -j DROP || um_fail "iptables u32 in the router"

um_start alpha
um_start beta
um_bg a ping-a.log ping -q -c 25 -i 0.2 100.64.0.2
um_bg b ping-b.log ping -q -c 25 -i 0.2 100.64.0.1
rx_of() { um_peer_field "$1" "$2" rx_packets; }
got_some() { (($(rx_of alpha beta) + $(rx_of beta alpha) > 0)); }
um_wait 6 "DATA through a session whose ESTABLISHED never arrived" got_some
dropped=$(um_exec r iptables -L FORWARD -v -x -n | awk '/established/ { s += $1 } END { print s + 0 }')
((dropped >= 1)) || um_fail "the router dropped no ESTABLISHED"
for pair in "alpha beta" "beta alpha"; do
	set -- $pair
	um_log "$1: state $(um_peer_field "$1" "$2" state), sent $(um_peer_field "$1" "$2" tx_packets), received $(rx_of "$1" "$2")"
done
for n in alpha beta; do
	unknown=$(um_cli $n status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["dp_unknown_index"])')
	((unknown == 0)) || um_fail "$n dropped $unknown packets with an unknown session index"
done
um_log "the responder's packets arrived with every ESTABLISHED dropped ($dropped)"
um_stop alpha
um_stop beta
