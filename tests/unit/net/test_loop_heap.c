/* SPDX-License-Identifier: MIT */
/* The loop's intrusive timer heap, driven through the public API. Deadlines
 * are set in the past (small absolute monotonic values), so every armed timer
 * is due and one timerfd pass fires them all in heap order: the test needs no
 * sleeping and the order is compared with a simple reference model. */
#include <stdint.h>
#include <stdlib.h>

#include "net/loop.h"
#include "test.h"
#include "util/clock.h"

enum { MAX_TIMERS = 1000 };

struct heap_timer {
	struct um_timer timer;
	int id;
	/* Reference model: what the heap should hold. */
	bool model_armed;
	uint64_t model_deadline;
	uint64_t model_sequence;
	/* Per-case actions run from the callback. */
	struct heap_timer *cancel_on_fire;
	int rearms_left;
	uint64_t rearm_deadline;
};

/* The fixture, reset by fixture_reset() at the start of every case. */
static struct heap_timer timers[MAX_TIMERS];
static int fired[4 * MAX_TIMERS];
static int fired_len;
static uint64_t model_sequence;

static void on_fire(struct um_loop *loop, struct um_timer *timer)
{
	struct heap_timer *t = timer->arg;

	CHECK(!um_timer_armed(timer));
	if (fired_len < (int)(sizeof(fired) / sizeof(fired[0])))
		fired[fired_len++] = t->id;
	t->model_armed = false;
	if (t->cancel_on_fire) {
		um_timer_cancel(loop, &t->cancel_on_fire->timer);
		t->cancel_on_fire->model_armed = false;
	}
	if (t->rearms_left > 0) {
		t->rearms_left--;
		if (t->rearm_deadline)
			um_timer_arm_at(loop, timer, t->rearm_deadline);
		else
			um_timer_arm_in(loop, timer, 0);
		CHECK(um_timer_armed(timer));
	}
}

static void fixture_reset(int n)
{
	for (int i = 0; i < n; i++) {
		timers[i] = (struct heap_timer){.id = i};
		um_timer_init(&timers[i].timer, on_fire, &timers[i]);
	}
	fired_len = 0;
	model_sequence = 0;
}

static void model_arm(struct um_loop *loop, struct heap_timer *t, uint64_t deadline)
{
	um_timer_arm_at(loop, &t->timer, deadline);
	t->model_armed = true;
	t->model_deadline = deadline;
	t->model_sequence = model_sequence++;
}

static void model_cancel(struct um_loop *loop, struct heap_timer *t)
{
	um_timer_cancel(loop, &t->timer);
	t->model_armed = false;
}

static int model_compare(const void *a, const void *b)
{
	const struct heap_timer *x = *(struct heap_timer *const *)a;
	const struct heap_timer *y = *(struct heap_timer *const *)b;

	if (x->model_deadline != y->model_deadline)
		return x->model_deadline < y->model_deadline ? -1 : 1;
	return x->model_sequence < y->model_sequence ? -1 : x->model_sequence > y->model_sequence;
}

/* Run the loop until `want` timers fired (or a generous 5 s bound). */
static void run_until_fired(struct um_loop *loop, int want)
{
	uint64_t give_up = um_now_ns() + 5 * UM_NSEC_PER_SEC;

	while (fired_len < want && um_now_ns() < give_up)
		CHECK_EQ(um_loop_run_once(loop, 100), 0);
}

/* Many timers armed, re-armed and cancelled in random order fire in
 * (deadline, arming order) order, each exactly once. */
static void test_random_operations(void)
{
	static struct heap_timer *expect[MAX_TIMERS];

	for (unsigned seed = 1; seed <= 20; seed++) {
		struct um_loop *loop;
		int n = 1 + (int)(seed * 97 % MAX_TIMERS);
		int n_expect = 0;

		fixture_reset(n);
		CHECK_EQ(um_loop_new(&loop), 0);
		srand(seed);
		for (int op = 0; op < 5 * n; op++) {
			struct heap_timer *t = &timers[rand() % n];
			/* Few distinct deadlines, so ties are common. */
			uint64_t deadline = 1 + (uint64_t)(rand() % 64);
			if (rand() % 4 == 0)
				model_cancel(loop, t);
			else
				model_arm(loop, t, deadline);
		}
		for (int i = 0; i < n; i++) {
			CHECK_EQ(um_timer_armed(&timers[i].timer), timers[i].model_armed);
			if (timers[i].model_armed)
				expect[n_expect++] = &timers[i];
		}
		qsort(expect, (size_t)n_expect, sizeof(expect[0]), model_compare);
		run_until_fired(loop, n_expect);
		CHECK_EQ(fired_len, n_expect);
		for (int i = 0; i < n_expect && i < fired_len; i++)
			CHECK_EQ(fired[i], expect[i]->id);
		for (int i = 0; i < n; i++)
			CHECK(!um_timer_armed(&timers[i].timer));
		/* Nothing fires twice. */
		CHECK_EQ(um_loop_run_once(loop, 20), 0);
		CHECK_EQ(fired_len, n_expect);
		um_loop_free(loop);
	}
}

