/* SPDX-License-Identifier: MIT */
/* The session timer policy on a fake clock: every rule of session/timers.h,
 * with the jitter pinned to its lowest or highest value. */
#include "session/timers.h"
#include "test.h"
#include "util/clock.h"

#define MS    (UM_NSEC_PER_MSEC)
#define SEC   (UM_NSEC_PER_SEC)
#define T0    (1000 * SEC) /* the fake clock's start: far from 0 */
#define TICK  (10 * SEC)
#define REKEY (120 * SEC)

static uint32_t low(uint32_t upper)
{
	(void)upper;
	return 0;
}

static uint32_t high(uint32_t upper)
{
	return upper - 1;
}

static struct um_session_timers fresh(bool designated, uint32_t (*random_below)(uint32_t))
{
	struct um_session_timers t;

	um_session_timers_init(&t, TICK, REKEY, designated);
	t.random_below = random_below;
	return t;
}

/* A peer with a healthy current session as the data plane reports it. */
static struct um_session_view healthy(uint64_t now)
{
	return (struct um_session_view){
	    .up = true,
	    .established = true,
	    .has_current = true,
	    .session_created_ns = now - SEC,
	    .last_handshake_ns = now - SEC,
	    .last_tx_ns = now,
	    .last_rx_ns = now,
	    .stats_valid = true,
	};
}

static void test_up(void)
{
	struct um_session_timers t = fresh(true, low);
	struct um_session_view idle = {.up = true};

	CHECK(um_session_timers_next_deadline(&t) == UM_SESSION_NEVER);
	um_session_timers_up(&t, T0, true);
	CHECK(um_session_timers_next_deadline(&t) == T0); /* designated: at once */
	CHECK_EQ(um_session_timers_run(&t, T0, &idle), UM_SESSION_DO_INITIATE);
	CHECK(um_session_timers_next_deadline(&t) == T0 + TICK);

	t = fresh(false, low);
	um_session_timers_up(&t, T0, true);
	CHECK(t.retry_at == T0 + 500 * MS);
	t = fresh(false, high);
	um_session_timers_up(&t, T0, true);
	CHECK(t.retry_at == T0 + 599 * MS);
	CHECK_EQ(um_session_timers_run(&t, T0 + 598 * MS, &idle), 0);
	CHECK_EQ(um_session_timers_run(&t, T0 + 599 * MS, &idle), UM_SESSION_DO_INITIATE);

	/* Unreachable: only the tick runs, until a relay becomes ready. */
	t = fresh(true, low);
	um_session_timers_up(&t, T0, false);
	CHECK(!um_session_timers_retry_armed(&t));
	CHECK(um_session_timers_next_deadline(&t) == T0 + TICK);
}

static void test_down(void)
{
	struct um_session_timers t = fresh(true, low);

	um_session_timers_up(&t, T0, true);
	um_session_timers_established(&t, T0);
	um_session_timers_down(&t);
	CHECK(um_session_timers_next_deadline(&t) == UM_SESSION_NEVER);
}

static void test_backoff(void)
{
	static const uint64_t expect_ms[] = {500, 1000, 2000, 4000, 8000, 15000, 15000};
	struct um_session_timers t = fresh(true, low);
	struct um_session_timers j = fresh(true, high);

	for (unsigned i = 0; i < sizeof(expect_ms) / sizeof(expect_ms[0]); i++) {
		um_session_timers_failed(&t, T0, true);
		CHECK(t.retry_at == T0 + expect_ms[i] * MS);
		um_session_timers_failed(&j, T0, true);
		CHECK(j.retry_at == T0 + (expect_ms[i] + expect_ms[i] / 4 - 1) * MS); /* <= 25% jitter */
	}
	/* Down: counted, nothing armed. */
	t = fresh(true, low);
	um_session_timers_failed(&t, T0, false);
	CHECK_EQ(t.attempts, 1);
	CHECK(!um_session_timers_retry_armed(&t));
	/* A session resets the backoff. */
	um_session_timers_failed(&t, T0, true);
	um_session_timers_established(&t, T0);
	CHECK_EQ(t.attempts, 0);
	CHECK(!um_session_timers_retry_armed(&t));
}

