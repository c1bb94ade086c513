/* SPDX-License-Identifier: MIT */
/* Handshake retransmission timing on a fake clock: the initial RTO, the
 * RTO from measured round trips (floor 200 ms), backoff with jitter, Karn's
 * rule, the caller's RTT hint, and the unchanged 10 s give-up time. */
#include "hs_harness.h"
#include "session/handshake_internal.h"
#include "test.h"

#define MS UM_NSEC_PER_MSEC

static struct hs_node A, B;
static struct hs_queue q, reply;

static void fixture_up(void)
{
	hs_node_init(&A, 1);
	hs_node_init(&B, 2);
	hs_pair(&A, &B);
}

static void fixture_down(void)
{
	hs_node_free(&A);
	hs_node_free(&B);
}

static struct um_handshake_time at(struct um_handshake_time base, uint64_t ns)
{
	base.mono_ns += ns;
	base.wall_ms += ns / MS;
	return base;
}

/* Delivers q (sent by `from`) to `to` at now; the answers go to out. */
static void deliver(struct hs_node *from, struct hs_node *to, struct hs_queue *in, struct um_handshake_time now,
		    struct hs_queue *out)
{
	static struct hs_queue tmp;
	out->n = 0;
	for (unsigned i = 0; i < in->n; i++) {
		int r = um_handshake_receive(to->engine, &from->addr, in->data[i], in->len[i], now, &hs_out);
		if (r < 0)
			to->last_error = r;
		hs_take_output(to, &tmp);
		for (unsigned j = 0; j < tmp.n && out->n < HS_QUEUE_MAX; j++) {
			memcpy(out->data[out->n], tmp.data[j], tmp.len[j]);
			out->len[out->n++] = tmp.len[j];
		}
	}
}

/* Runs the timers of n at now; what they send goes to out. */
static void tick(struct hs_node *n, struct um_handshake_time now, struct hs_queue *out)
{
	static struct hs_queue tmp;
	out->n = 0;
	while (um_handshake_tick(n->engine, now, &hs_out) > 0) {
		hs_take_output(n, &tmp);
		for (unsigned j = 0; j < tmp.n && out->n < HS_QUEUE_MAX; j++) {
			memcpy(out->data[out->n], tmp.data[j], tmp.len[j]);
			out->len[out->n++] = tmp.len[j];
		}
	}
}

static struct um_handshake_peer_timing timing(const struct hs_node *n)
{
	struct um_handshake_peer_timing t;
	um_handshake_peer_get_timing(n->peer, &t);
	return t;
}

/* A full handshake A -> B over a path with this round trip, no loss. */
static void handshake_with_rtt(uint64_t rtt_ns, struct um_handshake_time s)
{
	int ea = A.established, eb = B.established;
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	hs_take_output(&A, &q);
	deliver(&A, &B, &q, at(s, rtt_ns / 2), &reply); /* CHALLENGE */
	deliver(&B, &A, &reply, at(s, rtt_ns), &q);     /* RESPONSE */
	deliver(&A, &B, &q, at(s, 3 * rtt_ns / 2), &reply);
	deliver(&B, &A, &reply, at(s, 2 * rtt_ns), &q);
	CHECK_EQ(A.established, ea + 1);
	CHECK_EQ(B.established, eb + 1);
}

static void test_initial_rto(void)
{
	/* No sample and no hint: the first HELLO retransmission after 400 ms
	 * (+ <25%), not the 1 s it was (issue 14). */
	struct um_handshake_time s = hs_time(0);
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	uint64_t d = um_handshake_next_deadline(A.engine);
	CHECK(d >= s.mono_ns + 400 * MS);
	CHECK(d < s.mono_ns + 500 * MS);
	tick(&A, at(s, d - s.mono_ns - 1), &q);
	CHECK_EQ(q.n, 0u);
	tick(&A, at(s, d - s.mono_ns), &q);
	CHECK_EQ(q.n, 1u);
	CHECK_EQ(q.data[0][0], UM_MSG_HELLO);
	CHECK_EQ(timing(&A).rto_ns, 400 * MS);
}

