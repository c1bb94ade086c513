#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Identities on the wire (issue 13, review #1): a passive observer of the
# node<->relay links and of the direct path between two nodes must not
# read either node's peer ID or public key. Topology of punch.sh:
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#                   198.51.100.2  |  198.51.100.6
#                               relay 203.0.113.2:51821
#
# Sniffers (sniff.py, AF_PACKET) record every UDP/TCP datagram in inet (all
# three links: both sites' WAN and the relay's) and on alpha's LAN, while
# the nodes register with the relay, handshake through it, punch, migrate
# relay->direct, run `umbra ping` on the direct path, fall back to the
# relay (direct path cut), carry relayed traffic and `umbra ping` there,
# then migrate back. The captures are searched byte for byte for each
# node's peer ID and hybrid public key (whole, and in 16-byte windows,
# since a key in handshake FRAGMENTs is split) and case-insensitively for
# the text forms of the ID (`umbra pubkey`: full and short; hex; base64).
# Any hit fails, naming the message type that carried it. A marker datagram sent through
# the same links must be found (the capture and the search work).
set -u
. "$(dirname "$0")/lib.sh"
um_init
idbytes=${UM_BUILD:-}/tests/netns/um_idbytes
[ -x "$idbytes" ] || um_fail "um_idbytes not built ($idbytes)"
SNIFF="$UM_NETNS_DIR/sniff.py"

um_two_sites
um_exec inet iptables -A FORWARD -i ia -o ib -j ACCEPT
um_exec inet iptables -A FORWARD -i ib -o ia -j ACCEPT

um_path_peers 3s

# What an observer would look for.
: >"$UM_TMP/needles"
for n in alpha beta; do
	"$idbytes" "$UM_TMP/$n.key" | while read -r kind value; do
		case $kind in
		id | pk) echo "$n.$kind bytes $value" ;;
		text) echo "$n.text text $value" ;;
		esac
	done >>"$UM_TMP/needles"
	# The ID in hex (as a log or a debugger would print it), too.
	id_hex=$(awk -v n="$n.id" '$1 == n {print $3}' "$UM_TMP/needles")
	echo "$n.hex text $id_hex" >>"$UM_TMP/needles"
	echo "$n.base64 text $(python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$id_hex")" >>"$UM_TMP/needles"
done
(($(wc -l <"$UM_TMP/needles") == 12)) || um_fail "expected 6 needles per node, got: $(cut -c1-60 "$UM_TMP/needles")"
MARKER=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "marker bytes $MARKER" >>"$UM_TMP/needles"

um_bg inet sniff-inet.log python3 "$SNIFF" capture "$UM_TMP/inet.cap" 50
SNIFF_INET=$UM_LAST_PID
um_bg a sniff-a.log python3 "$SNIFF" capture "$UM_TMP/lan-a.cap" 50 eth0
SNIFF_A=$UM_LAST_PID
um_wait 5 "sniffers" test -e "$UM_TMP/inet.cap.ready" -a -e "$UM_TMP/lan-a.cap.ready"

direct_both() {
	[ "$(um_peer_field alpha beta path)" = direct ] && [ "$(um_peer_field beta alpha path)" = direct ]
}
relay_both() {
	[ "$(um_peer_field alpha beta path)" = relay ] && [ "$(um_peer_field beta alpha path)" = relay ]
}
direct_cut() {
	um_exec inet iptables "$1" FORWARD -i ia -o ib -j DROP
	um_exec inet iptables "$1" FORWARD -i ib -o ia -j DROP
}

# Registration, relayed handshake, punching, migration relay -> direct.
um_start relay
um_start alpha
um_start beta
um_wait 10 "first ping (any path)" um_ping a 100.96.0.2 -W 0.2
um_wait 10 "direct path on both sides" direct_both
um_exec a ping -c 10 -i 0.05 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b on the direct path"
out=$(um_cli alpha ping beta -c 3 -i 50) || um_fail "umbra ping beta (direct): $out"
um_log "direct: $(echo "$out" | tail -n 1)"
# Relayed traffic: cut the direct path, fall back, ping and stream via the relay.
direct_cut -I
um_wait 8 "relay path on both sides after the cut" relay_both
um_exec a ping -c 10 -i 0.05 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b through the relay"
out=$(um_cli beta ping alpha -c 3 -i 50) || um_fail "umbra ping alpha (relay): $out"
um_log "relay: $(echo "$out" | tail -n 1)"
sleep 3 # a few relay keepalives
# Migration back to direct.
direct_cut -D
um_wait 12 "direct again" direct_both
um_exec a ping -c 5 -i 0.05 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b after migrating back"
# The control: a datagram carrying the marker crosses the same links.
um_exec a python3 -c 'import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes.fromhex(sys.argv[1]), ("203.0.113.2", 9))' "$MARKER"
sleep 0.5
fwd=$(um_json relay status 'd["relay"]["forwarded_packets"]')
um_stop alpha
um_stop beta
um_stop relay
kill -TERM "$SNIFF_INET" "$SNIFF_A"
um_wait 10 "captures written" test -e "$UM_TMP/inet.cap" -a -e "$UM_TMP/lan-a.cap"

cat "$UM_TMP/inet.cap" "$UM_TMP/lan-a.cap" >"$UM_TMP/all.cap"
relay_link=$(awk '$2 ~ /^203\.0\.113\.2:/ || $3 ~ /^203\.0\.113\.2:/' "$UM_TMP/inet.cap" | wc -l)
direct_link=$(awk '($2 ~ /^198\.51\.100\.2:/ && $3 ~ /^198\.51\.100\.6:/) || ($2 ~ /^198\.51\.100\.6:/ && $3 ~ /^198\.51\.100\.2:/)' "$UM_TMP/inet.cap" | wc -l)
um_log "captured: $(wc -l <"$UM_TMP/inet.cap") datagrams in inet ($relay_link on relay links, $direct_link on the direct path), $(wc -l <"$UM_TMP/lan-a.cap") on alpha's LAN; relay forwarded $fwd"
((relay_link >= 50)) || um_fail "only $relay_link datagrams on the relay links"
((direct_link >= 40)) || um_fail "only $direct_link datagrams on the direct path"
python3 "$SNIFF" search "$UM_TMP/all.cap" "$UM_TMP/needles" >"$UM_TMP/search.out"
cat "$UM_TMP/search.out" >&2
grep -q "^LEAK marker " "$UM_TMP/search.out" || um_fail "the marker datagram was not found: the capture or the search is broken"
leaks=$(grep "^LEAK " "$UM_TMP/search.out" | grep -vc "^LEAK marker ")
types=$(grep "^LEAK " "$UM_TMP/search.out" | grep -v "^LEAK marker " | awk '{sub(/^(alpha|beta)\./, "", $2); print $2 " in " $6}' | sort -u | paste -sd, -)
((leaks == 0)) || um_fail "peer IDs, public keys or their text forms are visible on the wire ($leaks groups: $types)"
um_log "no peer ID, public key or text form in $(wc -l <"$UM_TMP/all.cap") captured datagrams"
