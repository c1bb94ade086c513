/* SPDX-License-Identifier: MIT */
/* The data plane tests' fixture: see dataplane_fixture.h. */
#include "dataplane_fixture.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/offload.h"
#include "util/clock.h"
#include "util/error.h"
struct side A, B;

void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

struct um_keypair keypair(uint8_t send, uint8_t recv, uint32_t local, uint32_t remote)
{
	struct um_keypair kp = {.local_index = local, .remote_index = remote, .created_ns = um_now_ns()};
	memset(kp.send_key, send, 32);
	memset(kp.recv_key, recv, 32);
	return kp;
}

static int setup_side(struct side *s, const char *allowed, bool gather)
{
	struct um_dataplane_config cfg = {.socket_family = AF_INET, .max_peers = 8};
	cfg.gather = gather; /* on CPU 0 */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s->dev) < 0)
		return -1;
	int big = 4 << 20;
	setsockopt(s->dev[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(s->dev[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(s->dev[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s->dev[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	cfg.use_device_fd = true;
	cfg.device_fd = s->dev[1];
	if (um_dataplane_new(&cfg, &s->dp) < 0)
		return -1;
	memset(&s->addr, 0, sizeof(s->addr));
	s->addr.sin_family = AF_INET;
	s->addr.sin_port = htons(um_dataplane_port(s->dp));
	s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct um_addr_prefix p;
	if (um_addr_prefix_parse(&p, allowed, false) < 0 || um_dataplane_peer_add(s->dp, &s->peer) < 0 ||
	    um_dataplane_peer_set_allowed_ips(s->dp, s->peer, &p, 1) < 0)
		return -1;
	return 0;
}

ssize_t read_dev(int fd, uint8_t *out, size_t cap, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return recv(fd, out, cap, 0);
}

/* IPv4/UDP packet behind a plain vnet header. */
size_t make_udp(uint8_t *out, const char *src, const char *dst, size_t payload, uint8_t fill)
{
	memset(out, 0, UM_VNET_HDR_LEN);
	uint8_t *ip = out + UM_VNET_HDR_LEN;
	size_t total = 28 + payload;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)total);
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	put16(ip + 20, 1234);
	put16(ip + 22, 5678);
	put16(ip + 24, (uint16_t)(8 + payload));
	memset(ip + 28, fill, payload);
	return UM_VNET_HDR_LEN + total;
}

struct um_dp_peer_stats stats(struct side *s)
{
	struct um_dp_peer_stats st;
	um_dataplane_peer_stats(s->dp, s->peer, &st);
	return st;
}

/* Wait until the counter pointed into by `offset` reaches want. */
bool wait_drop(struct side *s, enum um_dp_drop reason, uint64_t want)
{
	for (int i = 0; i < 200; i++) {
		if (stats(s).drops[reason] >= want)
			return true;
		usleep(10000);
	}
	return false;
}

bool wait_control(struct side *s, enum um_dp_control_kind kind, struct um_dp_control_msg *out)
{
	for (int i = 0; i < 200; i++) {
		while (um_dataplane_recv_control(s->dp, out) == 0)
			if (out->kind == kind)
				return true;
		usleep(10000);
	}
	return false;
}

uint8_t buf[70000], got[70000];
struct um_dp_control_msg msg;

uint64_t global(struct side *s, enum um_dp_global g)
{
	uint64_t all[UM_DP_GLOBAL_COUNT];
	um_dataplane_global_stats(s->dp, all);
	return all[g];
}

/* A fresh pair of data planes per case: keys 1/2 installed, endpoints set,
 * workers running. */
void fixture_up(void)
{
	struct um_keypair ka = keypair(0xa1, 0xb2, 1, 2), kb = keypair(0xb2, 0xa1, 2, 1);

	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	memset(&msg, 0, sizeof(msg));
	/* Any failure here leaves no case to run: stop the test. */
	if (setup_side(&A, "100.64.0.2/32", true) < 0 || setup_side(&B, "100.64.0.1/32", false) < 0 ||
	    um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)&B.addr, sizeof(B.addr)) < 0 ||
	    um_dataplane_peer_set_endpoint(B.dp, B.peer, (struct sockaddr *)&A.addr, sizeof(A.addr)) < 0 ||
	    um_dataplane_peer_install_keypair(A.dp, A.peer, &ka, false) < 0 ||
	    um_dataplane_peer_install_keypair(B.dp, B.peer, &kb, false) < 0 || um_dataplane_start(A.dp) < 0 ||
	    um_dataplane_start(B.dp) < 0) {
		fprintf(stderr, "dataplane fixture: setup failed\n");
		exit(1);
	}
}

void fixture_down(void)
{
	um_dataplane_free(A.dp);
	um_dataplane_free(B.dp);
	close(A.dev[0]);
	close(A.dev[1]);
	close(B.dev[0]);
	close(B.dev[1]);
}
