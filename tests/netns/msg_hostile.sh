#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 16: hostile input on the message channel from a real peer.
#
#   mallory (da) --veth-- beta (db)
#   mallory runs with UMBRA_TEST_HOOKS=1: its control socket then writes
#   arbitrary frames or raw stream bytes to beta over their established
#   session (the test hook of node/messaging_control.c, driven by
#   msg_inject.py). beta (accept-files = ask, max-file-size = 1000000)
#   must: skip a frame of an unknown type; refuse a malformed DATA with a
#   reason; keep only the leaf of offered names "../../../x" and "/etc/x"
#   (the accepted file lands in download-dir); refuse a ".." name and a
#   size beyond max-file-size with a reason mallory logs; count chunks with
#   wrong hashes and keep none of them; hold at most 32 of 1,000
#   unsolicited offers, refusing the rest with a reason; after a header
#   announcing 2 GiB, reset the channel and carry on. Every case is counted
#   in beta's msg_* status counters, and nothing is written outside
#   beta's download directory (find before and after).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/msg_lib.sh"
um_init
INJECT="$UM_NETNS_DIR/msg_inject.py"
TAG="umbra-hostile-$$"
DL="$UM_TMP/beta-downloads"

um_ns da
um_ns db
um_link da veth0 198.51.100.1/24 db veth0 198.51.100.2/24
um_config beta db 51820 100.64.0.2/24 tun "store = $UM_TMP/beta/messages.db
download-dir = $DL
max-file-size = 1000000"
# mallory logs at debug: refusals of offers it never made (its injected
# ones) are logged there with their reasons.
UM_LOG_LEVEL=debug um_config mallory da 51820 100.64.0.1/24 tun "store = $UM_TMP/mallory/messages.db
download-dir = $UM_TMP/mallory-downloads"
um_peer mallory beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta mallory 198.51.100.1:51820 100.64.0.1/32 "accept-files = ask"
um_start beta
export UMBRA_TEST_HOOKS=1
um_start mallory
unset UMBRA_TEST_HOOKS
um_wait 10 "mallory established with beta" um_established mallory beta
um_wait 10 "beta established with mallory" um_established beta mallory
inject() { python3 "$INJECT" "${UM_NODE_SOCK[mallory]}" beta "$@" || um_fail "injection $1"; }
# The hook is off in a daemon started without UMBRA_TEST_HOOKS=1: the same
# body is only an ordinary binary message.
python3 "$INJECT" "${UM_NODE_SOCK[beta]}" mallory unknown || um_fail "beta refused a binary message"
grep -q 'test hook' "$UM_TMP/beta.log" && um_fail "the test hook ran in a daemon without UMBRA_TEST_HOOKS=1"

head -c 10000 /dev/urandom >"$UM_TMP/payload.bin"
mkdir "$UM_TMP/lists"
snapshot() { find "$UM_TMP" -path "$UM_TMP/lists" -prune -o -path "$DL" -prune -o -path "$UM_TMP/beta" -prune -o -path "$UM_TMP/mallory" -prune -o -type f ! -name '*.log' -print | sort; }
snapshot >"$UM_TMP/lists/before"
declare -A C0
counters="msg_messages_received msg_protocol_errors msg_segments_malformed msg_resets msg_files_refused msg_file_chunks_bad msg_files_received"
for c in $counters; do C0[$c]=$(msg_counter beta $c); done
delta() { echo $(($(msg_counter beta "$1") - ${C0[$1]})); }
message_arrives() { # TEXT: an ordinary message from mallory still gets through
	um_cli mallory send beta "$1" >/dev/null || um_fail "send $1"
	um_wait 15 "beta has \"$1\"" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[beta]}' inbox --json | grep -q '\"text\":\"$1\"'"
}

# An unknown type, then a DATA too short to decode: the stream stays in sync.
inject unknown
inject bad-data
message_arrives "after the malformed frames"
um_wait 10 "mallory logs the refusal of the malformed DATA" grep -q 'refused a message: malformed message' "$UM_TMP/mallory.log"
(($(delta msg_protocol_errors) >= 1)) || um_fail "beta did not count the malformed DATA"
um_log "unknown type skipped, malformed DATA refused (mallory saw: malformed message); beta counted protocol_errors +$(delta msg_protocol_errors), segments_malformed +$(delta msg_segments_malformed)"

