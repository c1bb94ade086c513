#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: two umbra nodes in network namespaces on this machine. Shows the
# handshake, a ping and a short iperf3 through the tunnel, `umbra status`,
# then cleans up (nothing is left behind; the host's network is untouched).
# Finishes by itself in well under a minute.
set -u
BUILD=$(cd "${1:-build}" && pwd)
export UMBRAD=$BUILD/umbrad UMBRA=$BUILD/umbra UM_BUILD=$BUILD
here=$(cd "$(dirname "$0")" && pwd)

echo "== $("$UMBRAD" --version), $("$UMBRA" --version)"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
	echo "The tunnel demo needs root and /dev/net/tun (network namespaces, TUN devices): skipped."
	exit 0
fi
. "$here/../tests/netns/lib.sh"
um_init
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Two namespaces joined by a veth link: alpha 198.51.100.1, beta 198.51.100.2"
um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
step "Identities (umbra keygen) and peer IDs (umbra pubkey)"
um_key alpha
um_key beta
echo "alpha: ${UM_NODE_ID[alpha]}"
echo "beta:  ${UM_NODE_ID[beta]}"
um_config alpha a 51820 100.64.0.1/24 tun
um_config beta b 51820 100.64.0.2/24 tun
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
step "alpha's config (configs pin peer IDs only; keys travel in the handshake)"
sed "s|$UM_TMP|/tmp/demo|" "${UM_NODE_CONF[alpha]}"

step "Starting umbrad on both nodes"
um_start alpha
um_start beta
um_wait 10 "the handshake" um_established alpha beta
um_wait 10 "the handshake" um_established beta alpha
grep -h "session established" "$UM_TMP/alpha.log" "$UM_TMP/beta.log" | sed 's/^/  /'

step "ping through the tunnel: alpha 100.64.0.1 -> beta 100.64.0.2"
um_exec a ping -c 4 -i 0.2 100.64.0.2

if command -v iperf3 >/dev/null; then
	step "iperf3 TCP through the tunnel, 3 seconds"
	um_bg b iperf3.log iperf3 -s -B 100.64.0.2 -1
	um_wait 5 "iperf3 server" um_exec b sh -c 'ss -ltn | grep -q 100.64.0.2:5201'
	um_exec a iperf3 -c 100.64.0.2 -t 3 -f m | grep -E 'sender|receiver'
fi

step "umbra status (alpha)"
um_cli alpha status
step "umbra peers (beta)"
um_cli beta peers

step "Stopping (SIGTERM): devices and control sockets removed"
um_stop alpha
um_stop beta
echo "done"
