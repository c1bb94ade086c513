#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Relays found through the DHT (issue 15): a relay-only umbrad with its own
# DHT node (on its UDP port, with its [relay] identity) publishes its signed
# relay record; nodes whose configs have NO relay line and name their peers
# by `id =` alone join through the relay's bootstrap API, find the relay in
# the DHT, register at it, and two of them whose direct path is blocked
# (iptables DROP both ways) connect through it. One switch (a bridge in its
# own namespace), one /24 (so dht-diversity = off):
#
#   relay 198.51.100.1 (UDP 51821, API 8080) --\
#   n1..n4 198.51.100.11..14 (UDP 51820) -------- sw (bridge)
#
# Checks:
#  1. the relay's `umbra dht status` answers (role relay, contacts) and its
#     record is stored: `umbra dht get` of the relay key on a node opens a
#     relay record naming the relay's UDP address;
#  2. every node adds the relay from the DHT and registers there (home);
#  3. n1 <-> n2 (direct blocked) come up through the relay: `umbra peers
#     --json` shows path relay, a ping crosses the tunnel; n3 <-> n4
#     (nothing blocked) come up too.
#  4. a private network's relay: relay2 (198.51.100.2, [relay] network-key)
#     seals its relay record under the network's relay key; m1 and m2 (the
#     same network key, no relay line, direct path blocked) find and use
#     relay2 only (not the public relay), and connect through it; n1..n4
#     (no key) never add relay2.
set -u
. "$(dirname "$0")/lib.sh"
um_init
T0=$(date +%s)

um_ns sw
um_exec sw ip link add br0 type bridge
um_exec sw ip link set br0 up
attach() { # NAME ADDRESS/24
	um_ns "$1"
	um_link "$1" eth0 "$2" sw "v-$1" 0.0.0.0/32
	um_exec sw ip addr flush dev "v-$1"
	um_exec sw ip link set "v-$1" master br0
}
attach relay 198.51.100.1/24
for i in 1 2 3 4; do attach "n$i" "198.51.100.$((10 + i))/24"; done
attach relay2 198.51.100.2/24
for i in 1 2; do attach "m$i" "198.51.100.$((20 + i))/24"; done
um_exec m1 iptables -A INPUT -s 198.51.100.22 -j DROP
um_exec m1 iptables -A OUTPUT -d 198.51.100.22 -j DROP
# n1 and n2 cannot reach each other directly (only through the relay).
um_exec n1 iptables -A INPUT -s 198.51.100.12 -j DROP
um_exec n1 iptables -A OUTPUT -d 198.51.100.12 -j DROP

um_key relayid
um_relay_config relay relay 198.51.100.1:51821 "identity = $UM_TMP/relayid.key
api = 198.51.100.1:8080
dht-diversity = off
dht-state = $UM_TMP/relay.dht"
um_start relay
um_wait 10 "the bootstrap API" um_exec n1 curl -sf http://198.51.100.1:8080/api/bootstrap/peers
RELAY_ID=$("$UMBRA" --json pubkey "$UM_TMP/relayid.key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peer_id"])')
[ -n "$RELAY_ID" ] || um_fail "the relay identity's peer ID"
# The private network's relay: joins the DHT through the public relay's UDP port.
"$UMBRA" network-key -o "$UM_TMP/net.key" >/dev/null || um_fail "network-key"
um_relay_config relay2 relay2 198.51.100.2:51821 "network-key = $UM_TMP/net.key
bootstrap = 198.51.100.1:51821
dht-diversity = off"
um_start relay2
um_wait 10 "relay2's DHT node (private)" grep -q "dht (relay): on (.*private records" "$UM_TMP/relay2.log"

for i in 1 2 3 4; do
	um_key "n$i"
	um_config "n$i" "n$i" 51820 "100.64.0.$i/24" tun "dht-diversity = off
bootstrap = http://198.51.100.1:8080"
done
grep -q "^relay" "$UM_TMP"/n*.conf && um_fail "a node config names a relay"
for pair in "1 2" "3 4"; do
	read -r i j <<<"$pair"
	um_peer "n$i" "n$j" "" "100.64.0.$j/32"
	um_peer "n$j" "n$i" "" "100.64.0.$i/32"
done
for i in 1 2 3 4; do um_start "n$i"; done

# 1. The relay's DHT node.
relay_contacts() { [ "$(um_cli relay dht status | awk '$1 == "contacts" {print $2}')" -ge 2 ] 2>/dev/null; }
um_wait 30 "the relay's DHT node to have contacts" relay_contacts
um_cli relay dht status | grep -Eq "^role +relay$" || um_fail "relay: dht status does not say role relay"
um_cli relay dht status | grep -q "^id *$RELAY_ID" || um_fail "relay: its DHT node does not use the [relay] identity"

# 2. Every node finds the relay in the DHT and registers there.
home() { [ "$(um_json "$1" status 'd["relays"][0]["state"] if d.get("relays") else ""')" = home ]; }
for i in 1 2 3 4; do um_wait 40 "n$i to find the relay in the DHT and register" home "n$i"; done
for i in 1 2 3 4; do
	grep -q "relays found through the DHT added" "$UM_TMP/n$i.log" || um_fail "n$i did not log the relay from the DHT"
