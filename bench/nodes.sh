# SPDX-License-Identifier: MIT
# Sourced by the bench scripts: tunnels between two namespaces $ns_a and
# $ns_b (bench_setup makes them). Tunnel K uses device umlt$K, addresses
# 100.64.(7+K).1 and .2, UDP port 51820+K (quicktun: 2998+K), so several
# run side by side. Uses $work (scratch dir), $pin (optional taskset
# prefix) and appends the daemons' PIDs to the array pids.
#   bench_start_tunnel SPEC K   SPEC: a build dir (holding umbrad and umbra),
#                               DIR@VAR=x,VAR2=y (umbrad's environment),
#                               DIR#key=x,key2=y (more [node] settings; after
#                               any @...), or
#                               "quicktun" (the quicktun peer, nacltai), or
#                               "raw" (no tunnel: the veth itself, the
#                               baseline the tunnels add their RTT to)
#   bench_setup TAG             namespaces umTAGa$$ / umTAGb$$ joined by a
#                               veth pair (veth.sh), scratch dir $work, pids
#                               emptied; on exit the tunnels stop and all of
#                               it goes. Nonzero if the namespaces failed.
#   bench_tunnel_dst SPEC K     the far end's address in tunnel K
#   bench_stop_tunnels          SIGTERM every daemon in pids, wait, empty pids

. "$(dirname "${BASH_SOURCE[0]}")/veth.sh"

bench_cleanup() {
	bench_stop_tunnels
	ip netns del "$ns_a" 2>/dev/null
	ip netns del "$ns_b" 2>/dev/null
	rm -rf "$work"
}

bench_setup() {
	ns_a=um${1}a$$ ns_b=um${1}b$$
	work=$(mktemp -d "/tmp/umbra-$1.XXXXXX")
	pids=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	bench_veth_pair "$ns_a" "$ns_b" "v${1}a$$" "v${1}b$$"
}

bench_tunnel_dst() {
	if [ "$1" = raw ]; then echo 198.51.100.2; else echo "100.64.$((7 + $2)).2"; fi
}

bench_stop_tunnels() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	pids=()
}

# bench_wait_tunnel K: 0 once a ping crosses tunnel K (10 s at most).
bench_wait_tunnel() {
	local i
	for i in $(seq 1 100); do
		ip netns exec "$ns_a" ping -c1 -W1 "$(bench_tunnel_dst tunnel "$1")" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

bench_start_quicktun() {
	local k=$1 x ns peer me y kp dev=umlt$1 net=100.64.$((7 + $1))
	kp=$(command -v quicktun.keypair || command -v keypair) || return 1
	for x in a b; do
		"$kp" </dev/null 2>/dev/null >"$work/$x$k.qk"
		awk '/^SECRET:/{print $2}' "$work/$x$k.qk" >"$work/$x$k.qsec"
		awk '/^PUBLIC:/{print $2}' "$work/$x$k.qk" >"$work/$x$k.qpub"
	done
	for x in a b; do
		if [ $x = a ]; then ns=$ns_a me=198.51.100.1 peer=198.51.100.2 y=b
		else ns=$ns_b me=198.51.100.2 peer=198.51.100.1 y=a; fi
		ip netns exec "$ns" env IFACE=$dev IF_QT_TIME_WINDOW=5 IF_QT_TUN_MODE=1 IF_QT_PROTOCOL=nacltai \
			IF_QT_LOCAL_ADDRESS=$me IF_QT_LOCAL_PORT=$((2998 + k)) IF_QT_REMOTE_ADDRESS=$peer \
			IF_QT_REMOTE_PORT=$((2998 + k)) IF_QT_PRIVATE_KEY="$(cat "$work/$x$k.qsec")" \
			IF_QT_PUBLIC_KEY="$(cat "$work/$y$k.qpub")" \
			$pin quicktun >"$work/$x$k.log" 2>&1 </dev/null &
		pids+=($!)
		for i in $(seq 1 50); do ip -n "$ns" link show $dev >/dev/null 2>&1 && break; sleep 0.1; done
	done
	ip -n "$ns_a" addr add $net.1/24 dev $dev && ip -n "$ns_a" link set $dev mtu 1420 up
	ip -n "$ns_b" addr add $net.2/24 dev $dev && ip -n "$ns_b" link set $dev mtu 1420 up
	bench_wait_tunnel "$k"
}

bench_start_tunnel() {
	local spec=${1%%#*} b k=$2 x ns peer pe me y envs=() keys=() net=100.64.$((7 + $2))
	b=${spec%%@*}
	[ "$b" = quicktun ] && { bench_start_quicktun "$k"; return; }
	[ "$b" = raw ] && return 0
	[ "$spec" != "$b" ] && IFS=, read -r -a envs <<<"${spec#*@}"
	[ "$1" != "$spec" ] && IFS=, read -r -a keys <<<"${1#*#}"
	for x in a b; do
		[ -s "$work/$x.key" ] || "$b/umbra" keygen -o "$work/$x.key" >/dev/null 2>&1 || return 1
		"$b/umbra" pubkey "$work/$x.key" | awk '/^peer_id/ {print $2}' >"$work/$x.id"
	done
	for x in a b; do
		if [ $x = a ]; then ns=$ns_a peer=198.51.100.2 me=1 pe=2 y=b
		else ns=$ns_b peer=198.51.100.1 me=2 pe=1 y=a; fi
		cat >"$work/$x$k.conf" <<CONF
[node]
identity = $work/$x.key
listen-port = $((51820 + k))
device = umlt$k
mode = tun
address = $net.$me/24
control-socket = $work/$x$k.sock
log-level = warn
$(printf '%s\n' "${keys[@]}")

[peer "$y"]
id = $(cat "$work/$y.id")
endpoint = $peer:$((51820 + k))
allowed-ips = $net.$pe/32
CONF
		ip netns exec "$ns" env "${envs[@]}" $pin "$b/umbrad" --config "$work/$x$k.conf" >"$work/$x$k.log" 2>&1 &
		pids+=($!)
	done
	bench_wait_tunnel "$k" && return 0
	echo "bench: no tunnel with $1" >&2
	cat "$work/a$k.log" "$work/b$k.log" >&2
	return 1
}
