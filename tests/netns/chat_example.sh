#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library's example (examples/chat.c, issue 16): two terminal chats,
# each embedding a node with device = none in its own event loop, run as an
# ordinary user (nobody) without capabilities in two namespaces. Lines typed
# on one side print on the other once, in order; delivery and read receipts
# and a presence change come back; both exit 0 (every message delivered).
set -u
. "$(dirname "$0")/lib.sh"
um_init
command -v setpriv >/dev/null || um_skip "setpriv(1) missing"
CHAT=${UM_BUILD:-}/examples/umbra-chat
[ -x "$CHAT" ] || um_skip "umbra-chat not built ($CHAT)"

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
chmod 0711 "$UM_TMP"
for node in alpha beta; do
	um_key "$node"
	mkdir -p "$UM_TMP/$node.d"
	mv "$UM_TMP/$node.key" "$UM_TMP/$node.d/key"
done
conf() { # NODE OTHER OTHER_ENDPOINT
	local dir="$UM_TMP/$1.d"
	cat >"$dir/conf" <<EOF
[node]
identity = $dir/key
listen-port = 51820
device = none
control-socket = $dir/sock
log-level = ${UM_LOG_LEVEL:-info}
dht = off

[peer "$2"]
id = ${UM_NODE_ID[$2]}
endpoint = $3
allowed-ips = 100.64.0.0/24
EOF
	mkfifo "$dir/in"
	chown -R 65534:65534 "$dir"
}
conf alpha beta 198.51.100.2:51820
conf beta alpha 198.51.100.1:51820

# chat NODE NS PEER: the example as nobody, stdin from the node's FIFO.
chat() {
	local dir="$UM_TMP/$1.d"
	um_bg "$2" "$1.log" sh -c 'exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all --no-new-privs "$0" "$1" "$2" <"$3"' "$CHAT" "$dir/conf" "$3" "$dir/in"
	eval "pid_$1=\$UM_LAST_PID"
}
chat alpha a beta
chat beta b alpha
# Hold the FIFOs open: a chat ends when its input does.
exec {in_alpha}>"$UM_TMP/alpha.d/in" {in_beta}>"$UM_TMP/beta.d/in"

printf 'hello from alpha\nsecond line, with unicode: h\xc3\xa9\n/away at lunch\nthird\n' >&$in_alpha
printf 'hello from beta\n' >&$in_beta

out() { cat "$UM_TMP/$1.log"; }
um_wait 30 "beta shows alpha's lines" sh -c "grep -q '^<alpha> third$' '$UM_TMP/beta.log'"
um_wait 30 "alpha shows beta's line" sh -c "grep -q '^<beta> hello from beta$' '$UM_TMP/alpha.log'"
# Once, in order.
got=$(grep '^<alpha>' "$UM_TMP/beta.log")
want=$(printf '<alpha> hello from alpha\n<alpha> second line, with unicode: h\xc3\xa9\n<alpha> third')
[ "$got" = "$want" ] || um_fail "beta received: $got"
um_wait 20 "alpha's messages delivered" sh -c "[ \$(grep -c '^\* delivered' '$UM_TMP/alpha.log') -ge 3 ]"
um_wait 20 "alpha's messages read (the example marks what it shows read)" \
	sh -c "[ \$(grep -c '^\* read' '$UM_TMP/alpha.log') -ge 3 ]"
um_wait 20 "beta sees alpha away" sh -c "grep -q '^\* alpha is away: at lunch' '$UM_TMP/beta.log'"
um_wait 20 "beta's message delivered" sh -c "grep -q '^\\* delivered' '$UM_TMP/beta.log'"
um_log "messages, receipts and presence through the library"

# End of input: each waits for its deliveries, then exits 0.
exec {in_alpha}>&- {in_beta}>&-
for node in alpha beta; do
	eval "pid=\$pid_$node"
	for ((i = 0; i < 400; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && um_fail "$node's chat did not exit"
	wait "$pid"
	rc=$?
	((rc == 0)) || um_fail "$node's chat exited $rc: $(tail -3 "$UM_TMP/$node.log")"
done
grep -q '^\* sent 3, delivered 3$' "$UM_TMP/alpha.log" || um_fail "alpha: $(tail -1 "$UM_TMP/alpha.log")"
grep -q '^\* sent 1, delivered 1$' "$UM_TMP/beta.log" || um_fail "beta: $(tail -1 "$UM_TMP/beta.log")"
um_log "PASS"
