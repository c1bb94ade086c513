/* SPDX-License-Identifier: MIT */
/* node/uplink_wait.c: the newest handshake message waits whole and leaves
 * in order when the handle comes, only to the relay it waited for; an older
 * message (a HELLO replaced by a new initiation) does not leave at all
 * (sending those made the peer answer stale states: the ASan `relay` run
 * of session 13). */
#include <string.h>

#include "node/uplink_wait.h"
#include "test.h"
#include "util/error.h"
#include "wire/fragment.h"
#include "wire/relay.h"

static uint8_t sent[2 * UM_UPLINK_WAIT_MAX][UM_RELAY_MAX_PAYLOAD];
static size_t sent_len[2 * UM_UPLINK_WAIT_MAX], n_sent;

static void record(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	if (n_sent < 2 * UM_UPLINK_WAIT_MAX) {
		memcpy(sent[n_sent], data, len);
		sent_len[n_sent++] = len;
	}
}

static uint8_t message[9000];

/* Piece k of a 9,000-byte message of type 0x02 for receiver_index rx. */
static size_t piece(uint8_t *out, uint32_t rx, uint32_t id, unsigned k)
{
	int n = um_fragment_encode(out, UM_RELAY_MAX_PAYLOAD, 0x02, rx, id, message, sizeof(message), k);
	CHECK(n > 0);
	return n > 0 ? (size_t)n : 0;
}

static size_t hello(uint8_t *out, uint8_t fill)
{
	memset(out, fill, UM_HS_MAX_DATAGRAM);
	out[0] = 0x01; /* not a FRAGMENT */
	return UM_HS_MAX_DATAGRAM;
}

static void test_whole_message_in_order(void)
{
	struct um_uplink_wait *w = NULL;
	uint8_t buf[UM_RELAY_MAX_PAYLOAD] = {0};
	unsigned count = um_fragment_count(sizeof(message));

	for (size_t i = 0; i < sizeof(message); i++)
		message[i] = (uint8_t)(i * 7);
	n_sent = 0;
	CHECK(count >= 7 && count <= UM_UPLINK_WAIT_MAX);
	for (unsigned k = 0; k < count; k++) {
		size_t n = piece(buf, 7, 1, k);
		CHECK_EQ(um_uplink_wait_push(&w, 1, buf, n), 0);
	}
	/* A piece sent again while waiting does not go twice. */
	size_t n = piece(buf, 7, 1, 2);
	CHECK_EQ(um_uplink_wait_push(&w, 1, buf, n), 0);
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 0); /* not that relay's */
	CHECK(w != NULL);
	CHECK_EQ(um_uplink_wait_send(&w, 1, record, NULL), count);
	CHECK(w == NULL);
	for (unsigned k = 0; k < count; k++) {
		n = piece(buf, 7, 1, k);
		CHECK_EQ(sent_len[k], n);
		CHECK_MEM(sent[k], buf, n);
	}
	CHECK_EQ(um_uplink_wait_send(&w, 1, record, NULL), 0); /* nothing left */
}

static void test_only_the_newest_message(void)
{
	struct um_uplink_wait *w = NULL;
	uint8_t buf[UM_RELAY_MAX_PAYLOAD] = {0}, want[UM_RELAY_MAX_PAYLOAD];

	/* Three initiations' HELLOs: only the last one leaves. */
	for (uint8_t k = 1; k <= 3; k++) {
		size_t n = hello(buf, k);
		CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	}
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 1);
	hello(want, 3);
	CHECK_MEM(sent[0], want, UM_HS_MAX_DATAGRAM);
	/* Pieces of an older message (another receiver index or message id)
	 * go when a newer one starts; a HELLO after them replaces them too. */
	size_t n = piece(buf, 7, 1, 0);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n = piece(buf, 7, 1, 1);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n = piece(buf, 7, 2, 0);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 1);
	CHECK_MEM(sent[0], buf, n);
	n = piece(buf, 8, 2, 0);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n = hello(buf, 9);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 1);
	CHECK_EQ(sent[0][0], 0x01);
	/* A HELLO and its copy (repeat_single) both go; a third one is a new
	 * message again, and so is a copy for another relay. */
	n = hello(buf, 4);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 2);
	CHECK_MEM(sent[0], buf, n);
	CHECK_MEM(sent[1], buf, n);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	CHECK_EQ(um_uplink_wait_push(&w, 1, buf, n), 0);
	CHECK_EQ(um_uplink_wait_send(&w, 1, record, NULL), 1);
}

static void test_bounded_and_per_relay(void)
{
	struct um_uplink_wait *w = NULL;
	uint8_t buf[UM_RELAY_MAX_PAYLOAD] = {0};

	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, 0), -UM_EINVAL);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, UM_RELAY_MAX_PAYLOAD + 1), -UM_EINVAL);
	CHECK(w == NULL);
	/* Another relay now: what waited for the first one goes. */
	size_t n = piece(buf, 7, 1, 0);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	n = piece(buf, 7, 1, 1);
	CHECK_EQ(um_uplink_wait_push(&w, 2, buf, n), 0);
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 0);
	CHECK_EQ(um_uplink_wait_send(&w, 2, record, NULL), 1);
	CHECK_EQ(sent_len[0], n);
	n = hello(buf, 1);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, n), 0);
	um_uplink_wait_free(&w);
	CHECK(w == NULL);
	um_uplink_wait_free(&w); /* twice is harmless */
}

int main(void)
{
	RUN(test_whole_message_in_order);
	RUN(test_only_the_newest_message);
	RUN(test_bounded_and_per_relay);
	return um_test_end();
}
