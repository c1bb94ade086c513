#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Store-and-forward end to end (issue 17), as a user sees it (umbra send,
# umbra inbox --json, umbra read). Two relay-only daemons (r1 home, r2
# backup: [relay] api + queue) in namespace rel; alpha (na) and beta (nb)
# reach them over their own links but never each other (no endpoint, no
# relay line: no session is possible), so every message and receipt takes
# the queue rung.
#
# Relay limits: the defaults but 1,000 envelopes per recipient.
#
# 1. beta runs once (publishes its prekey at both mailboxes) and stops.
#    alpha sends 50 messages: all show via "queue" and both relays hold 50
#    envelopes. alpha stops too; later beta starts: the 50 arrive once, in
#    order, via queue; both relays are emptied (deleted after the commit).
#    beta reads them; alpha starts later: all 50 are "read" (the delivered
#    and read receipts came back as sealed envelopes through alpha's
#    mailboxes). ("Hours later" is the order of events here: the relays'
#    queue-ttl of 72 h is not what is tested.)
# 2. beta offline, alpha sends 30; r1 is killed, its database (queue and
#    prekeys) deleted, and restarted empty: beta still gets all 30, once,
#    in order, from r2.
# 3. Both online: a message queued while beta runs is in beta's inbox less
#    than 1 s after it was sent: pushed (beta waits at its mailboxes,
#    POST /api/relay/wait); its poll is once a minute, so a poll cannot
#    have brought it. Every fetch of this test comes from a start, a
#    relay's push or a relay registration, never from the poll.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mailbox_lib.sh"
um_init

mailbox_links
mailbox_relay r1 51821 8081 "queue-max-messages = 1000"
mailbox_relay r2 51822 8082 "queue-max-messages = 1000"

MAILBOX_OPTS="mailbox-delay = 1ms
mailbox-poll = 60s"
mkdir -p "$UM_TMP/alpha" "$UM_TMP/beta"
um_config alpha na 51820 100.64.0.1/24 tun "store = $UM_TMP/alpha/messages.db
mailbox = http://198.51.100.2:8081, http://198.51.100.2:8082
$MAILBOX_OPTS"
um_config beta nb 51820 100.64.0.2/24 tun "store = $UM_TMP/beta/messages.db
mailbox = http://203.0.113.2:8081, http://203.0.113.2:8082
$MAILBOX_OPTS"
um_peer alpha beta "" 100.64.0.2/32
um_peer beta alpha "" 100.64.0.1/32

# ---- 1. recipient offline ----
um_start beta
um_wait 15 "beta's prekey at both mailboxes" sh -c "[ \$(grep -c 'prekey published at 2 of 2 mailboxes' '$UM_TMP/beta.log') -ge 1 ]"
um_stop beta
um_start alpha
for i in $(seq 1 50); do
	um_cli alpha send beta "offline $i" >/dev/null || um_fail "alpha send $i"
done
um_wait 20 "alpha's 50 show via queue" via_check alpha beta out offline 50 queue queued
um_wait 5 "r1 holds 50 envelopes" bash -c '[ "$(envelopes r1)" = 50 ]'
[ "$(envelopes r2)" = 50 ] || um_fail "r2 holds $(envelopes r2) envelopes, want 50"
# The sender's key is left out (beta fetches it where alpha's prekey is):
# a short message fits the smallest bucket, so the default 1 MiB per
# recipient holds the 50 messages and the 100 receipts below.
[ "$(max_size r1)" = 8192 ] || um_fail "envelopes of $(max_size r1) bytes, want 8192"
um_log "1: 50 messages queued on both mailboxes (r1 $(envelopes r1), r2 $(envelopes r2)), 8 KiB each"
BETA_HEX=$(recipients r1)
[ "$(recipients r2)" = "$BETA_HEX" ] && [ ${#BETA_HEX} = 64 ] || um_fail "the relays hold envelopes of '$BETA_HEX' and '$(recipients r2)'"
um_stop alpha
sleep 1
um_start beta
um_wait 20 "beta has the 50, once, in order, via queue" via_check beta alpha in offline 50 queue
um_wait 30 "both relays emptied of beta's envelopes" bash -c '[ "$(envelopes r1 '"$BETA_HEX"')" = 0 ] && [ "$(envelopes r2 '"$BETA_HEX"')" = 0 ]'
received=$(um_json beta status 'd["node"]["msg_messages_received"]')
((received == 50)) || um_fail "beta counts $received messages received, want 50"
for id in $(um_cli beta inbox --json --peer alpha | python3 -c 'import json, sys; print("\n".join(m["id"] for m in json.load(sys.stdin) if m["direction"] == "in"))'); do
	um_cli beta read "$id" || um_fail "umbra read $id"
done
um_wait 30 "beta's 100 receipts queued on both relays" bash -c '[ "$(envelopes r1)" = 100 ] && [ "$(envelopes r2)" = 100 ]'
um_start alpha
um_wait 30 "alpha sees all 50 read" via_check alpha beta out offline 50 queue read
um_log "1: beta started later: 50 delivered once, in order, via queue; delivered + read receipts back through alpha's mailboxes"

# ---- 2. one relay's disk lost ----
um_stop beta
for i in $(seq 1 30); do
	um_cli alpha send beta "backup $i" >/dev/null || um_fail "alpha send backup $i"
done
um_wait 20 "the 30 queued" via_check alpha beta out backup 30 queue queued
kill -KILL "${UM_NODE_PID[r1]}"
wait "${UM_NODE_PID[r1]}" 2>/dev/null
rm -f "$UM_TMP/r1/"queue.db*
mailbox_relay_start r1 8081
[ "$(envelopes r1)" = 0 ] || um_fail "r1 restarted with envelopes"
um_start beta
um_wait 20 "beta has the 30 from the backup" via_check beta alpha in backup 30 queue
um_wait 20 "alpha sees the 30 delivered" via_check alpha beta out backup 30 queue delivered read
um_log "2: r1's database deleted: all 30 delivered from r2, once, in order"

# ---- 3. an online recipient ----
um_cli alpha send beta "push 1" >/dev/null || um_fail "alpha send push"
um_wait 10 "beta has the pushed message" via_check beta alpha in push 1 queue
lag=$(um_cli beta inbox --json --peer alpha | python3 -c 'import json, sys; m = [m for m in json.load(sys.stdin) if m["text"] == "push 1"][0]; print(m["received_ms"] - m["sent_ms"])')
um_log "3: queued while beta runs: in its inbox $lag ms after it was sent (pushed; poll every 60 s; loaded machine)"
((lag < 1000)) || um_fail "the queued message took $lag ms to reach an online recipient"
um_stop alpha
um_stop beta
um_log "offline: ok"
