#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The relay protocol over TLS/WebSocket on TCP 443 for a node whose network
# blocks UDP, talking through the same relay to a node on plain UDP:
#
#   a (100.64.1.2, all UDP out dropped but loopback, TCP 443 allowed)
#     -- nat-a -- inet -- nat-b -- b (100.64.2.2, UDP)
#                   |
#   relay 203.0.113.2 (UDP 51821) + 203.0.113.3 (TLS 443)
#
# Both know only each other's peer ID and the relay (alpha: the UDP relay
# and wss://203.0.113.3:443; beta: the UDP relay). Checks: alpha falls back
# to TLS, ping both ways, path relay-tcp on alpha / relay on beta, `umbra
# ping` names relay-tcp, the relay's TLS counters, then traffic resumes after
# the relay's TCP connection is killed (ss -K) and after a relay restart;
# relay-ca accepts the relay's configured certificate and refuses another
# CA's; a plain HTTPS request gets 400.
set -u
. "$(dirname "$0")/lib.sh"
um_init
command -v iptables >/dev/null || um_fail "iptables missing (scripts/install-deps)"

um_two_sites
um_exec relay ip addr add 203.0.113.3/24 dev eth0
# a's own firewall: no UDP leaves but on loopback (the node's proxy socket)
# and the tunnel device; TCP only to port 443. Counted, to prove it.
um_exec a iptables -A OUTPUT -o lo -j ACCEPT
um_exec a iptables -A OUTPUT -o um0 -j ACCEPT
um_exec a iptables -A OUTPUT -p udp -j DROP
# The first SYN to 443 is lost: a second connect goes out beside it after
# 300 ms instead of the kernel's retransmission after 1 s (session 14).
um_exec a iptables -A OUTPUT -p tcp --dport 443 --syn -m statistic --mode nth --every 100000 --packet 0 \
	-m comment --comment first-syn -j DROP
um_exec a iptables -A OUTPUT -p tcp --dport 443 -j ACCEPT
um_exec a iptables -A OUTPUT -j DROP

um_key alpha
um_key beta
# The relay keeps its identity across the restart below; alpha pins it on
# its wss:// line (the TLS certificate is not what authenticates it).
um_key relayid
RELAY_ID=${UM_NODE_ID[relayid]}
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
listen-tls = 203.0.113.3:443
keepalive-interval = 2s
registration-timeout = 10s"
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
relay = wss://$RELAY_ID@203.0.113.3:443
connect-timeout = 2s"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
connect-timeout = 2s"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
um_start relay

start=$(date +%s%N)
um_start alpha
um_start beta
um_wait 20 "first ping through the TLS relay" um_ping a 100.96.0.2 -W 0.3
t_first=$((($(date +%s%N) - start) / 1000000))
um_log "first ping a->b through the TLS relay after $t_first ms (both nodes started, relay up)"
syn_lost=$(um_exec a iptables -L OUTPUT -v -x -n | awk '/first-syn/ { print $1 }')
read -r spares won <<<"$(um_cli alpha status --json |
	jq -r '[.relays[] | select(.transport == "tls")][0] | "\(.tls_spares) \(.tls_spares_won)"')"
um_log "first SYN dropped ($syn_lost); second connects: $spares started, $won opened first"
((syn_lost == 1)) || um_fail "the first SYN was not dropped ($syn_lost)"
((won >= 1)) || um_fail "the connect beside the lost SYN did not carry the connection ($spares started, $won won)"

um_exec a ping -c 10 -i 0.1 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b"
um_exec b ping -c 10 -i 0.1 -W 1 100.96.0.1 >/dev/null || um_fail "ping b->a"
um_log "ping both ways ok"
# iperf3 and openssl come with scripts/install-deps: missing is a failure.
command -v iperf3 >/dev/null || um_fail "iperf3 missing (scripts/install-deps)"
# A figure for the log (TCP inside the tunnel inside TCP): a floor only.
um_bg b iperf3.log iperf3 -s -1 -B 100.96.0.2
sleep 0.3
mbps=$(um_exec a iperf3 -c 100.96.0.2 -t 2 -J 2>/dev/null |
	python3 -c 'import json, sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' 2>/dev/null)
((${mbps:-0} >= 5)) || um_fail "iperf3 through the TLS relay: ${mbps:-no result} Mbit/s"
um_log "iperf3 a->b through the TLS relay: $mbps Mbit/s"

path_a=$(um_peer_field alpha beta path)
path_b=$(um_peer_field beta alpha path)
[ "$path_a" = relay-tcp ] || um_fail "alpha: path to beta is '$path_a', not relay-tcp"
[ "$path_b" = relay ] || um_fail "beta: path to alpha is '$path_b', not relay"
[ "$(um_peer_field alpha beta relay)" = 203.0.113.3:443 ] || um_fail "alpha: relay is not the TLS server"
states=$(um_json alpha status '",".join(r["address"] + "=" + r["state"] for r in d["relays"])')
[ "$states" = "203.0.113.2:51821=registering,wss://203.0.113.3:443=home" ] || um_fail "alpha's relays: $states"
pong=$(um_cli alpha ping beta -c 1 -W 2000) || um_fail "umbra ping beta: $pong"
echo "$pong" | grep -q "via relay-tcp (203.0.113.3:443)" || um_fail "umbra ping does not name relay-tcp: $pong"
um_log "alpha: $pong"
reg=$(um_json relay status 'd["relay"]["registered"]')
conns=$(um_json relay status 'd["relay"]["tls_connections"]')
frames=$(um_json relay status 'd["relay"]["tls_rx_frames"]')
((reg == 2)) || um_fail "relay has $reg registered nodes"
((conns == 1)) || um_fail "relay has $conns TLS connections"
((frames >= 20)) || um_fail "relay received only $frames TLS frames"
dropped=$(um_exec a iptables -L OUTPUT -v -x -n | awk '$3 == "DROP" && ($4 == "udp" || $4 == "17") {print $1}')
((dropped > 0)) || um_fail "a's firewall dropped no UDP (the node never tried UDP?)"
um_log "relay: $reg registered, $conns TLS connection, $frames frames in; a's firewall dropped $dropped UDP packets"
um_cli relay status
um_cli alpha status
um_cli alpha peers

