#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two nodes, TAP mode: ARP resolves through the tunnel, ping and TCP work,
# and a frame with a non-IP ethertype crosses it.
set -u
. "$(dirname "$0")/lib.sh"
um_init
here=$(dirname "$0")

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
um_config alpha a 51820 100.64.0.1/24 tap
um_config beta b 51820 100.64.0.2/24 tap
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
um_start alpha
um_start beta
um_wait 5 "alpha established with beta" um_established alpha beta

um_exec a ping -c 3 -i 0.2 -W 1 100.64.0.2 >/dev/null || um_fail "ping a->b over TAP"
mac_b=$(um_exec b cat /sys/class/net/um0/address)
um_exec a ip neigh show 100.64.0.2 dev um0 | grep -qi "lladdr $mac_b" || um_fail "ARP did not resolve beta's MAC ($mac_b)"
um_log "ARP + ping ok"

head -c 500000 /dev/urandom >"$UM_TMP/blob"
um_bg b tcp-server.log socat -u TCP-LISTEN:5001,bind=100.64.0.2,reuseaddr OPEN:"$UM_TMP/blob.out",creat,trunc
um_wait 5 "TCP listener" um_exec b sh -c 'ss -ltn | grep -q 100.64.0.2:5001'
um_exec a socat -u OPEN:"$UM_TMP/blob" TCP:100.64.0.2:5001 || um_fail "TCP send"
um_wait 5 "TCP transfer complete" cmp -s "$UM_TMP/blob" "$UM_TMP/blob.out"
um_log "tcp ok"

um_bg b l2-recv.log python3 "$here/ethertype.py" recv um0 5
recv_pid=$UM_LAST_PID
sleep 0.3
um_exec a python3 "$here/ethertype.py" send um0 || um_fail "sending the raw frame"
wait "$recv_pid" || um_fail "the ethertype 0x88b5 frame did not arrive"
um_log "non-IP ethertype ok: $(cat "$UM_TMP/l2-recv.log")"

um_stop alpha
um_stop beta
