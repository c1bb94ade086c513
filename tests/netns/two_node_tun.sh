#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two nodes, TUN mode: handshake, ping and TCP through the tunnel, status
# and peers output, quiet-tunnel behaviour (busy polling, workers gathered
# on one CPU), up/down, clean shutdown (no device or socket left).
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
um_config alpha a 51820 100.64.0.1/24 tun "busy-poll-us = 2000"
um_config beta b 51820 100.64.0.2/24 tun
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
# The first packet waits for the session instead of being dropped
# (net/dataplane_stage.c): alpha's UDP is blocked while its ping goes out,
# then opened; a HELLO resent after that makes the session and the ping,
# held meanwhile, gets its answer.
um_exec a iptables -A OUTPUT -p udp --dport 51820 -j DROP
um_start alpha
um_start beta
(um_exec a ping -c 1 -W 8 100.64.0.2 >"$UM_TMP/first-ping.txt" 2>&1
	echo $? >"$UM_TMP/first-ping.rc") &
first_ping=$!
sleep 0.5
um_exec a iptables -D OUTPUT -p udp --dport 51820 -j DROP
wait "$first_ping"
[ "$(cat "$UM_TMP/first-ping.rc")" = 0 ] || um_fail "the ping sent before the session got no answer"
um_log "first ping held and answered ($(grep -o 'time=[0-9.]* ms' "$UM_TMP/first-ping.txt"))"

um_wait 5 "alpha established with beta" um_established alpha beta
um_wait 5 "beta established with alpha" um_established beta alpha
um_log "handshake done"
um_exec a ping -c 3 -i 0.2 -W 1 100.64.0.2 >/dev/null || um_fail "ping a->b"
um_exec b ping -c 3 -i 0.2 -W 1 100.64.0.1 >/dev/null || um_fail "ping b->a"
um_log "ping ok"

# Quiet tunnel: alpha's pings leave after an idle spell, so its worker
# polls for the answer (a 2 ms window here) and takes it without sleeping;
# its workers pinned themselves to one CPU when they started.
um_exec a ping -c 5 -i 0.2 -W 1 100.64.0.2 >/dev/null || um_fail "quiet pings a->b"
hits=$(um_json alpha status 'd["node"]["dp_busy_poll_hits"]')
gathers=$(um_json alpha status 'd["node"]["dp_gathers"]')
((hits >= 1)) || um_fail "no busy-poll hit after 5 quiet pings (hits=$hits)"
((gathers >= 1)) || um_fail "workers never gathered (gathers=$gathers)"
um_log "quiet tunnel ok (busy-poll hits $hits, gathers $gathers)"

# TCP: 1 MB through the tunnel, checked end to end.
head -c 1000000 /dev/urandom >"$UM_TMP/blob"
um_bg b tcp-server.log socat -u TCP-LISTEN:5001,bind=100.64.0.2,reuseaddr OPEN:"$UM_TMP/blob.out",creat,trunc
um_wait 5 "TCP listener" um_exec b sh -c 'ss -ltn | grep -q 100.64.0.2:5001'
um_exec a socat -u OPEN:"$UM_TMP/blob" TCP:100.64.0.2:5001 || um_fail "TCP send"
um_wait 5 "TCP transfer complete" cmp -s "$UM_TMP/blob" "$UM_TMP/blob.out"
um_log "tcp ok"

# status / peers, human and JSON.
um_cli alpha status | grep -q 'beta .*established' || um_fail "status does not show beta established"
um_cli alpha peers | grep -q 'transfer:' || um_fail "peers output"
um_cli alpha status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["node"]["up"]==1 and d["peers"][0]["state"]=="established"' ||
	um_fail "status --json"
rx=$(um_peer_field alpha beta rx_bytes)
((rx > 1000)) || um_fail "rx_bytes=$rx"
[ -n "$(um_peer_field alpha beta last_handshake_age_ms)" ] || um_fail "no last handshake age"
[ -n "$(um_peer_field alpha beta rtt_us)" ] || [ -n "$(um_peer_field beta alpha rtt_us)" ] || um_fail "no RTT on either side"
# Setup visibility: both ends show the transport, the retransmission count
# and the setup time (the responder's from the first HELLO it received, the
# endpoints being known); the initiator also the first reply, no later.
for pair in "alpha beta" "beta alpha"; do
	set -- $pair
	j=$(um_cli "$1" peers --json) || um_fail "peers --json on $1"
	jq -e --arg p "$2" '.peers[] | select(.name == $p) | .transport == "direct" and
		(.handshake_retransmitted_datagrams | type) == "number" and .setup_ms >= 0 and .setup_ms < 5000 and
		(.setup_role == "initiator" or .setup_role == "responder") and .setup_initiations >= 0' <<<"$j" >/dev/null ||
		um_fail "$1: setup/transport keys for $2: $j"
