#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A relay-only umbrad serving the bootstrap HTTP API ([relay] api), and
# three nodes, each in its own namespace and /24, using it through the
# node's client (um_bootstrap_tool) and plain curl:
#
#   n1 198.51.100.2/30 --\
#   n2 198.51.100.6/30 ---- relay (203.0.113.2: UDP 51821, API 8080)
#   n3 198.51.100.10/30 -/
#
# Checks: register (public and private), the listing (every node, with its
# observed source address), lookup by ID on both paths (/peer/ID hides the
# private one behind the unknown ID's answer), heartbeat, unregister,
# refusals (someone else's unregister is impossible without its key; a
# replayed body; malformed and oversized bodies), the per-source rate
# limit, HTTPS with a configured certificate, and a clean stop (the HTTP
# thread joined, nothing left behind).
set -u
. "$(dirname "$0")/lib.sh"
um_init
TOOL=${UM_BUILD:-}/tests/netns/um_bootstrap_tool
[ -x "$TOOL" ] || um_skip "um_bootstrap_tool not built"
command -v curl >/dev/null || um_skip "no curl"

for n in relay n1 n2 n3; do um_ns $n; done
um_exec relay ip addr add 203.0.113.2/32 dev lo
i=0
for n in n1 n2 n3; do
	um_link $n eth0 198.51.100.$((i * 4 + 2))/30 relay e$n 198.51.100.$((i * 4 + 1))/30
	um_exec $n ip route add default via 198.51.100.$((i * 4 + 1))
	i=$((i + 1))
done
API=http://203.0.113.2:8080

um_key relayid
for n in n1 n2 n3; do um_key $n; done
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
api = 203.0.113.2:8080"
um_start relay
um_wait 10 "the bootstrap API" um_exec n1 curl -sf "$API/api/bootstrap/peers"
grep -q "bootstrap API listening on http://203.0.113.2:8080" "$UM_TMP/relay.log" || um_fail "no API line in the relay's log"

tool() { # NS KEY|- ARGS...
	local ns=$1
	shift
	um_exec "$ns" "$TOOL" "$API" "$@"
}
status_of() { # NS CURL-ARGS...: prints the HTTP status
	local ns=$1
	shift
	um_exec "$ns" curl -s -o "$UM_TMP/body" -w '%{http_code}' "$@"
}

# Register: n1 and n3 public, n2 private; each its own UDP endpoint.
tool n1 "$UM_TMP/n1.key" register --public 198.51.100.2:51820 | grep -q "registered ttl=120" || um_fail "n1 register"
tool n2 "$UM_TMP/n2.key" register 198.51.100.6:51820 '[2001:db8::6]:51820' >/dev/null || um_fail "n2 register"
tool n3 "$UM_TMP/n3.key" register --public 198.51.100.10:51820 >/dev/null || um_fail "n3 register"

# The listing: three nodes, each with the address it came from; the
# private one by address only (no peer ID anywhere in the listing).
tool n3 - peers >"$UM_TMP/peers" || um_fail "peers"
[ "$(wc -l <"$UM_TMP/peers")" = 3 ] || um_fail "listing has $(wc -l <"$UM_TMP/peers") nodes, want 3"
grep -q "^${UM_NODE_ID[n1]} 198.51.100.2 198.51.100.2:51820$" "$UM_TMP/peers" || um_fail "n1 not listed as observed"
grep -q "^private 198.51.100.6 198.51.100.6:51820 \[2001:db8::6\]:51820$" "$UM_TMP/peers" ||
	um_fail "n2 not listed by address with both endpoints"
[ "$(status_of n3 "$API/api/bootstrap/peers")" = 200 ] || um_fail "peers not 200"
! grep -q "${UM_NODE_ID[n2]}" "$UM_TMP/body" || um_fail "the listing names the private n2"

# Lookup by ID: only the public ones, by either path, and the private one
# gets exactly the unknown ID's answer.
tool n1 - peer "${UM_NODE_ID[n2]}"
[ $? = 3 ] || um_fail "private n2 found through /api/bootstrap/peer/ID"
tool n1 - peer "${UM_NODE_ID[n3]}" --public-path | grep -q "198.51.100.10:51820" || um_fail "n3 by /peer/ID"
tool n1 - peer "${UM_NODE_ID[n2]}" --public-path
[ $? = 3 ] || um_fail "private n2 found through /peer/ID"
[ "$(status_of n1 "$API/peer/${UM_NODE_ID[n2]}")" = 404 ] || um_fail "/peer/private not 404"
cp "$UM_TMP/body" "$UM_TMP/private.body"
[ "$(status_of n1 "$API/peer/${UM_NODE_ID[relayid]}")" = 404 ] || um_fail "/peer/unknown not 404"
cmp -s "$UM_TMP/body" "$UM_TMP/private.body" || um_fail "private and unknown IDs answer differently"

