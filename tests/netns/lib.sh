# SPDX-License-Identifier: MIT
# Helpers for umbra's network-namespace tests. Source it, then call um_init.
#
# Rules it enforces (a test must never disturb the host):
#  - every namespace is named um-<PID>-<name> and only those are deleted;
#  - every process it starts is recorded and only those PIDs are killed;
#  - addresses come from the documentation/shared ranges only
#    (198.51.100.0/24, 203.0.113.0/24, 100.64.0.0/10) and links join
#    namespaces to each other, never to the host, so no route leads out;
#  - teardown runs from an EXIT trap whatever happens;
#  - exit 77 (skip) when not root, no /dev/net/tun or no netns support.
#
# Environment: UMBRAD, UMBRA (binaries), UM_BUILD (build root, for helpers).

UM_PREFIX="um-$$"
UM_NAMESPACES=()
UM_PIDS=()
UM_TMP=""
UM_NETNS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UM_FAILED=0
declare -A UM_NODE_NS UM_NODE_PID UM_NODE_CONF UM_NODE_ID UM_NODE_SOCK UM_STREAM_SENDER

um_log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

um_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

um_fail() {
	um_log "FAIL: $*"
	UM_FAILED=1
	exit 1
}

um_teardown() {
	local rc=$? pid ns i
	trap - EXIT INT TERM
	for pid in "${UM_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	# Give daemons up to 3 s to remove their devices and sockets.
	for ((i = 0; i < 30; i++)); do
		local alive=0
		for pid in "${UM_PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${UM_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if ((rc != 0 && rc != 77)) && [ -n "$UM_TMP" ]; then
		for f in "$UM_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (last 40 lines)" >&2
			tail -n 40 "$f" >&2
		done
	fi
	for ns in "${UM_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$UM_TMP" ] && rm -rf "$UM_TMP"
	exit "$rc"
}

um_init() {
	[ "$(id -u)" = 0 ] || um_skip "needs root"
	[ -c /dev/net/tun ] || um_skip "no /dev/net/tun"
	command -v ip >/dev/null || um_fail "ip(8) missing (iproute2, scripts/install-deps)"
	[ -x "${UMBRAD:-}" ] && [ -x "${UMBRA:-}" ] || um_skip "UMBRAD/UMBRA not set to binaries"
	trap um_teardown EXIT
	trap 'exit 130' INT TERM
	UM_TMP=$(mktemp -d /tmp/umbra-netns.XXXXXX) || um_fail "mktemp"
	ip netns add "$UM_PREFIX-probe" 2>/dev/null || um_skip "cannot create network namespaces"
	ip netns del "$UM_PREFIX-probe"
}

# um_ns NAME: a fresh namespace with loopback up. Prints nothing; use
# "$(um_nsname NAME)" to get the full name.
um_nsname() { echo "$UM_PREFIX-$1"; }

um_ns() {
	local ns
	ns=$(um_nsname "$1")
	ip netns add "$ns" || um_fail "ip netns add $ns"
	UM_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
}

# um_exec NAME CMD...: run a command inside namespace NAME.
um_exec() {
	local ns
	ns=$(um_nsname "$1")
	shift
	ip netns exec "$ns" "$@"
}

# um_link A IFA ADDRA B IFB ADDRB: a veth pair between namespaces A and B
# with the given interface names and CIDR addresses (both up).
um_link() {
	local a b
	a=$(um_nsname "$1") b=$(um_nsname "$4")
	ip -n "$a" link add "$2" type veth peer name "$5" netns "$b" || um_fail "veth $2-$5"
	ip -n "$a" addr add "$3" dev "$2"
	ip -n "$b" addr add "$6" dev "$5"
	ip -n "$a" link set "$2" up
	ip -n "$b" link set "$5" up
}

# um_routed_pair: hosts a and b behind router r, for tests that filter
# between them (r's FORWARD chain), and nodes alpha (a, 100.64.0.1) and
# beta (b, 100.64.0.2) configured as each other's peer (not started).
#   a 198.51.100.2 -- (ra .1) r (rb .5) -- b 198.51.100.6
um_routed_pair() {
	local n
	for n in a r b; do um_ns $n; done
	um_link a eth0 198.51.100.2/30 r ra 198.51.100.1/30
	um_link b eth0 198.51.100.6/30 r rb 198.51.100.5/30
	um_exec a ip route add default via 198.51.100.1
	um_exec b ip route add default via 198.51.100.5
	um_exec r sysctl -qw net.ipv4.ip_forward=1
	um_config alpha a 51820 100.64.0.1/24 tun
	um_config beta b 51820 100.64.0.2/24 tun
	um_peer alpha beta 198.51.100.6:51820 100.64.0.2/32
	um_peer beta alpha 198.51.100.2:51820 100.64.0.1/32
}

