#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where a NAT-lab run's first reply went (issue 14), from the daemons' logs.

For every run of the matrices given (bench/nat-matrix.sh's OUT directories,
with their logs/), prints when each node registered with its UDP relay (or
wss://), when side A's first session was established and in which role (I:
it initiated the session, R: it answered), and the rest up to the first
reply; then the medians. Times are ms after side A's first log line (the
lab's own clock starts ~60-90 ms earlier, before the process).

  bench/nat-phases.py OUT1 OUT2 ...
Columns: first (the lab's figure), a_reg, b_reg, a_est(role), b_est,
hs = a_est - both registered, after = first - 80 - a_est.
"""
import glob
import os
import re
import statistics
import sys

STAMP = re.compile(r"(\d\d):(\d\d):(\d\d\.\d\d\d) ")


def scan(path):
    """First log line, first registration, first session (and its role)."""
    seen = {}
    if not os.path.exists(path):
        return seen
    for line in open(path, errors="replace"):
        m = STAMP.match(line)
        if not m:
            continue
        t = (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))) * 1000
        seen.setdefault("start", t)
        if ": registered (" in line:
            seen.setdefault("reg", t)
        if "session established" in line and "est" not in seen:
            seen["est"] = t
            seen["role"] = "R" if "responder" in line else "I"
    return seen


def runs(directory):
    for tsv in glob.glob(os.path.join(directory, "matrix-*.tsv")):
        for line in open(tsv):
            f = line.rstrip("\n").split("\t")
            if f[0] == "A" or len(f) < 4 or not f[3].isdigit():
                continue
            logs = os.path.join(directory, "logs", "nat-umbra-%s%s-umbra-" % (f[0], f[1]))
            a, b = scan(logs + "a.log"), scan(logs + "b.log")
            if not {"start", "reg", "est"} <= a.keys() or "reg" not in b:
                continue
            t0 = a["start"]
            yield {"pair": f[0] + ":" + f[1], "first": int(f[3]), "a_reg": a["reg"] - t0, "b_reg": b["reg"] - t0,
                   "both": max(a["reg"], b["reg"]) - t0, "a_est": a["est"] - t0, "role": a["role"],
                   "b_est": b["est"] - t0 if "est" in b else 0}


def main():
    rows = [r for d in sys.argv[1:] for r in runs(d)]
    if not rows:
        sys.exit("no runs with logs in " + " ".join(sys.argv[1:]))
    print("pair  first  a_reg b_reg a_est(role) b_est     hs  after")
    for r in rows:
        print("%-5s %5d %6d %5d %5d(%s) %6d %6d %6d" % (
            r["pair"], r["first"], r["a_reg"], r["b_reg"], r["a_est"], r["role"], r["b_est"],
            r["a_est"] - r["both"], r["first"] - 80 - r["a_est"]))
    med = lambda key: statistics.median(key(r) for r in rows)
    roles = "".join(sorted(set(r["role"] for r in rows)))
    print("medians over %d runs (A's role %s): first %d, both registered %d, A established %d, "
          "handshake after both registered %d, after established %d" % (
              len(rows), roles, med(lambda r: r["first"]), med(lambda r: r["both"]), med(lambda r: r["a_est"]),
              med(lambda r: r["a_est"] - r["both"]), med(lambda r: r["first"] - 80 - r["a_est"])))


if __name__ == "__main__":
    main()
