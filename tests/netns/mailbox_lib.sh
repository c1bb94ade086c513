# SPDX-License-Identifier: MIT
# Store-and-forward fixtures shared by the netns tests offline and
# offline_dht and by bench/offline.sh (source after lib.sh and um_init):
# namespace rel holds the relays (queue APIs), na and nb the two nodes on
# their own links; helpers to read a relay's queue and a node's inbox.

# mailbox_links: namespaces rel, na (198.51.100.1, rel at .2) and nb
# (203.0.113.1, rel at .2).
mailbox_links() {
	um_ns rel
	um_ns na
	um_ns nb
	um_link na veth0 198.51.100.1/24 rel va 198.51.100.2/24
	um_link nb veth0 203.0.113.1/24 rel vb 203.0.113.2/24
}

# mailbox_relay NAME PORT APIPORT [EXTRA]: a relay in rel with a queue API
# on APIPORT (no DHT, rate limits lifted; EXTRA: more [relay] lines),
# started and answering.
mailbox_relay() {
	um_relay_config "$1" rel "0.0.0.0:$2" "api = 0.0.0.0:$3
dht = off
queue = $UM_TMP/$1/queue.db
queue-rate = 100000${4:+
$4}"
	mkdir -p "$UM_TMP/$1"
	chmod 700 "$UM_TMP/$1"
	mailbox_relay_start "$1" "$3"
}

# mailbox_relay_start NAME APIPORT: (re)starts a configured relay.
mailbox_relay_start() {
	rm -f "${UM_NODE_SOCK[$1]}"
	um_start "$1"
	um_wait 10 "$1's queue API" um_exec rel curl -sf -X POST "http://127.0.0.1:$2/api/relay/challenge"
}

# envelopes RELAY [RECIPIENT_HEX]: how many envelopes the relay's queue
# holds (for that recipient); max_size RELAY: the largest; recipients
# RELAY: their IDs in hex (queue_scan.py reads the segment log).
QUEUE_SCAN="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/queue_scan.py"
export QUEUE_SCAN UM_TMP
envelopes() { python3 "$QUEUE_SCAN" "$UM_TMP/$1/queue.db" count "${@:2}"; }
max_size() { python3 "$QUEUE_SCAN" "$UM_TMP/$1/queue.db" max; }
recipients() { python3 "$QUEUE_SCAN" "$UM_TMP/$1/queue.db" recipients; }
export -f envelopes

# via_check NODE PEER DIR PREFIX N VIA [STATE...]: N messages PREFIX 1..N,
# in order, once, every one via VIA (and in one of the STATEs when given).
via_check() {
	um_cli "$1" inbox --json --peer "$2" | python3 -c '
import json, sys
direction, prefix, n, via, states = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
msgs = [m for m in json.load(sys.stdin) if m["direction"] == direction and m["text"].startswith(prefix + " ")]
texts = [m["text"] for m in msgs]
if texts != ["%s %d" % (prefix, i) for i in range(1, n + 1)]:
    sys.exit("have %d: %s..." % (len(texts), texts[:5]))
if len({m["id"] for m in msgs}) != n:
    sys.exit("duplicate IDs")
if any(m["via"] != via for m in msgs):
    sys.exit("via: %s" % sorted({str(m["via"]) for m in msgs}))
if states and any(m["state"] not in states for m in msgs):
    sys.exit("states: %s" % sorted({m["state"] for m in msgs}))
' "$3" "$4" "$5" "$6" "${@:7}"
}
