# SPDX-License-Identifier: MIT
# A constant-rate stream of sequence-numbered UDP datagrams (200/s) through
# the tunnel, to count loss, duplicates and the largest gap across a path
# switch. recv BIND SECONDS OUT -> writes "sent received duplicates gap_ms";
# send DEST SECONDS.
import socket, struct, sys, time
mode = sys.argv[1]
if mode == "recv":
    bind, seconds, out = sys.argv[2], float(sys.argv[3]), sys.argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind, 9000))
    s.settimeout(0.1)
    open(out + ".ready", "w").close()
    seen, dups, last, gap, top = set(), 0, None, 0.0, -1
    end = time.time() + seconds
    while time.time() < end:
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        (seq,) = struct.unpack("!q", data[:8])
        if seq < 0:
            break
        now = time.time()
        if last is not None:
            gap = max(gap, now - last)
        last = now
        if seq in seen:
            dups += 1
        seen.add(seq)
        top = max(top, seq)
    with open(out, "w") as f:
        f.write("%d %d %d %d\n" % (top + 1, len(seen), dups, int(gap * 1000)))
else:
    dest, seconds = sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0, seq = time.time(), 0
    while time.time() - t0 < seconds:
        s.sendto(struct.pack("!q", seq) + b"x" * 92, (dest, 9000))
        seq += 1
        time.sleep(max(0.0, t0 + seq * 0.005 - time.time()))
    time.sleep(0.5)
    for _ in range(5):
        s.sendto(struct.pack("!q", -1), (dest, 9000))
        time.sleep(0.05)
