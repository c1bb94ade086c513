# SPDX-License-Identifier: MIT
# The message timing loop the message benches share (offline.sh,
# msg-rtt.sh); source it after tests/netns/lib.sh.
#
#   bench_receipts SOCK STATUS [ARG...] <<'PY'
#   ... python ...
#   PY
#
# runs the Python on stdin after a prelude that follows the node's inbox
# over its control socket SOCK (inbox-follow) and gives it:
#   send(text)        one `send=beta` request; returns the message ID
#   receipts          message ID -> time.monotonic() its STATUS receipt
#                     ("queued", "delivered") arrived
#   cond              the threading.Condition guarding receipts
#   wait(ids, s)      until every ID has its receipt (SystemExit after s)
#   percentile(v, q)  of a sorted list
# The script's own arguments are sys.argv[3:] (sys.argv[1:3]: SOCK, STATUS).
bench_receipts() {
	python3 -c "$BENCH_RECEIPTS_PRELUDE
$(cat)" "$@"
}

BENCH_RECEIPTS_PRELUDE=$(cat <<'PY'
import socket, sys, time, threading, urllib.parse
sock_path, status = sys.argv[1], sys.argv[2]
receipts = {}
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
            if len(f) >= 3 and f[2] == status:
                with cond:
                    receipts.setdefault(f[0], time.monotonic())
                    cond.notify_all()

def send(text):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(("send=beta\ntext=%s\n\n" % urllib.parse.quote(text)).encode())
    reply = b""
    while not reply.endswith(b"\n\n"):
        d = s.recv(4096)
        if not d:
            break
        reply += d
    s.close()
    for line in reply.decode().split("\n"):
        if line.startswith("id="):
            return line[3:]
    raise SystemExit("send failed: %r" % reply)

def wait(ids, timeout):
    end = time.monotonic() + timeout
    with cond:
        while not all(i in receipts for i in ids):
            if not cond.wait(end - time.monotonic()) and time.monotonic() >= end:
                raise SystemExit("%s receipts missing: %d of %d" % (status, sum(i not in receipts for i in ids), len(ids)))

def percentile(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]

threading.Thread(target=follow, daemon=True).start()
time.sleep(0.3)
PY
)
