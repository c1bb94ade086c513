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

python3 - "${UM_NODE_SOCK[alpha]}" "$rounds" "$count" <<'PY' || um_fail "message bench"
import socket, sys, time, threading, urllib.parse
sock_path, rounds, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
delivered = {}
cond = threading.Condition()

def follow():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(b"inbox-follow=text\n\n")
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            return
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            v = urllib.parse.unquote(line.decode(errors="replace"))
            i = v.find("receipt ")
            if i < 0:
                continue
            f = v[i + 8:].split()
            if len(f) >= 3 and f[2] == "delivered":
                with cond:
                    delivered.setdefault(f[0], time.monotonic())
                    cond.notify_all()

def send(text):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(("send=beta\ntext=%s\n\n" % urllib.parse.quote(text)).encode())
    reply = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        reply += d
        if reply.endswith(b"\n\n"):
            break
    s.close()
    for line in reply.decode().split("\n"):
        if line.startswith("id="):
            return line[3:]
    raise SystemExit("send failed: %r" % reply)

def wait(ids, timeout):
    end = time.monotonic() + timeout
    with cond:
        while not all(i in delivered for i in ids):
            if not cond.wait(end - time.monotonic()) and time.monotonic() >= end:
                raise SystemExit("receipts missing: %d of %d" % (sum(i not in delivered for i in ids), len(ids)))

threading.Thread(target=follow, daemon=True).start()
time.sleep(0.3)
send("warm-up"); time.sleep(0.5)
rtt = []
for r in range(rounds):
    t0 = time.monotonic()
    i = send("ping %d" % r)
    wait([i], 10)
    rtt.append((delivered[i] - t0) * 1e3)
    time.sleep(0.01)  # idle between messages
rtt.sort()
pct = lambda p: rtt[min(len(rtt) - 1, int(p * len(rtt)))]
print("round trip (send -> delivered receipt), %d messages: p50 %.2f ms, p99 %.2f ms, min %.2f ms" % (rounds, pct(0.5), pct(0.99), rtt[0]))
t0 = time.monotonic()
ids = [send("burst %d" % k) for k in range(count)]
t1 = time.monotonic()
wait(ids, 120)
t2 = max(delivered[i] for i in ids)
print("one session, %d messages back to back: %.0f messages/s delivered (requests took %.2f s, last receipt at %.2f s)" % (count, count / (t2 - t0), t1 - t0, t2 - t0))
PY
echo "RSS with the session and message channel open: alpha $(rss_kb "${UM_NODE_PID[alpha]}") kB, beta $(rss_kb "${UM_NODE_PID[beta]}") kB"
