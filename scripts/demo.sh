#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: umbra's main job on one machine. A relay on a public address
# and three nodes behind home-router NATs in network namespaces; gamma's
# network blocks UDP (only TCP 443 gets out). The nodes know only each
# other's peer IDs and the relay. They connect through the relay, move to
# a hole-punched direct path where the NATs allow it, and the demo prints
# per pair: path, time to first packet, time to direct, RTT and a short
# iperf3 figure. Then it cleans up (nothing left behind; the host's own
# network is never touched). Under a minute.
set -u
BUILD=$(cd "${1:-build}" && pwd)
export UMBRAD=$BUILD/umbrad UMBRA=$BUILD/umbra UM_BUILD=$BUILD
here=$(cd "$(dirname "$0")" && pwd)

echo "== $("$UMBRAD" --version), $("$UMBRA" --version)"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
	echo "The tunnel demo needs root and /dev/net/tun (network namespaces, TUN devices): skipped."
	exit 0
fi
. "$here/../tests/netns/lib.sh"
um_init
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

step "The network: a relay on 203.0.113.2, three sites behind NAT routers"
cat <<'EOF'
  alpha 10.1.0.2 -- nat-a 198.51.100.2 --+
  beta  10.2.0.2 -- nat-b 198.51.100.6 --+-- internet -- relay 203.0.113.2
  gamma 10.3.0.2 -- nat-c 198.51.100.10 -+   (UDP 51821, TLS/WebSocket 443)
  NATs: MASQUERADE, nothing unsolicited gets in; nat-c lets only TCP 443 out.
EOF
for n in alpha nat-a beta nat-b gamma nat-c inet relay; do um_ns $n; done
site=0
for s in a:alpha b:beta c:gamma; do
	nat=nat-${s%:*} host=${s#*:}
	um_link "$host" eth0 "10.$((site + 1)).0.2/24" "$nat" lan0 "10.$((site + 1)).0.1/24"
	um_link "$nat" wan0 "198.51.100.$((site * 4 + 2))/30" inet "w$site" "198.51.100.$((site * 4 + 1))/30"
	um_exec "$host" ip route add default via "10.$((site + 1)).0.1"
	um_exec "$nat" ip route add default via "198.51.100.$((site * 4 + 1))"
	um_nat "$nat" wan0
	site=$((site + 1))
done
um_link relay eth0 203.0.113.2/24 inet ir 203.0.113.1/24
um_exec relay ip route add default via 203.0.113.1
um_exec inet sysctl -qw net.ipv4.ip_forward=1
# gamma's firewall: nothing but TCP to port 443 leaves its LAN.
um_exec nat-c iptables -I FORWARD 1 -i lan0 -p tcp --dport 443 -j ACCEPT
um_exec nat-c iptables -I FORWARD 2 -i lan0 -j DROP

step "Identities: configs pin peer IDs; keys travel in the handshake"
for n in alpha beta gamma; do
	um_key $n
	echo "$n: ${UM_NODE_ID[$n]}"
done
um_relay_config relay relay 203.0.113.2:51821 "listen-tls = 203.0.113.2:443
allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}, ${UM_NODE_ID[gamma]}"
declare -A overlay=([alpha]=100.96.0.1 [beta]=100.96.0.2 [gamma]=100.96.0.3)
for n in alpha beta gamma; do
	um_config $n $n 51820 "${overlay[$n]}/24" tun "relay = 203.0.113.2:51821
relay = wss://203.0.113.2:443"
	for p in alpha beta gamma; do
		[ $p = $n ] || um_peer $n $p "" "${overlay[$p]}/32"
	done
done
sed "s|$UM_TMP|/tmp/demo|" "${UM_NODE_CONF[alpha]}"

step "Starting the relay, then the three nodes at once"
um_start relay
t0=$(now_ms)
for n in alpha beta gamma; do um_start $n; done

pairs="alpha:beta alpha:gamma beta:gamma"
# First packet per pair, all pairs in parallel: ping every 100 ms.
for pr in $pairs; do
	a=${pr%:*} b=${pr#*:}
	(
		for ((i = 0; i < 150; i++)); do
			if um_exec $a ping -n -q -c 1 -W 0.1 "${overlay[$b]}" >/dev/null 2>&1; then
				echo $(($(now_ms) - t0)) >"$UM_TMP/first-$a-$b"
				exit 0
			fi
		done
	) &
	UM_PIDS+=($!)
done
for pr in $pairs; do
	a=${pr%:*} b=${pr#*:}
	um_wait 20 "first packet $a -> $b" test -s "$UM_TMP/first-$a-$b"
done
um_wait 5 "alpha <-> beta direct" sh -c "[ \"\$($UMBRA --socket ${UM_NODE_SOCK[alpha]} peers --json | python3 -c 'import json,sys; print([p[\"path\"] for p in json.load(sys.stdin)[\"peers\"] if p[\"name\"] == \"beta\"][0])')\" = direct ]"
grep -h "registered\|session established\|direct path" "$UM_TMP/alpha.log" | sed 's/^/  alpha: /'
grep -h "registered\|session established" "$UM_TMP/gamma.log" | sed 's/^/  gamma: /'

step "Per pair: path, first packet, time to direct, RTT, iperf3 TCP (2 s)"
printf '%-13s %-16s %12s %15s %10s %12s\n' pair path first_packet time_to_direct rtt_avg throughput
for pr in $pairs; do
	a=${pr%:*} b=${pr#*:}
	path=$(um_peer_field $a $b path)
	back=$(um_peer_field $b $a path)
	[ "$back" = "$path" ] || path="$path/$back"
	ttd=$(um_peer_field $a $b time_to_direct_ms)
	[ "$path" = direct ] && ttd="$ttd ms" || ttd=-
	rtt=$(um_exec $a ping -n -q -c 10 -i 0.05 "${overlay[$b]}" | awk -F/ '/^rtt/ {print $5 " ms"}')
	um_bg $b "iperf-$a.log" iperf3 -s -B "${overlay[$b]}" -1
	um_wait 5 "iperf3 server on $b" um_exec $b sh -c "ss -ltn | grep -q ${overlay[$b]}:5201"
	rate=$(um_exec $a iperf3 -c "${overlay[$b]}" -t 2 -f m 2>/dev/null | awk '/receiver/ {print $7 " " $8}')
	printf '%-13s %-16s %9s ms %15s %10s %12s\n' "$a-$b" "$path" "$(cat "$UM_TMP/first-$a-$b")" "$ttd" "${rtt:--}" "${rate:--}"
done

step "umbra ping names the path that answered"
um_cli alpha ping beta -c 2 -i 100 | tail -n 1
um_cli alpha ping gamma -c 2 -i 100 | tail -n 1
step "umbra peers (gamma, behind the UDP-blocking firewall)"
um_cli gamma peers
step "The relay's view (its per-node rate limit caps a relayed iperf3: abuse control)"
um_cli relay status | grep -E "registered|forwarded|tls|stream" | head -8

step "Stopping (SIGTERM): devices and control sockets removed"
for n in alpha beta gamma relay; do um_stop $n; done
echo "done in $((($(now_ms) - t0) / 1000)) s after the nodes started"
