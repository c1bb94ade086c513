# SPDX-License-Identifier: MIT
# Shell helpers shared by the messaging tests (msg_*.sh). Source after
# lib.sh and um_init.

# msg_kill_restart NODE: SIGKILL NODE's daemon, wait for it, start it again.
msg_kill_restart() {
	kill -KILL "${UM_NODE_PID[$1]}" 2>/dev/null
	wait "${UM_NODE_PID[$1]}" 2>/dev/null
	sleep 0.3
	rm -f "${UM_NODE_SOCK[$1]}"
	um_start "$1"
}

# msg_counter NODE KEY: one msg_* counter of `umbra status --json`.
msg_counter() {
	um_json "$1" status "d[\"node\"][\"$2\"]"
}

# msg_direct_pair A NSA B NSB [EXTRA_A] [EXTRA_B] [PEER_EXTRA_A] [PEER_EXTRA_B]:
# namespaces NSA and NSB joined by a veth (198.51.100.1/.2), nodes A and B
# configured with a store and a download directory each, started and
# established with each other.
msg_direct_pair() {
	local a=$1 nsa=$2 b=$3 nsb=$4
	um_ns "$nsa"
	um_ns "$nsb"
	um_link "$nsa" veth0 198.51.100.1/24 "$nsb" veth0 198.51.100.2/24
	um_config "$a" "$nsa" 51820 100.64.0.1/24 tun "store = $UM_TMP/$a/messages.db
download-dir = $UM_TMP/$a-downloads
${5:-}"
	um_config "$b" "$nsb" 51820 100.64.0.2/24 tun "store = $UM_TMP/$b/messages.db
download-dir = $UM_TMP/$b-downloads
${6:-}"
	um_peer "$a" "$b" 198.51.100.2:51820 100.64.0.2/32 "${7:-}"
	um_peer "$b" "$a" 198.51.100.1:51820 100.64.0.1/32 "${8:-}"
	um_start "$a"
	um_start "$b"
	um_wait 10 "$a established with $b" um_established "$a" "$b"
	um_wait 10 "$b established with $a" um_established "$b" "$a"
}
