#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Messaging (issue 16) between two nodes, from the CLI:
#
#   direct   alpha (da) --veth-- beta (db)
#            200 messages each way: all in `umbra inbox --json`, once, in
#            order, every one delivered (receipts); presence both ways.
#            A 5 MB file (beta: accept-files = always) over an 8 Mbit/s
#            link; beta killed with SIGKILL mid-transfer and restarted: the
#            transfer resumes and completes, sha256sum equal (bytes sent in
#            total vs the file size printed). 2% random loss each way:
#            100 messages and a 2 MB file. Messages to an offline beta,
#            then alpha restarted: delivered once beta starts. kill -9 of
#            alpha, then of beta, during 300 sends: every accepted message
#            delivered once, in order.
#   device = none  epsilon (da) and zeta (db) run as user nobody, without
#            a TUN device (no CAP_NET_ADMIN): messages both ways.
#   relay    gamma (a) and delta (b) behind NATs, through a relay only:
#            messages both ways, in order, once; offers under
#            accept-files = ask (accepted, refused) and over max-file-size.
#            Then eta and theta: 150 messages while the path goes relay ->
#            direct -> relay (the direct path cut in the internet).
set -u
. "$(dirname "$0")/lib.sh"
um_init

# ---- direct ----
um_ns da
um_ns db
um_link da veth0 198.51.100.1/24 db veth0 198.51.100.2/24
um_config alpha da 51820 100.64.0.1/24 tun "store = $UM_TMP/alpha/messages.db
download-dir = $UM_TMP/alpha-downloads"
um_config beta db 51820 100.64.0.2/24 tun "store = $UM_TMP/beta/messages.db
download-dir = $UM_TMP/beta-downloads"
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32 "accept-files = always"
um_start alpha
um_start beta
um_wait 10 "alpha established with beta" um_established alpha beta
um_wait 10 "beta established with alpha" um_established beta alpha

# 200 each way, interleaved.
for i in $(seq 1 200); do
	um_cli alpha send beta "a2b $i" >/dev/null || um_fail "alpha send $i"
	um_cli beta send alpha "b2a $i" >/dev/null || um_fail "beta send $i"
