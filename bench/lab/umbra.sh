# SPDX-License-Identifier: MIT
# umbra adapter for the peer-VPN lab (../shared/lab/peers/run.sh): sourced by
# run.sh through ADAPTERS=, defines setup_umbra() per its contract (start the
# daemons with start_in, append their PIDs to VPN_PIDS, set DST, TIF, CONF;
# on failure set FAIL and return 1). Two umbrad nodes, one per namespace
# (NSA/NSB), underlay UA/UB port 51820, overlay OA/OB, TUN MTU OVL_MTU;
# fresh identities from `umbra keygen` in the lab's per-peer temp dir.
#   ADAPTERS=bench/lab/umbra.sh PEERS="raw umbra wireguard-go" UMBRA_BUILD=build \
#     OUT=/tmp/peers.tsv SUMMARY=/tmp/peers-median.tsv ../shared/lab/peers/run.sh
# UMBRA_BUILD: the build directory holding umbrad and umbra (default: build/
# beside bench/); a release build is what should be measured.

UMBRA_BUILD=${UMBRA_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}

setup_umbra() {
	local d=$1 x ns ua pa me pe y ifc
	local umbrad=$UMBRA_BUILD/umbrad umbra=$UMBRA_BUILD/umbra
	[ -x "$umbrad" ] && [ -x "$umbra" ] || { FAIL="umbra: $UMBRA_BUILD/umbrad or umbra not built"; return 1; }
	for x in a b; do
		"$umbra" keygen -o "$d/$x.key" >/dev/null 2>"$d/$x.keygen" || { FAIL="umbra keygen failed"; return 1; }
		"$umbra" pubkey "$d/$x.key" | awk '/^peer_id/ {print $2}' >"$d/$x.id"
		[ -s "$d/$x.id" ] || { FAIL="umbra pubkey gave no peer ID"; return 1; }
	done
	for x in a b; do
		if [ $x = a ]; then ns=$NSA ua=$UA pa=$UB me=$OA pe=$OB y=b ifc="pb-uma$ID"
		else ns=$NSB ua=$UB pa=$UA me=$OB pe=$OA y=a ifc="pb-umb$ID"; fi
		cat >"$d/$x.conf" <<CONF
[node]
identity = $d/$x.key
listen-port = 51820
device = $ifc
mode = tun
address = $me/24
control-socket = $d/$x.sock
log-level = warn
mtu = $OVL_MTU

[peer "$y"]
id = $(cat "$d/$y.id")
endpoint = $pa:51820
allowed-ips = $pe/32
CONF
		start_in "$ns" "$d/$x.log" "$umbrad" --config "$d/$x.conf"
		VPN_PIDS+=("$LASTPID")
	done
	# Wait (<= 10 s) until A reports the session established.
	local i state=""
	for i in $(seq 1 100); do
		state=$(ip netns exec "$NSA" "$umbra" --socket "$d/a.sock" peers --json 2>/dev/null |
			jq -r '.peers[0].state // empty' 2>/dev/null)
		[ "$state" = established ] && break
		local p; for p in "${VPN_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { FAIL="umbrad $p died"; return 1; }; done
		sleep 0.1
	done
	[ "$state" = established ] || { FAIL="umbra: no session within 10 s (state '${state}')"; return 1; }
	DST=$OB; TIF="pb-uma$ID"
	CONF="umbra $("$umbrad" --version 2>/dev/null | awk 'NR==1{print $NF}') TUN, ChaCha20-Poly1305 (OpenSSL EVP), TSO/GRO + UDP GSO/GRO, $(nproc) workers, mtu $OVL_MTU"
}

# umbra_before: the same two nodes from another build (UMBRA_BUILD_BEFORE),
# so a change is measured against its parent in one interleaved run:
#   UMBRA_BUILD=build UMBRA_BUILD_BEFORE=/tmp/build-parent PEERS="raw umbra_before umbra" ...
setup_umbra_before() {
	[ -n "${UMBRA_BUILD_BEFORE:-}" ] || { FAIL="umbra_before: UMBRA_BUILD_BEFORE is not set"; return 1; }
	UMBRA_BUILD=$UMBRA_BUILD_BEFORE setup_umbra "$@"
}
