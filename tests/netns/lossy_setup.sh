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

command -v jq >/dev/null || um_fail "jq missing (scripts/install-deps)"
um_lossy_internet "$DELAY_MS" "$LOSS_PCT" "${LOSSY_RELAY_LOSS:-0}"

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
