#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 16: kill -9 of sender and receiver at random moments during a
# 10,000-message exchange (MSG_KILL_COUNT, both directions at once).
#
#   alpha (da) --veth-- beta (db)
#   MSG_KILL_STREAMS parallel `umbra send` loops per direction (one CLI
#   process per message: measured below, it costs more than 5 ms in a
#   debug build, so the streams run side by side), each message "DIR-sS N".
#   Meanwhile MSG_KILL_KILLS SIGKILLs (default 6) alternating alpha, beta,
#   at random moments; each daemon is restarted at once. Afterwards, on
#   each receiver's `umbra inbox --json`: every message whose `umbra send`
#   succeeded is there exactly once with the ID `umbra send` printed; a
#   message whose send failed is there at most once; nothing else; the
#   order within each stream (one sender, sent one after the other) kept.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/msg_lib.sh"
um_init

COUNT=${MSG_KILL_COUNT:-10000}
STREAMS=${MSG_KILL_STREAMS:-4}
KILLS=${MSG_KILL_KILLS:-6}
PER_STREAM=$((COUNT / 2 / STREAMS))

msg_direct_pair alpha da beta db

# stream NODE PEER PREFIX: PER_STREAM sends, "ok N ID" or "failed N" each.
# After a failure (the daemon is being restarted) wait a little.
stream() {
	local i out
	for ((i = 1; i <= PER_STREAM; i++)); do
		if out=$("$UMBRA" --socket "${UM_NODE_SOCK[$1]}" send "$2" "$3 $i" 2>/dev/null); then
			echo "ok $i ${out%% *}"
		else
			echo "failed $i"
			sleep 0.1
		fi
	done >"$UM_TMP/$3.txt"
}

start=$(date +%s%N)
STREAM_PIDS=()
for ((s = 1; s <= STREAMS; s++)); do
	stream alpha beta "a2b-s$s" &
	STREAM_PIDS+=($!)
	UM_PIDS+=($!)
	stream beta alpha "b2a-s$s" &
	STREAM_PIDS+=($!)
	UM_PIDS+=($!)
done
accepted() { cat "$UM_TMP"/*-s*.txt 2>/dev/null | grep -c '^ok'; }
# The kills: spread over the run, each after a random share of the sends.
victim=alpha
for ((k = 1; k <= KILLS; k++)); do
	target=$((COUNT * k / (KILLS + 1) - COUNT / (4 * (KILLS + 1)) + RANDOM % (COUNT / (2 * (KILLS + 1)))))
	um_wait 300 "$target sends accepted before kill $k" sh -c "[ \$(cat '$UM_TMP'/*-s*.txt 2>/dev/null | grep -c '^ok') -ge $target ]"
	sleep "0.$((RANDOM % 10))"
	um_log "kill $k: SIGKILL $victim after $(accepted) accepted sends"
	msg_kill_restart $victim
	[ $victim = alpha ] && victim=beta || victim=alpha
done
for p in "${STREAM_PIDS[@]}"; do wait "$p"; done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
ok=$(accepted)
failed=$(cat "$UM_TMP"/*-s*.txt | grep -c '^failed')
um_log "$COUNT sends in ${elapsed_ms} ms over $((2 * STREAMS)) CLI streams ($((elapsed_ms * 2 * STREAMS * 1000 / COUNT)) us per umbra send per stream): $ok accepted, $failed failed (daemon down)"
((ok >= COUNT / 2)) || um_fail "only $ok of $COUNT sends accepted"

# check NODE PEER DIR: NODE's inbox against the stream logs of DIR.
check() {
	um_cli "$1" inbox --json --peer "$2" | python3 -c '
import glob, json, sys
tmp, direction = sys.argv[1], sys.argv[2]
msgs = [m for m in json.load(sys.stdin) if m["direction"] == "in"]
ok_total = 0
seen = set()
for path in sorted(glob.glob("%s/%s-s*.txt" % (tmp, direction))):
    prefix = path.rsplit("/", 1)[1][:-4]
    ok, ids, failed = [], {}, set()
    for line in open(path):
        f = line.split()
        if f[0] == "ok":
            ok.append(int(f[1]))
            ids[int(f[1])] = f[2]
        else:
            failed.add(int(f[1]))
    mine = [m for m in msgs if m["text"].startswith(prefix + " ")]
    seen.update(id(m) for m in mine)
    got = [int(m["text"].split()[1]) for m in mine]
    if len(got) != len(set(got)):
        sys.exit("%s: delivered twice: %s" % (prefix, sorted(i for i in set(got) if got.count(i) > 1)[:5]))
    if any(i not in failed and i not in ids for i in got):
        sys.exit("%s: a message never sent" % prefix)
    kept = [i for i in got if i not in failed]
    if kept != ok:
        missing = sorted(set(ok) - set(kept))
        sys.exit("%s: %d of %d accepted here (missing %s), or out of order" % (prefix, len(kept), len(ok), missing[:5]))
    for m in mine:
        i = int(m["text"].split()[1])
        if i in ids and m["id"] != ids[i]:
            sys.exit("%s %d: ID %s, umbra send printed %s" % (prefix, i, m["id"], ids[i]))
    ok_total += len(ok)
if len(seen) != len(msgs):
    sys.exit("%d messages from no stream" % (len(msgs) - len(seen)))
print(ok_total)
' "$UM_TMP" "$3"
}
um_wait 120 "beta holds every message alpha accepted, once, in order" check beta alpha a2b
um_wait 120 "alpha holds every message beta accepted, once, in order" check alpha beta b2a
um_log "beta: $(check beta alpha a2b) accepted messages from alpha, alpha: $(check alpha beta b2a) from beta: each once, with its ID, in order per stream ($(msg_counter beta msg_duplicates) + $(msg_counter alpha msg_duplicates) duplicates acknowledged again since the last restarts)"
um_log "PASS"
