#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 16: the sender of a file killed (SIGKILL) before every chunk went
# once, so before it knew the file's hash (the offer goes first, the hash
# list follows in a second FILE_META: PROTOCOL section 19). Restarted, it
# hashes the file from the store's record and offers it again with the
# hash; the receiver asks only for what it is missing, verifies, keeps it.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/msg_lib.sh"
um_init

SIZE=$((24 * 1000000))
msg_direct_pair alpha a beta b "" "" "" "accept-files = always"
# 48 Mbit/s: 24 MB takes ~4 s, time enough to kill the sender at 30%.
um_exec a tc qdisc add dev veth0 root tbf rate 48mbit burst 64kbit latency 200ms

head -c "$SIZE" /dev/urandom >"$UM_TMP/big.bin"
"$UMBRA" --socket "${UM_NODE_SOCK[alpha]}" file send beta "$UM_TMP/big.bin" >"$UM_TMP/file-send.log" 2>&1 &
SENDER=$!
UM_PIDS+=("$SENDER")
um_wait 20 "the transfer's ID" grep -q 'offered to beta' "$UM_TMP/file-send.log"
FID=$(awk '/offered to beta/ {print $1}' "$UM_TMP/file-send.log")
reached() { # PERCENT
	local d
	d=$(um_file_field beta "$FID" bytes_done 2>/dev/null)
	[ -n "$d" ] && ((d >= SIZE * $1 / 100))
}
um_wait 30 "beta has 30%" reached 30
[ "$(um_file_field beta "$FID" state)" = done ] && um_fail "over before the kill (the machine is too fast for 48 Mbit/s?)"
# Not every chunk has gone yet: neither side knows the hash (all zero).
zero=$(printf '0%.0s' $(seq 1 64))
[ "$(um_file_field alpha "$FID" hash)" = "$zero" ] || um_fail "alpha knew the hash before the kill: $(um_file_field alpha "$FID" hash)"
[ "$(um_file_field beta "$FID" hash)" = "$zero" ] || um_fail "beta had a hash before the kill"
msg_kill_restart alpha
wait "$SENDER" 2>/dev/null # the CLI saw its daemon go
um_wait 10 "alpha established with beta again" um_established alpha beta
grep -q "file big.bin to \"beta\": resuming" "$UM_TMP/alpha.log" || um_fail "alpha did not resume the transfer"
done_at_beta() { [ "$(um_file_field beta "$FID" state 2>/dev/null)" = done ]; }
um_wait 60 "beta verified the file" done_at_beta
[ "$(sha256sum <"$UM_TMP/big.bin")" = "$(sha256sum <"$UM_TMP/beta-downloads/big.bin")" ] || um_fail "the received file differs"
um_wait 10 "alpha marks it delivered" sh -c "grep -q 'file big.bin delivered to \"beta\"' '$UM_TMP/alpha.log'"
ls "$UM_TMP"/beta-downloads/.*.umbra-part 2>/dev/null && um_fail "a temporary file is left"
[ "$(um_file_field beta "$FID" hash)" != "$zero" ] || um_fail "beta never got the hash"
sent=$(msg_counter alpha msg_file_bytes_sent)
((sent < SIZE)) || um_fail "the restarted sender sent $sent bytes: the whole file again"
um_log "file: $SIZE bytes verified after a SIGKILL of the sender before it knew the hash; the restarted sender sent $sent bytes"
um_log "PASS"
