#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Identities for the NAT-lab adapter's UMBRA_LAB_KEYS (nat-umbra.sh) with a
# chosen designated side: the node whose peer ID sorts first initiates the
# session both sides keep, and whether the pinging side a initiates or
# answers moves its first reply by a relayed round trip. Comparing two
# builds on new identities per matrix mixes that into the difference.
#   bench/lab/nat-keys.sh DIR a    # a initiates
#   bench/lab/nat-keys.sh DIR b    # b initiates, a answers
# Environment: UMBRA_BUILD (build dir holding umbra).
set -eu
dir=$1 want=$2
umbra=${UMBRA_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}/umbra
case $want in a | b) ;; *) echo "usage: $0 DIR a|b" >&2; exit 2 ;; esac
mkdir -p "$dir"
id() { "$umbra" pubkey "$dir/$1.key" | awk '/^peer_id/ {print $2}'; }
for _ in $(seq 1 64); do
	rm -f "$dir/a.key" "$dir/b.key" "$dir/rdv.key"
	for n in a b rdv; do "$umbra" keygen -o "$dir/$n.key" >/dev/null; done
	# Peer IDs are bech32 of the raw bytes: compare the 5-bit groups in
	# order, which is the bytes' order (node.c: memcmp of the IDs).
	first=$(python3 -c '
import sys
cs = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
a, b = (s.split("1", 1)[1] for s in sys.argv[1:3])
print("a" if [cs.index(c) for c in a] < [cs.index(c) for c in b] else "b")' "$(id a)" "$(id b)")
	if [ "$first" = "$want" ]; then
		echo "$dir: $want initiates ($(id a) / $(id b))"
		exit 0
	fi
done
echo "no key set found" >&2
exit 1
