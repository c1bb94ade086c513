#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hole punching (issue 5): two nodes behind NATs with endpoint-independent
# mapping (MASQUERADE, port preserved) that drop unsolicited inbound, a
# relay on a public address. Same topology as relay.sh:
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#                   198.51.100.2  |  198.51.100.6
#                               relay 203.0.113.2:51821
#
# Checks: relay first, then direct within 2 s (path "direct" on both
# sides, the relay's forwarded counter frozen during a ping run, `umbra
# ping` answered on the direct path); fallback when the direct path is cut
# in the internet (stream keeps flowing through the relay after a short
# gap, path "relay"); migration back to direct after retry-interval with a
# 200 packet/s sequence-numbered UDP stream through the tunnel: 0 lost.
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_two_sites
um_exec inet iptables -A FORWARD -i ia -o ib -j ACCEPT
um_exec inet iptables -A FORWARD -i ib -o ia -j ACCEPT

um_path_peers 3s
um_start relay

direct_both() {
	[ "$(um_peer_field alpha beta path)" = direct ] && [ "$(um_peer_field beta alpha path)" = direct ]
}
relay_both() {
	[ "$(um_peer_field alpha beta path)" = relay ] && [ "$(um_peer_field beta alpha path)" = relay ]
}
direct_cut() { # -I|-D: insert (first in FORWARD) or delete the drop rules for the direct path (relay traffic unaffected)
	um_exec inet iptables "$1" FORWARD -i ia -o ib -j DROP
	um_exec inet iptables "$1" FORWARD -i ib -o ia -j DROP
}

# ---- relay first, then direct ----
start=$(date +%s%N)
um_start alpha
um_start beta
um_wait 10 "first ping (any path)" um_ping a 100.96.0.2 -W 0.2
t_first=$((($(date +%s%N) - start) / 1000000))
um_wait 10 "direct path on both sides" direct_both
t_direct=$((($(date +%s%N) - start) / 1000000))
tta=$(um_peer_field alpha beta time_to_direct_ms)
ttb=$(um_peer_field beta alpha time_to_direct_ms)
um_log "first ping after $t_first ms, direct on both after $t_direct ms (relay->direct: alpha ${tta:-?} ms, beta ${ttb:-?} ms)"
[ -n "$tta" ] && ((tta <= 2000)) || um_fail "alpha: relay->direct took ${tta:-?} ms"
[ -n "$ttb" ] && ((ttb <= 2000)) || um_fail "beta: relay->direct took ${ttb:-?} ms"
[ "$(um_peer_field alpha beta endpoint)" = 198.51.100.6:51820 ] ||
	um_fail "alpha: direct endpoint $(um_peer_field alpha beta endpoint)"
fwd0=$(um_json relay status 'd["relay"]["forwarded_packets"]')
direct0=$(um_exec inet iptables -L FORWARD -v -x -n | awk '$3 == "ACCEPT" {s += $1} END {print s + 0}')
um_exec a ping -c 20 -i 0.05 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b on the direct path"
fwd1=$(um_json relay status 'd["relay"]["forwarded_packets"]')
direct1=$(um_exec inet iptables -L FORWARD -v -x -n | awk '$3 == "ACCEPT" {s += $1} END {print s + 0}')
((fwd1 - fwd0 <= 2)) || um_fail "relay forwarded $((fwd1 - fwd0)) packets during a direct ping run"
((direct1 - direct0 >= 40)) || um_fail "only $((direct1 - direct0)) direct packets crossed the internet"
um_log "20 pings direct: relay forwarded $((fwd1 - fwd0)), $((direct1 - direct0)) packets direct"
out=$(um_cli alpha ping beta -c 3 -i 50) || um_fail "umbra ping beta: $out"
echo "$out" | grep -q "via direct (198.51.100.6:51820)" || um_fail "umbra ping: $out"
um_log "umbra ping: $(echo "$out" | tail -n 1)"
um_cli alpha peers

# ---- fallback: cut the direct path in the internet ----
fb0=$(um_peer_field alpha beta fallbacks)
um_stream_start fallback a b 100.96.0.2 6
sleep 1.5
direct_cut -I
t_cut=$(date +%s%N)
um_wait 5 "relay path on both sides after the cut" relay_both
t_fb=$((($(date +%s%N) - t_cut) / 1000000))
read -r sent got dups gap < <(um_stream_result fallback)
um_log "fallback: path relay on both after $t_fb ms; stream $got/$sent received, largest gap $gap ms, $dups duplicates"
(($(um_peer_field alpha beta fallbacks) > fb0)) || um_fail "alpha counted no fallback"
((gap <= 2000)) || um_fail "stream gap of $gap ms on fallback"
((sent - got <= 2 * 200)) || um_fail "stream lost $((sent - got)) of $sent on fallback"
((dups == 0)) || um_fail "$dups duplicates delivered"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic through the relay after the fallback"

# ---- migration back to direct, with zero loss across the switch ----
um_stream_start migrate a b 100.96.0.2 8
sleep 1
direct_cut -D
t_restore=$(date +%s%N)
um_wait 10 "direct again after the path came back" direct_both
t_back=$((($(date +%s%N) - t_restore) / 1000000))
read -r sent got dups gap < <(um_stream_result migrate)
um_log "migration: direct again $t_back ms after restoring (retry-interval 3 s); stream $got/$sent received, $((sent - got)) lost, largest gap $gap ms, $dups duplicates"
((sent >= 1400)) || um_fail "the stream sent only $sent packets"
((got == sent)) || um_fail "migration lost $((sent - got)) of $sent packets"
((dups == 0)) || um_fail "$dups duplicates delivered"
um_cli alpha peers --json | python3 -c 'import json,sys; [print(p["name"], p.get("path"), p.get("endpoint"), p.get("time_to_direct_ms"), p.get("direct_switches"), p.get("fallbacks")) for p in json.load(sys.stdin)["peers"]]'

# Config errors name file, line and key.
printf '[node]\nidentity = /x\nretry-interval = 10ms\n' >"$UM_TMP/bad.conf"
err=$("$UMBRAD" --config "$UM_TMP/bad.conf" 2>&1) && um_fail "bad retry-interval accepted"
echo "$err" | grep -q "bad.conf:3: key 'retry-interval'" || um_fail "config error message: $err"
printf '[node]\nidentity = /x\ndirect = maybe\n' >"$UM_TMP/bad.conf"
err=$("$UMBRAD" --config "$UM_TMP/bad.conf" 2>&1) && um_fail "bad direct accepted"
echo "$err" | grep -q "bad.conf:3: key 'direct'" || um_fail "config error message: $err"

um_stop alpha
um_stop beta
um_stop relay
um_log "first ping ${t_first} ms; direct ${tta}/${ttb} ms after the relay path; fallback ${t_fb} ms; back to direct ${t_back} ms"
