/* SPDX-License-Identifier: MIT */
/* Route tags (session/handshake.h um_handshake_*_via): handshakes that all
 * come from one address (a relay) are told apart by the caller's tag, and
 * every output carries the tag of where it goes. Fresh engines per case. */
#include "hs_harness.h"
#include "session/handshake_internal.h"
#include "test.h"
#include "util/error.h"

static struct hs_node A, B, C;
static struct um_addr relay;

static void setup(void)
{
	hs_node_init(&A, 1);
	hs_node_init(&B, 2);
	hs_node_init(&C, 3);
	hs_pair(&A, &B);
	um_handshake_peer_add(C.engine, &B.identity.id, &B, &C.peer);
	um_handshake_peer_add(B.engine, &C.identity.id, &C, NULL);
	memset(&relay, 0, sizeof(relay));
	relay.family = 4;
	relay.addr[0] = 192;
	relay.addr[1] = 0;
	relay.addr[2] = 2;
	relay.addr[3] = 7;
	relay.port = 7777;
}

static void teardown(void)
{
	hs_node_free(&A);
	hs_node_free(&B);
	hs_node_free(&C);
}

/* Bounces q between x (tag x_tag at y) and y (tag y_tag at x), both seeing
 * the other at the relay's address; checks every output's tag. */
static void pump_via_relay(struct hs_node *x, uint32_t x_tag, struct hs_node *y, uint32_t y_tag, struct hs_queue *q,
			   struct um_handshake_time now)
{
	static struct hs_queue next;

	for (int round = 0; round < 16 && q->n; round++) {
		next.n = 0;
		for (unsigned i = 0; i < q->n; i++) {
			/* y receives what x sent: from the relay, with y's tag for x. */
			int r = um_handshake_receive_via(y->engine, &relay, x_tag, q->data[i], q->len[i], now, &hs_out);
			if (r < 0)
				y->last_error = r;
			if (hs_out.n_datagrams) {
				CHECK_EQ(hs_out.route, x_tag);
				CHECK(um_addr_equal(&hs_out.to, &relay));
			}
			if (hs_out.event == UM_HS_EVENT_ESTABLISHED)
				CHECK_EQ(hs_out.peer_route, x_tag);
			struct hs_queue tmp;
			hs_take_output(y, &tmp);
			for (unsigned j = 0; j < tmp.n && next.n < HS_QUEUE_MAX; j++) {
				memcpy(next.data[next.n], tmp.data[j], tmp.len[j]);
				next.len[next.n++] = tmp.len[j];
			}
		}
		memcpy(q, &next, sizeof(next));
		struct hs_node *t = x;
		x = y;
		y = t;
		uint32_t tt = x_tag;
		x_tag = y_tag;
		y_tag = tt;
	}
}

/* A initiates through the relay; each side names the other by its own tag. */
static void test_relayed_handshake_carries_tags(void)
{
	static struct hs_queue q;
	struct um_handshake_time now = hs_time(0);

	setup();
	CHECK_EQ(um_handshake_initiate_via(A.engine, A.peer, &relay, 0x21, now, &hs_out), 0);
	CHECK_EQ(hs_out.route, 0x21);
	CHECK(um_addr_equal(&hs_out.to, &relay));
	hs_take_output(&A, &q);
	/* B's tag for A is 0x35; A's tag for B is 0x21. */
	pump_via_relay(&A, 0x35, &B, 0x21, &q, now);
	CHECK_EQ(A.established, 1);
	CHECK_EQ(B.established, 1);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);
	teardown();
}

/* The plain calls are tag 0 and report 0. */
static void test_plain_calls_are_tag_zero(void)
{
	setup();
	CHECK_EQ(hs_run(&A, &B, hs_time(0), NULL, NULL), 0);
	CHECK_EQ(hs_out.route, 0);
	CHECK_EQ(hs_out.peer_route, 0);
	teardown();
}

/* One HELLO seen again from the relay: under its own tag it is a
 * retransmission (CHALLENGE again, an RTO later: right behind it, it is the
 * sender's copy and answered with nothing); under another tag it is not the
 * same source, so the replay filter drops it. */
