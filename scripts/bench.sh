#!/usr/bin/env bash
# make bench: the benchmark programs that need no peers installed, in order
# of increasing cost. The peer comparison and the NAT matrix take longer and
# are run by hand (commands in docs/BENCHMARKS.md).
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
if [ "$(id -u)" -eq 0 ]; then
	echo
	echo "== tunnel: two data planes in namespaces, iperf3 through them (root)"
	BUILD="$(cd "$BUILD" && pwd)" bench/tunnel.sh
else
	echo "(not root: skipping bench/tunnel.sh)"
fi
