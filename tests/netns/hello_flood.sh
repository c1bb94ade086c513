#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# HELLO flood from 100 real source prefixes (issue 13, review #3): a host
# with one address in each of 100 /24s (100.64.N.1, N = 1..100) sends
# HELLOs with a valid mac1 to beta, takes the cookie each source is sent
# and puts it on its next HELLOs, so the flood gets past the cookie check
# and every admitted HELLO costs beta a KEM keygen and a signature (on its
# handshake worker thread). Meanwhile:
#  - alpha's legitimate handshake with beta completes (twice: at start and
#    after alpha restarts), each within a generous bound;
#  - beta's control-thread timers stay on time: its timer lateness
#    (loop_timer_late_max_us / _p99_us in `umbra status`) is printed, the
#    99th percentile stays under UM_LATE_P99_MS (50 ms) and the maximum
#    under UM_LATE_MAX_MS (250 ms). Both nodes use a relay and direct paths,
#    so beta's loop has real timers to run: relay keepalives and the
#    direct path's health probes (health-interval 200 ms: 20 per second).
#
#   a 198.51.100.1 --+
#   b 198.51.100.2 --+-- sw (bridge)
#   m 198.51.100.3 --+   m also holds 100.64.1.1 .. 100.64.100.1
#   r 198.51.100.4 --+   relay :51821
set -u
. "$(dirname "$0")/lib.sh"
um_init
# A flood test measures time against budgets sized for optimized crypto (a
# CHALLENGE costs ~1 ms at -O2, ~15 ms at -O0 with ASan): in an unoptimized
# build (build-asan) the budgets themselves saturate a core, so the test
# skips there (UM_FLOOD_FORCE=1 runs it anyway). cookie_flood covers the
# HELLO path under the sanitizers.
optimized_build() {
	python3 - "${UM_BUILD:-}/meson-info/intro-buildoptions.json" <<'PY'
import json, sys
try:
    o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
except (OSError, ValueError):
    sys.exit(0)  # unknown: assume optimized
sys.exit(1 if str(o.get("optimization")) in ("0", "plain") else 0)
PY
}
[ "${UM_FLOOD_FORCE:-0}" = 1 ] || optimized_build || um_skip "unoptimized build: the flood budgets are sized for optimized crypto"
flood=${UM_BUILD:-}/tests/netns/um_flood
[ -x "$flood" ] || um_fail "um_flood not built ($flood)"
rate=${UM_FLOOD_RATE:-2000}
# The 99th percentile must stay under 50 ms and the maximum under 250 ms.
# A control wakeup stops after 5 ms of work (node/node.c) and CHALLENGEs
# are signed on the handshake worker (node/handshake_worker.c), so a
# callback waits behind cheap HELLO checks only: measured 2.5-5.6 ms max
# and 0.6-3.8 ms p99 on a shared, loaded 2-vCPU machine (signing on the
# control thread: 6.7-15 ms both; before the 5 ms bound: up to 460 ms).
# The slack is for CI running other tests beside this one.
late_p99_ms=${UM_LATE_P99_MS:-50}
late_max_ms=${UM_LATE_MAX_MS:-250}
seconds=16

um_ns sw
ip -n "$(um_nsname sw)" link add br0 type bridge
ip -n "$(um_nsname sw)" link set br0 up
i=1
for n in a b m r; do
	um_ns $n
	ip -n "$(um_nsname $n)" link add veth0 type veth peer name p$n netns "$(um_nsname sw)"
	ip -n "$(um_nsname $n)" addr add 198.51.100.$i/24 dev veth0
	ip -n "$(um_nsname $n)" link set veth0 up
	ip -n "$(um_nsname sw)" link set p$n master br0 up
	i=$((i + 1))
done
# 100 sites: one address in each of 100.64.1.0/24 .. 100.64.100.0/24.
for i in $(seq 1 100); do
	echo "addr add 100.64.$i.1/32 dev veth0"
done | ip -n "$(um_nsname m)" -batch - || um_fail "flooder addresses"
ip -n "$(um_nsname b)" route add 100.64.0.0/16 dev veth0

um_key alpha
um_key beta
um_relay_config relay r 198.51.100.4:51821 "allow = ${UM_NODE_ID[alpha]}, ${UM_NODE_ID[beta]}
keepalive-interval = 2s"
PATHCONF="relay = 198.51.100.4:51821
direct = true
health-interval = 200ms"
um_config alpha a 51820 100.96.0.1/24 tun "$PATHCONF"
um_config beta b 51820 100.96.0.2/24 tun "$PATHCONF"
um_peer alpha beta 198.51.100.2:51820 100.96.0.2/32
um_peer beta alpha "" 100.96.0.1/32
um_start relay
um_start beta
home() { [ "$(um_json beta status 'd["relays"][0]["state"]')" = home ]; }
um_wait 10 "beta registered with the relay" home