static void test_measured_rtt_lost_challenge(void)
{
	struct um_handshake_time s = hs_time(10);
	handshake_with_rtt(20 * MS, s);
	/* Initiator: HELLO -> CHALLENGE and RESPONSE -> ESTABLISHED. */
	CHECK_EQ(timing(&A).samples, 2u);
	CHECK_EQ(timing(&A).srtt_ns, 20 * MS);
	/* Responder: CHALLENGE -> RESPONSE. */
	CHECK_EQ(timing(&B).samples, 1u);
	CHECK_EQ(timing(&B).srtt_ns, 20 * MS);
	CHECK_EQ(timing(&A).rto_ns, 200 * MS); /* 20 + 4 x 7.5 ms, raised to the floor */

	/* The next handshake loses the CHALLENGE: resent within the floor
	 * (+ jitter), not after 1 s. */
	s = at(s, 2000 * MS);
	uint64_t challenges = um_handshake_get_stats(B.engine)->challenges;
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	hs_take_output(&A, &q);
	deliver(&A, &B, &q, at(s, 10 * MS), &reply);
	CHECK(reply.n > 1); /* the CHALLENGE, lost */
	uint64_t d = um_handshake_next_deadline(A.engine) - s.mono_ns;
	CHECK(d >= 200 * MS);
	CHECK(d < 250 * MS);
	struct um_handshake_time t = at(s, d);
	tick(&A, t, &q);
	CHECK_EQ(q.n, 1u);
	deliver(&A, &B, &q, at(t, 10 * MS), &reply);
	deliver(&B, &A, &reply, at(t, 20 * MS), &q);
	deliver(&A, &B, &q, at(t, 30 * MS), &reply);
	deliver(&B, &A, &reply, at(t, 40 * MS), &q);
	CHECK_EQ(A.established, 2);
	CHECK_EQ(B.established, 2);
	CHECK_EQ(um_handshake_get_stats(B.engine)->challenges, challenges + 1); /* resent, not recomputed */
	CHECK(at(t, 40 * MS).mono_ns - s.mono_ns < 300 * MS);
}

/* Drops every HELLO from s on and checks each wait: the RTO doubled per
 * retransmission up to 3 s, plus 0..25% jitter; FAILED at exactly 10 s. */
static void check_backoff_and_give_up(struct um_handshake_time s, uint64_t rto)
{
	unsigned jittered = 0, sent = 0;
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	uint64_t last = s.mono_ns, give_up = s.mono_ns + 10000 * MS;
	for (unsigned n = 0; n < 64; n++) {
		uint64_t d = um_handshake_next_deadline(A.engine);
		if (d >= give_up)
			break;
		uint64_t base = rto << n < 3000 * MS ? rto << n : 3000 * MS;
		CHECK(d - last >= base);
		CHECK(d - last < base + base / 4);
		jittered += d - last > base;
		tick(&A, at(s, d - s.mono_ns), &q);
		CHECK_EQ(q.n, 1u);
		sent++;
		last = d;
	}
	CHECK(sent >= 3);
	CHECK(jittered >= sent - 1); /* a wait of exactly the RTO has odds < 1e-4 */
	CHECK_EQ(timing(&A).retransmissions, sent);
	CHECK_EQ(um_handshake_next_deadline(A.engine), give_up);
	tick(&A, at(s, give_up - s.mono_ns - 1), &q);
	CHECK_EQ(A.failed, 0);
	tick(&A, at(s, give_up - s.mono_ns), &q);
	CHECK_EQ(A.failed, 1);
	CHECK(!um_handshake_peer_busy(A.peer));
}

static void test_backoff_initial(void)
{
	check_backoff_and_give_up(hs_time(20), 400 * MS);
}

static void test_backoff_measured(void)
{
	handshake_with_rtt(20 * MS, hs_time(30));
	check_backoff_and_give_up(hs_time(32), 200 * MS);
}

static void test_karn(void)
{
	/* HELLO lost once: the CHALLENGE answers a retransmitted HELLO, so
	 * HELLO -> CHALLENGE is no sample; B resent its CHALLENGE, so
	 * CHALLENGE -> RESPONSE is none either. */
	struct um_handshake_time s = hs_time(40);
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	hs_take_output(&A, &q);
	deliver(&A, &B, &q, at(s, 10 * MS), &reply); /* B got it, its CHALLENGE is lost */
	struct um_handshake_time t = at(s, um_handshake_next_deadline(A.engine) - s.mono_ns);
	tick(&A, t, &q);
	CHECK_EQ(q.n, 1u);
	deliver(&A, &B, &q, at(t, 10 * MS), &reply);
	deliver(&B, &A, &reply, at(t, 20 * MS), &q);
	CHECK_EQ(timing(&A).samples, 0u);
	/* ESTABLISHED lost once: RESPONSE resent (all its fragments). */
	deliver(&A, &B, &q, at(t, 30 * MS), &reply);
	CHECK_EQ(timing(&B).samples, 0u);
	CHECK_EQ(B.established, 1);
	struct um_handshake_time u = at(s, um_handshake_next_deadline(A.engine) - s.mono_ns);
	CHECK(u.mono_ns - t.mono_ns >= 1000 * MS);
	tick(&A, u, &q);
	CHECK_EQ(q.n, um_fragment_count(UM_HS_RESPONSE_BYTES));
	deliver(&A, &B, &q, at(u, 10 * MS), &reply);
	deliver(&B, &A, &reply, at(u, 20 * MS), &q);
	CHECK_EQ(A.established, 1);
	CHECK_EQ(timing(&A).samples, 0u);
	CHECK_EQ(timing(&A).rto_ns, 2000 * MS); /* the backoff that got an answer is kept */
	CHECK_EQ(timing(&A).retransmissions, 2u);
	CHECK_EQ(timing(&A).retransmitted_datagrams, 1 + um_fragment_count(UM_HS_RESPONSE_BYTES));

	/* The next clean exchange does give samples. */
	handshake_with_rtt(40 * MS, hs_time(45));
	CHECK_EQ(timing(&A).samples, 2u);
	CHECK_EQ(timing(&A).srtt_ns, 40 * MS);
	CHECK_EQ(timing(&B).samples, 1u);
}

