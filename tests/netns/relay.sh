#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two nodes behind NATs that drop unsolicited inbound, knowing only each
# other's peer ID and a relay's address, connect through the relay:
#
#   a (100.64.1.2) -- nat-a -- inet -- nat-b -- b (100.64.2.2)
#                   198.51.100.2  |  198.51.100.6
#                               relay 203.0.113.2:51821
#
# Checks: registration, ping through the tunnel, path "relay" in peers,
# the relay's counters, no direct node-to-node packet crossing the
# "internet" router, the plaintext ping pattern never seen at the relay
# (it only carries ciphertext), relay restart with re-registration and
# resumed traffic (no new handshake needed), config errors.
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_two_sites
# Direct site-to-site packets are counted (never dropped) by the router.
um_exec inet iptables -A FORWARD -i ia -o ib -j ACCEPT
um_exec inet iptables -A FORWARD -i ib -o ia -j ACCEPT
um_exec a ping -c 1 -W 2 203.0.113.2 >/dev/null || um_fail "a cannot reach the relay's address"

um_key alpha
um_key beta
# The relay's identity (kept across its restart below): alpha pins it,
# beta learns it on first contact (and says so in its log).
um_key relayid
RELAY_ID=${UM_NODE_ID[relayid]}
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
keepalive-interval = 2s
registration-timeout = 10s"
um_config alpha a 51820 100.96.0.1/24 tun "relay = $RELAY_ID@203.0.113.2:51821
direct = false"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
direct = false"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
um_start relay

