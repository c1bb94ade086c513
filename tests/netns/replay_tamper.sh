#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Captured DATA datagrams sent again are rejected and counted as replays; a
# flipped ciphertext bit is rejected and counted as a bad MAC; neither
# reaches the device, and the session carries on.
set -u
. "$(dirname "$0")/lib.sh"
um_init
here=$(dirname "$0")

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

# Capture 10 DATA datagrams alpha -> beta on beta's side of the wire.
um_bg b capture.log python3 "$here/replay.py" capture veth0 51820 10 "$UM_TMP/captured" 10
cap=$UM_LAST_PID
um_wait 5 "capture socket" test -e "$UM_TMP/captured.ready"
um_exec a ping -c 30 -i 0.02 100.64.0.2 >/dev/null
wait "$cap" || um_fail "capture: $(cat "$UM_TMP/capture.log")"

rx0=$(um_peer_field beta alpha rx_packets)
replay0=$(um_peer_field beta alpha dropped.replay)
um_exec a python3 "$here/replay.py" send 198.51.100.2 51820 "$UM_TMP/captured" >/dev/null || um_fail "replay send"
um_wait 3 "replays counted" test "$(um_peer_field beta alpha dropped.replay)" -ge $((replay0 + 10))
rx1=$(um_peer_field beta alpha rx_packets)
# Keepalives may arrive meanwhile, but not the 10 replays.
((rx1 - rx0 < 10)) || um_fail "replayed packets were delivered ($rx0 -> $rx1)"
um_log "10 replays rejected and counted (replay $replay0 -> $(um_peer_field beta alpha dropped.replay))"

bad0=$(um_peer_field beta alpha dropped.bad_mac)
um_exec a python3 "$here/replay.py" send 198.51.100.2 51820 "$UM_TMP/captured" tamper >/dev/null || um_fail "tamper send"
um_wait 3 "bad MACs counted" test "$(um_peer_field beta alpha dropped.bad_mac)" -ge $((bad0 + 10))
um_log "10 tampered datagrams rejected as bad MAC"

um_exec a ping -c 2 -i 0.2 -W 1 100.64.0.2 >/dev/null || um_fail "tunnel broken after the attack"
[ "$(um_peer_field beta alpha endpoint)" = 198.51.100.1:51820 ] || um_fail "forged datagrams moved the endpoint"
um_stop alpha
um_stop beta
