#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Relay bindings that cannot be stolen (issue 13, review #5, #6, #8).
# Topology of relay.sh (relay only, no direct path) plus two attackers on
# the internet router:
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#                   198.51.100.2  |  |  |  198.51.100.6
#          relay 203.0.113.2:51821  |  mallory 198.51.100.14 (SNAT to 198.51.100.2:51820)
#                                 eve 198.51.100.10
#
# (a) A tap on the router records what alpha sends to the relay that is not
#     bulk traffic: its KEEPALIVEs (0x22), or, if the format changed, every
#     datagram alpha->relay up to 200 bytes (matched by direction and size).
#     Eve replays them byte for byte from her own address, several times,
#     during a 200 packet/s sequence-numbered stream each way between alpha
#     and beta through the relay: 0 lost, and the relay never sends alpha's
#     traffic to eve.
# (b) Mallory runs a real umbrad with ANOTHER admitted identity; his
#     namespace SNATs everything to alpha's public endpoint 198.51.100.2:51820,
#     so the relay sees his registrations come from alpha's endpoint (he is
#     off-path: the answers go to alpha). During another stream each way:
#     0 lost, and nothing reaches mallory or eve.
set -u
. "$(dirname "$0")/lib.sh"
um_init
SNIFF="$UM_NETNS_DIR/sniff.py"
EVE=198.51.100.10 MALLORY=198.51.100.14

um_two_sites
um_exec inet iptables -A FORWARD -i ia -o ib -j ACCEPT
um_exec inet iptables -A FORWARD -i ib -o ia -j ACCEPT
um_ns eve
um_link eve eth0 $EVE/30 inet ie 198.51.100.9/30
um_exec eve ip route add default via 198.51.100.9
um_ns mallory
um_link mallory eth0 $MALLORY/30 inet im 198.51.100.13/30
um_exec mallory ip route add default via 198.51.100.13
# Mallory's packets leave with alpha's public address and port; the router
# does not check sources (no reverse-path filter), like most of the internet.
um_exec mallory iptables -t nat -A POSTROUTING -o eth0 -p udp -j SNAT --to-source 198.51.100.2:51820 ||
	um_fail "SNAT in mallory's namespace"
for f in all default im ie ia ib ir; do um_exec inet sysctl -qw net.ipv4.conf.$f.rp_filter=0; done
# Counters on the router: what the attackers send, what anyone sends them.
um_exec inet iptables -A FORWARD -i ie -j ACCEPT
um_exec inet iptables -A FORWARD -i im -j ACCEPT
um_exec inet iptables -A FORWARD -o ie -j ACCEPT
um_exec inet iptables -A FORWARD -o im -j ACCEPT
count() { # IN|OUT IFACE
	um_exec inet iptables -L FORWARD -v -x -n | awk -v d="$1" -v i="$2" '$3 == "ACCEPT" && ((d == "in" && $6 == i && $7 == "*") || (d == "out" && $7 == i && $6 == "*")) {s += $1} END {print s + 0}'
}

um_key alpha
um_key beta
um_key mallory
um_key relayid
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}, ${UM_NODE_ID[mallory]}
keepalive-interval = 1s
registration-timeout = 10s"
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
direct = false"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
direct = false"
um_config mallory mallory 51820 100.96.0.9/24 tun "relay = ${UM_NODE_ID[relayid]}@203.0.113.2:51821
direct = false"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
um_peer mallory beta "" 100.96.0.2/32

relay_counters() {
	um_json relay status '" ".join("%s=%s" % (k, d["relay"][k]) for k in ("registered", "registrations", "reregistrations", "rebinds", "keepalives", "keepalive_unknown", "reg_replay", "reg_stale", "reg_bad_signature", "drop_not_registered", "errors_sent"))'
}

