#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The DHT through NATs (issue 15): the relay tests' internet (lib.sh
# um_two_sites) plus a site behind a symmetric NAT and public hosts. A relay
# with the bootstrap API and its DHT node on the public side; nodes with NO
# relay line and peers given by ID only join through the API, find the relay
# and each other in the DHT, and connect:
#
#   a 100.64.1.2 -- nat-a (cone) 198.51.100.2  --\
#   b 100.64.2.2 -- nat-b (cone) 198.51.100.6  ---- inet -- relay 203.0.113.2 (UDP 51821, API 8080)
#   c 100.64.3.2 -- nat-c (symmetric) 198.51.100.10 -/   |  \- p 192.0.2.2 (public node)
#                                                        \--- d 198.18.0.2 (joins last)
#
# nat-a/nat-b: port-restricted cone (MASQUERADE, nothing unsolicited in);
# nat-c: symmetric (MASQUERADE --random-fully: a new port per destination).
# Checks:
#  1. a <-> b (cone-cone): found through the DHT, direct (hole punched);
#  2. a <-> c (symmetric): found through the DHT, through the relay that
#     both found in the DHT; pings cross both tunnels;
#  3. the relay (bootstrap API, DHT node) is killed; a NEW node d with only
#     `bootstrap = 192.0.2.2:51820` (p's UDP port) joins from p's contacts,
#     finds p by ID and connects direct.
set -u
. "$(dirname "$0")/lib.sh"
um_init
T0=$(date +%s)

um_two_sites 198.51.100.2/30 203.0.113.2/24
um_ns c
um_ns nat-c
um_link c eth0 100.64.3.2/24 nat-c lan0 100.64.3.1/24
um_link nat-c wan0 198.51.100.10/30 inet ic 198.51.100.9/30
um_exec c ip route add default via 100.64.3.1
um_exec nat-c ip route add default via 198.51.100.9
# Symmetric: like um_nat, with a random source port per mapping.
um_exec nat-c sysctl -qw net.ipv4.ip_forward=1
um_exec nat-c iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random-fully || um_fail "iptables --random-fully"
um_exec nat-c iptables -A FORWARD -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
um_exec nat-c iptables -A FORWARD -i wan0 -j DROP
um_exec nat-c iptables -A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
um_exec nat-c iptables -A INPUT -i wan0 -j DROP
for h in p:192.0.2 d:198.18.0; do
	um_ns "${h%%:*}"
	um_link "${h%%:*}" eth0 "${h#*:}.2/24" inet "i${h%%:*}" "${h#*:}.1/24"
	um_exec "${h%%:*}" ip route add default via "${h#*:}.1"
done

um_key relayid
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
api = 203.0.113.2:8080
dht-diversity = off"
um_start relay
um_wait 10 "the bootstrap API" um_exec p curl -sf http://203.0.113.2:8080/api/bootstrap/peers

NODES=(a b c p)
idx() { case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; p) echo 4 ;; d) echo 5 ;; esac; }
node_conf() { # NAME EXTRA
	um_config "$1" "$1" 51820 "100.96.0.$(idx "$1")/24" tun "dht-diversity = off
dht-state = $UM_TMP/$1.dht
retry-interval = 3s
connect-timeout = 2s
$2"
}
pair() { # X Y: each knows the other by ID only
	um_peer "$1" "$2" "" "100.96.0.$(idx "$2")/32"
	um_peer "$2" "$1" "" "100.96.0.$(idx "$1")/32"
}
for n in "${NODES[@]}" d; do um_key "$n"; done
for n in "${NODES[@]}"; do node_conf "$n" "bootstrap = http://203.0.113.2:8080"; done
pair a b
pair a c
um_peer p d "" 100.96.0.5/32
grep -q "^relay\|^endpoint" "$UM_TMP"/[abcp].conf && um_fail "a node config names a relay or an endpoint"
for n in "${NODES[@]}"; do um_start "$n"; done