static void test_karn_keeps_backoff(void)
{
	/* The estimate says 20 ms, the route now takes 600 ms (a relay far
	 * away): HELLO is resent needlessly, its answer is no sample, and the
	 * RESPONSE starts with the doubled timeout, not the stale one. */
	struct um_handshake_time s = hs_time(70);
	handshake_with_rtt(20 * MS, s);
	s = at(s, 2000 * MS);
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	hs_take_output(&A, &q);
	deliver(&A, &B, &q, at(s, 300 * MS), &reply);
	uint64_t d = um_handshake_next_deadline(A.engine) - s.mono_ns;
	CHECK(d < 300 * MS);
	tick(&A, at(s, d), &q); /* resent HELLO, dropped */
	CHECK_EQ(q.n, 1u);
	deliver(&B, &A, &reply, at(s, 600 * MS), &q);
	CHECK(q.n > 1); /* RESPONSE */
	CHECK_EQ(timing(&A).samples, 2u);
	CHECK_EQ(timing(&A).rto_ns, 400 * MS);
	d = um_handshake_next_deadline(A.engine) - s.mono_ns;
	CHECK(d >= 1000 * MS && d < 1100 * MS);
	/* A clean sample (RESPONSE -> ESTABLISHED) ends the carried backoff. */
	deliver(&A, &B, &q, at(s, 700 * MS), &reply);
	deliver(&B, &A, &reply, at(s, 800 * MS), &q);
	CHECK_EQ(A.established, 2);
	struct um_handshake_peer_timing t = timing(&A);
	CHECK_EQ(t.samples, 3u);
	CHECK_EQ(t.srtt_ns, (7 * 20 * MS + 200 * MS) / 8);
	CHECK_EQ(t.rto_ns, t.srtt_ns + 4 * t.rttvar_ns);
}

static uint64_t first_wait_with_hint(uint64_t hint_ns, struct um_handshake_time s)
{
	um_handshake_peer_set_rtt_hint(A.peer, hint_ns);
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, s, &hs_out), 0);
	return um_handshake_next_deadline(A.engine) - s.mono_ns;
}

static void test_hint(void)
{
	uint64_t d = first_wait_with_hint(100 * MS, hs_time(50)); /* RTO = 3 x hint */
	CHECK(d >= 300 * MS && d < 375 * MS);
	d = first_wait_with_hint(10 * MS, hs_time(51)); /* floor */
	CHECK(d >= 200 * MS && d < 250 * MS);
	d = first_wait_with_hint(5000 * MS, hs_time(52)); /* cap */
	CHECK(d >= 3000 * MS && d < 3750 * MS);
	d = first_wait_with_hint(0, hs_time(53)); /* cleared: the HELLO's initial RTO */
	CHECK(d >= 400 * MS && d < 500 * MS);
	/* Own samples take precedence over a hint. */
	handshake_with_rtt(100 * MS, hs_time(60));
	um_handshake_peer_set_rtt_hint(A.peer, 5000 * MS);
	CHECK_EQ(timing(&A).rto_ns, 100 * MS + 4 * 100 * MS * 3 / 8);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN_FRESH(test_initial_rto);
	RUN_FRESH(test_measured_rtt_lost_challenge);
	RUN_FRESH(test_backoff_initial);
	RUN_FRESH(test_backoff_measured);
	RUN_FRESH(test_karn);
	RUN_FRESH(test_karn_keeps_backoff);
	RUN_FRESH(test_hint);
	return um_test_end();
}