# The tap records alpha's relay link before the streams start.
um_bg inet sniff.log python3 "$SNIFF" capture "$UM_TMP/relay.cap" 6
um_wait 5 "sniffer" test -e "$UM_TMP/relay.cap.ready"
um_start relay
um_start alpha
um_start beta
um_wait 10 "first ping through the relay" um_ping a 100.96.0.2 -W 0.2
um_exec a ping -c 5 -i 0.1 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b through the relay"
um_wait 10 "capture" test -e "$UM_TMP/relay.cap"
sel=$(python3 "$SNIFF" select "$UM_TMP/relay.cap" "$UM_TMP/keepalives" 198.51.100.2 203.0.113.2 22) ||
	sel=$(python3 "$SNIFF" select "$UM_TMP/relay.cap" "$UM_TMP/keepalives" 198.51.100.2 203.0.113.2 any 200) ||
	um_fail "nothing captured on alpha's relay link"
# Only what alpha sent (toward the relay).
grep '^203\.0\.113\.2:51821 ' "$UM_TMP/keepalives" >"$UM_TMP/ka" || um_fail "no datagram from alpha to the relay captured"
n_ka=$(wc -l <"$UM_TMP/ka")
um_log "tap on alpha's relay link: $sel; $n_ka from alpha to the relay"
((n_ka >= 2)) || um_fail "only $n_ka keepalives captured"
um_log "relay before: $(relay_counters)"

streams() { # LABEL SECONDS: a stream each way through the relay, 0 lost
	local label=$1 seconds=$2 sent got dups gap
	for dir in ab ba; do
		read -r sent got dups gap < <(um_stream_result "$label-$dir")
		um_log "$label: stream $dir $got/$sent received, $((sent - got)) lost, largest gap $gap ms, $dups duplicates"
		((sent >= seconds * 150)) || um_fail "$label: stream $dir sent only $sent"
		((got == sent)) || um_fail "$label: stream $dir lost $((sent - got)) of $sent"
		((dups == 0)) || um_fail "$label: stream $dir delivered $dups duplicates"
	done
}

# ---- (a) keepalives replayed from eve's address ----
e_in0=$(count in ie) e_out0=$(count out ie)
um_stream_start keepalive-ab a b 100.96.0.2 6
um_stream_start keepalive-ba b a 100.96.0.1 6
sleep 1
for i in 1 2 3 4; do
	um_exec eve python3 "$SNIFF" send "$UM_TMP/ka" 203.0.113.2:51821 1 5 >/dev/null
	sleep 1
done
streams keepalive 6
e_in=$(($(count in ie) - e_in0)) e_out=$(($(count out ie) - e_out0))
um_log "(a) eve sent $e_in datagrams to the relay, received $e_out; relay: $(relay_counters)"
((e_in >= 4 * n_ka)) || um_fail "eve's replays did not reach the router ($e_in)"
((e_out <= 4 * n_ka)) || um_fail "the relay sent eve $e_out datagrams (more than she sent it)"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic through the relay after the keepalive replay"

# ---- (b) registrations spoofed from alpha's endpoint by mallory ----
m_in0=$(count in im) m_out0=$(count out im) e_out0=$(count out ie)
um_stream_start spoof-ab a b 100.96.0.2 8
um_stream_start spoof-ba b a 100.96.0.1 8
sleep 1
sed -i 's/^device = um0/device = um9/' "$UM_TMP/mallory.conf"
um_start mallory
sleep 6
m_in=$(($(count in im) - m_in0))
kill -TERM "${UM_NODE_PID[mallory]}"
streams spoof 8
m_out=$(($(count out im) - m_out0)) e_out=$(($(count out ie) - e_out0))
um_log "(b) mallory sent $m_in datagrams as 198.51.100.2:51820, received $m_out; relay: $(relay_counters)"
# Relay version 3: mallory's registration is a handshake with the relay
# (pinned, so it starts with HELLO); the relay's answers go to alpha's
# endpoint, so it never gets past its HELLO and its retransmissions (3 in
# the 6 s: at 0, 1 and 3 s).
((m_in >= 2)) || um_fail "mallory's registration did not go out ($m_in datagrams)"
((m_out == 0)) || um_fail "mallory received $m_out datagrams"
((e_out == 0)) || um_fail "eve received $e_out datagrams during (b)"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic through the relay after the spoofed registration"
[ "$(um_json alpha status 'd["relays"][0]["state"]')" = home ] || um_fail "alpha lost its relay registration"
um_stop alpha
um_stop beta
um_stop relay
