#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connection setup over lossy, distant links (issue 14): two nodes and a
# relay on public addresses, every link to the "internet" router delayed
# (LOSSY_DELAY_MS one way, 20 ms: the NAT lab's userspace delay pipe, or
# netem where the kernel has it), each node's link dropping LOSSY_LOSS_PCT
# (5%) of the packets per direction (iptables statistic in the router, as
# the NAT lab does). The relay's link is clean (a data centre) unless
# LOSSY_RELAY_LOSS=1 (the NAT lab's LOSS_PCT impairs it too). So a node
# loses 5% each way to the relay and ~10% to the other node (two lossy
# hops, relayed or not): a ~9 KB handshake message in 8 fragments loses
# at least one more often than not, a REGISTER (~7) every third time.
#
#   a 198.51.100.2 --pipe-- inet --pipe-- b 198.51.100.6
#                            |
#                          pipe -- relay 203.0.113.2:51821
#
# Phase 1: direct = false and no endpoints: both nodes register with the
# relay (REGISTER, ~7 fragments) and handshake through it. Phase 2: the
# nodes know each other's endpoints and no relay: a direct handshake.
# Each must complete within LOSSY_BOUND_S (20 s; measured on today's code
# over ~35 runs: relayed 1.0-7.8 s from start to both established,
# registration included, direct 0.3-4.5 s); the times, the setup_*
# keys of the status and the fragments each node sent against those one
# message needs (counted on its own interface by fragcount.py, before the
# loss) are printed. Today a lost fragment costs the whole message again.
set -u
. "$(dirname "$0")/lib.sh"
um_init
# LOSSY_KEEP=DIR: a copy of the logs and counts there, whatever the outcome.
trap '_rc=$?; [ -n "${LOSSY_KEEP:-}" ] && cp -r "$UM_TMP" "$LOSSY_KEEP"; (exit $_rc); um_teardown' EXIT

DELAY_MS=${LOSSY_DELAY_MS:-20}
LOSS_PCT=${LOSSY_LOSS_PCT:-5}
BOUND_S=${LOSSY_BOUND_S:-20}
PHASES=${LOSSY_PHASES:-relay direct} # either or both

# The delay: netem if the kernel has it, else the NAT lab's delay pipe.
netem=no
um_ns probe
if ip -n "$(um_nsname probe)" link add p0 type veth peer name p1 2>/dev/null &&
	ip netns exec "$(um_nsname probe)" tc qdisc add dev p0 root netem delay 1ms 2>/dev/null; then
	netem=yes
fi
pipe=""
if [ $netem = no ]; then
	for d in "${UM_NAT_LAB:-}" "$UM_NETNS_DIR/../../../shared/lab/nat" /work/shared/lab/nat; do
		[ -n "$d" ] && [ -f "$d/delaypipe.py" ] && { pipe=$d/delaypipe.py; break; }
	done
	[ -n "$pipe" ] || um_skip "no netem and no NAT lab delay pipe (set UM_NAT_LAB)"
fi
command -v jq >/dev/null || um_fail "jq missing (scripts/install-deps)"

# lossy_link A IFA ADDRA B IFB ADDRB: like um_link, DELAY_MS each way.
lossy_link() {
	local a b i
	a=$(um_nsname "$1") b=$(um_nsname "$4")
	if [ $netem = yes ]; then
		um_link "$@"
		ip netns exec "$a" tc qdisc add dev "$2" root netem delay "${DELAY_MS}ms"
		ip netns exec "$b" tc qdisc add dev "$5" root netem delay "${DELAY_MS}ms"
		return
	fi
	python3 "$pipe" --ns1 "$a" --if1 "$2" --ns2 "$b" --if2 "$5" --delay-ms "$DELAY_MS" \
		>"$UM_TMP/pipe-$2-$5.log" 2>&1 &
	UM_PIDS+=($!)
	for ((i = 0; i < 50; i++)); do
		ip -n "$a" link show "$2" >/dev/null 2>&1 && ip -n "$b" link show "$5" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip -n "$b" link show "$5" >/dev/null 2>&1 || um_fail "delay pipe $2-$5 did not come up"
	ip -n "$a" addr add "$3" dev "$2"
	ip -n "$b" addr add "$6" dev "$5"
	ip -n "$a" link set "$2" up
	ip -n "$b" link set "$5" up
}