# Plaintext sniffer at the relay: counts frames and pattern hits.
PATTERN=5ec7e75ec7e75ec7e75ec7e75ec7e75e
cat >"$UM_TMP/sniff.py" <<'PY'
import socket, sys, time
iface, pattern, seconds, out = sys.argv[1], bytes.fromhex(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
secrets = [bytes.fromhex(h) for h in sys.argv[5:]]  # identities that must never appear
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
s.settimeout(0.2)
frames = hits = leaks = 0
end = time.time() + seconds
open(out + ".ready", "w").close()
while time.time() < end:
    try:
        data = s.recv(65535)
    except socket.timeout:
        continue
    frames += 1
    if pattern[:8] in data:
        hits += 1
    icmp = len(data) > 23 and data[12:14] == b"\x08\x00" and data[23] == 1  # quotes a datagram
    if not icmp and any(x in data for x in secrets):
        leaks += 1
with open(out, "w") as f:
    f.write("%d %d %d\n" % (frames, hits, leaks))
PY
# What must never cross the node<->relay link (review #1): each node's
# peer ID (raw bytes and text) and its public key (both halves' first 32
# bytes), in hex for the sniffer.
cat >"$UM_TMP/idhex.py" <<'PY'
import base64, json, sys
alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
info = json.load(sys.stdin)
data = info["peer_id"].split("1", 1)[1][:-6]
bits = "".join(format(alphabet.index(c), "05b") for c in data)
raw = bytes(int(bits[i:i + 8], 2) for i in range(0, 256, 8))
pk = base64.b64decode(info["public_key"])
print(raw.hex(), info["peer_id"].encode().hex(), pk[:32].hex(), pk[32:64].hex(), pk[-32:].hex())
PY
SECRETS=""
for n in alpha beta; do
	SECRETS="$SECRETS $("$UMBRA" --json pubkey "$UM_TMP/$n.key" | python3 "$UM_TMP/idhex.py")" ||
		um_fail "identity bytes of $n"
done
# shellcheck disable=SC2086 # SECRETS: one argument per hex string
um_bg relay sniff.log python3 "$UM_TMP/sniff.py" eth0 "$PATTERN" 14 "$UM_TMP/sniff.out" $SECRETS
um_wait 5 "sniffer" test -e "$UM_TMP/sniff.out.ready"

start=$(date +%s%N)
um_start alpha
um_start beta
um_wait 10 "first ping through the relay" um_ping a 100.96.0.2 -W 0.2
t_first=$((($(date +%s%N) - start) / 1000000))
um_log "first ping through the relay after $t_first ms (both nodes started, relay up)"

um_exec a ping -c 10 -i 0.1 -W 1 -p "$PATTERN" 100.96.0.2 >/dev/null || um_fail "ping a->b"
# Positive control for the identity search: one datagram carrying alpha's
# raw peer ID, sent on purpose to a closed port of the relay's host.
alpha_raw=${SECRETS# }
alpha_raw=${alpha_raw%% *}
um_exec a python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes.fromhex('$alpha_raw'), ('203.0.113.2', 9))"
um_exec b ping -c 10 -i 0.1 -W 1 -p "$PATTERN" 100.96.0.1 >/dev/null || um_fail "ping b->a"
um_log "ping through the relay ok"
grep -q "learned identity $RELAY_ID on first contact; pin it with relay = $RELAY_ID@203.0.113.2:51821" \
	"$UM_TMP/beta.log" || um_fail "beta did not log the relay identity it learned"
grep -q "learned identity" "$UM_TMP/alpha.log" && um_fail "alpha pinned the relay, yet learned it"
# Positive control: the same sniffer on alpha's TUN device sees the pattern.
um_bg a sniff-tun.log python3 "$UM_TMP/sniff.py" um0 "$PATTERN" 3 "$UM_TMP/sniff-tun.out"
um_wait 5 "TUN sniffer" test -e "$UM_TMP/sniff-tun.out.ready"
um_exec a ping -c 3 -i 0.1 -W 1 -p "$PATTERN" 100.96.0.2 >/dev/null || um_fail "ping a->b (control)"
um_wait 10 "TUN sniffer result" test -s "$UM_TMP/sniff-tun.out"
read -r frames hits _ <"$UM_TMP/sniff-tun.out"
((hits >= 3)) || um_fail "the sniffer does not see the pattern even on the TUN ($hits)"

[ "$(um_peer_field alpha beta path)" = relay ] || um_fail "alpha: path to beta is not relay"
[ "$(um_peer_field beta alpha path)" = relay ] || um_fail "beta: path to alpha is not relay"
[ "$(um_peer_field alpha beta endpoint)" = 203.0.113.2:51821 ] || um_fail "alpha: endpoint is not the relay"
[ "$(um_peer_field alpha beta transport)" = relay ] || um_fail "alpha: transport to beta is not relay"
[ "$(um_peer_field beta alpha transport)" = relay ] || um_fail "beta: transport to alpha is not relay"
txr=$(um_peer_field alpha beta tx_relay_packets)
((txr >= 10)) || um_fail "alpha sent only $txr packets via the relay"
[ "$(um_json alpha status 'd["relays"][0]["state"]')" = home ] || um_fail "alpha: relay is not home"
observed=$(um_json alpha status 'd["node"]["observed_endpoint"]')
[ "$observed" = 198.51.100.2:51820 ] || um_fail "alpha: observed endpoint $observed (expected the NAT's)"
fwd=$(um_json relay status 'd["relay"]["forwarded_packets"]')
reg=$(um_json relay status 'd["relay"]["registered"]')
((fwd >= 40)) || um_fail "relay forwarded only $fwd packets"
((reg == 2)) || um_fail "relay has $reg registered nodes"
um_log "relay: $reg registered, $fwd packets forwarded"
direct=$(um_exec inet iptables -L FORWARD -v -x -n | awk '$3 == "ACCEPT" {s += $1} END {print s + 0}')
((direct == 0)) || um_fail "$direct packets went directly between the sites"
um_cli relay status
um_cli alpha status
um_cli alpha peers

# The relay never saw the plaintext.
um_wait 15 "sniffer result" test -s "$UM_TMP/sniff.out"
read -r frames hits leaks <"$UM_TMP/sniff.out"
((frames >= 40)) || um_fail "sniffer saw only $frames frames"
((hits == 0)) || um_fail "plaintext ping pattern seen $hits times at the relay"
# Registration, keepalives, lookups and relayed traffic of both nodes were
# in the capture: none carried a node's ID or public key.
((leaks == 1)) || um_fail "$((leaks - 1)) frames at the relay carried a node's peer ID or public key (control: 1 expected)"
um_log "relay capture: $frames frames, plaintext pattern 0 times, node IDs and keys 0 times (+1 control)"

# Relay restart: nodes re-register, the session survives, traffic resumes.
hs0=$(um_peer_field alpha beta handshakes)
um_stop relay
um_ping a 100.96.0.2 -W 0.3 && um_fail "ping worked without the relay"
start=$(date +%s%N)
um_start relay
um_wait 15 "traffic after the relay restart" um_ping a 100.96.0.2 -W 0.2
t_restart=$((($(date +%s%N) - start) / 1000000))
hs1=$(um_peer_field alpha beta handshakes)
um_log "relay restarted: traffic resumed after $t_restart ms (handshakes $hs0 -> $hs1)"
reg=$(um_json relay status 'd["relay"]["registered"]')
((reg == 2)) || um_fail "after restart the relay has $reg registered nodes"

# Endpoints that never answer (a closed port on the other NAT, which drops it):
# one direct attempt, then the relay.
um_stop alpha
um_stop beta
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
direct = false"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
direct = false"
um_peer alpha beta 198.51.100.6:40000 100.96.0.2/32
um_peer beta alpha 198.51.100.2:40000 100.96.0.1/32
start=$(date +%s%N)
um_start alpha
um_start beta
um_wait 10 "ping via the relay after failed direct attempts" um_ping a 100.96.0.2 -W 0.2
t_fallback=$((($(date +%s%N) - start) / 1000000))
[ "$(um_peer_field alpha beta path)" = relay ] || um_fail "alpha: path to beta is not relay after fallback"
# The direct try timed out, then the relay: whoever initiated the session
# took at least two initiations for it (each side tries its dead endpoint first).
for pair in "alpha beta" "beta alpha"; do
	set -- $pair
	[ "$(um_peer_field "$1" "$2" setup_role)" = initiator ] || continue
	n=$(um_peer_field "$1" "$2" setup_initiations)
	((n >= 2)) || um_fail "$1: setup_initiations=$n for $2 after a failed direct try"
	took=$(um_peer_field "$1" "$2" setup_ms) total=$(um_peer_field "$1" "$2" setup_total_ms)
	((total >= took)) || um_fail "$1: setup_total_ms=$total < setup_ms=$took"
	um_log "$1 -> $2: setup $took ms, $total ms in all over $n initiations"
done
um_log "unreachable endpoints: first ping through the relay after $t_fallback ms"

# Two relays: alpha registers with both (home + backup), beta only with the
# second one; alpha finds beta there even if its home is the first.
um_relay_config relay2 relay 203.0.113.2:51822 "keepalive-interval = 2s"
um_start relay2
um_stop alpha
um_stop beta
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
relay = 203.0.113.2:51822
direct = false"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51822
direct = false"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
start=$(date +%s%N)
um_start alpha
um_start beta
um_wait 10 "ping via the second relay" um_ping a 100.96.0.2 -W 0.2
t_two=$((($(date +%s%N) - start) / 1000000))
states=$(um_json alpha status '",".join(sorted(r["state"] for r in d["relays"]))')
[ "$states" = backup,home ] || um_fail "alpha's relays: $states (expected home and backup)"
[ "$(um_peer_field alpha beta relay)" = 203.0.113.2:51822 ] || um_fail "alpha does not reach beta via relay 2"
um_log "two relays: first ping after $t_two ms (alpha's relays: $states)"

# A relay that does not admit a node: refused and counted.
um_key mallory
um_config mallory a 51830 100.96.0.9/24 tun "relay = 203.0.113.2:51821
direct = false"
sed -i 's/^device = um0/device = um9/' "$UM_TMP/mallory.conf"
um_start mallory
refused() { (($(um_json relay status 'd["relay"]["reg_not_admitted"]') >= 1)); }
um_wait 5 "relay refuses mallory" refused
kill -TERM "${UM_NODE_PID[mallory]}"
wait "${UM_NODE_PID[mallory]}" 2>/dev/null

# Config errors name file, line and key.
printf '[relay]\nlisten = 203.0.113.2\n' >"$UM_TMP/bad.conf"
err=$("$UMBRAD" --config "$UM_TMP/bad.conf" 2>&1) && um_fail "bad relay config accepted"
echo "$err" | grep -q "bad.conf:2: key 'listen'" || um_fail "config error message: $err"

um_stop alpha
um_stop beta
um_stop relay
um_stop relay2
um_log "first ping ${t_first} ms; relay restart recovery ${t_restart} ms; fallback from dead endpoints ${t_fallback} ms"
