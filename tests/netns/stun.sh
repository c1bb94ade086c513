#!/bin/bash
# SPDX-License-Identifier: MIT
# umbra's STUN client learns its server-reflexive address through a NAT:
#
#   client 198.51.100.2 --- nat (MASQUERADE) 203.0.113.2 --- stun 203.0.113.1:3478 (coturn)
#          2001:db8:100::2                    2001:db8:113::2        2001:db8:113::1
#
# The reflexive address must be the NAT's public address (IPv4, and IPv6
# through an ip6tables MASQUERADE when the kernel supports IPv6 NAT).
set -u
. "$(dirname "$0")/lib.sh"

PROBE="${UM_BUILD:-}/tests/netns/stun_probe"
command -v turnserver >/dev/null || um_fail "turnserver missing (coturn, scripts/install-deps)"
command -v iptables >/dev/null || um_fail "iptables missing (scripts/install-deps)"
[ -x "$PROBE" ] || um_fail "stun_probe not built ($PROBE)"
um_init

um_ns stun
um_ns nat
um_ns client
um_link stun eth0 203.0.113.1/24 nat wan 203.0.113.2/24
um_link client eth0 198.51.100.2/24 nat lan 198.51.100.1/24
um_exec client ip route add default via 198.51.100.1
um_exec nat sysctl -qw net.ipv4.ip_forward=1
um_exec nat iptables -t nat -A POSTROUTING -o wan -j MASQUERADE || um_fail "iptables MASQUERADE"

# IPv6 on the same links (nodad: no duplicate-address wait).
um_exec stun ip addr add 2001:db8:113::1/64 dev eth0 nodad
um_exec nat ip addr add 2001:db8:113::2/64 dev wan nodad
um_exec nat ip addr add 2001:db8:100::1/64 dev lan nodad
um_exec client ip addr add 2001:db8:100::2/64 dev eth0 nodad
um_exec client ip -6 route add default via 2001:db8:100::1
um_exec nat sysctl -qw net.ipv6.conf.all.forwarding=1
V6=1
um_exec nat ip6tables -t nat -A POSTROUTING -o wan -j MASQUERADE 2>/dev/null || V6=0

# coturn in the foreground, STUN only, no config file, no database, log to stdout.
um_bg stun turnserver.log turnserver -n --stun-only --no-cli --no-tls --no-dtls \
	-L 203.0.113.1 -L 2001:db8:113::1 -p 3478 --log-file stdout --simple-log \
	--pidfile "$UM_TMP/turnserver.pid" --userdb "$UM_TMP/turndb"
TURN_PID=$UM_LAST_PID
um_wait 10 "coturn listening" um_exec stun sh -c 'ss -Hlun | grep -q "203.0.113.1:3478"'

check() { # check SERVER WANT_ADDRESS LOCAL_PORT
	local out addr
	out=$(um_exec client "$PROBE" "$1" 3478 "$3") || um_fail "stun_probe $1 failed: $out"
	um_log "stun $1 from local port $3: $out"
	addr=$(awk '{print $2}' <<<"$out")
	[ "$addr" = "$2" ] || um_fail "reflexive address $addr, expected the NAT's $2"
}

check 203.0.113.1 203.0.113.2 40000
check 203.0.113.1 203.0.113.2 0
if ((V6)); then
	check 2001:db8:113::1 2001:db8:113::2 40001
else
	um_log "no IPv6 NAT in this kernel: IPv6 part skipped"
fi

# The server must still be the process we started (we kill only that PID).
kill -0 "$TURN_PID" || um_fail "coturn exited"
um_log "PASS: reflexive address = NAT public address"
exit 0