done
initiators=0
for pair in "alpha beta" "beta alpha"; do
	set -- $pair
	j=$(um_cli "$1" peers --json | jq -c --arg p "$2" '.peers[] | select(.name == $p)')
	[ "$(jq -r .setup_role <<<"$j")" = initiator ] || continue
	initiators=$((initiators + 1))
	jq -e '.setup_ms >= 0 and .setup_ms < 5000 and .setup_first_reply_ms <= .setup_ms and .setup_initiations >= 1' \
		<<<"$j" >/dev/null || um_fail "$1: setup times for $2: $j"
	um_log "$1 -> $2: setup $(jq .setup_ms <<<"$j") ms, first reply $(jq .setup_first_reply_ms <<<"$j") ms, \
$(jq .handshake_retransmitted_datagrams <<<"$j") datagrams resent"
done
((initiators >= 1)) || um_fail "neither side shows itself as the initiator of the session"
um_cli alpha peers | grep -q 'transport: *direct' || um_fail "peers text: no transport line"
um_cli alpha status
um_cli beta peers
um_log "status ok"

# The JSON the daemon renders (get=json, get=json-peers) carries the same
# values as its key=value reply (get=1) and the human output: both come
# from one snapshot, so any mismatch means the JSON path broke.
kv=$(printf 'get=1\n\n' | socat -t 2 - UNIX-CONNECT:"${UM_NODE_SOCK[alpha]}") || um_fail "get=1 over the socket"
status_json=$(um_cli alpha status --json) || um_fail "status --json"
peers_json=$(um_cli alpha peers --json) || um_fail "peers --json"
node_kv() { awk -v k="$1" '{ key = substr($0, 1, index($0, "=") - 1) } key == "peer" { exit } key == k { print substr($0, length(k) + 2); exit }' <<<"$kv"; }
peer_kv() { # peer_kv PEER KEY: every value of KEY in PEER's block, comma-joined
	awk -v p="$1" -v k="$2" '{ key = substr($0, 1, index($0, "=") - 1) } key == "peer" { in_p = ($0 == "peer=" p) }
		in_p && key == k { out = out (n++ ? "," : "") substr($0, length(k) + 2) } END { print out }' <<<"$kv"
}
for k in node_id short_id version device mode address listen_port up peers relays; do
	j=$(jq -r --arg k "$k" '.node[$k]' <<<"$status_json")
	[ "$j" = "$(node_kv "$k")" ] || um_fail "status --json .node.$k=$j, get=1 says $(node_kv "$k")"
done
for k in id short_id path endpoint state keepalive path_state handshakes; do
	j=$(jq -r --arg k "$k" '.peers[] | select(.name == "beta") | .[$k]' <<<"$status_json")
	[ "$j" = "$(peer_kv beta "$k")" ] || um_fail "status --json beta.$k=$j, get=1 says $(peer_kv beta "$k")"
done
j=$(jq -r '.peers[] | select(.name == "beta") | .allowed_ips | join(",")' <<<"$status_json")
[ "$j" = "$(peer_kv beta allowed_ip)" ] || um_fail "allowed_ips: JSON $j, get=1 $(peer_kv beta allowed_ip)"
jq -e '(.node.listen_port | type) == "number" and (.node.node_id | type) == "string" and
	(.peers[0].dropped.replay | type) == "number" and (.relays | type) == "array" and .peers[0].state == "established"' \
	<<<"$status_json" >/dev/null || um_fail "status --json types: $status_json"
[ "$(jq -c '.peers | map({name, id, state, endpoint, allowed_ips})' <<<"$peers_json")" = \
	"$(jq -c '.peers | map({name, id, state, endpoint, allowed_ips})' <<<"$status_json")" ] ||
	um_fail "peers --json and status --json disagree"
[ "$(jq -r 'keys | join(",")' <<<"$peers_json")" = peers ] || um_fail "peers --json holds more than peers"
um_cli alpha status | grep -qx "node $(jq -r .node.node_id <<<"$status_json")" || um_fail "status text vs JSON node_id"
um_cli alpha peers | grep -q "id: *$(jq -r '.peers[0].id' <<<"$peers_json")\$" || um_fail "peers text vs JSON id"
um_cli alpha peers | grep -q "endpoint: *$(jq -r '.peers[0].endpoint' <<<"$peers_json")\$" || um_fail "peers text vs JSON endpoint"
um_log "status/peers JSON match the text"

# Hostile control clients: errors, no crash, still serving.
python3 "$(dirname "$0")/control_abuse.py" "${UM_NODE_SOCK[alpha]}" >&2 || um_fail "control socket abuse"
[ "$(stat -c %a "${UM_NODE_SOCK[alpha]}")" = 600 ] || um_fail "control socket mode is not 0600"
um_log "control socket ok"

# down/up through the daemon.
um_cli alpha down || um_fail "umbra down"
um_ping a 100.64.0.2 && um_fail "ping works while down"
um_cli alpha up || um_fail "umbra up"
um_wait 5 "ping after up" um_ping a 100.64.0.2
um_log "down/up ok"

um_stop alpha
um_stop beta
um_log "clean shutdown ok"