# The relay's side of the TCP connection is killed: alpha reconnects and
# registers again, the session survives (no new handshake needed).
hs0=$(um_peer_field alpha beta handshakes)
um_exec relay ss -K state established '( sport = :443 )' >/dev/null 2>&1
closed() { (($(um_json relay status 'd["relay"]["tls_closed"]') >= 1)); }
um_wait 5 "the relay notices the killed connection" closed
start=$(date +%s%N)
um_wait 20 "traffic after the TCP connection was killed" um_ping a 100.96.0.2 -W 0.3
t_kill=$((($(date +%s%N) - start) / 1000000))
um_exec a ping -c 5 -i 0.1 -W 1 100.96.0.2 >/dev/null || um_fail "ping a->b after the reconnect"
um_exec b ping -c 5 -i 0.1 -W 1 100.96.0.1 >/dev/null || um_fail "ping b->a after the reconnect"
[ "$(um_peer_field alpha beta path)" = relay-tcp ] || um_fail "alpha: path is not relay-tcp after the reconnect"
hs1=$(um_peer_field alpha beta handshakes)
um_log "TCP connection killed: traffic resumed after $t_kill ms (handshakes $hs0 -> $hs1)"

# Relay restart: both nodes register again (alpha over a new TLS connection).
um_stop relay
um_ping a 100.96.0.2 -W 0.3 && um_fail "ping worked without the relay"
start=$(date +%s%N)
um_start relay
um_wait 30 "traffic after the relay restart" um_ping a 100.96.0.2 -W 0.3
t_restart=$((($(date +%s%N) - start) / 1000000))
um_exec b ping -c 5 -i 0.1 -W 1 100.96.0.1 >/dev/null || um_fail "ping b->a after the relay restart"
reg=$(um_json relay status 'd["relay"]["registered"]')
((reg == 2)) || um_fail "after restart the relay has $reg registered nodes"
um_log "relay restarted: traffic resumed after $t_restart ms"

# A configured certificate (tls-certificate/tls-key), verified by the node
# against relay-ca; a node trusting another CA refuses the relay.
command -v openssl >/dev/null || um_fail "openssl missing (scripts/install-deps)"
for c in relay other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=umbra-$c" \
		-keyout "$UM_TMP/$c.pem.key" -out "$UM_TMP/$c.pem" >/dev/null 2>&1 || um_fail "openssl req"
done
um_stop alpha
um_stop relay
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
listen-tls = 203.0.113.3:443
tls-certificate = $UM_TMP/relay.pem
tls-key = $UM_TMP/relay.pem.key
keepalive-interval = 2s
registration-timeout = 10s"
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
relay = wss://203.0.113.3:443
relay-ca = $UM_TMP/relay.pem
connect-timeout = 2s"
um_peer alpha beta "" 100.96.0.2/32
um_start relay
grep -q "configured certificate" "$UM_TMP/relay.log" || um_fail "relay does not use the configured certificate"
um_start alpha
um_wait 20 "ping with a verified relay certificate" um_ping a 100.96.0.2 -W 0.3
um_stop alpha
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
relay = wss://203.0.113.3:443
relay-ca = $UM_TMP/other.pem
connect-timeout = 2s"
um_peer alpha beta "" 100.96.0.2/32
um_start alpha
refused_cert() { grep -q "wss://203.0.113.3:443: .*certificate" "$UM_TMP/alpha.log"; }
um_wait 10 "alpha refuses a relay certificate from another CA" refused_cert
um_ping a 100.96.0.2 -W 0.5 && um_fail "ping worked through an unverified relay"
um_log "relay-ca: verified certificate accepted, another CA's refused ($(grep -o 'wss://203.0.113.3:443: .*certificate.*' "$UM_TMP/alpha.log" | head -1))"

# A client that speaks TLS but not our upgrade is refused and counted.
cat >"$UM_TMP/bad_client.py" <<'PY'
import socket, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("203.0.113.3", 443), timeout=5))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
PY
status=$(um_exec relay python3 "$UM_TMP/bad_client.py" 2>&1)
[ "$status" = "HTTP/1.1 400 Bad Request" ] || um_fail "plain GET answered: $status"
refused() { (($(um_json relay status 'd["relay"]["tls_upgrade_failures"]') >= 1)); }
um_wait 5 "relay counts the refused upgrade" refused

um_stop alpha
um_stop beta
um_stop relay
um_log "first ping ${t_first} ms; after TCP kill ${t_kill} ms; after relay restart ${t_restart} ms"
