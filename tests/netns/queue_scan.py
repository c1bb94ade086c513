#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Reads a relay queue's segment log (store/queue_log.h) as the relay would
# on open: puts minus tombstones. For the netns tests.
#   queue_scan.py PATH count [RECIPIENT_HEX]   live envelopes (for that recipient)
#   queue_scan.py PATH max                     the largest live envelope's size
#   queue_scan.py PATH recipients              distinct recipients (hex, sorted)
import glob
import struct
import sys

HEADER = 84
SEGMENT_HEADER = 32


def live(path):
    env = {}
    for seg in sorted(glob.glob(glob.escape(path) + "-*.log")):
        data = open(seg, "rb").read()
        pos = SEGMENT_HEADER
        while pos + HEADER <= len(data):
            _crc, rtype, length = struct.unpack_from("<IB3xI", data, pos)
            recipient = data[pos + 36:pos + 68].hex().upper()
            rid = data[pos + 68:pos + 84]
            if pos + HEADER + length > len(data):
                break  # a torn tail
            if rtype == 1:
                env[(recipient, rid)] = length
            elif rtype == 2:
                env.pop((recipient, rid), None)
            pos += HEADER + length
    return env


def main():
    env = live(sys.argv[1])
    what = sys.argv[2]
    if what == "count":
        want = sys.argv[3].upper() if len(sys.argv) > 3 else None
        print(sum(1 for (r, _i) in env if want is None or r == want))
    elif what == "max":
        print(max(env.values()) if env else 0)
    elif what == "recipients":
        print(" ".join(sorted({r for (r, _i) in env})))
    else:
        sys.exit("unknown: " + what)


main()