# Heartbeat; unregister; the listing follows.
tool n2 "$UM_TMP/n2.key" heartbeat | grep -q "refreshed ttl=120" || um_fail "n2 heartbeat"
tool n2 "$UM_TMP/n2.key" unregister || um_fail "n2 unregister"
tool n2 "$UM_TMP/n2.key" heartbeat
[ $? = 3 ] || um_fail "heartbeat of an unregistered ID not 404"
[ "$(tool n3 - peers | wc -l)" = 2 ] || um_fail "listing after unregister"

# Refusals, each leaving the registry as it was.
[ "$(status_of n3 -X POST -d 'not json' "$API/api/bootstrap/register")" = 400 ] || um_fail "malformed body not 400"
grep -q '"error"' "$UM_TMP/body" || um_fail "400 without a JSON error"
head -c 20000 /dev/zero | tr '\0' ' ' >"$UM_TMP/big"
[ "$(status_of n3 -X POST --data-binary @"$UM_TMP/big" "$API/api/bootstrap/register")" = 413 ] ||
	um_fail "oversized body not 413"
# n3 asks for a challenge and sends an unregister of n1 signed with its own
# key over n1's ID: the signature cannot verify under n1's key.
CH=$(um_exec n3 curl -s -X POST "$API/api/bootstrap/challenge" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])')
SIG=$(python3 -c 'import base64; print(base64.b64encode(bytes(4691)).decode())')
[ "$(status_of n3 -X DELETE -d "{\"peer_id\":\"${UM_NODE_ID[n1]}\",\"challenge\":\"$CH\",\"signature\":\"$SIG\"}" \
	"$API/api/bootstrap/unregister")" = 403 ] || um_fail "forged unregister not 403"
# n1's challenge used from n3: refused (bound to the address it was issued to).
CH=$(um_exec n1 curl -s -X POST "$API/api/bootstrap/challenge" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])')
[ "$(status_of n3 -X DELETE -d "{\"peer_id\":\"${UM_NODE_ID[n1]}\",\"challenge\":\"$CH\",\"signature\":\"$SIG\"}" \
	"$API/api/bootstrap/unregister")" = 403 ] || um_fail "another address's challenge not 403"
[ "$(tool n3 - peers | wc -l)" = 2 ] || um_fail "a refusal changed the registry"
[ "$(status_of n3 "$API/api/bootstrap/nothing")" = 404 ] || um_fail "unknown path not 404"
[ "$(status_of n3 -X PUT "$API/api/bootstrap/peers")" = 405 ] || um_fail "wrong method not 405"

# Rate limit per source (10/s, burst 40): n3 floods (80 requests on one
# keep-alive connection, in well under a second), n1 is unaffected.
urls=()
for ((k = 0; k < 80; k++)); do urls+=("$API/api/bootstrap/peers"); done
um_exec n3 curl -s -w '\n%{http_code}\n' "${urls[@]}" >"$UM_TMP/flood"
limited=$(grep -c '^429$' "$UM_TMP/flood")
((limited >= 20)) || um_fail "only $limited of 80 flood requests limited"
grep -q '^{"error":"too many requests"}$' "$UM_TMP/flood" || um_fail "429 without a JSON error"
tool n1 - peers >/dev/null || um_fail "n1 limited by n3's flood"
um_log "rate limit: $limited of 80 back-to-back requests from one source refused"

um_stop relay

# HTTPS with a configured certificate.
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$UM_TMP/api.key" \
		-out "$UM_TMP/api.crt" -days 1 -subj /CN=203.0.113.2 >/dev/null 2>&1 || um_fail "openssl"
	um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
api = 203.0.113.2:8443
api-certificate = $UM_TMP/api.crt
api-key = $UM_TMP/api.key"
	rm -f "$UM_TMP/relay.log"
	um_start relay
	API=https://203.0.113.2:8443
	um_wait 10 "the bootstrap API over TLS" um_exec n1 curl -sfk "$API/api/bootstrap/peers"
	UM_BOOTSTRAP_INSECURE=1 um_exec n1 "$TOOL" "$API" "$UM_TMP/n1.key" register --public 198.51.100.2:51820 >/dev/null ||
		um_fail "register over TLS"
	um_exec n1 curl -sf --cacert "$UM_TMP/api.crt" "$API/api/bootstrap/peer/${UM_NODE_ID[n1]}" | grep -q 198.51.100.2 ||
		um_fail "lookup over TLS (certificate verified)"
	[ "$(status_of n1 "http://203.0.113.2:8443/api/bootstrap/peers")" = 200 ] && um_fail "plain HTTP answered on the TLS port"
	um_stop relay
fi
um_log "PASS"