# um_bg NAME LOG CMD...: start CMD in namespace NAME in the background,
# output to $UM_TMP/LOG; records the PID and sets UM_LAST_PID.
um_bg() {
	local ns log
	ns=$(um_nsname "$1") log="$UM_TMP/$2"
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	UM_LAST_PID=$!
	UM_PIDS+=("$UM_LAST_PID")
}

# um_wait TIMEOUT_S DESCRIPTION CMD...: retry CMD every 50 ms until it
# succeeds; fail the test after TIMEOUT_S seconds.
um_wait() {
	local timeout=$1 what=$2 deadline
	shift 2
	deadline=$(($(date +%s%N) + timeout * 1000000000))
	until "$@" >"$UM_TMP/um_wait.out" 2>&1; do
		if (($(date +%s%N) >= deadline)); then
			# The last attempt's own words say what was still missing.
			tail -n 5 "$UM_TMP/um_wait.out" >&2
			um_fail "timed out after ${timeout}s waiting for: $what"
		fi
		sleep 0.05
	done
}

# um_key NODE: generate NODE's identity, remember its peer ID.
um_key() {
	"$UMBRA" keygen -o "$UM_TMP/$1.key" >/dev/null || um_fail "keygen $1"
	UM_NODE_ID[$1]=$("$UMBRA" pubkey "$UM_TMP/$1.key" | awk '/^peer_id/ {print $2}')
	[ -n "${UM_NODE_ID[$1]}" ] || um_fail "no peer ID for $1"
}

# um_config NODE NS PORT ADDRESS [MODE] [EXTRA-NODE-LINES]: write the
# [node] part of NODE's config (peers are added with um_peer). The node
# runs in namespace NS, device "um0", control socket in UM_TMP.
um_config() {
	local node=$1 ns=$2 port=$3 address=$4 mode=${5:-tun} extra=${6:-}
	[ -n "${UM_NODE_ID[$node]:-}" ] || um_key "$node"
	UM_NODE_NS[$node]=$ns
	UM_NODE_CONF[$node]="$UM_TMP/$node.conf"
	UM_NODE_SOCK[$node]="$UM_TMP/$node.sock"
	cat >"${UM_NODE_CONF[$node]}" <<EOF
[node]
identity = $UM_TMP/$node.key
listen-port = $port
device = um0
mode = $mode
address = $address
control-socket = ${UM_NODE_SOCK[$node]}
log-level = ${UM_LOG_LEVEL:-info}
$extra
EOF
}

# um_peer NODE PEER ENDPOINT ALLOWED [EXTRA]: NODE knows PEER (empty
# ENDPOINT = wait for PEER to call).
um_peer() {
	local node=$1 peer=$2 endpoint=$3 allowed=$4 extra=${5:-}
	{
		echo "[peer \"$peer\"]"
		echo "id = ${UM_NODE_ID[$peer]}"
		[ -n "$endpoint" ] && echo "endpoint = $endpoint"
		echo "allowed-ips = $allowed"
		[ -n "$extra" ] && echo "$extra"
	} >>"${UM_NODE_CONF[$node]}"
}

# um_start NODE: start umbrad for NODE and wait for its control socket.
um_start() {
	local node=$1
	um_bg "${UM_NODE_NS[$node]}" "$node.log" "$UMBRAD" --config "${UM_NODE_CONF[$node]}"
	UM_NODE_PID[$node]=$UM_LAST_PID
	um_wait 10 "$node's control socket" test -S "${UM_NODE_SOCK[$node]}"
}

# um_stop NODE: SIGTERM, wait up to 5 s, check it left nothing behind.
um_stop() {
	local node=$1 pid=${UM_NODE_PID[$1]} i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && um_fail "$node did not exit within 5 s of SIGTERM"
	wait "$pid" 2>/dev/null
	local rc=$?
	((rc == 0)) || um_fail "$node exited with status $rc"
	[ -e "${UM_NODE_SOCK[$node]}" ] && um_fail "$node left its control socket behind"
	um_exec "${UM_NODE_NS[$node]}" ip link show um0 >/dev/null 2>&1 && um_fail "$node left device um0 behind"
	return 0
}

