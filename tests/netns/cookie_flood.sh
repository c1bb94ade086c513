#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Under a flood of 50,000 bogus HELLOs per second (valid mac1, rotating over
# 64 source addresses so per-source limits alone do not stop it) from
# another namespace, beta switches to the cookie path, and alpha's
# legitimate handshake still completes (through a cookie round trip).
set -u
. "$(dirname "$0")/lib.sh"
um_init
flood=${UM_BUILD:-}/tests/netns/um_flood
[ -x "$flood" ] || um_fail "um_flood not built ($flood)"
rate=${UM_FLOOD_RATE:-50000}

um_ns sw
ip -n "$(um_nsname sw)" link add br0 type bridge
ip -n "$(um_nsname sw)" link set br0 up
i=1
for n in a b m; do
	um_ns $n
	ip -n "$(um_nsname $n)" link add veth0 type veth peer name p$n netns "$(um_nsname sw)"
	ip -n "$(um_nsname $n)" addr add 198.51.100.$i/24 dev veth0
	ip -n "$(um_nsname $n)" link set veth0 up
	ip -n "$(um_nsname sw)" link set p$n master br0 up
	i=$((i + 1))
done
# The flooder's 64 extra source addresses, reachable from beta.
for i in $(seq 10 73); do
	ip -n "$(um_nsname m)" addr add 203.0.113.$i/32 dev veth0
done
ip -n "$(um_nsname b)" route add 203.0.113.0/24 dev veth0

um_config alpha a 51820 100.64.0.1/24
um_config beta b 51820 100.64.0.2/24
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha "" 100.64.0.1/32
um_start beta

um_bg m flood.log "$flood" "${UM_NODE_ID[beta]}" 198.51.100.2:51820 "$rate" 25 203.0.113.10 64
flood_pid=$UM_LAST_PID
sleep 2
under=$(um_cli beta status --json | python3 -c 'import json,sys; n=json.load(sys.stdin)["node"]; print(n["under_load"], n["hs_cookies_sent"])')
um_log "beta under flood: under_load, cookies sent = $under"

start=$(date +%s%N)
um_start alpha
um_wait 15 "alpha's handshake with beta under the flood" um_established alpha beta
ms=$((($(date +%s%N) - start) / 1000000))
# The flood overflows beta's datagram ring; the key-confirmation event has a
# ring of its own, so beta still switches to the new keys (checked here).
um_wait 5 "traffic through the tunnel under the flood" um_ping a 100.64.0.2
stats=$(um_cli beta status --json)
cookies=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["hs_cookies_sent"])')
um_log "alpha established after $ms ms under the flood; beta sent $cookies cookie replies"
kill -0 "$flood_pid" 2>/dev/null || um_fail "the flooder stopped early: $(cat "$UM_TMP/flood.log")"
wait "$flood_pid"
um_log "flooder: $(cat "$UM_TMP/flood.log")"
((cookies > 1000)) || um_fail "the cookie path did not engage ($cookies cookie replies)"
echo "$stats" | python3 -c '
import json, sys
n = json.load(sys.stdin)["node"]
print("beta handshake counters:", {k: v for k, v in n.items() if k.startswith(("hs_", "dp_ring"))})' >&2
um_stop alpha
um_stop beta