done
[ "$(um_json n1 status 'd["relays"][0]["address"]')" = 198.51.100.1:51821 ] || um_fail "n1: relay address"
um_log "4 nodes registered at the relay found through the DHT ($(($(date +%s) - T0)) s)"
# The relay record as anyone reads it: under the well-known key.
RKEY=$(python3 -c 'import hashlib; print(hashlib.sha3_256(b"umbra dht relays").hexdigest())')
um_cli n3 dht get "$RKEY" -W 5000 >"$UM_TMP/rget.txt" || um_fail "n3: dht get of the relay key"
grep -Eq "^value_type +relay$" "$UM_TMP/rget.txt" || um_fail "n3: no relay record under the relay key"
grep -Eq "^opened +1$" "$UM_TMP/rget.txt" || um_fail "n3: the relay record does not verify"
grep -Eq "^relay +$RELAY_ID$" "$UM_TMP/rget.txt" || um_fail "n3: the relay record is not signed by the relay identity"
grep -Eq "^relay_udp +198.51.100.1:51821$" "$UM_TMP/rget.txt" || um_fail "n3: the relay record lacks the relay's UDP address"
# Nodes name the relay as their home relay in their own records.
names_relay() { um_cli n3 dht lookup "${UM_NODE_ID[$1]}" -W 3000 | grep -Eq "^relay +${RELAY_ID:0:14}.* udp:198.51.100.1:51821$"; }
um_wait 20 "n2's record to name its home relay" names_relay n2

# 3. Peers by ID: n1/n2 only through the relay; n3/n4 either way.
um_wait 40 "n1 and n2 through the relay" um_established n1 n2
um_wait 10 "n2's session with n1" um_established n2 n1
[ "$(um_peer_field n1 n2 path)" = relay ] || um_fail "n1: path to n2 is '$(um_peer_field n1 n2 path)', want relay"
[ "$(um_peer_field n2 n1 path)" = relay ] || um_fail "n2: path to n1 is '$(um_peer_field n2 n1 path)', want relay"
[ "$(um_peer_field n1 n2 found)" = dht ] || um_fail "n1: n2 found through '$(um_peer_field n1 n2 found)', want dht"
um_wait 5 "a ping n1 -> n2 through the relay" um_ping n1 100.64.0.2 -W 1
um_ping n2 100.64.0.1 -W 2 || um_fail "ping through the tunnel n2 -> n1"
um_wait 30 "n3 and n4" um_established n3 n4
um_ping n3 100.64.0.4 -W 2 || um_fail "ping through the tunnel n3 -> n4"
fwd=$(um_json relay status 'd["relay"]["forwarded_packets"]')
((fwd >= 4)) || um_fail "relay forwarded only $fwd packets"
um_log "n1 <-> n2 through the relay, direct blocked ($(($(date +%s) - T0)) s)"

# 4. The private network's relay: members find it (and only it), others never.
for i in 1 2; do
	um_config "m$i" "m$i" 51820 "100.64.0.$((20 + i))/24" tun "dht-diversity = off
bootstrap = http://198.51.100.1:8080
network-key = $UM_TMP/net.key"
done
um_peer m1 m2 "" 100.64.0.22/32
um_peer m2 m1 "" 100.64.0.21/32
for i in 1 2; do um_start "m$i"; done
for i in 1 2; do um_wait 40 "m$i to find the private relay in the DHT and register" home "m$i"; done
for i in 1 2; do
	addrs=$(um_json "m$i" status '" ".join(r["address"] for r in d.get("relays", []))')
	[ "$addrs" = 198.51.100.2:51821 ] || um_fail "m$i: relays '$addrs', want the private network's relay2 only"
done
um_wait 40 "m1 and m2 through relay2" um_established m1 m2
[ "$(um_peer_field m1 m2 path)" = relay ] || um_fail "m1: path to m2 is '$(um_peer_field m1 m2 path)', want relay"
[ "$(um_peer_field m1 m2 found)" = dht ] || um_fail "m1: m2 found through '$(um_peer_field m1 m2 found)', want dht"
um_wait 5 "a ping m1 -> m2 through relay2" um_ping m1 100.64.0.22 -W 1
fwd2=$(um_json relay2 status 'd["relay"]["forwarded_packets"]')
((fwd2 >= 2)) || um_fail "relay2 forwarded only $fwd2 packets"
for i in 1 2 3 4; do
	um_json "n$i" status '" ".join(r["address"] for r in d.get("relays", []))' | grep -q 198.51.100.2: &&
		um_fail "n$i (no network key) uses the private network's relay"
done
um_cli n3 dht get "$RKEY" -W 5000 | grep -q "198.51.100.2:" && um_fail "relay2's record is public"
um_log "private network: m1 <-> m2 through their own relay found in the DHT ($(($(date +%s) - T0)) s)"

um_stop relay
[ -s "$UM_TMP/relay.dht" ] || um_fail "the relay saved no routing table"
for n in n1 n2 n3 n4 m1 m2 relay2; do um_stop "$n"; done
um_log "PASS ($(($(date +%s) - T0)) s)"