# um_cli NODE ARGS...: the umbra CLI against NODE's daemon.
um_cli() {
	local node=$1
	shift
	"$UMBRA" --socket "${UM_NODE_SOCK[$node]}" "$@"
}

# um_peer_field NODE PEER FIELD: one field of `umbra peers --json`
# ("dropped.replay" reaches into nested objects); empty if absent.
um_peer_field() {
	um_cli "$1" peers --json | python3 -c '
import json, sys
peer, path = sys.argv[1], sys.argv[2].split(".")
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == peer:
        v = p
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        print("" if v is None else v)
' "$2" "$3"
}

# um_established NODE PEER: true once NODE has a session with PEER.
um_established() {
	[ "$(um_peer_field "$1" "$2" state)" = established ]
}

# um_ping NS ADDRESS [ARGS]: quiet ping from namespace NS.
um_ping() {
	local ns=$1 addr=$2
	shift 2
	um_exec "$ns" ping -q -c 1 -W 1 "$@" "$addr" >/dev/null 2>&1
}

# ---- relay / NAT helpers (relay.sh) ----

# um_nat NAME WAN_IF: namespace NAME becomes a home router: forwarding on,
# MASQUERADE out of WAN_IF, and nothing unsolicited comes in from WAN_IF
# (only replies to what went out: port-restricted cone, like a CPE).
um_nat() {
	local ns
	ns=$(um_nsname "$1")
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$ns" iptables -t nat -A POSTROUTING -o "$2" -j MASQUERADE || um_fail "iptables in $1"
	ip netns exec "$ns" iptables -A FORWARD -i "$2" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	ip netns exec "$ns" iptables -A FORWARD -i "$2" -j DROP
	ip netns exec "$ns" iptables -A INPUT -i "$2" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	ip netns exec "$ns" iptables -A INPUT -i "$2" -j DROP
}

# um_path_peers RETRY: alpha (site a) and beta (site b) of um_two_sites, each
# knowing only the other's ID and the relay on 203.0.113.2:51821, with direct
# paths on (retry-interval RETRY, connect-timeout 2 s); configs only.
um_path_peers() {
	um_key alpha
	um_key beta
	um_relay_config relay relay 203.0.113.2:51821 "allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
keepalive-interval = 2s"
	local conf="relay = 203.0.113.2:51821
direct = true
retry-interval = $1
connect-timeout = 2s"
	um_config alpha a 51820 100.96.0.1/24 tun "$conf"
	um_config beta b 51820 100.96.0.2/24 tun "$conf"
	um_peer alpha beta "" 100.96.0.2/32
	um_peer beta alpha "" 100.96.0.1/32
}

# um_two_sites [NAT_A_WAN [RELAY_PREFIX]]: the relay tests' internet. Sites
# a (100.64.1.2) behind nat-a and b (100.64.2.2) behind nat-b (um_nat:
# port-restricted cone), a relay host; all joined by router inet:
#   a -- nat-a (NAT_A_WAN, default 198.51.100.2/30) -- inet -- nat-b (198.51.100.6/30) -- b
#                     relay (RELAY_PREFIX, default 203.0.113.2/24) -- inet
# The router's side of each link is the first address of its prefix.
um_first_host() { # 198.51.100.18/29 -> 198.51.100.17/29
	python3 -c 'import ipaddress, sys; i = ipaddress.ip_interface(sys.argv[1]); print("%s/%d" % (next(i.network.hosts()), i.network.prefixlen))' "$1"
}
um_two_sites() {
	local wan_a=${1:-198.51.100.2/30} relay=${2:-203.0.113.2/24} n gw_a gw_relay
	gw_a=$(um_first_host "$wan_a") gw_relay=$(um_first_host "$relay")
	for n in a nat-a inet nat-b b relay; do um_ns $n; done
	um_link a eth0 100.64.1.2/24 nat-a lan0 100.64.1.1/24
	um_link nat-a wan0 "$wan_a" inet ia "$gw_a"
	um_link b eth0 100.64.2.2/24 nat-b lan0 100.64.2.1/24
	um_link nat-b wan0 198.51.100.6/30 inet ib 198.51.100.5/30
	um_link relay eth0 "$relay" inet ir "$gw_relay"
	um_exec a ip route add default via 100.64.1.1
	um_exec b ip route add default via 100.64.2.1
	um_exec nat-a ip route add default via "${gw_a%/*}"
	um_exec nat-b ip route add default via 198.51.100.5
	um_exec relay ip route add default via "${gw_relay%/*}"
	um_exec inet sysctl -qw net.ipv4.ip_forward=1
	um_nat nat-a wan0
	um_nat nat-b wan0
}

