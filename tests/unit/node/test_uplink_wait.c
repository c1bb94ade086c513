/* SPDX-License-Identifier: MIT */
/* node/uplink_wait.c: what waits for a routing handle leaves whole and in
 * order (a fragmented handshake message), bounded, and only to the relay
 * it waited for (before, only the latest datagram waited). */
#include <string.h>

#include "node/uplink_wait.h"
#include "test.h"
#include "util/error.h"
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

static void fragment(uint8_t *out, size_t len, unsigned k)
{
	memset(out, (int)(k + 1), len);
}

static void test_whole_message_in_order(void)
{
	struct um_uplink_wait *w = NULL;
	uint8_t buf[UM_RELAY_MAX_PAYLOAD] = {0};

	n_sent = 0;
	for (unsigned k = 0; k < 8; k++) { /* a CHALLENGE: 8 fragments */
		fragment(buf, 1000 + k, k);
		CHECK_EQ(um_uplink_wait_push(&w, 1, buf, 1000 + k), 0);
	}
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), 0); /* not that relay's */
	CHECK(w != NULL);
	CHECK_EQ(um_uplink_wait_send(&w, 1, record, NULL), 8);
	CHECK(w == NULL);
	for (unsigned k = 0; k < 8; k++) {
		CHECK_EQ(sent_len[k], 1000 + k);
		fragment(buf, 1000 + k, k);
		CHECK_MEM(sent[k], buf, 1000 + k);
	}
	CHECK_EQ(um_uplink_wait_send(&w, 1, record, NULL), 0); /* nothing left */
}

static void test_bounded_and_per_relay(void)
{
	struct um_uplink_wait *w = NULL;
	uint8_t buf[UM_RELAY_MAX_PAYLOAD] = {0};

	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, 0), -UM_EINVAL);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, UM_RELAY_MAX_PAYLOAD + 1), -UM_EINVAL);
	CHECK(w == NULL);
	/* Full: the oldest goes. */
	for (unsigned k = 0; k < UM_UPLINK_WAIT_MAX + 3; k++) {
		fragment(buf, 100, k);
		CHECK_EQ(um_uplink_wait_push(&w, 0, buf, 100), 0);
	}
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 0, record, NULL), UM_UPLINK_WAIT_MAX);
	fragment(buf, 100, 3);
	CHECK_MEM(sent[0], buf, 100);
	fragment(buf, 100, UM_UPLINK_WAIT_MAX + 2);
	CHECK_MEM(sent[UM_UPLINK_WAIT_MAX - 1], buf, 100);
	/* Another relay now: what waited for the first one goes. */
	fragment(buf, 50, 1);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, 50), 0);
	fragment(buf, 60, 2);
	CHECK_EQ(um_uplink_wait_push(&w, 2, buf, 60), 0);
	n_sent = 0;
	CHECK_EQ(um_uplink_wait_send(&w, 2, record, NULL), 1);
	CHECK_EQ(sent_len[0], 60);
	fragment(buf, 10, 0);
	CHECK_EQ(um_uplink_wait_push(&w, 0, buf, 10), 0);
	um_uplink_wait_free(&w);
	CHECK(w == NULL);
	um_uplink_wait_free(&w); /* twice is harmless */
}

int main(void)
{
	RUN(test_whole_message_in_order);
	RUN(test_bounded_and_per_relay);
	return um_test_end();
}
