#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Messaging on a distant, lossy path (issue 16): nodes a and b on public
# addresses, each link to the router delayed MSG_DELAY_MS one way (10 ms: a
# to b 20 ms one way, ~40 ms RTT) and dropping MSG_LOSS_PCT per direction
# (1% on each node's link: ~2% each way end to end). 100 messages each way
# at once and a 1 MB file: everything delivered, in order, once, the file
# verified; the channel's retransmissions are printed.
set -u
. "$(dirname "$0")/lib.sh"
um_init
DELAY_MS=${MSG_DELAY_MS:-10}
LOSS_PCT=${MSG_LOSS_PCT:-1}
N=${MSG_COUNT:-100}
um_lossy_internet "$DELAY_MS" "$LOSS_PCT"

for n in alpha beta; do mkdir -p "$UM_TMP/$n-downloads"; done
um_config alpha a 51820 100.64.0.1/24 tun "dht = off
download-dir = $UM_TMP/alpha-downloads"
um_config beta b 51820 100.64.0.2/24 tun "dht = off
download-dir = $UM_TMP/beta-downloads"
um_peer alpha beta 198.51.100.6:51820 100.64.0.2/32 "accept-files = always"
um_peer beta alpha 198.51.100.2:51820 100.64.0.1/32 "accept-files = always"
um_start alpha
um_start beta
um_wait 30 "session" um_established alpha beta

start=$(date +%s%N)
(for i in $(seq 1 "$N"); do um_cli alpha send beta "a2b $i" >/dev/null || exit 1; done) &
sender_a=$!
(for i in $(seq 1 "$N"); do um_cli beta send alpha "b2a $i" >/dev/null || exit 1; done) &
sender_b=$!
wait $sender_a || um_fail "alpha's sends"
wait $sender_b || um_fail "beta's sends"
um_wait 60 "beta has alpha's $N messages" um_inbox_check beta alpha in a2b "$N"
um_wait 60 "alpha has beta's $N messages" um_inbox_check alpha beta in b2a "$N"
um_wait 60 "alpha's delivered" um_inbox_check alpha beta out a2b "$N"
um_wait 60 "beta's delivered" um_inbox_check beta alpha out b2a "$N"
um_log "$N messages each way in order, once, delivered: $((($(date +%s%N) - start) / 1000000)) ms"

head -c 1000000 /dev/urandom >"$UM_TMP/lossy.bin"
start=$(date +%s%N)
um_cli alpha file send beta "$UM_TMP/lossy.bin" >"$UM_TMP/send.log" 2>&1 || um_fail "file send: $(tail -2 "$UM_TMP/send.log")"
cmp -s "$UM_TMP/lossy.bin" "$UM_TMP/beta-downloads/lossy.bin" || um_fail "the file differs"
um_log "1 MB file verified in $((($(date +%s%N) - start) / 1000000)) ms"
um_cli alpha status --json | python3 -c '
import json, sys
n = json.load(sys.stdin)["node"]
print("alpha: " + ", ".join("%s %s" % (k, v) for k, v in sorted(n.items()) if k.startswith("msg_")))' >&2
um_log "PASS"