# um_relay_config NAME NS LISTEN [EXTRA-LINES]: a relay-only umbrad config
# ([relay] section only); start and stop it with um_start / um_stop.
um_relay_config() {
	local node=$1 ns=$2 listen=$3 extra=${4:-}
	UM_NODE_NS[$node]=$ns
	UM_NODE_CONF[$node]="$UM_TMP/$node.conf"
	UM_NODE_SOCK[$node]="$UM_TMP/$node.sock"
	cat >"${UM_NODE_CONF[$node]}" <<EOC
[relay]
listen = $listen
control-socket = ${UM_NODE_SOCK[$node]}
log-level = ${UM_LOG_LEVEL:-info}
$extra
EOC
}

# um_json NODE COMMAND EXPR: evaluate a python expression on `umbra
# COMMAND --json` (the parsed object is `d`); prints the result.
um_json() {
	um_cli "$1" "$2" --json | python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$3"
}

# ---- delayed, lossy links (lossy_setup.sh, msg_lossy.sh) ----

# um_delay_init: how links get their delay: netem if this kernel has it
# (UM_NETEM=yes), else the NAT lab's userspace delay pipe (UM_PIPE); skips
# the test when neither exists.
um_delay_init() {
	local d
	UM_NETEM=no UM_PIPE=""
	um_ns probe
	if ip -n "$(um_nsname probe)" link add p0 type veth peer name p1 2>/dev/null &&
		ip netns exec "$(um_nsname probe)" tc qdisc add dev p0 root netem delay 1ms 2>/dev/null; then
		UM_NETEM=yes
		return
	fi
	for d in "${UM_NAT_LAB:-}" "$UM_NETNS_DIR/../../../shared/lab/nat" /work/shared/lab/nat; do
		[ -n "$d" ] && [ -f "$d/delaypipe.py" ] && { UM_PIPE=$d/delaypipe.py; return; }
	done
	um_skip "no netem and no NAT lab delay pipe (set UM_NAT_LAB)"
}

# um_lossy_link DELAY_MS A IFA ADDRA B IFB ADDRB: like um_link, DELAY_MS
# each way (after um_delay_init).
um_lossy_link() {
	local delay=$1 a b i
	shift
	a=$(um_nsname "$1") b=$(um_nsname "$4")
	if [ "$UM_NETEM" = yes ]; then
		um_link "$@"
		ip netns exec "$a" tc qdisc add dev "$2" root netem delay "${delay}ms"
		ip netns exec "$b" tc qdisc add dev "$5" root netem delay "${delay}ms"
		return
	fi
	python3 "$UM_PIPE" --ns1 "$a" --if1 "$2" --ns2 "$b" --if2 "$5" --delay-ms "$delay" \
		>"$UM_TMP/pipe-$2-$5.log" 2>&1 &
	UM_PIDS+=($!)
	for ((i = 0; i < 50; i++)); do
		ip -n "$a" link show "$2" >/dev/null 2>&1 && ip -n "$b" link show "$5" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$b" link show "$5" >/dev/null 2>&1 || um_fail "delay pipe $2-$5 did not come up"
	ip -n "$a" addr add "$3" dev "$2"
	ip -n "$b" addr add "$6" dev "$5"
	ip -n "$a" link set "$2" up
	ip -n "$b" link set "$5" up
}

