#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# STUN candidates (issue 5): the reflexive address a STUN server reports is
# a path candidate, and here the only one that works. Topology as in
# punch.sh, but each NAT sends traffic for the relay from a second public
# address (SNAT), so the endpoint the relay observes is useless to the peer
# (nothing is mapped towards it there); a coturn STUN server sees the NAT's
# main address, which is where the peer's probes must go:
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#     198.51.100.2 (+ .65 towards the relay)  198.51.100.6 (+ .69 towards the relay)
#                     relay 203.0.113.2:51821 | stun 203.0.113.130:3478 (coturn)
#
# Checks: with stun = lines (one server silent), alpha's status shows the STUN mapped address
# = its NAT's main address:port while the relay sees the other one; beta
# receives it as a candidate; both go direct; no STUN answer reached the
# handshake (the 0x01 HELLO / Binding-success collision). Then the control:
# without stun = lines the same pair stays on the relay.
set -u
. "$(dirname "$0")/lib.sh"
command -v turnserver >/dev/null || um_fail "turnserver missing (coturn, scripts/install-deps)"
command -v iptables >/dev/null || um_fail "iptables missing (scripts/install-deps)"
command -v python3 >/dev/null || um_fail "python3 missing (scripts/install-deps)"
um_init

um_two_sites 198.51.100.2/30 203.0.113.2/25
um_ns stun
um_link stun eth0 203.0.113.130/25 inet is 203.0.113.129/25
um_exec stun ip route add default via 203.0.113.129
# The relay's view of each node: the NAT's second address.
um_exec nat-a ip addr add 198.51.100.65/32 dev wan0
um_exec nat-b ip addr add 198.51.100.69/32 dev wan0
um_exec inet ip route add 198.51.100.65/32 via 198.51.100.2
um_exec inet ip route add 198.51.100.69/32 via 198.51.100.6
um_exec nat-a iptables -t nat -I POSTROUTING 1 -o wan0 -d 203.0.113.2 -j SNAT --to-source 198.51.100.65 ||
	um_fail "SNAT in nat-a"
um_exec nat-b iptables -t nat -I POSTROUTING 1 -o wan0 -d 203.0.113.2 -j SNAT --to-source 198.51.100.69 ||
	um_fail "SNAT in nat-b"

# coturn in the foreground, STUN only, no config file or database (as stun.sh).
um_bg stun turnserver.log turnserver -n --stun-only --no-cli --no-tls --no-dtls \
	-L 203.0.113.130 -p 3478 --log-file stdout --simple-log \
	--pidfile "$UM_TMP/turnserver.pid" --userdb "$UM_TMP/turndb"
TURN_PID=$UM_LAST_PID
um_wait 10 "coturn listening" um_exec stun sh -c 'ss -Hlun | grep -q "203.0.113.130:3478"'

um_key alpha
um_key beta
um_relay_config relay relay 203.0.113.2:51821 "allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
keepalive-interval = 2s"
um_start relay

configure() { # configure EXTRA-NODE-LINES: alpha and beta's configs
	local conf="relay = 203.0.113.2:51821
direct = true
retry-interval = 30s
connect-timeout = 2s
$1"
	um_config alpha a 51820 100.96.0.1/24 tun "$conf"
	um_config beta b 51820 100.96.0.2/24 tun "$conf"
	um_peer alpha beta "" 100.96.0.2/32
	um_peer beta alpha "" 100.96.0.1/32
}
node_field() { # node_field NODE KEY: a key of the node object of status --json
	um_json "$1" status "d['node'].get('$2', '')"
}
path_both() { # path_both PATH
	[ "$(um_peer_field alpha beta path)" = "$1" ] && [ "$(um_peer_field beta alpha path)" = "$1" ]
}
gave_up_both() { # both punch attempts over (state relay after connect-timeout)
	[ "$(um_peer_field alpha beta path_state)" = relay ] && [ "$(um_peer_field beta alpha path_state)" = relay ]
}

