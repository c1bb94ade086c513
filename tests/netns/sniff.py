# SPDX-License-Identifier: MIT
# A small packet capture for the issue-13 tests (no tcpdump needed): an
# AF_PACKET socket in the namespace it runs in, on every interface (or one).
#
#   sniff.py capture OUT SECONDS [IFACE]
#       record every IPv4 UDP and TCP datagram seen (in and out; a routed
#       packet shows up on both interfaces) as one line:
#       "proto src:port dst:port iface direction payload-hex"; writes
#       OUT.ready once listening, OUT when done (or on SIGTERM).
#   sniff.py search CAPTURE NEEDLES
#       NEEDLES: lines "name kind value" with kind bytes (value hex; for
#       long values every 16-byte window at a 16-byte stride is searched
#       too, since a key split into handshake FRAGMENTs never appears
#       whole) or text (searched case-insensitively in the payload).
#       Prints one line per hit group: needle, protocol, first byte (the
#       umbra message type; "0x06/0x20" = a FRAGMENT carrying msg_type
#       0x20), source and destination, count. Exit 1 if anything was found.
#   sniff.py select CAPTURE OUT HOST_A HOST_B [TYPES [MAX_SIZE]]
#       the UDP datagrams between HOST_A and HOST_B (either way, each once:
#       as received on the first interface), whose first byte is in TYPES
#       (hex list "27,28"; "any" = all) and no larger than MAX_SIZE; writes
#       "dst payload-hex" lines to OUT and prints the count per first byte.
#   sniff.py send SELECTED HOST:PORT [REPEAT [GAP_MS]]
#       sends every selected payload REPEAT times to HOST:PORT from an
#       ephemeral socket (the caller's own address), GAP_MS apart.
import signal
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800


def capture(out, seconds, iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    if iface:
        s.bind((iface, 0))
    s.settimeout(0.1)
    lines = []
    stop = [False]

    def on_term(signo, frame):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    open(out + ".ready", "w").close()
    end = time.time() + seconds
    while time.time() < end and not stop[0]:
        try:
            pkt, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        proto = pkt[9]
        src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
        if proto == 17 and len(pkt) >= ihl + 8:
            sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
            payload, name = pkt[ihl + 8:], "udp"
        elif proto == 6 and len(pkt) >= ihl + 20:
            sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
            payload, name = pkt[ihl + (pkt[ihl + 12] >> 4) * 4:], "tcp"
        else:
            continue
        if not payload:
            continue
        direction = "out" if addr[2] == socket.PACKET_OUTGOING else "in"
        lines.append("%s %s:%d %s:%d %s %s %s\n" % (name, src, sport, dst, dport, addr[0], direction, payload.hex()))
    with open(out + ".tmp", "w") as f:
        f.writelines(lines)
    import os
    os.rename(out + ".tmp", out)
    return 0


def needles_of(path):
    found = []
    for line in open(path):
        parts = line.split()
        if len(parts) != 3:
            continue
        name, kind, value = parts
        if kind == "bytes":
            raw = bytes.fromhex(value)
            found.append((name, raw, False))
            if len(raw) > 32:
                for off in range(0, len(raw) - 16 + 1, 16):
                    found.append((name + "[%d:%d]" % (off, off + 16), raw[off:off + 16], False))
        else:
            found.append((name, value.lower().encode(), True))
    return found


def describe(payload):
    t = payload[0]
    if t == 0x06 and len(payload) > 1:
        return "0x06/0x%02x" % payload[1]
    return "0x%02x" % t


def search(capture_path, needles_path):
    needles = needles_of(needles_path)
    hits = {}
    datagrams = 0
    for line in open(capture_path):
        proto, src, dst, iface, direction, hexdata = line.split()
        payload = bytes.fromhex(hexdata)
        lower = payload.lower()
        datagrams += 1
        for name, raw, text in needles:
            hay = lower if text else payload
            if raw in hay:
                base = name.split("[")[0]
                key = (base, proto, describe(payload) if proto == "udp" else "stream", src, dst)
                hits[key] = hits.get(key, 0) + 1
    print("searched %d datagrams for %d needles" % (datagrams, len(needles)))
    for key in sorted(hits):
        print("LEAK %s in %s type %s %s -> %s (%d needle hits)" % (key + (hits[key],)))
    return 1 if hits else 0


def select(capture_path, out, host_a, host_b, types, max_size):
    wanted = None if types == "any" else {int(t, 16) for t in types.split(",")}
    kept, counts = [], {}
    for line in open(capture_path):
        proto, src, dst, iface, direction, hexdata = line.split()
        if proto != "udp" or direction != "in":
            continue
        hosts = {src.split(":")[0], dst.split(":")[0]}
        if hosts != {host_a, host_b}:
            continue
        payload = bytes.fromhex(hexdata)
        if (wanted is not None and payload[0] not in wanted) or len(payload) > max_size:
            continue
        kept.append("%s %s\n" % (dst, hexdata))
        counts["0x%02x" % payload[0]] = counts.get("0x%02x" % payload[0], 0) + 1
    with open(out, "w") as f:
        f.writelines(kept)
    print("selected %d datagrams %s" % (len(kept), " ".join("%s:%d" % kv for kv in sorted(counts.items()))))
    return 0 if kept else 1


def send(selected, target, repeat, gap_ms):
    host, port = target.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    payloads = [bytes.fromhex(line.split()[1]) for line in open(selected) if line.strip()]
    for _ in range(repeat):
        for p in payloads:
            s.sendto(p, (host, int(port)))
            n += 1
            if gap_ms:
                time.sleep(gap_ms / 1000.0)
    print("sent %d datagrams to %s" % (n, target))
    return 0


if sys.argv[1] == "select":
    sys.exit(select(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else "any",
                    int(sys.argv[7]) if len(sys.argv) > 7 else 65535))
elif sys.argv[1] == "send":
    sys.exit(send(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1,
                  float(sys.argv[5]) if len(sys.argv) > 5 else 0))
elif sys.argv[1] == "capture":
    sys.exit(capture(sys.argv[2], float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None))
else:
    sys.exit(search(sys.argv[2], sys.argv[3]))
