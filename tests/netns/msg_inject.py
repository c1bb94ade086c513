#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Hostile frames for msg_hostile.sh, written through the test hook of a
# daemon started with UMBRA_TEST_HOOKS=1 (node/messaging_control.c): a
# binary send= whose body starts with "UMBRA-TEST-FRAME" + type goes to the
# peer as one frame, "UMBRA-TEST-BYTES" as raw channel stream bytes.
#
#   msg_inject.py SOCK PEER unknown | bad-data | oversized
#   msg_inject.py SOCK PEER meta ID_HEX NAME SIZE [HASH_HEX]
#   msg_inject.py SOCK PEER chunks ID_HEX FILE CHUNK_SIZE good|bad
#   msg_inject.py SOCK PEER flood N
#   msg_inject.py - - hash FILE   (prints the offer's hash of FILE)
import hashlib
import os
import socket
import struct
import sys

CHUNK = 4096


def call(sock, peer, body):
    h = body.hex()
    lines = ["send=" + peer] + ["body=" + h[i:i + 200] for i in range(0, len(h), 200)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(("\n".join(lines) + "\n\n").encode())
    reply = b""
    while not reply.endswith(b"\n\n"):
        d = s.recv(65536)
        if not d:
            break
        reply += d
    s.close()
    if b"errno=0\n" not in reply:
        sys.exit("the daemon refused the injection: %r" % reply)


def frame(sock, peer, ftype, payload):
    # As raw stream bytes: the messenger's own send_frame checks DATA, ACK
    # and PRESENCE payloads, and these are meant to be wrong.
    call(sock, peer, b"UMBRA-TEST-BYTES" + struct.pack(">IB", len(payload), ftype) + payload)


def meta(file_id, name, size, digest, chunk=CHUNK):
    n = name.encode()
    # hash_alg 2: the digest is SHA-256 over the chunks' SHA-256s.
    return file_id + struct.pack(">QIB", size, chunk, 2) + digest + struct.pack(">H", len(n)) + n


def b2(data):  # the chunk hash
    return hashlib.sha256(data).digest()


def main():
    sock, peer, what = sys.argv[1], sys.argv[2], sys.argv[3]
    args = sys.argv[4:]
    if what == "unknown":  # a type nobody knows: skipped whole
        frame(sock, peer, 0x7F, b"?" * 1000)
    elif what == "bad-data":  # a DATA too short to hold its header
        frame(sock, peer, 0x01, os.urandom(16) + b"\x00\x01")
    elif what == "oversized":  # a header announcing 2 GiB
        call(sock, peer, b"UMBRA-TEST-BYTES" + struct.pack(">IB", 0x7FFFFFFF, 0x01) + b"x" * 64)
    elif what == "meta":
        file_id, name, size = bytes.fromhex(args[0]), args[1], int(args[2])
        digest = bytes.fromhex(args[3]) if len(args) > 3 else b"\x00" * 32
        frame(sock, peer, 0x03, meta(file_id, name, size, digest))
    elif what == "chunks":
        file_id, data = bytes.fromhex(args[0]), open(args[1], "rb").read()
        chunk, good = int(args[2]), args[3] == "good"
        for i in range(0, (len(data) + chunk - 1) // chunk):
            piece = data[i * chunk:(i + 1) * chunk]
            digest = b2(piece) if good else b2(piece + b"!")
            frame(sock, peer, 0x02, file_id + struct.pack(">I", i) + digest + piece)
    elif what == "flood":
        for i in range(int(args[0])):
            frame(sock, peer, 0x03, meta(os.urandom(16), "flood-%d.bin" % i, 1000, os.urandom(32)))
    elif what == "hash":  # the offer's hash of FILE (hash list, CHUNK-byte chunks): printed
        data = open(args[0], "rb").read()
        print(b2(b"".join(b2(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK))).hex())
    else:
        sys.exit("unknown injection " + what)


main()
