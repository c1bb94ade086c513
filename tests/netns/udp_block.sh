#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# No sticking to TCP (issue 14): a node whose network drops all UDP for the
# first 10 s starts on the TLS relay, and once UDP passes again its traffic
# moves back to UDP (the relay over UDP, or direct) within 5 s, without a
# new handshake and without losing a packet of a sequence-numbered stream
# (seqstream.py, 200 datagrams/s) that runs across the switch.
#
#   a (100.64.1.2) -- nat-a (UDP dropped for 10 s) -- inet -- nat-b -- b (100.64.2.2)
#                                                       |
#                      relay 203.0.113.2 (UDP 51821) + 203.0.113.3 (TLS 443)
#
# Run by hand: UMBRAD=build/umbrad UMBRA=build/umbra bash tests/netns/udp_block.sh
set -u
. "$(dirname "$0")/lib.sh"
um_init
command -v iptables >/dev/null || um_fail "iptables missing (scripts/install-deps)"
command -v jq >/dev/null || um_fail "jq missing (scripts/install-deps)"

BLOCK_S=${UDP_BLOCK_S:-10}
BACK_S=${UDP_BACK_S:-5}

um_two_sites
um_exec relay ip addr add 203.0.113.3/24 dev eth0
# nat-a's network drops UDP both ways (silently, like a firewall that only
# lets web traffic out); counted, to prove the node tried.
block() {
	um_exec nat-a iptables -I FORWARD 1 -p udp -m comment --comment udp-block -j DROP
}
unblock() {
	um_exec nat-a iptables -D FORWARD -p udp -m comment --comment udp-block -j DROP
}

um_key alpha
um_key beta
um_relay_config relay relay 203.0.113.2:51821 "allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
listen-tls = 203.0.113.3:443
keepalive-interval = 2s
registration-timeout = 10s"
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
relay = wss://203.0.113.3:443
connect-timeout = 2s"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
connect-timeout = 2s"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
um_start relay

block
t_block=$(date +%s%N)
um_start alpha
um_start beta
um_wait $((BLOCK_S - 1)) "first ping through the TLS relay" um_ping a 100.96.0.2 -W 0.3
t_first=$((($(date +%s%N) - t_block) / 1000000))
transport=$(um_peer_field alpha beta transport)
[ "$transport" = relay-tcp ] || um_fail "alpha: transport '$transport' while UDP is blocked, not relay-tcp"
um_log "UDP blocked: first ping through the TLS relay after $t_first ms"
# The TLS connection was opened while UDP was tried (WARM_STREAM: no hop of
# the link here takes more than a millisecond, so it was open long before
# the 250 ms of UDP silence) and registered over: one connection, no second.
grep -q "wss://203.0.113.3:443: registering over the connection opened ahead" "$UM_TMP/alpha.log" ||
	um_fail "alpha did not register over its warm TLS connection"
connects=$(um_cli alpha status --json | jq -r '.relays[] | select(.transport == "tls") | .tls_connects')
[ "$connects" = 1 ] || um_fail "alpha: $connects TLS connections, want 1 (the warm one)"
# Its LOOKUP for beta rode behind the REGISTER over TLS (answered with the ACK).
early=$(um_cli alpha status --json | jq -r '.relays[] | select(.transport == "tls") | .early_lookups')
((early >= 1)) || um_fail "alpha: no LOOKUP behind its TLS REGISTER (early_lookups $early)"
mode=$(um_cli alpha status --json | jq -r '.node.relay_transport')
[ "$mode" = stream ] || um_fail "alpha: relay_transport '$mode' on the TLS relay, not stream"
hs0=$(um_peer_field alpha beta handshakes)

# The stream runs from before the unblocking until well after the switch.
left_ms=$((BLOCK_S * 1000 - ($(date +%s%N) - t_block) / 1000000))
((left_ms > 500)) || um_fail "no time left to start the stream before the unblocking ($left_ms ms)"
stream_s=$(((left_ms + 999) / 1000 + BACK_S + 5))
um_stream_start s1 a b 100.96.0.2 "$stream_s"
sleep "$(awk -v ms="$((BLOCK_S * 1000 - ($(date +%s%N) - t_block) / 1000000))" 'BEGIN { printf "%.3f", (ms > 0 ? ms : 0) / 1000 }')"
dropped=$(um_exec nat-a iptables -L FORWARD -v -x -n | awk '/udp-block/ { print $1 }')
unblock
t_unblock=$(date +%s%N)
um_log "UDP unblocked after $((( t_unblock - t_block) / 1000000)) ms ($dropped UDP packets dropped meanwhile)"

# Back on UDP (relay or direct) within BACK_S.
t_back=""
while (($(date +%s%N) - t_unblock < (BACK_S + 5) * 1000000000)); do
	transport=$(um_peer_field alpha beta transport)
	if [ "$transport" = relay ] || [ "$transport" = direct ]; then
		t_back=$((($(date +%s%N) - t_unblock) / 1000000))
		break
	fi
	sleep 0.1
done
[ -n "$t_back" ] || um_fail "alpha still on '$transport' $((BACK_S + 5)) s after UDP came back"
um_log "alpha back on $transport $t_back ms after the unblocking"
mode=$(um_cli alpha status --json | jq -r '.node.relay_transport')
[ "$mode" = udp ] || um_fail "alpha: relay_transport '$mode' back on UDP, not udp"
((t_back <= BACK_S * 1000)) || um_fail "back on UDP only after $t_back ms (want <= ${BACK_S} s)"

read -r sent received dups gap < <(um_stream_result s1)
um_log "stream across the switch: sent $sent, received $received, duplicates $dups, largest gap $gap ms"
((sent > 0 && received == sent)) || um_fail "stream lost $((sent - received)) of $sent datagrams across the switch"
((dups == 0)) || um_fail "stream: $dups duplicates"
hs1=$(um_peer_field alpha beta handshakes)
((hs1 == hs0)) || um_fail "a new handshake for the switch (handshakes $hs0 -> $hs1)"
um_cli alpha peers

um_stop alpha
um_stop beta
um_stop relay
um_log "PASS: TLS first ping ${t_first} ms; back on $transport ${t_back} ms after unblocking; stream $received/$sent, gap ${gap} ms"
