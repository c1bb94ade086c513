/* SPDX-License-Identifier: MIT */
/* Review 2026-12-protocol #10: once a data key is retired, no worker's
 * cipher context still holds it. Two data planes on loopback (socketpairs
 * stand in for TUN devices) exchange packets large enough for the EVP path,
 * so each worker's contexts load the key; the key is then rotated out and
 * dropped, and every worker's context is probed: opening a packet sealed
 * under the old key, through the context, with the cached key id but a
 * wrong key buffer, must fail (before the fix the cached key made it open). */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "dataplane_fixture.h"
#include "net/dataplane_impl.h"
#include "session/aead.h"
#include "test.h"

static bool pass(struct side *from, struct side *to, const char *src, const char *dst)
{
	size_t len = make_udp(buf, src, dst, 1000, 0x5a); /* > UM_AEAD_SMALL_MAX: EVP path */
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
	static uint8_t sealed[1000];
	uint8_t tag[UM_AEAD_TAG_LEN], ad[16] = {0}, wrong[32] = {0};
	unsigned holding = 0;
	for (unsigned i = 0; i < s->dp->worker_count; i++) {
		struct um_aead probe;
		if (um_aead_init(&probe) < 0)
			continue;
		memset(sealed, 0x42, sizeof(sealed));
		um_aead_seal(&probe, 0, key, 77, ad, sizeof(ad), sealed, sizeof(sealed), tag);
		um_aead_free(&probe);
		holding += um_aead_open(&s->dp->workers[i].aead, key_id, wrong, 77, ad, sizeof(ad), sealed,
					sizeof(sealed), tag) == 0;
	}
	return holding;
}

static void test_retired_key_wiped(void)
{
	/* The fixture installed keypair(0xa1, 0xb2, 1, 2) on A and (0xb2, 0xa1, 2, 1) on B. */
	uint8_t b_recv_old[32];
	memset(b_recv_old, 0xa1, sizeof(b_recv_old));
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
}

int main(void)
{
	RUN_CASE(test_retired_key_wiped);
	return um_test_end();
}