home() { [ "$(um_json "$1" status 'd["relays"][0]["state"] if d.get("relays") else ""')" = home ]; }
for n in a c; do um_wait 40 "$n to find the relay in the DHT and register" home "$n"; done
um_log "a, c registered at the relay found through the DHT ($(($(date +%s) - T0)) s)"

# 1. Cone - cone: direct.
direct_both() { [ "$(um_peer_field a b path)" = direct ] && [ "$(um_peer_field b a path)" = direct ]; }
um_wait 40 "a and b" um_established a b
um_wait 20 "a <-> b direct (hole punched)" direct_both
[ "$(um_peer_field a b found)" = dht ] || um_fail "a: b found through '$(um_peer_field a b found)', want dht"
f=$(um_peer_field b a found)
[ "$f" = dht ] || [ "$f" = incoming ] || um_fail "b: a found through '$f'"
ep=$(um_peer_field a b endpoint)
[ "${ep%:*}" = 198.51.100.6 ] || um_fail "a: direct endpoint of b is $ep, want nat-b's address"
um_wait 5 "a ping a -> b" um_ping a 100.96.0.2 -W 1
um_ping b 100.96.0.1 -W 2 || um_fail "ping through the tunnel b -> a"
um_log "a <-> b direct through two cone NATs, $ep ($(($(date +%s) - T0)) s)"

# 2. Symmetric: through the relay found in the DHT.
um_wait 40 "a and c" um_established a c
um_wait 10 "c's session with a" um_established c a
[ "$(um_peer_field a c found)" = dht ] || um_fail "a: c found through '$(um_peer_field a c found)', want dht"
f=$(um_peer_field c a found)
[ "$f" = dht ] || [ "$f" = incoming ] || um_fail "c: a found through '$f'"
um_wait 5 "a ping a -> c" um_ping a 100.96.0.3 -W 1
um_ping c 100.96.0.1 -W 2 || um_fail "ping through the tunnel c -> a"
sleep 4 # more than a retry interval: a punch attempt cannot make it direct
[ "$(um_peer_field a c path)" = relay ] || um_fail "a: path to c is '$(um_peer_field a c path)', want relay"
[ "$(um_peer_field c a path)" = relay ] || um_fail "c: path to a is '$(um_peer_field c a path)', want relay"
fwd0=$(um_json relay status 'd["relay"]["forwarded_packets"]')
um_exec a ping -c 5 -i 0.1 -W 1 100.96.0.3 >/dev/null || um_fail "ping a -> c"
fwd1=$(um_json relay status 'd["relay"]["forwarded_packets"]')
((fwd1 - fwd0 >= 10)) || um_fail "the relay forwarded only $((fwd1 - fwd0)) packets of 5 pings a <-> c"
um_cli a peers
um_log "a <-> c through the relay (symmetric NAT) ($(($(date +%s) - T0)) s)"

# 3. The relay goes; a new node joins from p's contacts.
um_stop relay
node_conf d "bootstrap = 192.0.2.2:51820"
um_peer d p "" 100.96.0.4/32
um_start d
um_wait 40 "d (bootstrap = p's UDP port) and p" um_established d p
um_wait 10 "p's session with d" um_established p d
[ "$(um_peer_field d p found)" = dht ] || um_fail "d: p found through '$(um_peer_field d p found)', want dht"
[ "$(um_peer_field d p path)" = direct ] || um_fail "d: path to p is '$(um_peer_field d p path)', want direct"
[ "$(um_peer_field d p endpoint)" = 192.0.2.2:51820 ] || um_fail "d: endpoint of p $(um_peer_field d p endpoint)"
um_ping d 100.96.0.4 -W 2 || um_fail "ping through the tunnel d -> p"
c=$(um_cli d dht status | awk '$1 == "contacts" {print $2}')
((c >= 1)) || um_fail "d has no DHT contacts"
um_log "d joined without the bootstrap server: $c contacts ($(($(date +%s) - T0)) s)"

for n in "${NODES[@]}" d; do um_stop "$n"; done
um_log "PASS ($(($(date +%s) - T0)) s)"
