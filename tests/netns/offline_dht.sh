#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Store-and-forward to mailboxes found in the DHT (issue 17, PROTOCOL
# section 22): the sender has no `[peer] mailbox` for the recipient and
# mailboxes of its own that the recipient does not use; it must find the
# recipient's mailboxes in the recipient's mailbox record in the DHT.
#
#   namespace rel: relays r1, r2 (beta's mailboxes), r3 (alpha's), and a
#     plain node d1 whose DHT node both use as their bootstrap contact.
#   alpha (na) and beta (nb) reach rel's addresses but never each other
#     (rel does not forward), so no session is possible.
#
# 1. beta starts: its prekey at r1 and r2, its mailbox record in the DHT
#    (d1 returns it under SHA3-256("umbra mailbox" || beta's ID)); beta stops.
# 2. alpha sends 10 messages: all go to r1 and r2 (via "queue"), none to r3.
# 3. beta starts: it has the 10, once, in order, via queue; its delivered
#    receipts go to alpha's mailbox (r3), found in alpha's record (beta has
#    no [peer] mailbox either): alpha sees the 10 delivered.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mailbox_lib.sh"
um_init

mailbox_links
# Each side reaches rel's address on the other link (local to rel: no
# forwarding), so the URLs in a record work from both sides.
um_exec na ip route add 203.0.113.2/32 via 198.51.100.2
um_exec nb ip route add 198.51.100.2/32 via 203.0.113.2

mailbox_relay r1 51821 8081
mailbox_relay r2 51822 8082
mailbox_relay r3 51823 8083

DHT="dht-diversity = off"
um_config d1 rel 51830 100.64.0.9/24 tun "$DHT"
um_start d1

OPTS="$DHT
mailbox-delay = 1ms
mailbox-poll = 60s"
mkdir -p "$UM_TMP/alpha" "$UM_TMP/beta"
um_config alpha na 51820 100.64.0.1/24 tun "store = $UM_TMP/alpha/messages.db
mailbox = http://198.51.100.2:8083
bootstrap = 198.51.100.2:51830
$OPTS"
um_config beta nb 51820 100.64.0.2/24 tun "store = $UM_TMP/beta/messages.db
mailbox = http://203.0.113.2:8081, http://203.0.113.2:8082
bootstrap = 203.0.113.2:51830
$OPTS"
um_peer alpha beta "" 100.64.0.2/32
um_peer beta alpha "" 100.64.0.1/32

# ---- 1. beta publishes ----
um_start beta
um_wait 15 "beta's prekey at both mailboxes" grep -q 'prekey published at 2 of 2 mailboxes' "$UM_TMP/beta.log"
um_wait 15 "beta's mailbox record handed to the DHT" grep -q 'mailbox record published in the DHT' "$UM_TMP/beta.log"
beta_hex=$(um_cli beta dht status | awk '$1 == "id_hex" {print $2}')
key=$(python3 -c 'import hashlib, sys; print(hashlib.sha3_256(b"umbra mailbox" + bytes.fromhex(sys.argv[1])).hexdigest())' "$beta_hex")
got() { um_cli d1 dht get "$key" -W 3000 >"$UM_TMP/get.txt" 2>&1 && grep -Eq '^values +[1-9]' "$UM_TMP/get.txt"; }
um_wait 20 "d1 to return beta's mailbox record" got
um_log "1: beta's mailbox record is in the DHT (key $key)"
um_stop beta

# ---- 2. alpha queues on beta's mailboxes ----
um_start alpha
for i in $(seq 1 10); do
	um_cli alpha send beta "dht $i" >/dev/null || um_fail "alpha send $i"
done
um_wait 30 "alpha's 10 show via queue" via_check alpha beta out dht 10 queue
[ "$(envelopes r1)" = 10 ] || um_fail "r1 holds $(envelopes r1) envelopes, want 10"
[ "$(envelopes r2)" = 10 ] || um_fail "r2 holds $(envelopes r2) envelopes, want 10"
[ "$(envelopes r3)" = 0 ] || um_fail "r3 (alpha's own mailbox) holds $(envelopes r3) envelopes, want 0"
um_log "2: alpha queued 10 on beta's mailboxes found in the DHT (r1 $(envelopes r1), r2 $(envelopes r2), r3 $(envelopes r3))"

# ---- 3. beta collects ----
um_start beta
um_wait 30 "beta has the 10, once, in order, via queue" via_check beta alpha in dht 10 queue
um_wait 30 "alpha sees the 10 delivered (receipts through r3)" via_check alpha beta out dht 10 queue delivered read
um_log "3: beta has the 10 via queue; alpha sees them delivered"
um_stop alpha
um_stop beta
um_log "offline_dht: ok"
