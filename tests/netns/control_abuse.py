# SPDX-License-Identifier: MIT
# Hostile clients on the control socket: each must get an error (or be cut
# off) and the daemon must keep serving. Usage: control_abuse.py SOCKET
import socket
import sys
import time

path = sys.argv[1]


def call(data, shutdown=True, timeout=7.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
    except OSError:
        pass
    if shutdown:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def expect(name, reply, want):
    if want not in reply:
        print("FAIL %s: %r" % (name, reply[:200]))
        sys.exit(1)
    print("ok   %s" % name)


expect("unknown op", call(b"foo=1\n\n"), b"errno=22\n\n")
expect("two ops", call(b"get=1\nup=1\n\n"), b"errno=22\n\n")
expect("NUL byte", call(b"ge\0=1\n\n"), b"errno=22\n\n")
expect("trailing garbage", call(b"get=1\n\nget=1\n\n"), b"")
expect("oversized", call(b"A" * 10000, shutdown=False), b"errno=90\n\n")
expect("long line", call(b"rekey=" + b"x" * 300 + b"\n\n"), b"errno=22\n\n")
expect("unknown peer", call(b"rekey=nobody\n\n"), b"errno=")
# Hold 20 idle connections (more than the 16 client slots) for a moment;
# the daemon must still answer once they go away (5 s idle timeout).
idle = []
for _ in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        s.send(b"get=1\n")
    except OSError:
        pass  # over capacity: the daemon may close us at once
    idle.append(s)
time.sleep(0.5)
for s in idle:
    s.close()
expect("still serving", call(b"get=1\n\n"), b"errno=0\n\n")
