#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT rebinding and roaming (issue 5): two nodes behind port-restricted
# NATs on a direct path, a relay on a public address (the punch.sh
# topology, with room on a's WAN for a second address).
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#              198.51.100.18/29  |  198.51.100.6/30
#                          relay 203.0.113.2:51821
#
# 1. Rebinding: nat-a forgets its mappings (conntrack flushed) and maps a
#    to a new port. Both old direct mappings are dead; a sequence-numbered
#    stream must keep flowing (relay first, then direct on the new port)
#    with a bounded gap and no duplicates, and no new handshake.
# 2. Roaming: nat-a's public address changes (198.51.100.18 -> .19), as
#    when an ISP renumbers a line; the same must hold.
set -u
. "$(dirname "$0")/lib.sh"
um_init
command -v conntrack >/dev/null || um_fail "conntrack missing (scripts/install-deps)"

um_two_sites 198.51.100.18/29
# Removing the primary address must keep the secondary (the new one).
um_exec nat-a sysctl -qw net.ipv4.conf.wan0.promote_secondaries=1

um_key alpha
um_key beta
um_relay_config relay relay 203.0.113.2:51821 "allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
keepalive-interval = 2s"
# retry-interval 12 s: the first fallback in a minute retries after 5 s
# (checked in 1.), the second waits the full interval (2.).
PATHCONF="relay = 203.0.113.2:51821
direct = true
retry-interval = 12s
connect-timeout = 2s"
um_config alpha a 51820 100.96.0.1/24 tun "$PATHCONF"
um_config beta b 51820 100.96.0.2/24 tun "$PATHCONF"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
um_start relay
um_start alpha
um_start beta

direct_both() {
	[ "$(um_peer_field alpha beta path)" = direct ] && [ "$(um_peer_field beta alpha path)" = direct ]
}
# beta sees alpha directly at the given public address (and any port but the old one).
beta_sees_alpha_at() { # ADDRESS OLD_ENDPOINT
	local ep
	[ "$(um_peer_field beta alpha path)" = direct ] || return 1
	ep=$(um_peer_field beta alpha endpoint)
	[ "${ep%:*}" = "$1" ] && [ "$ep" != "$2" ]
}

um_wait 10 "first ping (any path)" um_ping a 100.96.0.2 -W 0.2
um_wait 10 "direct path on both sides" direct_both
hs0=$(um_peer_field alpha beta handshakes)
ep0=$(um_peer_field beta alpha endpoint)
um_log "direct; beta sees alpha at $ep0"

# check_stream NAME WHAT: the stream survived the change.
check_stream() {
	local sent got dups gap
	read -r sent got dups gap < <(um_stream_result "$1")
	um_log "$2: stream $got/$sent received, largest gap $gap ms, $dups duplicates"
	((sent >= 1000)) || um_fail "$2: the stream sent only $sent packets"
	((gap <= 5000)) || um_fail "$2: stream gap of $gap ms"
	((sent - got <= 5 * 200)) || um_fail "$2: lost $((sent - got)) of $sent"
	((dups == 0)) || um_fail "$2: $dups duplicates delivered"
}

# ---- 1. NAT rebinding: same address, new port ----
um_stream_start rebind a b 100.96.0.2 12
sleep 1
um_exec nat-a iptables -t nat -I POSTROUTING 1 -o wan0 -p udp -j MASQUERADE --to-ports 40000-40999
um_exec nat-a conntrack -F >/dev/null 2>&1
t0=$(date +%s%N)
um_wait 15 "beta sees alpha directly on a new port" beta_sees_alpha_at 198.51.100.18 "$ep0"
t_rebind=$((($(date +%s%N) - t0) / 1000000))
ep1=$(um_peer_field beta alpha endpoint)
um_log "rebinding: direct again at $ep1 after $t_rebind ms"
((t_rebind < 10000)) || um_fail "rebinding: no quick retry (direct again only after $t_rebind ms)"
check_stream rebind "rebinding"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic after rebinding"

# ---- 2. Roaming: the public address changes ----
um_stream_start roam a b 100.96.0.2 12
sleep 1
um_exec nat-a ip addr add 198.51.100.19/29 dev wan0
um_exec nat-a ip addr del 198.51.100.18/29 dev wan0
um_exec nat-a ip route replace default via 198.51.100.17
um_exec nat-a conntrack -F >/dev/null 2>&1
t0=$(date +%s%N)
um_wait 25 "beta sees alpha directly at the new address" beta_sees_alpha_at 198.51.100.19 "$ep1"
t_roam=$((($(date +%s%N) - t0) / 1000000))
um_log "roaming: direct again at $(um_peer_field beta alpha endpoint) after $t_roam ms"
check_stream roam "roaming"
um_ping a 100.96.0.2 -W 1 || um_fail "no traffic after roaming"
um_ping b 100.96.0.1 -W 1 || um_fail "no traffic b -> a after roaming"
# beta's per-peer connected sockets (src/net/dataplane_conn.c, one per
# worker) must have followed alpha to its new endpoint.
ep2=$(um_peer_field beta alpha endpoint)
conns=$(um_exec b ss -Hun state established | awk '{print $NF}' | sed 's/^\[::ffff:\(.*\)\]/\1/' | sort -u | tr '\n' ' ')
um_log "beta's connected sockets: $conns"
[ "$conns" = "$ep2 " ] || um_fail "beta's connected sockets point at '$conns', not at alpha's endpoint $ep2"

hs1=$(um_peer_field alpha beta handshakes)
[ "$hs0" = "$hs1" ] || um_fail "handshakes went from $hs0 to $hs1: the path change needed a new handshake"
um_stop alpha
um_stop beta
um_stop relay
um_log "rebinding: direct again after $t_rebind ms; roaming: after $t_roam ms"
