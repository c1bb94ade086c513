#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Per-pair summary of repeated NAT-lab matrices (issue 14).

Reads the lab's TSVs (one per whole matrix, as bench/nat-matrix.sh keeps them
in OUT) and prints one markdown row per ordered pair: repetitions, how many
connected, first reply p50 and worst (ms from the nodes' start), the path
after the settle time (D direct, L direct over the shared LAN, R relayed, X
none; several letters when repetitions differ) and, for relayed paths, side
A's transport to the relay (udp, or tcp for the wss:// relay), then the totals against the goals
(every pair connects; p50 <= 1 s and worst <= 3 s per pair; no pair with
working UDP on TCP).

  bench/nat-matrix-summary.py OUT1 OUT2 ...      # directories or .tsv files
  bench/nat-matrix-summary.py --run impaired /work/benchres/s10-matrix-*
"""
import argparse
import glob
import os
import statistics
import sys

CODE = {"direct": "D", "direct-lan": "L", "relayed": "R"}
# Modes whose UDP is blocked (only TCP 443 leaves the site): TCP is right there.
UDP_BLOCKED = {"e"}


def tsv_files(paths, run):
    files = []
    for p in paths:
        if os.path.isdir(p):
            pattern = "matrix-*%s*.tsv" % ("-" + run + "-" if run else "")
            files += sorted(glob.glob(os.path.join(p, pattern)))
        elif p.endswith(".tsv"):
            files.append(p)
    return files


def read_rows(files):
    pairs = {}
    for f in files:
        for line in open(f):
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "A" or len(fields) < 10:
                continue
            a, b, t_first, path_late, view = fields[0], fields[1], fields[3], fields[6], fields[9]
            t = int(t_first) if t_first.isdigit() else None
            transport = "tcp" if "relayed-tcp" in view else ("udp" if path_late != "failed" else "-")
            pairs.setdefault((a, b), []).append((t, CODE.get(path_late, "X"), transport))
    return pairs


def order(key):
    a, b = key
    return (a in "fg", a, b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="", help="only TSVs of this RUN_TAG (plain, impaired)")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    files = tsv_files(args.paths, args.run)
    if not files:
        sys.exit("no matrix TSVs found")
    pairs = read_rows(files)
    print("| pair | reps | connected | p50 ms | worst ms | path | transport |")
    print("|------|------|-----------|--------|----------|------|-----------|")
    all_times, failed, p50_over, worst_over, tcp_wrong = [], 0, [], [], []
    for key in sorted(pairs, key=order):
        rows = pairs[key]
        times = sorted(t for t, _, _ in rows if t is not None)
        ok = len(times)
        failed += len(rows) - ok
        all_times += times
        p50 = statistics.median(times) if times else None
        worst = max(times) if times else None
        if len(rows) > ok:
            worst_over.append("%s:%s (failed)" % key)
        elif worst is not None and worst > 3000:
            worst_over.append("%s:%s" % key)
        if p50 is not None and p50 > 1000:
            p50_over.append("%s:%s" % key)
        paths = "".join(sorted(set(c for _, c, _ in rows)))
        transports = "/".join(sorted(set(x for _, c, x in rows if c == "R")))
        # The view is side A's own: on TCP is right only when A's UDP is blocked.
        if "tcp" in transports and key[0] not in UDP_BLOCKED:
            tcp_wrong.append("%s:%s" % key)
        print("| %s:%s | %d | %d | %s | %s | %s | %s |" % (key[0], key[1], len(rows), ok,
                                                        "%d" % p50 if p50 is not None else "-",
                                                        "%d" % worst if worst is not None else "-",
                                                        paths, transports or "-"))
    print()
    print("%d matrices, %d pairs, %d runs, %d failed; all runs: p50 %d ms, worst %d ms; %d of %d within 3 s" %
          (len(files), len(pairs), sum(len(r) for r in pairs.values()), failed,
           statistics.median(all_times) if all_times else -1, max(all_times) if all_times else -1,
           sum(1 for t in all_times if t <= 3000), len(all_times)))
    print("pairs with p50 > 1 s: %d (%s)" % (len(p50_over), " ".join(p50_over) or "-"))
    print("pairs with a run > 3 s or failed: %d (%s)" % (len(worst_over), " ".join(worst_over) or "-"))
    print("pairs with working UDP relayed over TCP: %d (%s)" % (len(tcp_wrong), " ".join(tcp_wrong) or "-"))


if __name__ == "__main__":
    main()
