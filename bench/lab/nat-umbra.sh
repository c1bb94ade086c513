# SPDX-License-Identifier: MIT
# Adapter: umbra for the NAT lab (../shared/lab/nat). Sourced by lab.sh:
#   sudo ADAPTER=$PWD/bench/lab/nat-umbra.sh RESULTS_DIR=$(mktemp -d) \
#        /work/shared/lab/nat/lab.sh matrix b:b d:d c:a
# The rendezvous host runs a relay-only umbrad ([relay], allow-list of the
# two nodes, its own identity); each side runs a node that knows only the
# other's peer ID and the relay's pinned ID@address (as the README
# recommends: no RELAY_ID round trip, no trust on first use). Contract (see the lab's README):
#   vpn_prepare WORKDIR / vpn_start_rdv NS PUBIP / vpn_start_node SIDE NS /
#   vpn_overlay_ip SIDE / vpn_path SIDE NS
# Environment: UMBRA_BUILD (build dir holding umbrad and umbra),
# UMBRA_RELAY_PORT (51821), UMBRA_NODE_PORT (51820), UMBRA_LOG_LEVEL (info),
# UMBRA_RELAY_KEEPALIVE (relay's advertised keepalive, 25s), UMBRA_LAB_KEYS
# (a directory: the identities a.key, b.key, rdv.key are taken from there,
# made there once if missing, so that runs compare like with like: the side
# whose peer ID sorts first initiates the session both keep, and the pinging
# side a then answers or initiates; new identities per run otherwise).
# The relay also serves TLS/WebSocket on the rendezvous host's second
# address ($RDV_IP2:443; a socat echo holds $RDV_IP1:443) and nodes list it
# as a second relay (wss://), used when UDP registration gets no answer
# (mode e: only TCP 443 leaves the site).

UMBRA_BUILD=${UMBRA_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
UMBRAD_BIN=${UMBRAD_BIN:-$UMBRA_BUILD/umbrad}
UMBRA_BIN=${UMBRA_BIN:-$UMBRA_BUILD/umbra}
UMBRA_RELAY_PORT=${UMBRA_RELAY_PORT:-51821}
UMBRA_NODE_PORT=${UMBRA_NODE_PORT:-51820}
UMBRA_LOG_LEVEL=${UMBRA_LOG_LEVEL:-info}
UMBRA_RELAY_KEEPALIVE=${UMBRA_RELAY_KEEPALIVE:-25s}
UM_LAB_DIR=""

vpn_overlay_ip() {
	case $1 in
	rdv) echo 100.96.0.1 ;;
	a) echo 100.96.0.11 ;;
	b) echo 100.96.0.12 ;;
	esac
}

_um_id() { "$UMBRA_BIN" pubkey "$UM_LAB_DIR/$1.key" | awk '/^peer_id/ {print $2}'; }

vpn_prepare() { # WORKDIR
	UM_LAB_DIR=$1/umbra
	[ -f "$UM_LAB_DIR/a.key" ] && return 0
	mkdir -p "$UM_LAB_DIR"
	[ -x "$UMBRAD_BIN" ] && [ -x "$UMBRA_BIN" ] || { echo "umbra binaries not found in $UMBRA_BUILD" >&2; return 1; }
	local n
	for n in a b rdv; do
		if [ -n "${UMBRA_LAB_KEYS:-}" ]; then
			mkdir -p "$UMBRA_LAB_KEYS"
			[ -f "$UMBRA_LAB_KEYS/$n.key" ] || "$UMBRA_BIN" keygen -o "$UMBRA_LAB_KEYS/$n.key" >/dev/null || return 1
			cp -p "$UMBRA_LAB_KEYS/$n.key" "$UM_LAB_DIR/$n.key" || return 1
			continue
		fi
		"$UMBRA_BIN" keygen -o "$UM_LAB_DIR/$n.key" >/dev/null || return 1
	done
}

vpn_start_rdv() { # NS PUBIP
	cat >"$UM_LAB_DIR/rdv.conf" <<EOC
[relay]
identity = $UM_LAB_DIR/rdv.key
listen = $2:$UMBRA_RELAY_PORT
allow = $(_um_id a), $(_um_id b)
keepalive-interval = $UMBRA_RELAY_KEEPALIVE
control-socket = $UM_LAB_DIR/rdv.sock
log-level = $UMBRA_LOG_LEVEL
${RDV_IP2:+listen-tls = $RDV_IP2:443}
EOC
	rm -f "$UM_LAB_DIR/rdv.sock"
	lab_spawn "$1" "$VPN_LOGDIR/umbra-rdv.log" "$UMBRAD_BIN" --config "$UM_LAB_DIR/rdv.conf"
	local k
	for k in $(seq 1 50); do
		[ -S "$UM_LAB_DIR/rdv.sock" ] && return 0
		sleep 0.1
	done
}

vpn_start_node() { # SIDE NS
	local side=$1 other=b
	[ "$side" = b ] && other=a
	cat >"$UM_LAB_DIR/$side.conf" <<EOC
[node]
identity = $UM_LAB_DIR/$side.key
listen-port = $UMBRA_NODE_PORT
device = nl-um0
address = $(vpn_overlay_ip "$side")/24
control-socket = $UM_LAB_DIR/$side.sock
log-level = $UMBRA_LOG_LEVEL
relay = $(_um_id rdv)@$RDV_IP1:$UMBRA_RELAY_PORT
${RDV_IP2:+relay = wss://$(_um_id rdv)@$RDV_IP2:443}

[peer "$other"]
id = $(_um_id "$other")
allowed-ips = $(vpn_overlay_ip "$other")/32
EOC
	rm -f "$UM_LAB_DIR/$side.sock"
	lab_spawn "$2" "$VPN_LOGDIR/umbra-$side.log" "$UMBRAD_BIN" --config "$UM_LAB_DIR/$side.conf"
}

# umbra's own view: "relayed via RELAY", "relayed-tcp via wss://RELAY" or
# "direct ENDPOINT" for the other side.
vpn_path() { # SIDE NS
	local other=b
	[ "$1" = b ] && other=a
	ip netns exec "$2" timeout 5 "$UMBRA_BIN" --socket "$UM_LAB_DIR/$1.sock" peers --json 2>/dev/null |
		python3 -c '
import json, sys
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    print("no-answer"); sys.exit()
for p in peers:
    if p.get("name") == sys.argv[1]:
        # Where the setup time went (issue 14): our role in the handshake
        # that made the session, its time from first HELLO and the total
        # from the first attempt, and the initiations it took.
        setup = " setup %s %sms/%sms %si" % (p.get("setup_role", "-"), p.get("setup_ms", "-"),
                                            p.get("setup_total_ms", "-"), p.get("setup_initiations", "-"))
        if p.get("path") == "relay":
            print("relayed via %s%s" % (p.get("relay"), setup))
        elif p.get("path") == "relay-tcp":
            print("relayed-tcp via wss://%s%s" % (p.get("relay"), setup))
        elif p.get("path") == "direct":
            print("direct %s%s" % (p.get("endpoint"), setup))
        else:
            print("no-path state=%s%s" % (p.get("state"), setup))
        break
else:
    print("peer-not-found")
' "$other"
}
