#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Identity pinning: a node whose key does not hash to the peer ID the other
# side pinned never gets a session, in either direction.
#  1. "mallory" (its own key) calls beta, which only knows alpha: refused.
#  2. alpha pins the wrong ID for the node at beta's address: alpha refuses
#     beta's CHALLENGE, and beta's calls are refused as an unknown peer.
set -u
. "$(dirname "$0")/lib.sh"
um_init

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
um_key alpha
um_key mallory
um_config beta b 51820 100.64.0.2/24
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32
um_config mallory a 51820 100.64.0.1/24
um_peer mallory beta 198.51.100.2:51820 100.64.0.2/32
um_start beta
um_start mallory
sleep 3
[ "$(um_peer_field mallory beta state)" = established ] && um_fail "mallory got a session with beta"
[ "$(um_peer_field beta alpha state)" = established ] && um_fail "beta took mallory for alpha"
um_ping a 100.64.0.2 && um_fail "mallory's packets reached beta"
refused=$(um_cli beta status --json | python3 -c 'import json,sys; n=json.load(sys.stdin)["node"]; print(n["hs_unknown_peer"] + n["hs_auth_failed"])')
((refused > 0)) || um_fail "beta did not count mallory's refused handshakes"
um_log "mallory refused by beta ($refused refused handshakes)"
um_stop mallory

# alpha with the right key, but pinning mallory's ID at beta's address.
um_config alpha a 51820 100.64.0.1/24
UM_NODE_ID[impostor]=${UM_NODE_ID[mallory]}
um_peer alpha impostor 198.51.100.2:51820 100.64.0.2/32
um_start alpha
sleep 3
[ "$(um_peer_field alpha impostor state)" = established ] && um_fail "alpha accepted beta as the pinned impostor ID"
[ "$(um_peer_field beta alpha state)" = established ] && um_fail "beta got a session with alpha, which did not pin it"
failed=$(um_cli alpha status --json | python3 -c 'import json,sys; n=json.load(sys.stdin)["node"]; print(n["hs_unknown_peer"] + n["hs_auth_failed"])')
((failed > 0)) || um_fail "alpha did not count the refused handshakes"
um_log "alpha refused the node whose key does not match the pinned ID ($failed refused)"
um_stop alpha
um_stop beta