for n in a b relay inet; do um_ns $n; done
lossy_link a eth0 198.51.100.2/30 inet ia 198.51.100.1/30
lossy_link b eth0 198.51.100.6/30 inet ib 198.51.100.5/30
lossy_link relay eth0 203.0.113.2/24 inet ir 203.0.113.1/24
um_exec a ip route add default via 198.51.100.1
um_exec b ip route add default via 198.51.100.5
um_exec relay ip route add default via 203.0.113.1
um_exec inet sysctl -qw net.ipv4.ip_forward=1
um_exec a ping -c 3 -i 0.2 -W 2 203.0.113.2 >/dev/null || um_fail "a cannot reach the relay"
um_exec a ping -c 3 -i 0.2 -W 2 198.51.100.6 >/dev/null || um_fail "a cannot reach b"
p=$(awk -v l="$LOSS_PCT" 'BEGIN { printf "%.4f", l / 100 }')
lossy=(ia ib)
[ "${LOSSY_RELAY_LOSS:-0}" = 1 ] && lossy+=(ir)
for i in "${lossy[@]}"; do
	um_exec inet iptables -A FORWARD -i $i -m statistic --mode random --probability "$p" -j DROP
	um_exec inet iptables -A FORWARD -o $i -m statistic --mode random --probability "$p" -j DROP
done
rtt=$(um_exec a ping -c 5 -i 0.2 -W 2 198.51.100.6 | awk -F/ '/^rtt/ { print $5 }')
um_log "links: ${DELAY_MS} ms one way ($([ $netem = yes ] && echo netem || echo delay pipe)), ${LOSS_PCT}% loss per direction on ${lossy[*]}; a-b ping RTT ${rtt:-?} ms"

