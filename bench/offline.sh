#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Store-and-forward on the node (issue 17; root): two relays with queue
# APIs (r1 home, r2 backup) in namespace rel; alpha and beta reach them but
# never each other, so every message takes the queue rung.
#  1. send -> queued: beta offline, alpha sends COUNT messages one at a time,
#     each timed from the `send` request to its "queued" receipt on alpha's
#     inbox-follow stream (sealed, put on both mailboxes after their fsync):
#     p50/p99.
#  2. drain: beta starts (relay = r1, so it registers there) and fetches the
#     COUNT envelopes: time from its relay registration (its log line) and
#     from its start to the last message in its inbox (received_ms), and
#     until both relays are empty (deleted after beta's commit).
#   BUILD=build COUNT=100 bench/offline.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
count=${COUNT:-100}
export UMBRAD=$build/umbrad UMBRA=$build/umbra
. "$here/../tests/netns/lib.sh"
. "$here/../tests/netns/mailbox_lib.sh"
. "$here/lib-timing.sh"
um_init

mailbox_links
mailbox_relay r1 51821 8081 "queue-max-messages = 1000"
mailbox_relay r2 51822 8082 "queue-max-messages = 1000"
OPTS="dht = off
mailbox-delay = 1ms
mailbox-poll = 60s"
mkdir -p "$UM_TMP/alpha" "$UM_TMP/beta"
um_config alpha na 51820 100.64.0.1/24 tun "store = $UM_TMP/alpha/messages.db
mailbox = http://198.51.100.2:8081, http://198.51.100.2:8082
$OPTS"
um_config beta nb 51820 100.64.0.2/24 tun "store = $UM_TMP/beta/messages.db
mailbox = http://203.0.113.2:8081, http://203.0.113.2:8082
relay = 203.0.113.2:51821
$OPTS"
um_peer alpha beta "" 100.64.0.2/32
um_peer beta alpha "" 100.64.0.1/32

um_start beta
um_wait 15 "beta's prekey at both mailboxes" grep -q 'prekey published at 2 of 2 mailboxes' "$UM_TMP/beta.log"
um_stop beta
um_start alpha

bench_receipts "${UM_NODE_SOCK[alpha]}" queued "$count" <<'PY' || um_fail "send -> queued"
count = int(sys.argv[3])
lat = []
for i in range(1, count + 1):
    t0 = time.monotonic()
    mid = send("bench %d" % i)
    wait([mid], 30)
    lat.append((receipts[mid] - t0) * 1000)
lat.sort()
print("send -> queued, %d messages one at a time: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (count, percentile(lat, 0.5), percentile(lat, 0.99), lat[-1]))
PY
[ "$(envelopes r1)" = "$count" ] && [ "$(envelopes r2)" = "$count" ] || um_fail "relays hold $(envelopes r1)/$(envelopes r2), want $count"
beta_hex=$(recipients r1)
um_stop alpha

start_ms=$(date +%s%3N)
um_start beta
last_in() { um_cli beta inbox --json --peer alpha | python3 -c '
import json, sys
m = [m for m in json.load(sys.stdin) if m["direction"] == "in"]
if len(m) < int(sys.argv[1]):
    sys.exit(1)
print(max(x["received_ms"] for x in m))' "$count"; }
um_wait 60 "beta has the $count" last_in >/dev/null
last=$(last_in)
emptied() { [ "$(envelopes r1 "$beta_hex")" = 0 ] && [ "$(envelopes r2 "$beta_hex")" = 0 ]; }
um_wait 60 "both relays emptied of beta's envelopes" emptied
empty_ms=$(date +%s%3N)
reg=$(grep -m1 'relay .*: registered' "$UM_TMP/beta.log" | awk '{print $1}')
reg_ms=$(python3 -c '
import datetime, sys, time
h, m, s = sys.argv[1].split(":")
now = datetime.datetime.now()
t = now.replace(hour=int(h), minute=int(m), second=int(float(s)), microsecond=int(round(float(s) % 1 * 1000)) * 1000)
print(int(t.timestamp() * 1000))' "$reg")
um_log "drain of $count: registration -> last in inbox $((last - reg_ms)) ms; start -> last in inbox $((last - start_ms)) ms; start -> both relays emptied of beta's envelopes (polled) $((empty_ms - start_ms)) ms"
um_stop beta
um_log "offline bench: ok"
