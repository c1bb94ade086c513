# SPDX-License-Identifier: MIT
# Raw Ethernet frames with a custom ethertype, for the TAP test.
#   ethertype.py send IFACE          broadcast 5 frames, ethertype 0x88b5
#   ethertype.py recv IFACE TIMEOUT  exit 0 once one such frame arrives
import socket
import sys
import time

ETHERTYPE = 0x88B5  # IEEE 802 local experimental
MAGIC = b"umbra-l2-test"

mode, iface = sys.argv[1], sys.argv[2]
if mode == "send":
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = s.getsockname()[4]
    frame = b"\xff" * 6 + src + ETHERTYPE.to_bytes(2, "big") + MAGIC + b"\0" * 33
    for _ in range(5):
        s.send(frame)
        time.sleep(0.1)
else:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
    s.bind((iface, 0))
    deadline = time.time() + float(sys.argv[3])
    while time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            frame = s.recv(2048)
        except socket.timeout:
            break
        if frame[12:14] == ETHERTYPE.to_bytes(2, "big") and frame[14:14 + len(MAGIC)] == MAGIC:
            print("received ethertype 0x%04x frame from %s" % (ETHERTYPE, frame[6:12].hex(":")))
            sys.exit(0)
    sys.exit(1)
