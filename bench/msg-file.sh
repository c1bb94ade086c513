#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# File transfer between two namespaces over a direct umbra session (root):
# `umbra file send` beside iperf3 TCP and scp through the same umbra tunnel,
# in one run (this VM's speed drifts). Prints MB/s, seconds, the ratio to
# iperf3 and the CPU seconds per GB both daemons spent (utime + stime), in
# all and per side (alpha sends, beta receives).
#   BUILD=build SIZE_MB=200 DURATION=10 RUNS=1 bench/msg-file.sh
# NO_REF=1 skips iperf3 and scp (vs TCP then meaningless). THREADS=1 adds the CPU seconds of each daemon thread during each transfer.
# Needs iperf3 and openssh-server (bench/install-peers installs them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
size_mb=${SIZE_MB:-200}
duration=${DURATION:-10}
runs=${RUNS:-1}
export UMBRAD=$build/umbrad UMBRA=$build/umbra
. "$here/../tests/netns/lib.sh"
command -v iperf3 >/dev/null || um_skip "iperf3 missing"
[ -x /usr/sbin/sshd ] || um_skip "sshd missing (bench/install-peers)"
um_init

um_ns a
um_ns b
um_link a veth0 198.51.100.1/24 b veth0 198.51.100.2/24
for n in alpha beta; do mkdir -p "$UM_TMP/$n-downloads"; done
um_config alpha a 51820 100.64.0.1/24 tun "store = $UM_TMP/alpha.db
download-dir = $UM_TMP/alpha-downloads
max-file-size = 68719476736"
um_config beta b 51820 100.64.0.2/24 tun "store = $UM_TMP/beta.db
download-dir = $UM_TMP/beta-downloads
max-file-size = 68719476736"
um_peer alpha beta 198.51.100.2:51820 100.64.0.2/32 "accept-files = always"
um_peer beta alpha 198.51.100.1:51820 100.64.0.1/32 "accept-files = always"
um_start alpha
um_start beta
um_wait 10 "session" um_established alpha beta

# CPU seconds (utime + stime) of both daemons, then of alpha and of beta.
cpu_s() {
	local a b
	a=$(awk '{print $14 + $15}' "/proc/${UM_NODE_PID[alpha]}/stat")
	b=$(awk '{print $14 + $15}' "/proc/${UM_NODE_PID[beta]}/stat")
	echo "$a $b $(getconf CLK_TCK)" | awk '{printf "%.3f %.3f %.3f", ($1 + $2) / $3, $1 / $3, $2 / $3}'
}
# CPU-s/GB from two cpu_s readings and the bytes moved: "all send recv".
cpu_gb() {
	awk -v a="$1" -v b="$2" -v bytes="$3" 'BEGIN {split(a, x, " "); split(b, y, " "); g = bytes / 1e9;
		printf "%.2f %.2f %.2f", (y[1] - x[1]) / g, (y[2] - x[2]) / g, (y[3] - x[3]) / g}'
}
now_s() { date +%s.%N; }
# Per-thread CPU ticks of both daemons: "side:tid:name ticks" lines.
threads_cpu() {
	local side pid t
	for side in alpha beta; do
		pid=${UM_NODE_PID[$side]}
		for t in /proc/"$pid"/task/*; do
			echo "$side:${t##*/}:$(cat "$t/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
		done
	done
}
# The CPU seconds each thread spent between two threads_cpu snapshots
# (THREADS=1), busiest first: shows which thread a transfer waits for.
threads_report() {
	awk -v hz="$(getconf CLK_TCK)" -v secs="$3" 'NR == FNR {a[$1] = $2; next}
		{d = ($2 - a[$1]) / hz; if (d > 0.005) printf "  %-24s %6.2f CPU-s (%3.0f %% of the transfer)\n", $1, d, 100 * d / secs}' \
		"$1" "$2" | sort -k2 -nr
}
# One result line for a copy of the file: uses t0 t1 c0 c1 tcp_mbs.
line() {
	read -r g_all g_send g_recv < <(cpu_gb "$c0" "$c1" $((size_mb << 20)))
	echo "$t0 $t1 $size_mb $tcp_mbs" | awk -v name="$1" -v a="$g_all" -v s="$g_send" -v r="$g_recv" \
		'{t = $2 - $1; m = $3 * 1.048576 / t; printf "%-14s %10.1f %9.2f %8.2f %12s %9s %9s\n", name, m, t, ($4 > 0 ? m / $4 : 0), a, s, r}'
}

head -c $((size_mb << 20)) /dev/urandom >"$UM_TMP/file.bin"
sum=$(sha256sum <"$UM_TMP/file.bin" | cut -d' ' -f1)