# Names with ../ and an absolute name: only the leaf is kept, and the file
# is written in download-dir once accepted.
HASH=$(python3 "$INJECT" - - hash "$UM_TMP/payload.bin")
ID_A=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ID_B=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
inject meta "$ID_A" "../../../$TAG-a" 10000 "$HASH"
inject meta "$ID_B" "/etc/$TAG-b" 10000 "$HASH"
um_wait 10 "beta holds both offers" sh -c "[ \$('$UMBRA' --socket '${UM_NODE_SOCK[beta]}' file list | grep -c ' offered ') -ge 2 ]"
[ "$(um_file_field beta "$ID_A" name)" = "$TAG-a" ] || um_fail "offer a named '$(um_file_field beta "$ID_A" name)'"
[ "$(um_file_field beta "$ID_B" name)" = "$TAG-b" ] || um_fail "offer b named '$(um_file_field beta "$ID_B" name)'"
um_cli beta file accept "$ID_A" || um_fail "accept a"
um_cli beta file accept "$ID_B" || um_fail "accept b"
inject chunks "$ID_A" "$UM_TMP/payload.bin" 4096 good
inject chunks "$ID_B" "$UM_TMP/payload.bin" 4096 bad
um_wait 15 "offer a written" cmp -s "$UM_TMP/payload.bin" "$DL/$TAG-a"
um_wait 10 "beta counts 3 bad chunks" sh -c "[ \$(($(msg_counter beta msg_file_chunks_bad) - ${C0[msg_file_chunks_bad]})) -ge 3 ]"
sleep 1
[ -e "$DL/$TAG-b" ] && um_fail "a file of chunks with wrong hashes was kept"
[ "$(um_file_field beta "$ID_B" bytes_done)" = 0 ] || um_fail "chunks with wrong hashes counted as done"
um_log "'../../../$TAG-a' and '/etc/$TAG-b' kept as leaf names; a written in download-dir, b's 3 chunks with wrong hashes refused (chunks_bad +$(delta msg_file_chunks_bad))"

# Refused with a reason mallory sees: no name left, too large.
inject meta "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" ".." 10000 "$HASH"
inject meta "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" "$TAG-huge" 1000000000000 "$HASH"
um_wait 10 "mallory sees the unsafe name refused" grep -q 'refused a file not offered here: malformed offer or unsafe name' "$UM_TMP/mallory.log"
um_wait 10 "mallory sees the size refused" grep -q "refused a file not offered here: larger than the receiver's max-file-size" "$UM_TMP/mallory.log"
(($(delta msg_files_refused) >= 2)) || um_fail "beta did not count the refused offers"
um_log "'..' and a 1 TB offer refused with their reasons (files_refused +$(delta msg_files_refused))"

# 1,000 unsolicited offers under accept-files = ask.
refused0=$(msg_counter beta msg_files_refused)
inject flood 1000
um_wait 60 "beta refused the offers beyond its limit" sh -c "[ \$(($(msg_counter beta msg_files_refused) - refused0)) -ge 968 ] 2>/dev/null || [ \$(( \$('$UMBRA' --socket '${UM_NODE_SOCK[beta]}' status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"node\"][\"msg_files_refused\"])') - $refused0 )) -ge 968 ]"
waiting=$(um_cli beta file list --json | python3 -c 'import json,sys; print(sum(1 for f in json.load(sys.stdin) if f["state"] == "offered"))')
refused=$(($(msg_counter beta msg_files_refused) - refused0))
um_log "1,000 unsolicited offers: $waiting held for a decision, $refused refused"
((waiting <= 32)) || um_fail "beta holds $waiting offers"
((refused + waiting >= 1000)) || um_fail "offers neither held nor refused: $((1000 - refused - waiting))"
um_wait 10 "mallory sees why" grep -q 'refused a file not offered here: too many offers waiting' "$UM_TMP/mallory.log"
ls "$DL" | grep -q flood && um_fail "a file of the flood was written"

# A header announcing 2 GiB: the channel is reset, the session carries on.
inject oversized
um_wait 15 "beta resets the channel" sh -c "[ \$('$UMBRA' --socket '${UM_NODE_SOCK[beta]}' status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"node\"][\"msg_resets\"])') -gt ${C0[msg_resets]} ]"
message_arrives "after the oversized header"
um_log "an oversized length: channel reset (resets +$(delta msg_resets), protocol_errors +$(delta msg_protocol_errors)), messages flow again"

# Nothing written outside download-dir.
snapshot >"$UM_TMP/lists/after"
diff "$UM_TMP/lists/before" "$UM_TMP/lists/after" && um_log "no new file outside download-dir in the test's directory" || um_fail "files appeared outside download-dir"
# Where a traversal could land: every ancestor of download-dir (a "../"
# name) and the absolute places offered (/etc); the whole disk took 18 s.
dirs=(/etc) d=$DL
while [ "$d" != / ]; do d=$(dirname "$d"); dirs+=("$d"); done
stray=$(find "${dirs[@]}" -maxdepth 1 -name "$TAG-*" -print 2>/dev/null)
[ -z "$stray" ] || um_fail "written outside download-dir: $stray"
ls -a "$DL"
um_log "PASS"
