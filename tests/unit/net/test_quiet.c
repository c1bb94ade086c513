/* SPDX-License-Identifier: MIT */
/* What a quiet worker does (net/quiet.h), driven with a fake clock: the
 * busy-polling ration and gathering on one CPU. */
#include "net/quiet.h"
#include "test.h"

#define US     1000ull
#define MS     1000000ull
#define WINDOW (500 * US)

static uint64_t now = 1000 * MS;

/* A wait of `wait`, then a round that sends (or not): armed? */
static bool round_with_window(struct um_busy_poll *bp, uint64_t wait, bool sent, uint64_t window)
{
	now += wait;
	um_busy_poll_woke(bp, now, wait, window);
	now += 20 * US;
	return um_busy_poll_arm(bp, now, sent, window);
}

static bool idle_round(struct um_busy_poll *bp, uint64_t wait, bool sent)
{
	return round_with_window(bp, wait, sent, WINDOW);
}

static void test_only_after_idle_and_send(void)
{
	struct um_busy_poll bp;
	um_busy_poll_init(&bp);
	CHECK(!idle_round(&bp, 100 * MS, false)); /* nothing sent: no reply expected */
	CHECK(!idle_round(&bp, 200 * US, true));  /* not idle: bulk traffic */
	CHECK(!idle_round(&bp, UM_BUSY_POLL_IDLE_NS - 1, true));
	CHECK(!um_busy_poll_arm(&bp, now, true, WINDOW)); /* one arm per wake-up */
	CHECK(idle_round(&bp, 100 * MS, true));
	um_busy_poll_spun(&bp, 250 * US, true);
	/* The round the spin caught does not arm another spin. */
	CHECK(!um_busy_poll_arm(&bp, now, true, WINDOW));
	CHECK(idle_round(&bp, 100 * MS, true));
	um_busy_poll_spun(&bp, 250 * US, true);
	/* Window 0: off. */
	now += 100 * MS;
	um_busy_poll_woke(&bp, now, 100 * MS, 0);
	CHECK(!um_busy_poll_arm(&bp, now, true, 0));
}

static void test_misses_stop_and_a_would_be_hit_resumes(void)
{
	struct um_busy_poll bp;
	um_busy_poll_init(&bp);
	for (int i = 0; i < UM_BUSY_POLL_MISS_LIMIT; i++) {
		CHECK(idle_round(&bp, 100 * MS, true));
		um_busy_poll_spun(&bp, WINDOW, false);
	}
	/* Suppressed; a wake-up long after does not resume it... */
	CHECK(!idle_round(&bp, 100 * MS, true));
	CHECK(!idle_round(&bp, 100 * MS, true));
	/* ...nor a quick wake-up that no suppressed spin was waiting for... */
	CHECK(!idle_round(&bp, 100 * MS, false));
	now += 300 * US;
	um_busy_poll_woke(&bp, now, 300 * US, WINDOW);
	CHECK(!um_busy_poll_arm(&bp, now, false, WINDOW));
	CHECK(!idle_round(&bp, 100 * MS, true));
	/* ...but one the suppressed spin would have caught does. */
	now += 300 * US;
	um_busy_poll_woke(&bp, now, 300 * US, WINDOW);
	CHECK(!um_busy_poll_arm(&bp, now, false, WINDOW));
	CHECK(idle_round(&bp, 100 * MS, true));
	/* A hit clears the count: the limit counts misses in a row. */
	um_busy_poll_spun(&bp, WINDOW, false);
	CHECK(idle_round(&bp, 100 * MS, true));
	um_busy_poll_spun(&bp, 100 * US, true);
	for (int i = 0; i < UM_BUSY_POLL_MISS_LIMIT - 1; i++) {
		CHECK(idle_round(&bp, 100 * MS, true));
		um_busy_poll_spun(&bp, WINDOW, false);
	}
	CHECK(idle_round(&bp, 100 * MS, true));
}

static void test_budget_caps_the_share(void)
{
	/* Exchanges after each idle spell that each spin a whole 2 ms window
	 * would spin 1/6 of the time; the budget holds it to 1/UM_BUSY_POLL_SHARE. */
	const uint64_t window = 2 * MS;
	struct um_busy_poll bp;
	um_busy_poll_init(&bp);
	uint64_t start = now, spun = 0;
	for (int i = 0; i < 10000; i++) {
		if (round_with_window(&bp, UM_BUSY_POLL_IDLE_NS, true, window)) {
			/* hits at the very end of the window: never "misses" */
			um_busy_poll_spun(&bp, window, true);
			now += window;
			spun += window;
		}
	}
	uint64_t wall = now - start;
	fprintf(stderr, "  spun %.1f%% of %.1f s\n", 100.0 * (double)spun / (double)wall, (double)wall / 1e9);
	CHECK(spun > 0);
	CHECK(spun <= wall / UM_BUSY_POLL_SHARE + 4 * window);
	CHECK(spun >= wall / UM_BUSY_POLL_SHARE / 2);
}

static void test_gather_spread_and_back(void)
{
	struct um_gather g;
	um_gather_init(&g);
	CHECK(g.gathered);
	/* Short waits, but not enough in a row: stays gathered. */
	for (int i = 0; i < UM_QUIET_SPREAD_AFTER - 1; i++)
		CHECK_EQ(um_gather_woke(&g, 100 * US), UM_GATHER_STAY);
	CHECK_EQ(um_gather_woke(&g, 2 * MS), UM_GATHER_STAY);
	for (int i = 0; i < UM_QUIET_SPREAD_AFTER - 1; i++)
		CHECK_EQ(um_gather_woke(&g, 100 * US), UM_GATHER_STAY);
	CHECK_EQ(um_gather_woke(&g, 100 * US), UM_GATHER_SPREAD);
	CHECK(!g.gathered);
	/* Spread: more traffic and short pauses change nothing... */
	for (int i = 0; i < 100; i++)
		CHECK_EQ(um_gather_woke(&g, i % 10 ? 50 * US : 5 * MS), UM_GATHER_STAY);
	/* ...a lull gathers it, once. */
	CHECK_EQ(um_gather_woke(&g, UM_QUIET_GATHER_AFTER_NS), UM_GATHER_PIN);
	CHECK_EQ(um_gather_woke(&g, 100 * MS), UM_GATHER_STAY);
	CHECK(g.gathered);
}

int main(void)
{
	RUN(test_gather_spread_and_back);
	RUN(test_only_after_idle_and_send);
	RUN(test_misses_stop_and_a_would_be_hit_resumes);
	RUN(test_budget_caps_the_share);
	return um_test_end();
}