done
um_wait 30 "beta has alpha's 200 messages" um_inbox_check beta alpha in a2b 200
um_wait 30 "alpha has beta's 200 messages" um_inbox_check alpha beta in b2a 200
um_wait 15 "alpha's 200 delivered" um_inbox_check alpha beta out a2b 200
um_wait 15 "beta's 200 delivered" um_inbox_check beta alpha out b2a 200
um_log "direct: 200 messages each way, in order, once, delivered"
received=$(um_json beta status 'd["node"]["msg_messages_received"]')
((received == 200)) || um_fail "beta's status counts $received messages received"
# A read receipt: beta reads alpha's first message.
MID=$(um_cli beta inbox --json --peer alpha | python3 -c 'import json, sys; print([m["id"] for m in json.load(sys.stdin) if m["text"] == "a2b 1"][0])')
um_cli beta read "$MID" || um_fail "umbra read"
um_wait 10 "alpha sees a2b 1 read" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[alpha]}' inbox --json | grep -q '\"id\":\"$MID\"[^}]*\"state\":\"read\"'"
# A 64 KiB text (the largest message) and its way through the control socket.
python3 -c 'print("x" * 65535, end="")' >"$UM_TMP/big.txt"
um_cli alpha send beta - <"$UM_TMP/big.txt" >/dev/null || um_fail "64 KiB message"
um_wait 10 "the 64 KiB message arrives" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[beta]}' inbox --json | python3 -c 'import json,sys; sys.exit(not any(len(m[\"text\"]) == 65535 for m in json.load(sys.stdin)))'"
python3 -c 'print("x" * 65537, end="")' | um_cli alpha send beta - 2>/dev/null && um_fail "a 64 KiB + 1 message was accepted"

# Presence: set on alpha, seen on beta.
um_cli alpha presence set away "at lunch" || um_fail "presence set"
um_wait 10 "beta sees alpha away" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[beta]}' presence | grep -q 'alpha *away.*at lunch'"
um_cli beta presence

# inbox --follow --json sees a new message.
um_bg db follow.log "$UMBRA" --socket "${UM_NODE_SOCK[beta]}" inbox --follow --json
FOLLOW=$UM_LAST_PID
sleep 0.5
um_cli alpha send beta "followed 1" >/dev/null
um_wait 10 "inbox --follow shows the message" grep -q '"text":"followed 1"' "$UM_TMP/follow.log"
kill "$FOLLOW"

# A 5 MB file at 20 Mbit/s; beta killed with SIGKILL at about a third.
um_exec da tc qdisc add dev veth0 root tbf rate 8mbit burst 32kbit latency 100ms
head -c 5000000 /dev/urandom >"$UM_TMP/file5m"
"$UMBRA" --socket "${UM_NODE_SOCK[alpha]}" file send beta "$UM_TMP/file5m" >"$UM_TMP/file-send.log" 2>&1 &
SENDER=$!
UM_PIDS+=("$SENDER")
um_wait 10 "the transfer's ID" grep -q 'offered to beta' "$UM_TMP/file-send.log"
FID=$(awk '/offered to beta/ {print $1}' "$UM_TMP/file-send.log")
um_wait 20 "beta has 1 MB" sh -c "[ \"\$('$UMBRA' --socket '${UM_NODE_SOCK[beta]}' file list --json | python3 -c 'import json,sys; print(sum(f[\"bytes_done\"] for f in json.load(sys.stdin) if f[\"id\"] == \"$FID\"))')\" -ge 1000000 ]"
at_kill=$(um_file_field beta "$FID" bytes_done)
kill -KILL "${UM_NODE_PID[beta]}"
wait "${UM_NODE_PID[beta]}" 2>/dev/null
um_log "beta killed with SIGKILL at $at_kill bytes"
((at_kill < 5000000)) || um_fail "the transfer was over before the kill (the machine too slow for the test?)"
sleep 1
rm -f "${UM_NODE_SOCK[beta]}"
um_start beta
um_wait 60 "the transfer completes" eval "! kill -0 $SENDER 2>/dev/null"
wait "$SENDER" || {
	cat "$UM_TMP/file-send.log"
	um_fail "umbra file send failed"
}
um_exec da tc qdisc del dev veth0 root
sum_a=$(sha256sum <"$UM_TMP/file5m")
sum_b=$(sha256sum <"$UM_TMP/beta-downloads/file5m")
[ "$sum_a" = "$sum_b" ] || um_fail "the received file differs"
[ "$(um_file_field beta "$FID" state)" = done ] || um_fail "beta: transfer not done"
ls "$UM_TMP"/beta-downloads/.*.umbra-part 2>/dev/null && um_fail "a temporary file is left"
# The sender logs the chunk bytes it sent for the file (this run: all of it).
sent=$(sed -n 's/.*file file5m delivered to "beta" (\([0-9]*\) bytes sent for.*/\1/p' "$UM_TMP/alpha.log")
[ -n "$sent" ] || um_fail "alpha did not log the delivery"
um_log "file: 5000000 bytes verified after a SIGKILL of the receiver at $at_kill; bytes sent in total $sent (file 5000000, +$((sent - 5000000)))"
((sent <= 5000000 + 3145728)) || um_fail "resume sent $sent bytes for a 5 MB file (more than 3 MiB in flight or not yet synced at the kill)"
tail -n 3 "$UM_TMP/file-send.log"

# 2% random loss each way (UDP dropped at both ends): messages and a file
# still complete, in order and once.
um_exec da iptables -A OUTPUT -p udp -m statistic --mode random --probability 0.02 -j DROP
um_exec db iptables -A OUTPUT -p udp -m statistic --mode random --probability 0.02 -j DROP
for i in $(seq 1 100); do
	um_cli alpha send beta "lossy $i" >/dev/null || um_fail "lossy send $i"
done
head -c 2000000 /dev/urandom >"$UM_TMP/lossy.bin"
um_cli alpha file send beta "$UM_TMP/lossy.bin" >"$UM_TMP/lossy-send.log" 2>&1 || um_fail "the file at 2% loss: $(tail -2 "$UM_TMP/lossy-send.log")"
cmp -s "$UM_TMP/lossy.bin" "$UM_TMP/beta-downloads/lossy.bin" || um_fail "the file at 2% loss differs"
um_wait 30 "beta has the 100 messages sent at 2% loss" um_inbox_check beta alpha in lossy 100
dropped=$(um_exec da iptables -L OUTPUT -v -x -n | awk '/statistic/ {print $1}')
um_log "2% loss: 100 messages in order and once, a 2 MB file verified ($dropped datagrams dropped at alpha; $(tail -1 "$UM_TMP/lossy-send.log"))"
um_exec da iptables -F OUTPUT
um_exec db iptables -F OUTPUT
# The same name again: kept beside the first, never over it.
um_cli alpha file send beta "$UM_TMP/lossy.bin" >/dev/null || um_fail "the second lossy.bin"
cmp -s "$UM_TMP/lossy.bin" "$UM_TMP/beta-downloads/lossy (1).bin" || um_fail "no 'lossy (1).bin' beside the first"
cmp -s "$UM_TMP/lossy.bin" "$UM_TMP/beta-downloads/lossy.bin" || um_fail "the first lossy.bin changed"
# An empty file: no chunk ever comes, the offer alone completes it.
: >"$UM_TMP/empty.bin"
timeout 20 "$UMBRA" --socket "${UM_NODE_SOCK[alpha]}" file send beta "$UM_TMP/empty.bin" >/dev/null || um_fail "the empty file"
[ -f "$UM_TMP/beta-downloads/empty.bin" ] && [ ! -s "$UM_TMP/beta-downloads/empty.bin" ] || um_fail "no empty.bin at beta"

# Messages to an offline peer survive a restart of the sender.
um_stop beta
um_wait 5 "alpha shows beta offline (its goodbye)" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[alpha]}' presence | grep -q '^beta *offline'"
for i in $(seq 1 20); do
	um_cli alpha send beta "offline $i" >/dev/null || um_fail "queue $i"
done
um_stop alpha
um_start alpha
um_start beta
um_wait 30 "beta gets the 20 queued messages" um_inbox_check beta alpha in offline 20
um_wait 15 "alpha sees them delivered" um_inbox_check alpha beta out offline 20
um_log "20 messages queued for an offline peer, sender restarted: delivered once"
um_inbox_check beta alpha in a2b 200 || um_fail "history changed after the restarts"

# kill -9 during a stream of messages, first of the sender, then of the
# receiver: every message `umbra send` accepted arrives once, in order.
storm() { # PREFIX: 300 sends, one line "ok N" or "failed N" each
	for i in $(seq 1 300); do
		if "$UMBRA" --socket "${UM_NODE_SOCK[alpha]}" send beta "$1 $i" >/dev/null 2>&1; then
			echo "ok $i"
		else
			echo "failed $i"
		fi
	done >"$UM_TMP/$1.txt"
}
storm_check() { # PREFIX: beta holds every accepted one once, in order; others only if their send failed
	um_cli beta inbox --json --peer alpha | python3 -c '
import json, sys
prefix = sys.argv[1]
ok, failed = [], set()
for line in open(sys.argv[2]):
    word, i = line.split()
    (ok.append(int(i)) if word == "ok" else failed.add(int(i)))
got = [int(m["text"].split()[1]) for m in json.load(sys.stdin) if m["direction"] == "in" and m["text"].startswith(prefix + " ")]
if len(got) != len(set(got)):
    sys.exit("duplicates")
if [i for i in got if i not in failed] != ok:
    sys.exit("have %d of %d accepted" % (len([i for i in got if i not in failed]), len(ok)))
' "$1" "$UM_TMP/$1.txt"
}
restart_after_kill() { # NODE
	kill -KILL "${UM_NODE_PID[$1]}"
	wait "${UM_NODE_PID[$1]}" 2>/dev/null
	sleep 0.3
	rm -f "${UM_NODE_SOCK[$1]}"
	um_start "$1"
}
for victim in alpha beta; do
	storm "storm-$victim" &
	STORM=$!
	um_wait 30 "100 messages accepted" sh -c "[ \$(grep -c ^ok '$UM_TMP/storm-$victim.txt' 2>/dev/null || echo 0) -ge 100 ]"
	restart_after_kill $victim
	wait $STORM
	um_wait 30 "every accepted message once at beta ($victim killed)" storm_check "storm-$victim"
	um_log "kill -9 of $victim during 300 sends: $(grep -c ^ok "$UM_TMP/storm-$victim.txt") accepted, all delivered once, in order (beta: $(um_json beta status 'd["node"]["msg_duplicates"]') duplicates acknowledged again this run)"
done

# ---- device = none, as an ordinary user ----
NB="$UM_TMP/nobody"
mkdir -m 0755 "$NB" && chown nobody: "$NB" && chmod 0711 "$UM_TMP" || um_fail "a directory for nobody"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
for n in epsilon zeta; do
	"$UMBRA" keygen -o "$NB/$n.key" >/dev/null && chown nobody: "$NB/$n.key" || um_fail "keygen $n"
	UM_NODE_ID[$n]=$("$UMBRA" pubkey "$NB/$n.key" | awk '/^peer_id/ {print $2}')
done
nobody_config() { # NODE NS PEER PEER_ADDRESS
	UM_NODE_NS[$1]=$2
	UM_NODE_SOCK[$1]="$NB/$1.sock"
	cat >"$NB/$1.conf" <<EOF
[node]
identity = $NB/$1.key
listen-port = 40001
device = none
control-socket = $NB/$1.sock
store = $NB/$1/messages.db
log-level = info
[peer "$3"]
id = ${UM_NODE_ID[$3]}
endpoint = $4:40001
EOF
}
nobody_config epsilon da zeta 198.51.100.2
nobody_config zeta db epsilon 198.51.100.1
for n in epsilon zeta; do
	um_bg "${UM_NODE_NS[$n]}" "$n.log" setpriv --reuid=nobody --regid=nogroup --clear-groups "$UMBRAD" --config "$NB/$n.conf"
	UM_NODE_PID[$n]=$UM_LAST_PID
	um_wait 10 "$n's control socket" test -S "$NB/$n.sock"
done
[ "$(stat -c %U "$NB/epsilon/messages.db")" = nobody ] || um_fail "epsilon's store is not nobody's"
for i in $(seq 1 20); do
	as_nobody "$UMBRA" --socket "$NB/epsilon.sock" send zeta "e2z $i" >/dev/null || um_fail "epsilon send $i"
	as_nobody "$UMBRA" --socket "$NB/zeta.sock" send epsilon "z2e $i" >/dev/null || um_fail "zeta send $i"
done
nobody_inbox() { # NODE PEER PREFIX N
	as_nobody "$UMBRA" --socket "$NB/$1.sock" inbox --json --peer "$2" | python3 -c '
import json, sys
prefix, n = sys.argv[1], int(sys.argv[2])
texts = [m["text"] for m in json.load(sys.stdin) if m["direction"] == "in"]
sys.exit(texts != ["%s %d" % (prefix, i) for i in range(1, n + 1)])
' "$3" "$4"
}
um_wait 20 "zeta has epsilon's 20" nobody_inbox zeta epsilon e2z 20
um_wait 20 "epsilon has zeta's 20" nobody_inbox epsilon zeta z2e 20
um_log "device = none as user nobody: 20 messages each way"
kill -TERM "${UM_NODE_PID[epsilon]}" "${UM_NODE_PID[zeta]}"

# ---- through a relay: gamma over TLS (its UDP blocked), delta over UDP ----
um_two_sites
um_exec relay ip addr add 203.0.113.3/24 dev eth0
um_exec a iptables -A OUTPUT -o lo -j ACCEPT
um_exec a iptables -A OUTPUT -o um0 -j ACCEPT
um_exec a iptables -A OUTPUT -p udp -j DROP
um_key relayid
um_relay_config relay relay 203.0.113.2:51821 "identity = $UM_TMP/relayid.key
listen-tls = 203.0.113.3:443
keepalive-interval = 2s
registration-timeout = 10s"
um_config gamma a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
relay = wss://${UM_NODE_ID[relayid]}@203.0.113.3:443
connect-timeout = 2s
direct = false
store = $UM_TMP/gamma/messages.db"
um_config delta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
direct = false
store = $UM_TMP/delta/messages.db
max-file-size = 1000000"
um_peer gamma delta "" 100.96.0.2/32
um_peer delta gamma "" 100.96.0.1/32 "accept-files = ask"
um_start relay
um_start gamma
um_start delta
um_wait 30 "gamma established with delta" um_established gamma delta
[ "$(um_peer_field gamma delta transport)" = relay-tcp ] || um_fail "gamma: transport to delta is not relay-tcp ($(um_peer_field gamma delta transport))"
[ "$(um_peer_field delta gamma path)" = relay ] || um_fail "delta: path to gamma is not relay"
for i in $(seq 1 50); do
	um_cli gamma send delta "g2d $i" >/dev/null || um_fail "gamma send $i"
	um_cli delta send gamma "d2g $i" >/dev/null || um_fail "delta send $i"
done
um_wait 30 "delta has gamma's 50" um_inbox_check delta gamma in g2d 50
um_wait 30 "gamma has delta's 50" um_inbox_check gamma delta in d2g 50
um_wait 15 "gamma's delivered" um_inbox_check gamma delta out g2d 50
um_log "relay (TLS on gamma's side, UDP on delta's): 50 messages each way, in order, once, delivered"

# Offers under accept-files = ask: one accepted, one rejected with a reason.
head -c 300000 /dev/urandom >"$UM_TMP/ask.bin"
"$UMBRA" --socket "${UM_NODE_SOCK[gamma]}" file send delta "$UM_TMP/ask.bin" >"$UM_TMP/ask1.log" 2>&1 &
ASK1=$!
UM_PIDS+=("$ASK1")
um_wait 10 "delta sees the offer" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[delta]}' file list | grep -q ' offered .*ask.bin'"
ID1=$(um_cli delta file list | awk '/ offered .*ask.bin/ {print $1}')
um_cli delta file accept "$ID1" || um_fail "file accept"
um_wait 30 "the accepted file arrives" eval "! kill -0 $ASK1 2>/dev/null"
wait "$ASK1" || um_fail "the accepted transfer failed: $(cat "$UM_TMP/ask1.log")"
cmp -s "$UM_TMP/ask.bin" "$UM_TMP/delta/downloads/ask.bin" || um_fail "the accepted file differs"
"$UMBRA" --socket "${UM_NODE_SOCK[gamma]}" file send delta "$UM_TMP/ask.bin" >"$UM_TMP/ask2.log" 2>&1 &
ASK2=$!
UM_PIDS+=("$ASK2")
um_wait 10 "delta sees the second offer" sh -c "'$UMBRA' --socket '${UM_NODE_SOCK[delta]}' file list | grep -q ' offered .*ask.bin'"
ID2=$(um_cli delta file list | awk '/ offered .*ask.bin/ {print $1}')
um_cli delta file reject "$ID2" "not today" || um_fail "file reject"
um_wait 10 "the sender sees the refusal" eval "! kill -0 $ASK2 2>/dev/null"
wait "$ASK2" && um_fail "a refused transfer exited 0"
grep -q refused "$UM_TMP/ask2.log" || um_fail "the sender did not show the refusal"
grep -q 'not today' "$UM_TMP/gamma.log" || um_fail "the sender did not log the reason"
ls "$UM_TMP/delta/downloads/" | grep -q 'ask (1).bin' && um_fail "the refused file was written"
um_log "accept-files = ask: accepted one (verified), refused one (the sender saw the reason)"
# Beyond delta's max-file-size: refused before any chunk, the sender told why.
head -c 1000001 /dev/urandom >"$UM_TMP/big.bin"
um_cli gamma file send delta "$UM_TMP/big.bin" >"$UM_TMP/big-send.log" 2>&1 && um_fail "a file over max-file-size was taken"
grep -q "max-file-size" "$UM_TMP/gamma.log" || um_fail "gamma did not log the reason of the refusal"
ls -a "$UM_TMP/delta/downloads" | grep -q big && um_fail "something of the refused file was written"
um_log "max-file-size: a file one byte over was refused with its reason"
# ---- relay -> direct -> relay during a stream of messages ----
um_stop gamma
um_stop delta
um_exec a iptables -F OUTPUT
cut() { # -I|-D: the direct path between the sites dropped in the internet, or not
	um_exec inet iptables "$1" FORWARD -i ia -o ib -j DROP
	um_exec inet iptables "$1" FORWARD -i ib -o ia -j DROP
}
cut -I
um_key eta
um_key theta
um_config eta a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
direct = true
retry-interval = 3s
connect-timeout = 2s
store = $UM_TMP/eta/messages.db"
um_config theta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
direct = true
retry-interval = 3s
connect-timeout = 2s
store = $UM_TMP/theta/messages.db"
um_peer eta theta "" 100.96.0.2/32
um_peer theta eta "" 100.96.0.1/32
um_start eta
um_start theta
um_wait 30 "eta established with theta" um_established eta theta
[ "$(um_peer_field eta theta path)" = relay ] || um_fail "eta: not on the relay path with the direct path cut"
(
	for i in $(seq 1 150); do
		"$UMBRA" --socket "${UM_NODE_SOCK[eta]}" send theta "mig $i" >/dev/null || echo "send $i failed"
		echo "$i" >"$UM_TMP/mig.count"
		sleep 0.05
	done
) >"$UM_TMP/mig.log" 2>&1 &
MIG=$!
UM_PIDS+=("$MIG")
sent_at_least() { [ "$(cat "$UM_TMP/mig.count" 2>/dev/null || echo 0)" -ge "$1" ]; }
um_wait 20 "50 messages sent on the relay path" sent_at_least 50
cut -D
um_wait 20 "eta on the direct path" sh -c "[ \"\$('$UMBRA' --socket '${UM_NODE_SOCK[eta]}' peers --json | python3 -c 'import json,sys; print([p[\"path\"] for p in json.load(sys.stdin)[\"peers\"]][0])')\" = direct ]"
um_log "eta: relay -> direct after $(cat "$UM_TMP/mig.count") messages"
um_wait 20 "100 messages sent" sent_at_least 100
cut -I
um_wait 30 "eta back on the relay path" sh -c "[ \"\$('$UMBRA' --socket '${UM_NODE_SOCK[eta]}' peers --json | python3 -c 'import json,sys; print([p[\"path\"] for p in json.load(sys.stdin)[\"peers\"]][0])')\" = relay ]"
um_log "eta: direct -> relay (the direct path cut) after $(cat "$UM_TMP/mig.count") messages"
wait "$MIG"
[ -s "$UM_TMP/mig.log" ] && um_fail "sends failed: $(head -3 "$UM_TMP/mig.log")"
um_wait 60 "theta has the 150 messages" um_inbox_check theta eta in mig 150
um_wait 30 "eta sees them delivered" um_inbox_check eta theta out mig 150
um_log "relay -> direct -> relay during 150 messages: all delivered, in order, once"
um_log "PASS"
