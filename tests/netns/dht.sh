#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The DHT end to end (issue 15): a relay serving the bootstrap API and 16
# umbrad nodes, one namespace each, on one switch (a bridge in its own
# namespace; one /24, so dht-diversity = off):
#
#   relay 198.51.100.1 (UDP 51821, API 8080) --\
#   n1..n16 198.51.100.11..26 (UDP 51820) ------ sw (bridge)
#
# The nodes join through the HTTP API (register, list peers); their configs
# name peers by `id =` only (no endpoint, no relay). Checks:
#  1. every node has contacts; the pairs (n1,n2) .. (n7,n8) find each other
#     by ID through the DHT ("found": "dht"), their sessions come up and
#     `umbra ping` and a ping through the tunnel answer;
#  2. `umbra dht lookup` of a peer ID returns its record with its endpoint;
#  3. the relay (and its API) is killed: n1, restarted from its saved
#     routing table (dht-state), rejoins and finds n2 again; a fresh node n17
#     with only `bootstrap = IP:PORT` of a surviving node joins and finds
#     n16 (which names n17 by ID) and looks up n9;
#  4. private network: p1 and p2 share a network key (bootstrap through a
#     node's UDP port) and find each other; n5, without the key, gets p1's
#     record only as sealed bytes (no peer ID in them) and finds no public
#     record of p1; p2 opens the same value.
set -u
. "$(dirname "$0")/lib.sh"
um_init
T0=$(date +%s)

N=16
NODES=()
for i in $(seq 1 $N); do NODES+=("n$i"); done
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
for i in $(seq 1 $N); do attach "n$i" "198.51.100.$((10 + i))/24"; done
attach n17 198.51.100.27/24
attach p1 198.51.100.41/24
attach p2 198.51.100.42/24

um_key relayid
um_relay_config relay relay 198.51.100.1:51821 "identity = $UM_TMP/relayid.key
api = 198.51.100.1:8080"
um_start relay
um_wait 10 "the bootstrap API" um_exec n1 curl -sf http://198.51.100.1:8080/api/bootstrap/peers

DHT="dht-diversity = off
dht-state = STATE"
node_conf() { # NAME INDEX EXTRA
	um_config "$1" "$1" 51820 "100.64.0.$2/24" tun "${DHT/STATE/$UM_TMP/$1.dht}
$3"
}
for n in "${NODES[@]}" n17 p1 p2; do um_key "$n"; done
for i in $(seq 1 $N); do node_conf "n$i" "$i" "bootstrap = http://198.51.100.1:8080"; done
# Pairs by ID only.
for i in 1 3 5 7; do
	j=$((i + 1))
	um_peer "n$i" "n$j" "" "100.64.0.$j/32"
	um_peer "n$j" "n$i" "" "100.64.0.$i/32"
done
um_peer n16 n17 "" 100.64.0.17/32
for n in "${NODES[@]}"; do um_start "$n"; done

contacts() { um_cli "$1" dht status | awk '$1 == "contacts" {print $2}'; }
has_contacts() { [ "$(contacts "$1")" -ge "$2" ] 2>/dev/null; }
for n in "${NODES[@]}"; do um_wait 30 "$n to have DHT contacts" has_contacts "$n" 3; done
um_log "all $N nodes have DHT contacts ($(($(date +%s) - T0)) s)"

# 1. Pairs found by ID.
for i in 1 3 5 7; do
	j=$((i + 1))
	um_wait 40 "n$i and n$j found each other" um_established "n$i" "n$j"
	um_wait 10 "n$j's session with n$i" um_established "n$j" "n$i"
	# One side finds the other in the DHT and calls; the other may have
	# found it too, or only been called ("incoming").
	f1=$(um_peer_field "n$i" "n$j" found) f2=$(um_peer_field "n$j" "n$i" found)
	[ "$f1" = dht ] || [ "$f2" = dht ] || um_fail "n$i/n$j found each other through '$f1'/'$f2', want dht"
	case "$f1$f2" in *none* | *config* | *bootstrap*) um_fail "n$i/n$j: found '$f1'/'$f2'" ;; esac
	um_cli "n$i" ping "n$j" -W 2000 | grep -q "pong from n$j via direct" || um_fail "umbra ping n$i -> n$j"
	um_ping "n$i" "100.64.0.$j" -W 2 || um_fail "ping through the tunnel n$i -> n$j"
done
for n in n1 n2; do um_cli $n peers; done | grep -q "found: *dht" || um_fail "umbra peers does not show 'found: dht'"
um_log "4 pairs connected by peer ID alone ($(($(date +%s) - T0)) s)"

