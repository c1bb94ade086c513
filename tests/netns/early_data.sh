#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Data behind the RESPONSE (issue 14, session 11): the designated side's
# first session carries traffic from its RESPONSE on, and the responder's
# from the RESPONSE it read, so neither waits for ESTABLISHED. Here the
# router drops every ESTABLISHED (72 bytes, type 0x04) both ways: no
# handshake ever completes, yet pings go through both ways. (Before, the
# session existed only after ESTABLISHED: nothing passed.)
#
#   a 198.51.100.1 -- router -- b 198.51.100.6
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_routed_pair
um_exec r iptables -A FORWARD -p udp -m u32 --u32 "0>>22&0x3C@4>>16=80&&0>>22&0x3C@8>>24=0x04" \
	-m comment --comment established -j DROP || um_fail "iptables u32 in the router"

um_start alpha
um_start beta
um_wait 5 "a ping alpha -> beta without ESTABLISHED" um_ping a 100.64.0.2 -W 0.3
um_wait 3 "a ping beta -> alpha without ESTABLISHED" um_ping b 100.64.0.1 -W 0.3
dropped=$(um_exec r iptables -L FORWARD -v -x -n | awk '/established/ { s += $1 } END { print s + 0 }')
((dropped >= 1)) || um_fail "the router dropped no ESTABLISHED"
# The responder's session is complete (it needs no ESTABLISHED); the
# initiator's is not, and it says so.
states="$(um_peer_field alpha beta state) $(um_peer_field beta alpha state)"
case $states in
"established established") um_fail "both report a session although no ESTABLISHED arrived" ;;
*established*) ;;
*) um_fail "no side reports the session it answered ($states)" ;;
esac
um_log "pings both ways with every ESTABLISHED dropped ($dropped; states: $states)"
um_stop alpha
um_stop beta
