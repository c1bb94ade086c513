#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Three nodes in a full mesh over one switched underlay (a bridge in its own
# namespace), in TUN then in TAP mode: every pair pings, TCP crosses the
# mesh, each destination goes to the right peer (allowed-ips in TUN, learnt
# MAC addresses in TAP). Node gamma has no endpoints configured: it
# learns them from the handshakes the others start.
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_ns sw
ip -n "$(um_nsname sw)" link add br0 type bridge
ip -n "$(um_nsname sw)" link set br0 up
i=1
for n in a b c; do
	um_ns $n
	ip -n "$(um_nsname $n)" link add veth0 type veth peer name p$n netns "$(um_nsname sw)"
	ip -n "$(um_nsname $n)" addr add 198.51.100.$i/24 dev veth0
	ip -n "$(um_nsname $n)" link set veth0 up
	ip -n "$(um_nsname sw)" link set p$n master br0 up
	i=$((i + 1))
done
for mode in tun tap; do
	um_config alpha a 51820 100.64.0.1/24 $mode
	um_config beta b 51820 100.64.0.2/24 $mode
	um_config gamma c 51820 100.64.0.3/24 $mode
	um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
	um_peer alpha gamma 198.51.100.3:51820 100.64.0.3/32
	um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
	um_peer beta gamma 198.51.100.3:51820 100.64.0.3/32
	um_peer gamma alpha "" 100.64.0.1/32
	um_peer gamma beta "" 100.64.0.2/32
	for n in alpha beta gamma; do um_start $n; done
	um_wait 10 "gamma established with alpha" um_established gamma alpha
	um_wait 10 "gamma established with beta" um_established gamma beta
	um_wait 10 "alpha established with beta" um_established alpha beta

	for pair in "a 100.64.0.2" "a 100.64.0.3" "b 100.64.0.1" "b 100.64.0.3" "c 100.64.0.1" "c 100.64.0.2"; do
		set -- $pair
		um_exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null || um_fail "ping $1 -> $2"
	done
	um_log "$mode: all six directions ping"

	head -c 500000 /dev/urandom >"$UM_TMP/blob"
	um_bg c tcp-server.log socat -u TCP-LISTEN:5001,bind=100.64.0.3,reuseaddr OPEN:"$UM_TMP/blob.out",creat,trunc
	um_wait 5 "TCP listener" um_exec c sh -c 'ss -ltn | grep -q 100.64.0.3:5001'
	um_exec b socat -u OPEN:"$UM_TMP/blob" TCP:100.64.0.3:5001 || um_fail "TCP send"
	um_wait 5 "TCP transfer b->c complete" cmp -s "$UM_TMP/blob" "$UM_TMP/blob.out"
	# Beta's bytes went to gamma, not to alpha.
	rx=$(um_peer_field gamma beta rx_bytes)
	((rx > 500000)) || um_fail "gamma received only $rx bytes from beta"
	[ "$(um_peer_field gamma beta endpoint)" = 198.51.100.2:51820 ] || um_fail "gamma did not learn beta's endpoint"
	um_log "$mode: tcp b->c ok"
	for n in alpha beta gamma; do um_stop $n; done
done
