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
um_start alpha
um_start beta

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
um_cli alpha status
um_cli beta peers
um_log "status ok"

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
