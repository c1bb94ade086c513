# SPDX-License-Identifier: MIT
# Counts the handshake and registration datagrams a node sends, seen on its
# own interface before any loss the test adds further on (AF_PACKET,
# outgoing packets only). Through a relay the handshake rides inside
# FORWARD (0x23, 36-byte header). Per message type it counts the distinct
# messages (message_id), the fragments one message needs (the `count` of
# its header) and the fragment datagrams sent, so the output says how many
# fragments the retransmissions cost on top of what was needed.
#
#   fragcount.py IFACE OUT   runs until OUT.stop exists, then writes OUT:
#   one line per message type:  NAME messages needed_per_message sent
#   plus "hello 0 1 N" for HELLOs (unfragmented).
import os
import socket
import struct
import sys

iface, out = sys.argv[1], sys.argv[2]
NAMES = {0x01: "hello", 0x02: "challenge", 0x03: "response", 0x04: "established", 0x20: "register"}
PACKET_OUTGOING = 4

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((iface, 0))
s.settimeout(0.2)
frag = {}  # msg_type -> {message_id: count}
sent = {}  # msg_type -> fragment datagrams sent
hellos = 0
open(out + ".ready", "w").close()
while not os.path.exists(out + ".stop"):
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] != PACKET_OUTGOING:
        continue
    # TUN devices (the delay pipe) carry bare IP; veth carries Ethernet.
    if data and data[0] >> 4 == 4:
        ip = data
    elif len(data) > 14 and data[12:14] == b"\x08\x00":
        ip = data[14:]
    else:
        continue
    if len(ip) < 28 or ip[9] != 17:
        continue
    payload = ip[(ip[0] & 0x0F) * 4 + 8 :]
    if payload[:1] == b"\x23":
        payload = payload[36:]
    if payload[:1] == b"\x01":
        hellos += 1
    elif payload[:1] == b"\x06" and len(payload) >= 14:
        msg_type, index, count = payload[1], payload[2], payload[3]
        (message_id,) = struct.unpack("!I", payload[8:12])
        frag.setdefault(msg_type, {})[message_id] = count
        sent[msg_type] = sent.get(msg_type, 0) + 1
with open(out + ".tmp", "w") as f:
    f.write("hello 0 1 %d\n" % hellos)
    for msg_type, messages in sorted(frag.items()):
        name = NAMES.get(msg_type, "type%02x" % msg_type)
        f.write("%s %d %d %d\n" % (name, len(messages), max(messages.values()), sent[msg_type]))
os.rename(out + ".tmp", out)