late() { # beta's lateness: "samples max_us p99_us"
	um_json beta status '"%d %d %d" % (d["node"]["loop_timer_late_samples"], d["node"]["loop_timer_late_max_us"], d["node"]["loop_timer_late_p99_us"])'
}
beta_counters() { # beta's handshake and lateness counters, for the log
	um_cli beta status --json | python3 -c '
import json, sys
n = json.load(sys.stdin)["node"]
print("beta:", {k: v for k, v in n.items() if k.startswith(("hs_", "dp_ring", "loop_", "under_load"))})' >&2
}
read -r s0 max0 p990 < <(late) || um_fail "no loop_timer_late_* keys in beta's status"
um_log "beta before the flood: timer lateness max $max0 us, p99 $p990 us ($s0 callbacks)"

um_bg m flood.log "$flood" "${UM_NODE_ID[beta]}" 198.51.100.2:51820 "$rate" "$seconds" 100.64.1.1 100 256 cookies
flood_pid=$UM_LAST_PID
t_flood=$(date +%s%N)
sleep 2

# Two legitimate handshakes under the flood.
times=()
for round in 1 2; do
	start=$(date +%s%N)
	um_start alpha
	until um_established alpha beta; do
		if (($(date +%s%N) - start > 15000000000)); then
			beta_counters
			um_fail "alpha's handshake with beta did not complete within 15 s under the flood (round $round)"
		fi
		sleep 0.05
	done
	ms=$((($(date +%s%N) - start) / 1000000))
	um_wait 5 "traffic through the tunnel under the flood" um_ping a 100.96.0.2
	times+=("$ms")
	um_log "round $round: alpha established with beta after $ms ms under the flood"
	((round == 2)) || um_stop alpha # the second session stays, with its path timers
done
# The direct path's health probes are most of the timers measured below.
direct_path() { [ "$(um_peer_field beta alpha path_state)" = direct ]; }
um_wait 8 "beta's direct path to alpha under the flood" direct_path
um_log "path alpha->beta: $(um_peer_field alpha beta path) $(um_peer_field alpha beta path_state)"

# Lateness while the flood runs: sample every second until it ends (the
# window covers 10-20 s, so the worst moment of the flood is in one of them).
worst_max=0 worst_p99=0 samples=0 readings=()
while kill -0 "$flood_pid" 2>/dev/null && (($(date +%s%N) - t_flood < (seconds - 1) * 1000000000)); do
	read -r s m p < <(late)
	readings+=("$m/$p")
	((m > worst_max)) && worst_max=$m
	((p > worst_p99)) && worst_p99=$p
	samples=$s
	sleep 1
done
wait "$flood_pid" || um_fail "the flooder failed: $(cat "$UM_TMP/flood.log")"
um_log "flooder: $(cat "$UM_TMP/flood.log")"
stats=$(um_cli beta status --json)
read -r hellos budget cookies limited < <(echo "$stats" | python3 -c '
import json, sys
n = json.load(sys.stdin)["node"]
print(n["hs_hellos"], n["hs_challenge_budget"], n["hs_cookies_sent"], n["hs_rate_limited"])')
um_log "beta: hs_hellos $hellos, hs_challenge_budget $budget, hs_cookies_sent $cookies, hs_rate_limited $limited"
um_log "beta's timer lateness under the flood: max $worst_max us, p99 $worst_p99 us ($samples callbacks in the window; max/p99 us once a second: ${readings[*]})"
um_log "handshake times under the flood: ${times[*]} ms"
sent=$(sed -n 's/^sent \([0-9]*\) hellos.*/\1/p' "$UM_TMP/flood.log")
((${sent:-0} >= rate * seconds * 9 / 10)) || um_fail "the flooder sent only ${sent:-0} HELLOs"
taken=$(sed -n 's/.*cookies taken \([0-9]*\).*/\1/p' "$UM_TMP/flood.log")
replies=$(sed -n 's/.*handshake replies \([0-9]*\).*/\1/p' "$UM_TMP/flood.log")
# The flood must have been real work for beta, or the test proves nothing.
((${taken:-0} >= 50)) || um_fail "the flooder took only ${taken:-0} cookies: the flood did not get past the cookie check"
((${replies:-0} >= 100)) || um_fail "beta answered only ${replies:-0} handshake datagrams to the flood"
((samples >= 100)) || um_fail "only $samples timer callbacks measured in the window"
((worst_p99 < late_p99_ms * 1000)) || um_fail "beta's timers ran $worst_p99 us late at the 99th percentile under the flood (bound $late_p99_ms ms)"
((worst_max < late_max_ms * 1000)) || um_fail "beta's timers ran up to $worst_max us late under the flood (bound $late_max_ms ms)"
for ms in "${times[@]}"; do
	((ms < 5000)) || um_fail "a legitimate handshake took $ms ms under the flood"
done
um_stop alpha
um_stop beta
um_stop relay
