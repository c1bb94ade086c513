#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The relay's offline queue (issue 17) on a relay-only umbrad ([relay] api +
# queue) in its own namespace, driven over loopback by um_queue_tool (the
# node's client, http/queue_client.h):
#
# 1. Zero loss across kill -9: 10,000 envelopes (8 KiB) in requests of 16
#    while the relay is killed with SIGKILL at random moments (and the page
#    cache dropped each time) and restarted; the sender retries a request
#    until answered. Then every envelope the relay acknowledged is returned
#    exactly once to the recipient (pending + delete), none twice.
# 2. The database file deleted: the relay starts with an empty queue and
#    says so; what it held is gone from this relay (the copy on the
#    recipient's backup relay is the node glue's part, not tested here).
# 3. ENOSPC: the queue on a 4 MB tmpfs: puts are refused with "relay storage
#    full" once it is full and every envelope acknowledged before is still
#    returned (read: deleting needs space too, SQLite writes its WAL), also
#    after a kill -9 and a restart on the full disk.
set -u
. "$(dirname "$0")/lib.sh"
um_init
TOOL=${UM_BUILD:-}/tests/netns/um_queue_tool
[ -x "$TOOL" ] || um_skip "um_queue_tool not built"
# The sanitizer run sends 10,000 too: since the queue is a segment log, 3,000
# were acknowledged under ASan before a second kill could land. Kills come
# every 50-290 ms.
N=${UM_QUEUE_N:-10000}

um_ns relay
API=http://127.0.0.1:8080
queue_config() { # DB
	um_relay_config relay relay 127.0.0.1:51821 "api = 127.0.0.1:8080
dht = off
queue = $1
queue-max-messages = 1000000
queue-max-bytes = 100000000000
queue-rate = 100000"
}
start_relay() {
	rm -f "$UM_TMP/relay.sock"
	um_start relay
	um_wait 10 "the queue API" um_exec relay curl -sf -X POST "$API/api/relay/challenge"
}
kill9_relay() {
	kill -KILL "${UM_NODE_PID[relay]}" 2>/dev/null
	wait "${UM_NODE_PID[relay]}" 2>/dev/null
}
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}
tool() { um_exec relay "$TOOL" "$API" "$@"; }

queue_config "$UM_TMP/queue.db"
start_relay
grep -q "bootstrap API listening on http://127.0.0.1:8080" "$UM_TMP/relay.log" || um_fail "no API line in the log"

# 1. kill -9 at random moments while the sender runs.
um_bg relay put.log "$TOOL" "$API" put "$N" 16 "$UM_TMP/acked"
PUT_PID=$UM_LAST_PID
kills=0
while kill -0 "$PUT_PID" 2>/dev/null; do
	sleep "$(printf '0.%02d' $((RANDOM % 25 + 5)))" # 50-290 ms
	kill -0 "$PUT_PID" 2>/dev/null || break
	kill9_relay
	kills=$((kills + 1))
	drop_caches
	start_relay
done
wait "$PUT_PID" || um_fail "the sender failed: $(tail -3 "$UM_TMP/put.log")"
acked=$(wc -l <"$UM_TMP/acked")
[ "$acked" = "$N" ] || um_fail "acknowledged $acked of $N"
um_log "$N acknowledged across $kills kills: $(cat "$UM_TMP/put.log")"
((kills >= 3)) || um_fail "only $kills kills: the run was too short to test anything"
kill9_relay
drop_caches
start_relay
tool drain "$UM_TMP/drained" >"$UM_TMP/drain.out" || um_fail "drain: $(cat "$UM_TMP/drain.out")"
sort "$UM_TMP/acked" >"$UM_TMP/acked.sorted"
sort "$UM_TMP/drained" >"$UM_TMP/drained.sorted"
dups=$(uniq -d "$UM_TMP/drained.sorted" | wc -l)
[ "$dups" = 0 ] || um_fail "$dups envelopes returned twice"
missing=$(comm -23 "$UM_TMP/acked.sorted" "$UM_TMP/drained.sorted" | wc -l)
[ "$missing" = 0 ] || um_fail "$missing acknowledged envelopes lost"
extra=$(comm -13 "$UM_TMP/acked.sorted" "$UM_TMP/drained.sorted" | wc -l)
um_log "all $acked acknowledged envelopes returned once ($extra more committed but not acknowledged before a kill)"
tool drain "$UM_TMP/drained2" >/dev/null || um_fail "second drain"
[ ! -s "$UM_TMP/drained2" ] || um_fail "envelopes left after the drain"

# 2. The database deleted while the relay is down.
tool put 50 10 "$UM_TMP/acked2" >/dev/null || um_fail "put before deletion"
kill9_relay
rm -f "$UM_TMP/queue.db" "$UM_TMP/queue.db-wal" "$UM_TMP/queue.db-shm"
start_relay
tool drain "$UM_TMP/drained3" >/dev/null || um_fail "drain after deletion"
[ ! -s "$UM_TMP/drained3" ] || um_fail "a deleted database returned envelopes"
um_log "database deleted: the relay serves an empty queue (50 envelopes gone from this relay)"
um_stop relay

# 3. ENOSPC on a small tmpfs.
mkdir -p "$UM_TMP/small"
if mount -t tmpfs -o size=4m tmpfs "$UM_TMP/small" 2>/dev/null; then
	trap 'r=$?; umount "$UM_TMP/small" 2>/dev/null; (exit $r); um_teardown' EXIT
	queue_config "$UM_TMP/small/queue.db"
	start_relay
	ok=0 full=0
	for i in $(seq 1 1000); do
		out=$(tool put1)
		case "$out" in
		queued) ok=$((ok + 1)) ;;
		*) full=1 && break ;;
		esac
	done
	((full)) || um_fail "a 4 MB tmpfs took 1000 envelopes of 8 KiB"
	um_log "ENOSPC after $ok envelopes: '$out'"
	[ "$out" = "No space left on device" ] || um_fail "refused as '$out', want ENOSPC"
	# Reading needs no space: everything acknowledged is there, intact (the
	# tool checks each envelope's header); after a restart too.
	tool list "$UM_TMP/listed" || um_fail "pending after ENOSPC"
	[ "$(wc -l <"$UM_TMP/listed")" = "$ok" ] || um_fail "after ENOSPC: $(wc -l <"$UM_TMP/listed") of $ok returned"
	kill9_relay
	start_relay
	tool list "$UM_TMP/listed" || um_fail "pending after ENOSPC and a restart"
	[ "$(wc -l <"$UM_TMP/listed")" = "$ok" ] || um_fail "after ENOSPC + restart: $(wc -l <"$UM_TMP/listed") of $ok"
	um_stop relay
	umount "$UM_TMP/small"
else
	um_log "no tmpfs mount: ENOSPC part skipped"
fi
um_log "queue_relay: ok"