um_key alpha
um_key beta
um_relay_config relay relay 203.0.113.2:51821 "allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
keepalive-interval = 5s"
um_start relay

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# count_start PHASE / count_stop PHASE: fragcount.py on both nodes' links.
count_start() {
	local n
	for n in a b; do
		um_bg $n "count-$1-$n.log" python3 "$UM_NETNS_DIR/fragcount.py" eth0 "$UM_TMP/count-$1-$n"
		um_wait 5 "counter on $n" test -e "$UM_TMP/count-$1-$n.ready"
	done
}
count_stop() {
	local n
	for n in a b; do touch "$UM_TMP/count-$1-$n.stop"; done
	for n in a b; do um_wait 5 "counter result on $n" test -e "$UM_TMP/count-$1-$n"; done
}
# count_report PHASE NODE NS: "name: N messages x F fragments needed, S sent (+R)".
count_report() {
	local name messages needed sent
	while read -r name messages needed sent; do
		if [ "$name" = hello ]; then
			um_log "  $2 sent $sent HELLO"
		else
			um_log "  $2 sent $sent $name fragments for $messages message(s) of $needed fragments ($((sent - needed)) beyond one message)"
		fi
	done <"$UM_TMP/count-$1-$3"
}
# The per-peer setup keys both ends show.
setup_report() {
	local j
	j=$(um_cli "$1" peers --json | jq -c --arg p "$2" '.peers[] | select(.name == $p)')
	jq -e '.transport != null and (.handshake_retransmitted_datagrams | type) == "number" and .setup_role != null' \
		<<<"$j" >/dev/null || um_fail "$1: no setup keys for $2: $j"
	um_log "  $1 -> $2: $(jq -r '"transport \(.transport), \(.setup_role), setup \(.setup_ms // "?") ms, first reply \(.setup_first_reply_ms // "?") ms, \(.setup_initiations) initiation(s) (\(.setup_total_ms // "?") ms in all), \(.handshake_retransmitted_datagrams) handshake datagrams resent, rto \(.handshake_rto_ms) ms"' <<<"$j")"
}
home() { [ "$(um_json "$1" status 'd["relays"][0]["state"]')" = home ]; }
both_established() { um_established alpha beta && um_established beta alpha; }

t_hs=- t_reg_alpha=- t_reg_beta=- t_direct=-
# ---- phase 1: registration and handshake through the relay ----
if [[ " $PHASES " == *" relay "* ]]; then
um_config alpha a 51820 100.96.0.1/24 tun "relay = 203.0.113.2:51821
direct = false"
um_config beta b 51820 100.96.0.2/24 tun "relay = 203.0.113.2:51821
direct = false"
um_peer alpha beta "" 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
count_start relay
t0=$(now_ms)
um_start alpha
um_start beta
t_reg_alpha="" t_reg_beta="" t_hs=""
# Times are taken when a check has passed (the CLI's ~50 ms included).
while :; do
	[ -z "$t_reg_alpha" ] && home alpha && t_reg_alpha=$(($(now_ms) - t0))
	[ -z "$t_reg_beta" ] && home beta && t_reg_beta=$(($(now_ms) - t0))
	[ -n "$t_reg_alpha" ] && [ -n "$t_reg_beta" ] && both_established && { t_hs=$(($(now_ms) - t0)); break; }
	(($(now_ms) - t0 < BOUND_S * 1000)) || break
	sleep 0.05
done
count_stop relay
count_report relay alpha a
count_report relay beta b
[ -n "$t_reg_alpha" ] || um_fail "alpha did not register with the relay within ${BOUND_S} s"
[ -n "$t_reg_beta" ] || um_fail "beta did not register with the relay within ${BOUND_S} s"
[ -n "$t_hs" ] || um_fail "no session through the relay within ${BOUND_S} s"
um_wait 10 "ping through the relay" um_ping a 100.96.0.2 -W 1
[ "$(um_peer_field alpha beta transport)" = relay ] || um_fail "alpha: transport to beta is not relay"
um_log "relay: registered after ${t_reg_alpha} ms (alpha) / ${t_reg_beta} ms (beta), both established after ${t_hs} ms (bound ${BOUND_S} s)"
setup_report alpha beta
setup_report beta alpha
regs=$(um_json relay status 'd["relay"]["registrations"]')
um_log "  relay: $regs registrations, $(um_json relay status 'd["relay"]["fragments_buffered"]') fragments buffered"
um_stop alpha
um_stop beta
fi

# ---- phase 2: direct handshake ----
if [[ " $PHASES " == *" direct "* ]]; then
um_config alpha a 51820 100.96.0.1/24 tun
um_config beta b 51820 100.96.0.2/24 tun
um_peer alpha beta 198.51.100.6:51820 100.96.0.2/32
um_peer beta alpha 198.51.100.2:51820 100.96.0.1/32
count_start direct
t0=$(now_ms)
um_start alpha
um_start beta
t_direct=""
while :; do
	both_established && { t_direct=$(($(now_ms) - t0)); break; }
	(($(now_ms) - t0 < BOUND_S * 1000)) || break
	sleep 0.05
done
count_stop direct
count_report direct alpha a
count_report direct beta b
[ -n "$t_direct" ] || um_fail "no direct session within ${BOUND_S} s"
um_wait 10 "ping direct" um_ping a 100.96.0.2 -W 1
[ "$(um_peer_field alpha beta transport)" = direct ] || um_fail "alpha: transport to beta is not direct"
um_log "direct: both established after ${t_direct} ms (bound ${BOUND_S} s)"
setup_report alpha beta
setup_report beta alpha
um_stop alpha
um_stop beta
fi

# Fragment acknowledgement (issue 14): a lost piece is resent alone, so
# over the whole run the CHALLENGE and RESPONSE pieces sent beyond what the
# messages needed stay well under one whole resend per message. Runs vary a
# lot (two handshakes may cross; a lost ACK lets the timer resend what was
# not acknowledged): measured 0-40 % extra here, ~6 % on average in the
# engine simulation (bench-handshake-loss), against ~34 % for whole-message
# resends; the exact partial-resend counts are asserted by the engine's unit
# test (handshake_loss). Relay registration handshakes ride inside
# RELAY_HANDSHAKE and are not counted here.
need=0 extra=0
for f in "$UM_TMP"/count-*-a "$UM_TMP"/count-*-b; do
	[ -e "$f" ] || continue
	while read -r name messages needed sent; do
		case $name in challenge | response) ;; *) continue ;; esac
		need=$((need + messages * needed))
		extra=$((extra + sent - messages * needed))
	done <"$f"
done
um_log "handshake pieces: $need needed, $extra resent"
((need > 0)) || um_fail "no CHALLENGE/RESPONSE pieces counted"
((extra * 2 <= need + 16)) || um_fail "$extra CHALLENGE/RESPONSE pieces resent for $need needed: more than half (whole messages resent?)"


um_stop relay
um_log "PASS: relay setup ${t_hs} ms (registration ${t_reg_alpha}/${t_reg_beta} ms), direct setup ${t_direct} ms at ${DELAY_MS} ms delay and ${LOSS_PCT}% loss per direction on ${lossy[*]}"