static void test_same_address_other_tag_is_other_source(void)
{
	static struct hs_queue hello;
	struct um_handshake_time now = hs_time(0), later = now;

	later.mono_ns += UM_HS_RTO_MIN_NS;
	setup();
	CHECK_EQ(um_handshake_initiate_via(A.engine, A.peer, &relay, 0x21, now, &hs_out), 0);
	hs_take_output(&A, &hello);
	CHECK_EQ(um_handshake_receive_via(B.engine, &relay, 0x35, hello.data[0], hello.len[0], now, &hs_out), 0);
	CHECK(hs_out.n_datagrams > 0);
	CHECK_EQ(um_handshake_receive_via(B.engine, &relay, 0x35, hello.data[0], hello.len[0], now, &hs_out), 0);
	CHECK_EQ(hs_out.n_datagrams, 0);
	CHECK_EQ(um_handshake_get_stats(B.engine)->repeats_ignored, 1);
	CHECK_EQ(um_handshake_receive_via(B.engine, &relay, 0x35, hello.data[0], hello.len[0], later, &hs_out), 0);
	CHECK(hs_out.n_datagrams > 0);
	CHECK_EQ(hs_out.route, 0x35);
	CHECK_EQ(um_handshake_receive_via(B.engine, &relay, 0x45, hello.data[0], hello.len[0], later, &hs_out),
		 -UM_EREPLAY);
	CHECK_EQ(hs_out.n_datagrams, 0);
	teardown();
}

/* Two initiators behind one relay complete side by side. */
static void test_two_peers_behind_one_relay(void)
{
	static struct hs_queue qa, qc;
	struct um_handshake_time now = hs_time(0);

	setup();
	CHECK_EQ(um_handshake_initiate_via(A.engine, A.peer, &relay, 0x21, now, &hs_out), 0);
	hs_take_output(&A, &qa);
	CHECK_EQ(um_handshake_initiate_via(C.engine, C.peer, &relay, 0x22, now, &hs_out), 0);
	hs_take_output(&C, &qc);
	pump_via_relay(&A, 0x35, &B, 0x21, &qa, now);
	pump_via_relay(&C, 0x36, &B, 0x22, &qc, now);
	CHECK_EQ(A.established, 1);
	CHECK_EQ(C.established, 1);
	CHECK_EQ(B.established, 2);
	teardown();
}

/* Review #9: one peer behind a relay exhausting its HELLO bucket (its HELLO
 * sent again and again) leaves another peer behind the same relay alone:
 * each (relay, route) has its own buckets. */
static void test_buckets_per_route(void)
{
	static struct hs_queue hello_a, hello_c;
	struct um_handshake_time now = hs_time(0);
	int limited = 0;

	setup();
	CHECK_EQ(um_handshake_initiate_via(A.engine, A.peer, &relay, 0x21, now, &hs_out), 0);
	hs_take_output(&A, &hello_a);
	CHECK_EQ(um_handshake_initiate_via(C.engine, C.peer, &relay, 0x22, now, &hs_out), 0);
	hs_take_output(&C, &hello_c);
	for (int i = 0; i < 40; i++)
		if (um_handshake_receive_via(B.engine, &relay, 0x35, hello_a.data[0], hello_a.len[0], now, &hs_out) ==
		    -UM_ELIMIT)
			limited++;
	CHECK(limited > 20); /* A's bucket (burst 10) ran dry */
	CHECK_EQ(um_handshake_receive_via(B.engine, &relay, 0x36, hello_c.data[0], hello_c.len[0], now, &hs_out), 0);
	CHECK(hs_out.n_datagrams > 0); /* C's CHALLENGE */
	CHECK_EQ(hs_out.route, 0x36);
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_relayed_handshake_carries_tags);
	RUN(test_plain_calls_are_tag_zero);
	RUN(test_same_address_other_tag_is_other_source);
	RUN(test_two_peers_behind_one_relay);
	RUN(test_buckets_per_route);
	return um_test_end();
}