static void test_direct_timeout(void)
{
	struct um_session_timers t = fresh(true, low);
	struct um_session_view idle = {.up = true};

	/* Direct with a relay in reserve: 3 s, then the retry replaces it. */
	um_session_timers_initiated(&t, T0, false, true);
	CHECK(t.retry_at == T0 + 3000 * MS);
	CHECK_EQ(um_session_timers_run(&t, T0 + 3000 * MS, &idle), UM_SESSION_DO_RESTART);
	CHECK(!um_session_timers_retry_armed(&t));
	/* Through the relay, or with no relay: the engine's retransmissions. */
	um_session_timers_initiated(&t, T0, true, true);
	CHECK(!um_session_timers_retry_armed(&t));
	um_session_timers_initiated(&t, T0, false, false);
	CHECK(!um_session_timers_retry_armed(&t));
	/* The peer called first: the pending retry does nothing. */
	um_session_timers_initiated(&t, T0, false, true);
	struct um_session_view up = healthy(T0 + 3000 * MS);
	CHECK_EQ(um_session_timers_run(&t, T0 + 3000 * MS, &up), 0);
	CHECK(!t.retry_replaces);
}

static void test_rekey(void)
{
	struct um_session_timers t = fresh(true, low);
	struct um_session_view view;

	um_session_timers_established(&t, T0);
	CHECK(t.rekey_at == T0 + REKEY);
	CHECK(t.tick_at == T0 + TICK);
	t = fresh(false, low);
	um_session_timers_established(&t, T0);
	CHECK(t.rekey_at == T0 + REKEY + REKEY / 4 + SEC); /* takes over only if the designated side failed */
	t.tick_at = UM_SESSION_NEVER;                      /* look at the rekey alone */
	view = healthy(T0 + REKEY + REKEY / 4 + SEC);
	CHECK_EQ(um_session_timers_run(&t, T0 + REKEY + REKEY / 4 + SEC, &view), UM_SESSION_DO_INITIATE);
	CHECK(t.rekey_at == UM_SESSION_NEVER);
}

static void test_tick(void)
{
	struct um_session_timers t = fresh(true, low);
	uint64_t now = T0 + TICK;
	struct um_session_view view;

	um_session_timers_up(&t, T0, false);
	/* Sent recently: nothing; re-armed a tick later. */
	view = healthy(now);
	CHECK_EQ(um_session_timers_run(&t, now, &view), 0);
	CHECK(t.tick_at == now + TICK);
	/* Nothing sent for 7/8 of a tick: a keepalive. */
	now += TICK;
	view = healthy(now);
	view.last_tx_ns = now - TICK + TICK / 8;
	CHECK_EQ(um_session_timers_run(&t, now, &view), UM_SESSION_DO_KEEPALIVE);
	view.last_tx_ns = now - TICK + TICK / 8 + 1;
	t.tick_at = now;
	CHECK_EQ(um_session_timers_run(&t, now, &view), 0);
	/* 2^40 messages under one key: a new one. */
	view = healthy(now);
	view.send_counter = 1ULL << 40;
	t.tick_at = now;
	CHECK_EQ(um_session_timers_run(&t, now, &view), UM_SESSION_DO_INITIATE);
	/* Older than 3x rekey: expired. */
	view = healthy(now);
	view.session_created_ns = now - 3 * REKEY - 1;
	t.tick_at = now;
	CHECK_EQ(um_session_timers_run(&t, now, &view), UM_SESSION_DO_EXPIRE);
	/* Silent for 3 ticks + 1 s: suspect, unless a retry is already pending. */
	view = healthy(now);
	view.last_rx_ns = view.last_handshake_ns = now - 3 * TICK - SEC - 1;
	t.tick_at = now;
	CHECK_EQ(um_session_timers_run(&t, now, &view), UM_SESSION_DO_SUSPECT);
	view.last_rx_ns = now - 3 * TICK - SEC;
	t.tick_at = now;
	CHECK_EQ(um_session_timers_run(&t, now, &view), 0);
	view.last_rx_ns = now - 3 * TICK - SEC - 1;
	t.tick_at = now;
	um_session_timers_failed(&t, now, true);
	CHECK_EQ(um_session_timers_run(&t, now, &view), 0);
	/* Down, or no stats, or no key: nothing but the re-arm. */
	t = fresh(true, low);
	t.tick_at = now;
	view.up = false;
	CHECK_EQ(um_session_timers_run(&t, now, &view), 0);
	CHECK(t.tick_at == now + TICK);
	view = healthy(now);
	view.has_current = false;
	view.last_tx_ns = 0;
	t.tick_at = now;
	CHECK_EQ(um_session_timers_run(&t, now, &view), 0);
}