# sshd on beta's tunnel address, root with a throwaway key.
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$UM_TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$UM_TMP/client_key"
cp "$UM_TMP/client_key.pub" "$UM_TMP/authorized_keys"
cat >"$UM_TMP/sshd_config" <<EOF
ListenAddress 100.64.0.2
Port 2222
HostKey $UM_TMP/host_key
PermitRootLogin yes
AuthorizedKeysFile $UM_TMP/authorized_keys
StrictModes no
UsePAM no
PidFile $UM_TMP/sshd.pid
Subsystem sftp internal-sftp
EOF
um_bg b sshd.log /usr/sbin/sshd -D -e -f "$UM_TMP/sshd_config"
um_wait 5 "sshd" um_exec b sh -c 'ss -ltn | grep -q 100.64.0.2:2222'
um_bg b iperf3-server.log iperf3 -s -B 100.64.0.2
um_wait 5 "iperf3 server" um_exec b sh -c 'ss -ltn | grep -q 100.64.0.2:5201'

printf '%-14s %10s %9s %8s %12s %9s %9s\n' "run" "MB/s" "seconds" "vs TCP" "CPU-s/GB" "sender" "receiver"
tcp_mbs=0
for ((run = 1; run <= runs; run++)); do
	# iperf3: one TCP stream through the tunnel (NO_REF=1: umbra only, for profiling).
	if [ -z "${NO_REF:-}" ]; then
		c0=$(cpu_s)
		um_exec a iperf3 -c 100.64.0.2 -t "$duration" -J >"$UM_TMP/iperf3.json" || um_fail "iperf3"
		c1=$(cpu_s)
		read -r tcp_mbs tcp_bytes < <(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]["sum_received"]; print("%.1f %d" % (e["bits_per_second"]/8e6, e["bytes"]))' "$UM_TMP/iperf3.json")
		read -r g_all g_send g_recv < <(cpu_gb "$c0" "$c1" "$tcp_bytes")
		printf '%-14s %10s %9s %8s %12s %9s %9s\n' "iperf3 TCP" "$tcp_mbs" "$duration" "1.00" "$g_all" "$g_send" "$g_recv"

		# scp through the tunnel.
		rm -f "$UM_TMP/scp.out"
		c0=$(cpu_s) t0=$(now_s)
		um_exec a scp -q -i "$UM_TMP/client_key" -P 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
			"$UM_TMP/file.bin" root@100.64.0.2:"$UM_TMP/scp.out" || um_fail "scp"
		t1=$(now_s) c1=$(cpu_s)
		[ "$(sha256sum <"$UM_TMP/scp.out" | cut -d' ' -f1)" = "$sum" ] || um_fail "scp copy differs"
		line "scp"
		# scp's copy would leave 1 GB of dirty pages that the kernel writes back
		# during the next tool's run (umbra makes what it receives durable as it
		# goes and would wait for it): removed, and the rest synced, first.
		rm -f "$UM_TMP/scp.out"
		sync
	fi

	# umbra file send: from the offer to the receiver's verified file.
	rm -f "$UM_TMP/beta-downloads/"*
	# PERF=DIR: sample both daemons during the transfer (perf report -i DIR/perf.data).
	if [ -n "${PERF:-}" ]; then
		perf record -q -g -o "$PERF/perf.data" -p "${UM_NODE_PID[alpha]},${UM_NODE_PID[beta]}" 2>/dev/null &
		perf_pid=$!
	fi
	[ -n "${THREADS:-}" ] && threads_cpu >"$UM_TMP/threads0"
	c0=$(cpu_s) t0=$(now_s)
	um_cli alpha file send beta "$UM_TMP/file.bin" >"$UM_TMP/send.log" 2>&1 || um_fail "umbra file send: $(tail -3 "$UM_TMP/send.log")"
	t1=$(now_s) c1=$(cpu_s)
	if [ -n "${PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid"; fi
	got=$(ls "$UM_TMP/beta-downloads/"file*.bin 2>/dev/null | head -1)
	[ -n "$got" ] && [ "$(sha256sum <"$got" | cut -d' ' -f1)" = "$sum" ] || um_fail "umbra copy differs or missing"
	line "umbra file"
	if [ -n "${THREADS:-}" ]; then
		threads_cpu >"$UM_TMP/threads1"
		threads_report "$UM_TMP/threads0" "$UM_TMP/threads1" "$(echo "$t0 $t1" | awk '{print $2 - $1}')"
		sed 's/^/  cli: /' "$UM_TMP/send.log"
		# The daemons' view of the last transfer (offer, acceptance, verification).
		grep -h "file.bin" "$UM_TMP"/alpha.log "$UM_TMP"/beta.log | sort | tail -4 | sed 's/^/  log: /'
	fi
done
grep -h "delivered to" "$UM_TMP"/alpha.log | tail -1
um_cli alpha status --json | python3 -c 'import json,sys; n=json.load(sys.stdin)["node"]; print("alpha: " + ", ".join("%s %s" % (k, v) for k, v in sorted(n.items()) if k.startswith("msg_")))'
um_cli beta status --json | python3 -c 'import json,sys; n=json.load(sys.stdin)["node"]; print("beta: " + ", ".join("%s %s" % (k, v) for k, v in sorted(n.items()) if "ring" in k or k.startswith("dp_drop")))'