# 2. A lookup by peer ID returns the record.
lookup_ok() { # NODE PEER-ID ADDRESS
	um_cli "$1" --json dht lookup "$2" -W 5000 >"$UM_TMP/lookup.json" || return 1
	python3 - "$2" "$3" "$UM_TMP/lookup.json" <<'EOF'
import json, sys
want, addr, path = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(path))
eps = d.get("endpoint", [])
eps = eps if isinstance(eps, list) else [eps]
ok = d.get("found") == 1 and d.get("peer") == want and any(addr in e for e in eps)
sys.exit(0 if ok else 1)
EOF
}
lookup_ok n16 "${UM_NODE_ID[n9]}" 198.51.100.19:51820 || {
	cat "$UM_TMP/lookup.json" >&2
	um_fail "n16: dht lookup of n9 did not return n9's record"
}
um_log "n16 found n9's record in $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%s ms, %s messages" % (d["elapsed_ms"], d["messages"]))' "$UM_TMP/lookup.json")"
um_cli n16 dht status | grep -q "^recent" || um_fail "dht status lists no lookup"
# get and put: n9's record under its ID, stored again by n3 (a signed
# record anyone may carry); a forged one (a flipped byte) is refused; put
# self republishes.
n9hex=$(um_cli n9 dht status | awk '$1 == "id_hex" {print $2}')
um_cli n16 dht get "$n9hex" -W 5000 >"$UM_TMP/get9.txt" || um_fail "n16: dht get of n9's ID"
grep -q "^opened  *1$" "$UM_TMP/get9.txt" || um_fail "n16: n9's public record not verified"
value=$(awk '$1 == "value" {print $2}' "$UM_TMP/get9.txt")
[ ${#value} -gt 10000 ] || um_fail "n9's record is ${#value} hex digits"
um_cli n3 dht put "$n9hex" "$value" -W 5000 | grep -Eq "^storers +[1-9]" || um_fail "n3: dht put of n9's record"
forged=${value:0:400}$([ "${value:400:1}" = 0 ] && echo 1 || echo 0)${value:401}
um_cli n3 dht put "$n9hex" "$forged" -W 2000 >/dev/null 2>&1 && um_fail "n3: a forged record was put"
um_cli n4 dht put self -W 5000 | grep -Eq "^storers +[1-9]" || um_fail "n4: dht put self"
um_json n16 dht '1 if d["contacts"] and d["stored"] >= 0 and d["lookups_found"] >= 1 else 0' | grep -q 1 ||
	um_fail "dht status --json"

# 3. The bootstrap server goes; a restarted node and a fresh one still join.
um_stop relay
um_stop n1
[ -s "$UM_TMP/n1.dht" ] || um_fail "n1 saved no routing table"
um_start n1
um_wait 10 "n1 to load its routing table" grep -q "saved contacts from" "$UM_TMP/n1.log" # logged after the control socket appears
um_wait 40 "restarted n1 to find n2 again" um_established n1 n2
um_wait 20 "n2 to see the restarted n1" um_established n2 n1
f1=$(um_peer_field n1 n2 found) f2=$(um_peer_field n2 n1 found)
[ "$f1" = dht ] || [ "$f1" = incoming ] || um_fail "restarted n1 found n2 through '$f1'"
grep -q "peer \"n2\": found through the DHT" "$UM_TMP/n1.log" || um_fail "restarted n1 did not find n2 in the DHT"
lookup_ok n1 "${UM_NODE_ID[n10]}" 198.51.100.20:51820 || um_fail "restarted n1: lookup of n10"

node_conf n17 17 "bootstrap = 198.51.100.12:51820"
um_peer n17 n16 "" 100.64.0.16/32
um_start n17
um_wait 40 "n17 (bootstrap = n2's UDP port) to find n16" um_established n17 n16
cat "$UM_TMP/n17.log" "$UM_TMP/n16.log" | grep -q "peer \"n1[67]\": found through the DHT" || um_fail "n16/n17 did not find each other in the DHT"
um_ping n17 100.64.0.16 -W 2 || um_fail "ping through the tunnel n17 -> n16"
lookup_ok n17 "${UM_NODE_ID[n9]}" 198.51.100.19:51820 || um_fail "fresh n17: lookup of n9"
um_log "rejoined without the bootstrap server ($(($(date +%s) - T0)) s)"

# 4. A private network.
"$UMBRA" network-key -o "$UM_TMP/net.key" >/dev/null || um_fail "network-key"
for p in p1 p2; do
	node_conf "$p" "$([ $p = p1 ] && echo 41 || echo 42)" "bootstrap = 198.51.100.13:51820
network-key = $UM_TMP/net.key"
done
um_peer p1 p2 "" 100.64.0.42/32
um_peer p2 p1 "" 100.64.0.41/32
um_start p1
um_start p2
um_wait 40 "p1 and p2 (network key) to find each other" um_established p1 p2
cat "$UM_TMP/p1.log" "$UM_TMP/p2.log" | grep -q "found through the DHT" || um_fail "p1/p2 did not find each other in the DHT"
key=$(um_cli p1 dht status | awk '$1 == "publish_key" {print $2}')
idhex=$(um_cli p1 dht status | awk '$1 == "id_hex" {print $2}')
[ "$key" != "$idhex" ] && [ ${#key} = 64 ] || um_fail "p1 publishes under its peer ID"
um_cli n5 dht get "$key" -W 5000 >"$UM_TMP/get.txt" || {
	cat "$UM_TMP/get.txt" >&2
	um_fail "n5: dht get of p1's blinded key found nothing"
}
grep -q "^sealed  *1$" "$UM_TMP/get.txt" || um_fail "n5: p1's value is not sealed"
grep -q "^opened  *0$" "$UM_TMP/get.txt" || um_fail "n5 (no key) opened p1's record"
grep -q "^peer " "$UM_TMP/get.txt" && um_fail "n5 (no key) learnt a peer ID from p1's record"
grep "^value " "$UM_TMP/get.txt" | grep -qi "$idhex" && um_fail "p1's peer ID is in its sealed record"
um_cli n5 dht lookup "${UM_NODE_ID[p1]}" -W 3000 >/dev/null && um_fail "n5 found a public record of p1"
um_cli p2 dht get "$key" -W 5000 | grep -q "^opened  *1$" || um_fail "p2 (member) could not open p1's record"
um_log "private records: members only ($(($(date +%s) - T0)) s)"

for n in "${NODES[@]}" n17 p1 p2; do um_stop "$n"; done
um_log "PASS ($(($(date +%s) - T0)) s)"
