/* SPDX-License-Identifier: MIT */
/* The delivery ladder (msg/ladder.h): live whenever a session exists, queue
 * after the wait without one (counted from the later of the message and the
 * session's end), at once when the peer said offline, never without a
 * mailbox; the deadline it asks for. */
#include <stdint.h>

#include "msg/ladder.h"
#include "test.h"

#define S     1000000000ULL
#define AFTER (10 * S)

static struct um_ladder_peer peer;

static void setup(void)
{
	peer = (struct um_ladder_peer){.session = UM_LADDER_NONE, .no_session_since = 100 * S, .has_mailbox = true};
}

static void test_live(void)
{
	uint64_t deadline = 0;

	setup();
	for (int rung = UM_LADDER_DIRECT; rung <= UM_LADDER_RELAY_TCP; rung++) {
		peer.session = (enum um_ladder_rung)rung;
		CHECK_EQ(um_ladder_decide(&peer, AFTER, 50 * S, 1000 * S, &deadline), UM_LADDER_LIVE);
		CHECK_EQ(deadline, UINT64_MAX);
	}
	/* A session wins even when the peer said offline earlier and waited long. */
	peer.said_offline = true;
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 0, 1000 * S, NULL), UM_LADDER_LIVE);
}

static void test_wait_then_queue(void)
{
	uint64_t deadline = 0;

	setup();
	/* Stored after the session ended: the wait counts from the message. */
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 200 * S, 205 * S, &deadline), UM_LADDER_WAIT);
	CHECK_EQ(deadline, 210 * S);
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 200 * S, 210 * S - 1, &deadline), UM_LADDER_WAIT);
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 200 * S, 210 * S, &deadline), UM_LADDER_ENQUEUE);
	/* Stored before the session broke (written live, never acknowledged):
	 * from the break. */
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 10 * S, 105 * S, &deadline), UM_LADDER_WAIT);
	CHECK_EQ(deadline, 110 * S);
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 10 * S, 111 * S, &deadline), UM_LADDER_ENQUEUE);
	/* No wait configured: at once. */
	CHECK_EQ(um_ladder_decide(&peer, 0, 200 * S, 200 * S, &deadline), UM_LADDER_ENQUEUE);
	/* An overflowing wait never queues. */
	CHECK_EQ(um_ladder_decide(&peer, UINT64_MAX, 200 * S, UINT64_MAX - 1, &deadline), UM_LADDER_WAIT);
	CHECK_EQ(deadline, UINT64_MAX);
}

static void test_offline_and_no_mailbox(void)
{
	uint64_t deadline = 0;

	setup();
	peer.said_offline = true;
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 200 * S, 200 * S, &deadline), UM_LADDER_ENQUEUE);
	peer.has_mailbox = false;
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 200 * S, 200 * S, &deadline), UM_LADDER_WAIT);
	CHECK_EQ(deadline, UINT64_MAX);
	peer.said_offline = false;
	CHECK_EQ(um_ladder_decide(&peer, AFTER, 0, 10000 * S, &deadline), UM_LADDER_WAIT);
	CHECK_EQ(deadline, UINT64_MAX);
}

static void test_names(void)
{
	CHECK(!strcmp(um_ladder_rung_name(UM_LADDER_DIRECT), "direct"));
	CHECK(!strcmp(um_ladder_rung_name(UM_LADDER_RELAY), "relay"));
	CHECK(!strcmp(um_ladder_rung_name(UM_LADDER_RELAY_TCP), "relay-tcp"));
	CHECK(!strcmp(um_ladder_rung_name(UM_LADDER_QUEUE), "queue"));
	CHECK(!strcmp(um_ladder_rung_name(UM_LADDER_NONE), ""));
	CHECK(!strcmp(um_ladder_rung_name(99), ""));
}

int main(void)
{
	RUN(test_live);
	RUN(test_wait_then_queue);
	RUN(test_offline_and_no_mailbox);
	RUN(test_names);
	return um_test_end();
}