# ---- with STUN: the STUN candidate makes the direct path ----
# A second server that never answers: the first one's answer must still
# be matched to its own transaction and win the status keys.
configure "stun = 203.0.113.131:3478
stun = 203.0.113.130:3478"
start=$(date +%s%N)
um_start alpha
um_start beta
um_wait 10 "alpha's STUN answer" test -n "$(node_field alpha stun_mapped)"
mapped=$(node_field alpha stun_mapped)
um_log "alpha: STUN $(node_field alpha stun_server) says $mapped (rtt $(node_field alpha stun_rtt_us) us)"
[ "$mapped" = 198.51.100.2:51820 ] || um_fail "alpha's STUN mapped address $mapped, expected 198.51.100.2:51820"
um_wait 10 "beta's STUN answer" test -n "$(node_field beta stun_mapped)"
[ "$(node_field beta stun_mapped)" = 198.51.100.6:51820 ] || um_fail "beta's STUN mapped address $(node_field beta stun_mapped)"
um_wait 10 "alpha registered with the relay" test -n "$(node_field alpha observed_endpoint)"
observed=$(node_field alpha observed_endpoint)
[ "$observed" = 198.51.100.65:51820 ] || um_fail "the relay sees alpha as $observed, expected 198.51.100.65:51820"

um_wait 10 "first ping (any path)" um_ping a 100.96.0.2 -W 0.2
um_wait 10 "beta has alpha's STUN candidate" \
	sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[beta]}' peers --json | grep -q '198.51.100.2:51820'"
cands=$(um_peer_field beta alpha path_remote_candidates)
um_log "beta's candidates for alpha: $cands"
case ",$cands," in *,198.51.100.2:51820,*) ;; *) um_fail "beta lacks alpha's STUN candidate: $cands" ;; esac
case ",$cands," in *,198.51.100.65:51820,*) ;; *) um_fail "beta lacks alpha's relay-observed candidate: $cands" ;; esac
um_wait 10 "direct path on both sides" path_both direct
t_direct=$((($(date +%s%N) - start) / 1000000))
ep=$(um_peer_field alpha beta endpoint)
[ "$ep" = 198.51.100.6:51820 ] || um_fail "alpha: direct endpoint $ep, expected beta's STUN address"
[ "$(um_peer_field beta alpha endpoint)" = 198.51.100.2:51820 ] ||
	um_fail "beta: direct endpoint $(um_peer_field beta alpha endpoint)"
um_exec a ping -c 5 -i 0.05 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b on the direct path"
malformed=$(node_field alpha hs_malformed)
((malformed == 0)) || um_fail "alpha's handshake saw $malformed malformed datagrams (STUN answers leaking?)"
(($(node_field alpha stun_answers) >= 1)) || um_fail "alpha counted no STUN answer"
[ "$(node_field alpha stun_servers)" = 2 ] || um_fail "alpha: stun_servers $(node_field alpha stun_servers)"
[ "$(node_field alpha stun_server)" = 203.0.113.130:3478 ] || um_fail "alpha: stun_server $(node_field alpha stun_server)"
tta=$(um_peer_field alpha beta time_to_direct_ms)
ttb=$(um_peer_field beta alpha time_to_direct_ms)
um_log "direct on both (seen ${t_direct} ms after start, test polling included); relay->direct: alpha ${tta:-?} ms, beta ${ttb:-?} ms"
[ -n "$tta" ] && ((tta <= 2000)) || um_fail "alpha: relay->direct took ${tta:-?} ms"
um_cli alpha status --json | python3 -c 'import json,sys; n=json.load(sys.stdin)["node"]; print({k: v for k, v in n.items() if k.startswith("stun")})' >&2
um_stop alpha
um_stop beta

# ---- control: without STUN the relay's view alone gives no direct path ----
configure ""
um_start alpha
um_start beta
um_wait 10 "first ping through the relay (no STUN)" um_ping a 100.96.0.2 -W 0.2
um_wait 10 "both punch attempts over (no STUN)" gave_up_both
path_both relay || um_fail "without STUN: paths $(um_peer_field alpha beta path)/$(um_peer_field beta alpha path), expected relay"
cands=$(um_peer_field beta alpha path_remote_candidates)
case ",$cands," in *,198.51.100.2:51820,*) um_fail "without STUN beta still got 198.51.100.2:51820: $cands" ;; esac
[ -z "$(node_field alpha stun_servers)" ] || um_fail "stun keys without stun = lines"
um_log "without STUN: relay only (beta's candidates for alpha: $cands)"
um_stop alpha
um_stop beta
um_stop relay
kill -0 "$TURN_PID" || um_fail "coturn exited"
um_log "PASS: STUN candidate $mapped carried the direct path (relay->direct ${tta} ms); without it, relay only"
exit 0