static void test_need_key(void)
{
	struct um_session_timers t = fresh(true, low);

	CHECK_EQ(um_session_timers_need_key(&t, T0), UM_SESSION_DO_INITIATE);
	um_session_timers_initiated(&t, T0, true, true);
	CHECK_EQ(um_session_timers_need_key(&t, T0 + SEC - 1), 0);
	CHECK_EQ(um_session_timers_need_key(&t, T0 + SEC), UM_SESSION_DO_INITIATE);
	um_session_timers_failed(&t, T0 + SEC, true);
	CHECK_EQ(um_session_timers_need_key(&t, T0 + 2 * SEC), 0); /* the retry comes soon enough */
}

static void test_relay_unknown_peer(void)
{
	/* 100, then 200 ms until 14 tries, then 400 ms doubling up to 6.4 s. */
	static const uint64_t expect_ms[] = {100, 200, 200, 200, 200, 200, 200,  200,  200,  200,
					     200, 200, 200, 200, 400, 800, 1600, 3200, 6400, 6400};
	struct um_session_timers t = fresh(true, low);
	struct um_session_view idle = {.up = true};
	uint64_t now = T0;

	for (unsigned i = 0; i < sizeof(expect_ms) / sizeof(expect_ms[0]); i++) {
		um_session_timers_relay_unknown_peer(&t, now, true, false);
		CHECK(t.retry_at == now + expect_ms[i] * MS);
		/* A second answer while the retry is pending changes nothing. */
		um_session_timers_relay_unknown_peer(&t, now, true, false);
		CHECK(t.retry_at == now + expect_ms[i] * MS);
		now = t.retry_at;
		CHECK_EQ(um_session_timers_run(&t, now, &idle), UM_SESSION_DO_RESTART);
	}
	um_session_timers_established(&t, now);
	CHECK_EQ(t.relay_unknown, 0);
	um_session_timers_relay_unknown_peer(&t, now, true, true);
	CHECK(!um_session_timers_retry_armed(&t));
	um_session_timers_relay_unknown_peer(&t, now, false, false);
	CHECK(!um_session_timers_retry_armed(&t));
}

static void test_relay_ready(void)
{
	struct um_session_timers t = fresh(false, low);

	um_session_timers_relay_ready(&t, T0, true, true, false, false); /* established */
	CHECK(!um_session_timers_retry_armed(&t));
	um_session_timers_relay_ready(&t, T0, true, false, true, false); /* busy */
	CHECK(!um_session_timers_retry_armed(&t));
	um_session_timers_relay_ready(&t, T0, true, false, false, true); /* endpoint still answers */
	CHECK(!um_session_timers_retry_armed(&t));
	um_session_timers_relay_ready(&t, T0, false, false, false, false); /* down */
	CHECK(!um_session_timers_retry_armed(&t));
	um_session_timers_relay_ready(&t, T0, true, false, false, false);
	CHECK(t.retry_at == T0 + 500 * MS);
	um_session_timers_relay_ready(&t, T0 + MS, true, false, false, false); /* already pending */
	CHECK(t.retry_at == T0 + 500 * MS);
}

int main(void)
{
	RUN(test_up);
	RUN(test_down);
	RUN(test_backoff);
	RUN(test_direct_timeout);
	RUN(test_rekey);
	RUN(test_tick);
	RUN(test_need_key);
	RUN(test_relay_unknown_peer);
	RUN(test_relay_ready);
	return um_test_end();
}
