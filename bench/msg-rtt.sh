#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Messages between two namespaces over a direct umbra session (root):
#  1. round trip on an idle session: `send` request -> "delivered" receipt
#     on the sender's inbox-follow stream, one message at a time: p50/p99;
#  2. messages per second on one session: COUNT messages sent back to back
#     (each a control request, stored before it leaves) until the last
#     delivered receipt;
#  3. the daemons' RSS with the session and its message channel open.
# Idle channel memory in isolation: build/bench/bench-channel (part 3).
#   BUILD=build ROUNDS=200 COUNT=2000 bench/msg-rtt.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
rounds=${ROUNDS:-200}
count=${COUNT:-2000}
export UMBRAD=$build/umbrad UMBRA=$build/umbra
. "$here/../tests/netns/lib.sh"
. "$here/lib-timing.sh"
um_init

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
um_config alpha a 51820 100.64.0.1/24 tun "store = $UM_TMP/alpha.db"
um_config beta b 51820 100.64.0.2/24 tun "store = $UM_TMP/beta.db"
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
um_start alpha
um_start beta
um_wait 10 "session" um_established alpha beta
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

bench_receipts "${UM_NODE_SOCK[alpha]}" delivered "$rounds" "$count" <<'PY' || um_fail "message bench"
rounds, count = int(sys.argv[3]), int(sys.argv[4])
send("warm-up"); time.sleep(0.5)
rtt = []
for r in range(rounds):
    t0 = time.monotonic()
    i = send("ping %d" % r)
    wait([i], 10)
    rtt.append((receipts[i] - t0) * 1e3)
    time.sleep(0.01)  # idle between messages
rtt.sort()
print("round trip (send -> delivered receipt), %d messages: p50 %.2f ms, p99 %.2f ms, min %.2f ms" % (rounds, percentile(rtt, 0.5), percentile(rtt, 0.99), rtt[0]))
t0 = time.monotonic()
ids = [send("burst %d" % k) for k in range(count)]
t1 = time.monotonic()
wait(ids, 120)
t2 = max(receipts[i] for i in ids)
print("one session, %d messages back to back: %.0f messages/s delivered (requests took %.2f s, last receipt at %.2f s)" % (count, count / (t2 - t0), t1 - t0, t2 - t0))
PY
echo "RSS with the session and message channel open: alpha $(rss_kb "${UM_NODE_PID[alpha]}") kB, beta $(rss_kb "${UM_NODE_PID[beta]}") kB"
