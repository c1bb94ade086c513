/* SPDX-License-Identifier: MIT */
/* Review 2026-12-protocol #10: once a data key is retired, no worker's
 * cipher context still holds it. Two data planes on loopback (socketpairs
 * stand in for TUN devices) exchange packets large enough for the EVP path,
 * so each worker's contexts load the key; the key is then rotated out and
 * dropped, and every worker's context is probed: opening a packet sealed
 * under the old key, through the context, with the cached key id but a
 * wrong key buffer, must fail (before the fix the cached key made it open). */
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/dataplane.h"
#include "net/dataplane_impl.h"
#include "net/offload.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"

struct side {
	struct um_dataplane *dp;
	int dev[2];
	uint32_t peer;
	struct sockaddr_in addr;
};

static struct side A, B;
static uint8_t buf[4096], got[4096];

static struct um_keypair keypair(uint8_t send, uint8_t recv, uint32_t local, uint32_t remote)
{
	struct um_keypair kp = {.local_index = local, .remote_index = remote, .created_ns = um_now_ns()};
	memset(kp.send_key, send, 32);
	memset(kp.recv_key, recv, 32);
	return kp;
}

static int setup_side(struct side *s, const char *allowed)
{
	struct um_dataplane_config cfg = {.socket_family = AF_INET, .max_peers = 4};
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s->dev) < 0)
		return -1;
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

static size_t make_udp(uint8_t *out, const char *src, const char *dst, size_t payload)
{
	memset(out, 0, UM_VNET_HDR_LEN + 28 + payload);
	uint8_t *ip = out + UM_VNET_HDR_LEN;
	size_t total = 28 + payload;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint16_t c = (uint16_t)~um_csum_fold(um_csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
	ip[25] = (uint8_t)(8 + payload);
	ip[24] = (uint8_t)((8 + payload) >> 8);
	return UM_VNET_HDR_LEN + total;
}

static bool pass(struct side *from, struct side *to, const char *src, const char *dst)
{
	size_t len = make_udp(buf, src, dst, 1000); /* > UM_AEAD_SMALL_MAX: EVP path */
	if (send(from->dev[0], buf, len, 0) != (ssize_t)len)
		return false;
	struct pollfd pfd = {.fd = to->dev[0], .events = POLLIN};
	return poll(&pfd, 1, 2000) > 0 && recv(to->dev[0], got, sizeof(got), 0) == (ssize_t)len;
}

/* Workers of s whose open context still holds key: told only the key's id
 * (and a wrong key buffer), the context opens a packet sealed under key.
 * The workers are idle in epoll here, so touching their contexts is safe. */
static unsigned workers_holding(struct side *s, uint64_t key_id, const uint8_t key[32])
{
	static uint8_t msg[1000];
	uint8_t tag[UM_AEAD_TAG_LEN], ad[16] = {0}, wrong[32] = {0};
	unsigned holding = 0;
	for (unsigned i = 0; i < s->dp->worker_count; i++) {
		struct um_aead probe;
		if (um_aead_init(&probe) < 0)
			continue;
		memset(msg, 0x42, sizeof(msg));
		um_aead_seal(&probe, 0, key, 77, ad, sizeof(ad), msg, sizeof(msg), tag);
		um_aead_free(&probe);
		holding += um_aead_open(&s->dp->workers[i].aead, key_id, wrong, 77, ad, sizeof(ad), msg, sizeof(msg),
					tag) == 0;
	}
	return holding;
}

int main(void)
{
	if (setup_side(&A, "100.64.0.2/32") < 0 || setup_side(&B, "100.64.0.1/32") < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	struct um_keypair ka = keypair(0xa1, 0xb2, 1, 2), kb = keypair(0xb2, 0xa1, 2, 1);
	uint8_t b_recv_old[32];
	memcpy(b_recv_old, kb.recv_key, 32);
	CHECK_EQ(um_dataplane_peer_set_endpoint(A.dp, A.peer, (struct sockaddr *)&B.addr, sizeof(B.addr)), 0);
	CHECK_EQ(um_dataplane_peer_set_endpoint(B.dp, B.peer, (struct sockaddr *)&A.addr, sizeof(A.addr)), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &ka, false), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &kb, false), 0);
	CHECK_EQ(um_dataplane_start(A.dp), 0);
	CHECK_EQ(um_dataplane_start(B.dp), 0);
	for (int i = 0; i < 8; i++)
		CHECK(pass(&A, &B, "100.64.0.1", "100.64.0.2"));
	/* B's key ids: the first installed key is id 1. */
	uint64_t old_id = 1;
	/* Sanity: before retirement some worker of B holds the old key (the
	 * probe opens through its context with the wrong key buffer). */
	unsigned before = workers_holding(&B, old_id, b_recv_old);
	CHECK(before > 0);
	/* Rotate: a new key as current (old becomes previous), then drop it. */
	struct um_keypair ka2 = keypair(0xc1, 0xd2, 5, 6), kb2 = keypair(0xd2, 0xc1, 6, 5);
	CHECK_EQ(um_dataplane_peer_install_keypair(A.dp, A.peer, &ka2, false), 0);
	CHECK_EQ(um_dataplane_peer_install_keypair(B.dp, B.peer, &kb2, false), 0);
	CHECK_EQ(um_dataplane_peer_drop_previous(B.dp, B.peer), 0);
	unsigned after = workers_holding(&B, old_id, b_recv_old);
	fprintf(stderr, "workers of B holding the retired key: %u before retirement, %u after\n", before, after);
	CHECK_EQ(after, 0);
	/* The contexts still work under the new key. */
	CHECK(pass(&A, &B, "100.64.0.1", "100.64.0.2"));
	um_dataplane_free(A.dp);
	um_dataplane_free(B.dp);
	close(A.dev[0]);
	close(A.dev[1]);
	close(B.dev[0]);
	close(B.dev[1]);
	return um_test_end();
}