/* Arming and cancelling all timers, in and out of order, leaves an empty
 * heap that then works from scratch. */
static void test_drain_and_reuse(void)
{
	struct um_loop *loop;
	enum { N = 257 };

	fixture_reset(N);
	CHECK_EQ(um_loop_new(&loop), 0);
	for (int i = 0; i < N; i++)
		model_arm(loop, &timers[i], 1 + (uint64_t)(N - i));
	for (int i = 0; i < N; i += 2)
		model_cancel(loop, &timers[i]);
	for (int i = N - 1; i >= 0; i--)
		model_cancel(loop, &timers[i]);
	CHECK_EQ(um_loop_run_once(loop, 20), 0);
	CHECK_EQ(fired_len, 0);
	model_arm(loop, &timers[3], 5);
	model_arm(loop, &timers[1], 2);
	run_until_fired(loop, 2);
	CHECK_EQ(fired_len, 2);
	CHECK_EQ(fired[0], 1);
	CHECK_EQ(fired[1], 3);
	um_loop_free(loop);
}

/* A callback cancels a timer due later in the same pass: it never fires. */
static void test_cancel_inside_callback(void)
{
	struct um_loop *loop;

	fixture_reset(4);
	CHECK_EQ(um_loop_new(&loop), 0);
	timers[0].cancel_on_fire = &timers[2];
	timers[1].cancel_on_fire = &timers[1]; /* cancelling itself is a no-op */
	model_arm(loop, &timers[0], 10);
	model_arm(loop, &timers[1], 20);
	model_arm(loop, &timers[2], 30);
	model_arm(loop, &timers[3], 40);
	run_until_fired(loop, 3);
	CHECK_EQ(um_loop_run_once(loop, 20), 0);
	CHECK_EQ(fired_len, 3);
	CHECK_EQ(fired[0], 0);
	CHECK_EQ(fired[1], 1);
	CHECK_EQ(fired[2], 3);
	CHECK(!um_timer_armed(&timers[2].timer));
	um_loop_free(loop);
}

/* A callback re-arms its own timer: to a past deadline it runs again in the
 * same pass, in deadline order among the others; to "now" it runs on a later
 * pass (a zero-delay re-arm cannot spin inside one pass). */
static void test_rearm_inside_own_callback(void)
{
	struct um_loop *loop;

	fixture_reset(3);
	CHECK_EQ(um_loop_new(&loop), 0);
	timers[0].rearms_left = 1;
	timers[0].rearm_deadline = 25; /* between timers 1 and 2 */
	model_arm(loop, &timers[0], 10);
	model_arm(loop, &timers[1], 20);
	model_arm(loop, &timers[2], 30);
	run_until_fired(loop, 4);
	CHECK_EQ(fired_len, 4);
	CHECK_EQ(fired[0], 0);
	CHECK_EQ(fired[1], 1);
	CHECK_EQ(fired[2], 0);
	CHECK_EQ(fired[3], 2);

	fixture_reset(1);
	timers[0].rearms_left = 3;
	model_arm(loop, &timers[0], 1);
	run_until_fired(loop, 1);
	CHECK_EQ(fired_len, 1); /* the pass that fired it did not run it again */
	run_until_fired(loop, 4);
	CHECK_EQ(fired_len, 4);
	CHECK(!um_timer_armed(&timers[0].timer));
	um_loop_free(loop);
}

int main(void)
{
	RUN(test_random_operations);
	RUN(test_drain_and_reuse);
	RUN(test_cancel_inside_callback);
	RUN(test_rearm_inside_own_callback);
	return um_test_end();
}
