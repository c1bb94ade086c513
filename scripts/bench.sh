#!/usr/bin/env bash
# make bench: the benchmark programs that need no peers installed, in order
# of increasing cost. The peer comparison and the NAT matrix take longer and
# are run by hand (commands in docs/BENCHMARKS.md; bench/nat-matrix.sh,
# bench/latency.sh).
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."

echo "== crypto (median and p99 microseconds, portable and AVX2 Keccak)"
"$BUILD/bench/bench-crypto"
echo
echo "== handshake (full hybrid handshake, milliseconds)"
"$BUILD/bench/bench-handshake"
echo
echo "== relay forwarding core (decisions per second, bytes per node)"
"$BUILD/bench/bench-relay"
echo
echo "== relay server over loopback UDP (bulk flows, then single datagrams)"
"$BUILD/bench/bench-relay-socket" 3 8 100 gso
"$BUILD/bench/bench-relay-socket" 3 8 100 single
if [ "$(id -u)" -eq 0 ]; then
	echo
	echo "== tunnel: two data planes in namespaces, iperf3 through them (root)"
	BUILD="$(cd "$BUILD" && pwd)" bench/tunnel.sh
else
	echo "(not root: skipping bench/tunnel.sh)"
fi
