#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Replayed path probes (issue 13, review #4). Topology of punch.sh plus an
# attacker, eve, on the internet router; both NATs forward UDP 51820 to
# their node, so whatever eve sends reaches the nodes:
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#                   198.51.100.2  |  |  198.51.100.6
#             relay 203.0.113.2:51821  eve 198.51.100.10
#
# A tap on the router (sniff.py in inet) records the datagrams of the
# direct path while alpha and beta probe it (health probes, `umbra ping`):
# PROBE 0x27 and PROBE_REPLY 0x28, or, once path messages travel inside the
# session, every datagram of the direct path up to 256 bytes. Eve replays
# each of them, byte for byte and from her own address, to both nodes,
# first while the path is direct, then while it is cut (path on the relay,
# where the old code learned eve's address as a candidate and probed it).
# Checks: the session's path never moves (same endpoint, no new direct
# switch, never eve's address), the replay counters rise (path_replays +
# dropped.replay), no probe storm (datagrams to eve's address counted by
# the router: a small bound), and a burst of `umbra ping` probes gets its
# replies rate-limited (path_replies_limited).
set -u
. "$(dirname "$0")/lib.sh"
um_init
SNIFF="$UM_NETNS_DIR/sniff.py"
EVE=198.51.100.10

um_two_sites
um_exec inet iptables -A FORWARD -i ia -o ib -j ACCEPT
um_exec inet iptables -A FORWARD -i ib -o ia -j ACCEPT
um_ns eve
um_link eve eth0 $EVE/30 inet ie 198.51.100.9/30
um_exec eve ip route add default via 198.51.100.9
# Everything the nodes (or anyone) send to eve is counted here.
um_exec inet iptables -A FORWARD -o ie -d $EVE -j ACCEPT
to_eve() { um_exec inet iptables -L FORWARD -v -x -n | awk -v e=$EVE '$3 == "ACCEPT" && $9 == e {s += $1} END {print s + 0}'; }
# Port forwards: the nodes are reachable from anywhere on UDP 51820.
for site in a:100.64.1.2 b:100.64.2.2; do
	nat=nat-${site%%:*} lan=${site#*:}
	um_exec "$nat" iptables -t nat -A PREROUTING -i wan0 -p udp --dport 51820 -j DNAT --to-destination "$lan:51820"
	um_exec "$nat" iptables -I FORWARD 1 -i wan0 -p udp -d "$lan" --dport 51820 -j ACCEPT
done

um_path_peers 6s

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
replays() { # NODE PEER: path replays + data-plane replays
	echo $(($(um_peer_field "$1" "$2" path_replays) + $(um_peer_field "$1" "$2" dropped.replay)))
}
snapshot() { # NODE PEER: "path endpoint direct_switches"
	echo "$(um_peer_field "$1" "$2" path) $(um_peer_field "$1" "$2" endpoint) $(um_peer_field "$1" "$2" direct_switches)"
}

um_start relay
um_start alpha
um_start beta
um_wait 15 "direct path on both sides" direct_both

# ---- the tap records the direct path ----
um_bg inet sniff.log python3 "$SNIFF" capture "$UM_TMP/direct.cap" 5
um_wait 5 "sniffer" test -e "$UM_TMP/direct.cap.ready"
um_cli alpha ping beta -c 5 -i 100 >/dev/null || um_fail "umbra ping beta"
um_cli beta ping alpha -c 5 -i 100 >/dev/null || um_fail "umbra ping alpha"
um_wait 10 "capture" test -e "$UM_TMP/direct.cap"
sel=$(python3 "$SNIFF" select "$UM_TMP/direct.cap" "$UM_TMP/probes" 198.51.100.2 198.51.100.6 27,28) ||
	sel=$(python3 "$SNIFF" select "$UM_TMP/direct.cap" "$UM_TMP/probes" 198.51.100.2 198.51.100.6 any 256) ||
	um_fail "nothing captured on the direct path"
n_sel=$(wc -l <"$UM_TMP/probes")
um_log "tap: $sel"
((n_sel >= 10)) || um_fail "only $n_sel probe datagrams captured"

# ---- replay while direct ----
replay_round() { # LABEL: replay everything to both nodes, check nothing moved
	local label=$1 a0 b0 ra0 rb0 e0 a1 b1 ra1 rb1 e1
	a0=$(snapshot alpha beta) b0=$(snapshot beta alpha)
	ra0=$(replays alpha beta) rb0=$(replays beta alpha) e0=$(to_eve)
	um_exec eve python3 "$SNIFF" send "$UM_TMP/probes" 198.51.100.2:51820 3 2 >/dev/null
	um_exec eve python3 "$SNIFF" send "$UM_TMP/probes" 198.51.100.6:51820 3 2 >/dev/null
	sleep 3 # an old-style probe storm (connect-timeout 2 s) would be over by now
	a1=$(snapshot alpha beta) b1=$(snapshot beta alpha)
	ra1=$(replays alpha beta) rb1=$(replays beta alpha) e1=$(to_eve)
	um_log "$label: replayed $((2 * 3 * n_sel)) datagrams from $EVE; replays counted alpha +$((ra1 - ra0)), beta +$((rb1 - rb0)); datagrams to eve $((e1 - e0)); alpha: $a0 -> $a1; beta: $b0 -> $b1"
	[ "$a1" = "$a0" ] || um_fail "$label: alpha's path to beta moved ($a0 -> $a1)"
	[ "$b1" = "$b0" ] || um_fail "$label: beta's path to alpha moved ($b0 -> $b1)"
	case "$a1 $b1" in *"$EVE"*) um_fail "$label: a session points at eve" ;; esac
	# Each node got every datagram three times; at least the ones addressed
	# to it (about half) must be refused as replays, most of them counted.
	((ra1 - ra0 >= n_sel / 2)) || um_fail "$label: alpha counted only $((ra1 - ra0)) replays"
	((rb1 - rb0 >= n_sel / 2)) || um_fail "$label: beta counted only $((rb1 - rb0)) replays"
	((e1 - e0 <= 4)) || um_fail "$label: the nodes sent $((e1 - e0)) datagrams to eve (probe storm or echo oracle)"
}
replay_round "direct"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic after the replay"

# ---- replay while the direct path is cut (path on the relay) ----
direct_cut -I
um_wait 10 "relay path on both sides after the cut" relay_both
replay_round "relay"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic through the relay after the replay"
direct_cut -D

# ---- a burst of fresh probes from one source: replies are rate-limited ----
lim0=$(um_peer_field beta alpha path_replies_limited)
um_wait 40 "direct again" direct_both
out=$(um_cli alpha ping beta -c 100 -i 1 -W 500 2>&1)
lim1=$(um_peer_field beta alpha path_replies_limited)
um_log "100 pings 1 ms apart: $(echo "$out" | tail -n 1); beta's path_replies_limited $lim0 -> $lim1"
((lim1 > lim0)) || um_fail "beta answered a burst of 100 probes from one source without limiting"
um_stop alpha
um_stop beta
um_stop relay
