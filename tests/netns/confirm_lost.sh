#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A lost key confirmation (issue 14, found by lossy_setup): the initiator's
# first DATA packet after a handshake (the keepalive that makes the
# responder promote its `next` keys) is dropped, once per direction, by a
# byte quota in the router. On a first session the responder has no other
# keys to send with, so without a repeated confirmation it could not send
# until the initiator's heartbeat keepalive (~13 s later). The responder's
# first ping must get through within 3 s of the session coming up.
#
#   a 198.51.100.1 -- router -- b 198.51.100.6
set -u
. "$(dirname "$0")/lib.sh"
um_init
command -v jq >/dev/null || um_fail "jq missing (scripts/install-deps)"

um_routed_pair
# The first DATA datagram (type 0x10: the first byte of the UDP payload)
# each way is dropped: a quota of 100 bytes holds one keepalive (~60).
for dir in "ra rb" "rb ra"; do
	set -- $dir
	um_exec r iptables -A FORWARD -i "$1" -o "$2" -p udp -m u32 --u32 "0>>22&0x3C@8>>24=0x10" \
		-m quota --quota 100 -m comment --comment first-data -j DROP || um_fail "iptables u32/quota in the router"
done

um_start alpha
um_start beta
um_wait 10 "alpha established with beta" um_established alpha beta
um_wait 10 "beta established with alpha" um_established beta alpha
t_up=$(date +%s%N)
dropped=$(um_exec r iptables -L FORWARD -v -x -n | awk '/first-data/ { s += $1 } END { print s + 0 }')
((dropped >= 1)) || um_fail "the router dropped no DATA datagram (no confirmation sent?)"

# The responder of the current session pings first: it can only send once
# its `next` keys are promoted.
if [ "$(um_peer_field alpha beta setup_role)" = responder ]; then
	responder=a target=100.64.0.2 name=alpha
else
	responder=b target=100.64.0.1 name=beta
fi
um_wait 3 "the responder ($name) reaching its peer after a lost confirmation" um_ping $responder $target -W 0.3
t_ping=$((($(date +%s%N) - t_up) / 1000000))
um_log "confirmation dropped ($dropped DATA datagram(s)); responder $name's first ping through after $t_ping ms"
um_stop alpha
um_stop beta
