# SPDX-License-Identifier: MIT
# Capture and replay umbra DATA datagrams, for the replay/tamper test.
#   replay.py capture IFACE PORT COUNT FILE TIMEOUT
#       sniff IPv4/UDP datagrams to PORT on IFACE; keep the first COUNT that
#       are DATA messages (type 0x10) with a payload (not keepalives)
#   replay.py send HOST PORT FILE [tamper]
#       send them again to HOST:PORT; with "tamper", flip one bit of each
#       ciphertext first
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
DATA = 0x10
HEADER = 16  # DATA header; the AEAD tag (16) follows the ciphertext


def capture(iface, port, count, path, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((iface, 0))
    open(path + ".ready", "w").close()
    kept = []
    deadline = time.time() + timeout
    while len(kept) < count and time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            pkt, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING or len(pkt) < 28 or pkt[9] != 17:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        dport = struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0]
        payload = pkt[ihl + 8:]
        if dport == port and len(payload) > HEADER + 16 and payload[0] == DATA:
            kept.append(payload)
    with open(path, "w") as f:
        for p in kept:
            f.write(p.hex() + "\n")
    print("captured %d DATA datagrams" % len(kept))
    return 0 if len(kept) == count else 1


def send(host, port, path, tamper):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    for line in open(path):
        p = bytearray(bytes.fromhex(line.strip()))
        if tamper:
            p[HEADER + 3] ^= 0x04
        s.sendto(p, (host, port))
        n += 1
        time.sleep(0.01)
    print("sent %d datagrams%s" % (n, " (tampered)" if tamper else ""))
    return 0


if sys.argv[1] == "capture":
    sys.exit(capture(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])))
else:
    sys.exit(send(sys.argv[2], int(sys.argv[3]), sys.argv[4], len(sys.argv) > 5 and sys.argv[5] == "tamper"))
