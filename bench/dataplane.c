/* SPDX-License-Identifier: MIT */
/* bench-dataplane: a standalone forwarder for measuring the data plane
 * without the handshake. Opens the device, installs FIXED TEST KEYS (derived
 * from --side; never use outside benchmarks), one peer with the given
 * endpoint and allowed-ips, forwards until SIGINT/SIGTERM, then prints the
 * counters. Run by bench/tunnel.sh inside two network namespaces.
 *
 *   bench-dataplane --side a|b --dev NAME --addr 100.64.0.1/24 --port 51820
 *                   --peer 198.51.100.2:51820 --allowed 100.64.0.0/24
 *                   (--addr and --allowed may repeat, e.g. fd00::1/64 and fd00::/64)
 *                   [--workers N] [--tap] [--pad] [--no-offload] [--mtu N] */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/dataplane.h"
#include "net/tun.h"
#include "util/clock.h"
#include "util/error.h"

static volatile sig_atomic_t stop;

static void on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

static int parse_endpoint(const char *text, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = 0;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-dataplane --side a|b --dev NAME --addr CIDR --port N "
			"--peer IP:PORT --allowed CIDR [--workers N] [--tap] [--pad] "
			"[--no-offload] [--mtu N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct um_dataplane_config cfg = {.socket_family = AF_INET6};
	const char *side = NULL, *peer_text = NULL;
	const char *addrs[8], *alloweds[8];
	size_t naddr = 0, nallowed = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--tap")) {
			cfg.tap = true;
			continue;
		}
		if (!strcmp(a, "--pad")) {
			cfg.pad = true;
			continue;
		}
		if (!strcmp(a, "--no-offload")) {
			cfg.no_offload = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--side"))
			side = v;
		else if (!strcmp(a, "--dev"))
			cfg.ifname = v;
		else if (!strcmp(a, "--addr") && naddr < 8)
			addrs[naddr++] = v;
		else if (!strcmp(a, "--port"))
			cfg.listen_port = (uint16_t)atoi(v);
		else if (!strcmp(a, "--peer"))
			peer_text = v;
		else if (!strcmp(a, "--allowed") && nallowed < 8)
			alloweds[nallowed++] = v;
		else if (!strcmp(a, "--workers"))
			cfg.workers = (unsigned)atoi(v);
		else if (!strcmp(a, "--mtu"))
			cfg.mtu = (unsigned)atoi(v);
		else
			usage();
	}
	if (!side || !naddr || !peer_text || !nallowed || (strcmp(side, "a") && strcmp(side, "b")))
		usage();
	bool is_a = !strcmp(side, "a");

	struct um_addr_prefix address[8], route[8];
	struct sockaddr_in endpoint;
	for (size_t i = 0; i < naddr; i++)
		if (um_addr_prefix_parse(&address[i], addrs[i], true) < 0)
			usage();
	for (size_t i = 0; i < nallowed; i++)
		if (um_addr_prefix_parse(&route[i], alloweds[i], false) < 0)
			usage();
	if (parse_endpoint(peer_text, &endpoint) < 0)
		usage();

	struct um_dataplane *dp = NULL;
	uint32_t peer;
	int rc = um_dataplane_new(&cfg, &dp);
	if (rc < 0) {
		fprintf(stderr, "dataplane: %s\n", um_strerror(rc));
		return 1;
	}
	for (size_t i = 0; i < naddr; i++)
		if ((rc = um_tun_add_address(um_dataplane_ifname(dp), &address[i])) < 0)
			goto fail;
	if ((rc = um_dataplane_peer_add(dp, &peer)) < 0 ||
	    (rc = um_dataplane_peer_set_endpoint(dp, peer, (struct sockaddr *)&endpoint, sizeof(endpoint))) < 0 ||
	    (rc = um_dataplane_peer_set_allowed_ips(dp, peer, route, nallowed)) < 0)
		goto fail;
	struct um_keypair kp = {.created_ns = um_now_ns(), .initiator = is_a};
	memset(kp.send_key, is_a ? 0xa1 : 0xb2, 32);
	memset(kp.recv_key, is_a ? 0xb2 : 0xa1, 32);
	kp.local_index = is_a ? 0x0a0a0a0a : 0x0b0b0b0b;
	kp.remote_index = is_a ? 0x0b0b0b0b : 0x0a0a0a0a;
	if ((rc = um_dataplane_peer_install_keypair(dp, peer, &kp, false)) < 0 || (rc = um_dataplane_start(dp)) < 0)
		goto fail;

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "bench-dataplane %s: %s port %u, %u workers\n", side, um_dataplane_ifname(dp),
		um_dataplane_port(dp), um_dataplane_workers(dp));
	while (!stop) {
		/* Drain the control ring so it never fills (nothing to do with it). */
		struct um_dp_control_msg *msg = malloc(sizeof(*msg));
		while (msg && um_dataplane_recv_control(dp, msg) == 0)
			;
		free(msg);
		usleep(100000);
	}

	struct um_dp_peer_stats st;
	uint64_t g[UM_DP_GLOBAL_COUNT];
	um_dataplane_peer_stats(dp, peer, &st);
	um_dataplane_global_stats(dp, g);
	fprintf(stderr,
		"side %s: rx %llu pkts %llu B, tx %llu pkts %llu B; drops mac %llu replay %llu "
		"malformed %llu notallowed %llu nokey %llu send %llu\n",
		side, (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
		(unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes,
		(unsigned long long)st.drops[UM_DP_DROP_BAD_MAC], (unsigned long long)st.drops[UM_DP_DROP_REPLAY],
		(unsigned long long)st.drops[UM_DP_DROP_MALFORMED],
		(unsigned long long)st.drops[UM_DP_DROP_NOT_ALLOWED], (unsigned long long)st.drops[UM_DP_DROP_NO_KEY],
		(unsigned long long)st.drops[UM_DP_DROP_SEND]);
	fprintf(stderr,
		"side %s: tun reads %llu writes %llu (write errors %llu), udp sends %llu recvs %llu, "
		"no-route %llu unknown-index %llu malformed %llu ring-full %llu\n",
		side, (unsigned long long)g[UM_DP_GLOBAL_TUN_READS], (unsigned long long)g[UM_DP_GLOBAL_TUN_WRITES],
		(unsigned long long)g[UM_DP_GLOBAL_TUN_WRITE], (unsigned long long)g[UM_DP_GLOBAL_UDP_SENDS],
		(unsigned long long)g[UM_DP_GLOBAL_UDP_RECVS], (unsigned long long)g[UM_DP_GLOBAL_NO_ROUTE],
		(unsigned long long)g[UM_DP_GLOBAL_UNKNOWN_INDEX], (unsigned long long)g[UM_DP_GLOBAL_MALFORMED],
		(unsigned long long)g[UM_DP_GLOBAL_RING_FULL]);
	um_dataplane_free(dp);
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", um_strerror(rc));
	um_dataplane_free(dp);
	return 1;
}
