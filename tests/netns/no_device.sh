#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# device = none (issue 16): two nodes without a TUN/TAP device, each run as
# an ordinary user (nobody) with no capabilities at all, establish a session
# and exchange keepalives through the data plane; no device appears, the
# address line is ignored, and both stop cleanly.
set -u
. "$(dirname "$0")/lib.sh"
um_init
command -v setpriv >/dev/null || um_skip "setpriv(1) missing"

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24

# nobody must reach its files: the test directory is traversable, the
# node's own directory (key, config, control socket) belongs to it.
chmod 0711 "$UM_TMP"
for node in alpha beta; do
	um_key "$node"
	mkdir -p "$UM_TMP/$node.d"
	mv "$UM_TMP/$node.key" "$UM_TMP/$node.d/key"
done
conf() { # NODE NS OTHER OTHER_ENDPOINT
	local node=$1 dir="$UM_TMP/$1.d"
	UM_NODE_NS[$node]=$2
	UM_NODE_CONF[$node]="$dir/conf"
	UM_NODE_SOCK[$node]="$dir/sock"
	cat >"$dir/conf" <<EOF
[node]
identity = $dir/key
listen-port = 51820
device = none
address = 100.64.0.9/24
control-socket = $dir/sock
log-level = ${UM_LOG_LEVEL:-info}
dht = off

[peer "$3"]
id = ${UM_NODE_ID[$3]}
endpoint = $4
allowed-ips = 100.64.0.0/24
keepalive = 1
EOF
	chown -R 65534:65534 "$dir"
}
conf alpha a beta 198.51.100.2:51820
conf beta b alpha 198.51.100.1:51820

# The control socket answers its own user only: the CLI runs as nobody too.
um_cli() {
	local node=$1
	shift
	setpriv --reuid=65534 --regid=65534 --clear-groups "$UMBRA" --socket "${UM_NODE_SOCK[$node]}" "$@"
}
start_unprivileged() {
	local node=$1
	um_bg "${UM_NODE_NS[$node]}" "$node.log" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all --no-new-privs "$UMBRAD" --config "${UM_NODE_CONF[$node]}"
	UM_NODE_PID[$node]=$UM_LAST_PID
	um_wait 10 "$node's control socket" test -S "${UM_NODE_SOCK[$node]}"
}
start_unprivileged alpha
start_unprivileged beta

for node in alpha beta; do
	pid=${UM_NODE_PID[$node]}
	awk '/^Uid:/ {exit !($2 == 65534 && $3 == 65534)}' "/proc/$pid/status" || um_fail "$node does not run as nobody"
	awk '/^CapEff:/ {exit !($2 == "0000000000000000")}' "/proc/$pid/status" || um_fail "$node has capabilities"
	awk '/^CapPrm:/ {exit !($2 == "0000000000000000")}' "/proc/$pid/status" || um_fail "$node may regain capabilities"
done
um_log "both nodes run as nobody without capabilities"

um_wait 10 "alpha established with beta" um_established alpha beta
um_wait 10 "beta established with alpha" um_established beta alpha
um_log "handshake done"

# Keepalives (DATA under the session keys) arrive: the data plane works
# without a device; nothing was dropped for want of one.
rx_at_least() { local n; n=$(um_peer_field "$1" "$2" rx_packets); [ -n "$n" ] && ((n >= $3)); }
um_wait 10 "keepalives from beta" rx_at_least alpha beta 2
um_wait 10 "keepalives from alpha" rx_at_least beta alpha 2
for node in alpha beta; do
	um_cli "$node" status | grep -q 'established' || um_fail "$node status"
	# No TUN/TAP in either namespace: lo and the veth only.
	links=$(um_exec "${UM_NODE_NS[$node]}" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
	[ "$links" = "lo veth0 " ] || um_fail "$node's namespace has links: $links"
	um_exec "${UM_NODE_NS[$node]}" ip -o addr show | grep -q 100.64.0.9 && um_fail "$node configured an address"
done
um_cli alpha status
um_log "status ok, no device, no address"

um_stop alpha
um_stop beta
grep -qi 'error' "$UM_TMP/alpha.log" "$UM_TMP/beta.log" && um_fail "errors logged"
um_log "PASS"