# um_lossy_internet DELAY_MS LOSS_PCT [RELAY_LOSS]: nodes a (198.51.100.2)
# and b (198.51.100.6) and a relay host (203.0.113.2) on public addresses,
# each link to the router inet delayed DELAY_MS one way; inet drops
# LOSS_PCT of the packets per direction on a's and b's links (iptables
# statistic, as the NAT lab does), and on the relay's with RELAY_LOSS=1.
um_lossy_internet() {
	local delay=$1 loss=$2 relay_loss=${3:-0} p i rtt lossy=(ia ib)
	um_delay_init
	# No IPv6 on these links: a router solicitation crossing a delay pipe
	# before the far device is up makes the pipe's write fail and the pipe
	# exit (taking both devices with it).
	for i in a b relay inet; do
		um_ns $i
		um_exec $i sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	um_lossy_link "$delay" a eth0 198.51.100.2/30 inet ia 198.51.100.1/30
	um_lossy_link "$delay" b eth0 198.51.100.6/30 inet ib 198.51.100.5/30
	um_lossy_link "$delay" relay eth0 203.0.113.2/24 inet ir 203.0.113.1/24
	# Retried: a pipe's device may still lack its connected route.
	um_wait 5 "a's default route" um_exec a ip route replace default via 198.51.100.1
	um_wait 5 "b's default route" um_exec b ip route replace default via 198.51.100.5
	um_wait 5 "the relay's default route" um_exec relay ip route replace default via 203.0.113.1
	um_exec inet sysctl -qw net.ipv4.ip_forward=1
	um_exec a ping -c 3 -i 0.2 -W 2 203.0.113.2 >/dev/null || um_fail "a cannot reach the relay"
	um_exec a ping -c 3 -i 0.2 -W 2 198.51.100.6 >/dev/null || um_fail "a cannot reach b"
	p=$(awk -v l="$loss" 'BEGIN { printf "%.4f", l / 100 }')
	[ "$relay_loss" = 1 ] && lossy+=(ir)
	for i in "${lossy[@]}"; do
		um_exec inet iptables -A FORWARD -i $i -m statistic --mode random --probability "$p" -j DROP
		um_exec inet iptables -A FORWARD -o $i -m statistic --mode random --probability "$p" -j DROP
	done
	rtt=$(um_exec a ping -c 5 -i 0.2 -W 2 198.51.100.6 | awk -F/ '/^rtt/ { print $5 }')
	um_log "links: ${delay} ms one way ($([ "$UM_NETEM" = yes ] && echo netem || echo delay pipe)), ${loss}% loss per direction on ${lossy[*]}; a-b ping RTT ${rtt:-?} ms"
}

# ---- messaging (messaging.sh, msg_lossy.sh) ----

# um_inbox_check NODE PEER DIR PREFIX N: NODE's inbox holds exactly N messages
# of direction DIR with PEER, texts "PREFIX 1".."PREFIX N" in that order
# (and for DIR=out every one delivered).
um_inbox_check() {
	um_cli "$1" inbox --json --peer "$2" | python3 -c '
import json, sys
peer, direction, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
msgs = [m for m in json.load(sys.stdin) if m["direction"] == direction and m["text"].startswith(prefix + " ")]
texts = [m["text"] for m in msgs]
want = ["%s %d" % (prefix, i) for i in range(1, n + 1)]
if texts != want:
    sys.exit("have %d: %s..." % (len(texts), texts[:5]))
if len({m["id"] for m in msgs}) != n:
    sys.exit("duplicate IDs")
if direction == "out" and any(m["state"] not in ("delivered", "read") for m in msgs):
    sys.exit("not all delivered: %s" % sorted({m["state"] for m in msgs}))
' "$2" "$3" "$4" "$5"
}

# um_file_field NODE ID FIELD: one field of the transfer in `file list --json`.
um_file_field() {
	um_cli "$1" file list --json | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    if f["id"] == sys.argv[1]:
        print(f[sys.argv[2]])
' "$2" "$3"
}

# ---- sequence-numbered streams (seqstream.py) ----

# um_stream_start NAME FROM_NS TO_NS DEST SECONDS: 200 datagrams/s from
# FROM_NS to DEST:9000 (an address of TO_NS) for SECONDS.
um_stream_start() {
	local name=$1 from=$2 to=$3 dest=$4 seconds=$5
	rm -f "$UM_TMP/$name.out" "$UM_TMP/$name.out.ready"
	um_bg "$to" "$name-recv.log" python3 "$UM_NETNS_DIR/seqstream.py" recv "$dest" $((seconds + 10)) "$UM_TMP/$name.out"
	um_wait 5 "stream receiver $name" test -e "$UM_TMP/$name.out.ready"
	um_bg "$from" "$name-send.log" python3 "$UM_NETNS_DIR/seqstream.py" send "$dest" "$seconds"
	UM_STREAM_SENDER[$name]=$UM_LAST_PID
}

# um_stream_result NAME: prints "sent received duplicates largest_gap_ms".
# Waits for the sender too, so its end markers cannot reach the next stream.
um_stream_result() {
	um_wait 25 "stream result $1" test -s "$UM_TMP/$1.out"
	um_wait 5 "stream sender $1 to exit" eval "! kill -0 ${UM_STREAM_SENDER[$1]} 2>/dev/null"
	cat "$UM_TMP/$1.out"
}
