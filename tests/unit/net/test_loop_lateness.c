/* SPDX-License-Identifier: MIT */
/* Timer lateness (net/loop.h): the histogram's percentile and maximum on a
 * fake clock, the rolling window, reset, and a real loop whose first
 * callback runs long so the second one is late by at least that much. */
#include <stdint.h>
#include <time.h>

#include "net/loop.h"
#include "test.h"
#include "util/clock.h"

#define MS 1000000ULL
#define US 1000ULL

/* 990 callbacks 100 us late and 10 at 50 ms: p99 stays near 100 us (bucket
 * bound at most 25% above), the maximum is the 50 ms one. */
static void test_percentile_and_max(void)
{
	struct um_lateness l;
	struct um_lateness_summary s;
	uint64_t t = 5 * UM_NSEC_PER_SEC;

	um_lateness_reset(&l);
	um_lateness_summarize(&l, t, &s);
	CHECK_EQ(s.samples, 0);
	CHECK_EQ(s.max_us, 0);
	CHECK_EQ(s.p99_us, 0);
	for (int i = 0; i < 990; i++)
		um_lateness_add(&l, t + (uint64_t)i * MS, 100 * US);
	for (int i = 0; i < 10; i++)
		um_lateness_add(&l, t + 990 * MS + (uint64_t)i * MS, 50 * MS);
	um_lateness_summarize(&l, t + UM_NSEC_PER_SEC, &s);
	CHECK_EQ(s.samples, 1000);
	CHECK_EQ(s.total, 1000);
	CHECK_EQ(s.max_us, 50000);
	CHECK(s.p99_us >= 100 && s.p99_us <= 125);
	/* 11 late ones out of 1000: now the 99th percentile is a late one. */
	um_lateness_add(&l, t + 1001 * MS, 50 * MS);
	um_lateness_summarize(&l, t + UM_NSEC_PER_SEC, &s);
	CHECK(s.p99_us >= 40000 && s.p99_us <= 50000);
	/* Exact below 8 us; a zero lateness counts as a sample. */
	um_lateness_reset(&l);
	um_lateness_add(&l, t, 0);
	um_lateness_add(&l, t, 7 * US);
	um_lateness_summarize(&l, t, &s);
	CHECK_EQ(s.samples, 2);
	CHECK_EQ(s.max_us, 7);
	CHECK_EQ(s.p99_us, 7);
	/* Absurd values land in the last bucket without overflow. */
	um_lateness_add(&l, t, UINT64_MAX / 2);
	um_lateness_summarize(&l, t, &s);
	CHECK_EQ(s.max_us, UINT64_MAX / 2 / 1000);
	CHECK(s.p99_us <= s.max_us);
}

/* A sample stays in the window for one to two halves, then leaves it; the
 * total keeps counting until a reset. */
static void test_window(void)
{
	struct um_lateness l;
	struct um_lateness_summary s;
	uint64_t t = 100 * UM_NSEC_PER_SEC;

	um_lateness_reset(&l);
	um_lateness_add(&l, t, 80 * MS);
	um_lateness_add(&l, t + UM_LATENESS_HALF_NS + MS, 2 * MS); /* next half */
	um_lateness_summarize(&l, t + UM_LATENESS_HALF_NS + 2 * MS, &s);
	CHECK_EQ(s.samples, 2);
	CHECK_EQ(s.max_us, 80000);
	/* Two halves on, the 80 ms sample is gone, the 2 ms one is still in. */
	um_lateness_summarize(&l, t + 2 * UM_LATENESS_HALF_NS + MS, &s);
	CHECK_EQ(s.samples, 1);
	CHECK_EQ(s.max_us, 2000);
	CHECK(s.p99_us >= 2000 && s.p99_us <= 2000);
	/* A long silence empties the window; total remembers. */
	um_lateness_summarize(&l, t + 10 * UM_LATENESS_HALF_NS, &s);
	CHECK_EQ(s.samples, 0);
	CHECK_EQ(s.max_us, 0);
	CHECK_EQ(s.total, 2);
	um_lateness_add(&l, t + 10 * UM_LATENESS_HALF_NS + MS, 3 * MS);
	um_lateness_summarize(&l, t + 10 * UM_LATENESS_HALF_NS + 2 * MS, &s);
	CHECK_EQ(s.samples, 1);
	CHECK_EQ(s.total, 3);
	um_lateness_reset(&l);
	um_lateness_summarize(&l, t + 10 * UM_LATENESS_HALF_NS + 2 * MS, &s);
	CHECK_EQ(s.total, 0);
	CHECK_EQ(s.samples, 0);
}

struct slow_timer {
	struct um_timer timer;
	int *fired;
	uint64_t busy_ns;
};

static void on_slow(struct um_loop *loop, struct um_timer *timer)
{
	struct slow_timer *t = timer->arg;
	uint64_t until = um_now_ns() + t->busy_ns;

	(void)loop;
	while (um_now_ns() < until)
		; /* the control thread busy, as under a signing flood */
	(*t->fired)++;
}

/* Two timers due at the same instant; the first keeps the thread busy for
 * 30 ms, so the second starts at least 30 ms late and the loop says so. */
static void test_loop_measures(void)
{
	struct um_loop *loop;
	struct um_lateness_summary s;
	int fired = 0;
	struct slow_timer a = {.fired = &fired, .busy_ns = 30 * MS}, b = {.fired = &fired};
	uint64_t due = um_now_ns() + 5 * MS;

	CHECK_EQ(um_loop_new(&loop), 0);
	um_loop_timer_lateness(loop, &s);
	CHECK_EQ(s.samples, 0);
	um_timer_init(&a.timer, on_slow, &a);
	um_timer_init(&b.timer, on_slow, &b);
	um_timer_arm_at(loop, &a.timer, due);
	um_timer_arm_at(loop, &b.timer, due);
	uint64_t give_up = um_now_ns() + 2 * UM_NSEC_PER_SEC;
	while (fired < 2 && um_now_ns() < give_up)
		CHECK_EQ(um_loop_run_once(loop, 100), 0);
	CHECK_EQ(fired, 2);
	um_loop_timer_lateness(loop, &s);
	CHECK_EQ(s.samples, 2);
	CHECK_EQ(s.total, 2);
	CHECK(s.max_us >= 30000);
	CHECK(s.max_us < 2000000); /* slack for a loaded machine, but bounded */
	um_loop_timer_lateness_reset(loop);
	um_loop_timer_lateness(loop, &s);
	CHECK_EQ(s.samples, 0);
	CHECK_EQ(s.max_us, 0);
	um_loop_free(loop);
}

int main(void)
{
	RUN(test_percentile_and_max);
	RUN(test_window);
	RUN(test_loop_measures);
	return um_test_end();
}
