/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/loop.h"
#include "test.h"
#include "util/clock.h"

struct order_timer {
	struct um_timer timer;
	int id;
	int *log;
	int *log_len;
};

static void record(struct um_loop *loop, struct um_timer *timer)
{
	struct order_timer *t = timer->arg;
	(void)loop;
	t->log[(*t->log_len)++] = t->id;
}

/* Timers fire in deadline order, whatever the arming order, and cancelled
 * or re-armed timers behave. */
static void test_timer_order(void)
{
	struct um_loop *loop;
	enum { N = 200 };
	struct order_timer timers[N];
	int log[N], log_len = 0;
	uint64_t base = um_now_ns();

	CHECK_EQ(um_loop_new(&loop), 0);
	srand(7);
	for (int i = 0; i < N; i++) {
		timers[i] = (struct order_timer){.id = i, .log = log, .log_len = &log_len};
		um_timer_init(&timers[i].timer, record, &timers[i]);
	}
	/* Arm in a shuffled order with deadlines i ms from base. */
	int perm[N];
	for (int i = 0; i < N; i++)
		perm[i] = i;
	for (int i = N - 1; i > 0; i--) {
		int j = rand() % (i + 1), tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	for (int i = 0; i < N; i++)
		um_timer_arm_at(loop, &timers[perm[i]].timer, base + (uint64_t)perm[i] * 100000ULL);
	/* Cancel every 10th; move timer 5 to the very end. */
	for (int i = 0; i < N; i += 10)
		um_timer_cancel(loop, &timers[i].timer);
	um_timer_arm_at(loop, &timers[5].timer, base + (uint64_t)N * 100000ULL);
	uint64_t give_up = um_now_ns() + 2 * UM_NSEC_PER_SEC;
	while (log_len < N - N / 10 && um_now_ns() < give_up)
		CHECK_EQ(um_loop_run_once(loop, 100), 0);
	CHECK_EQ(log_len, N - N / 10);
	int expect = 0;
	for (int i = 0; i < log_len - 1; i++) {
		while (expect % 10 == 0 || expect == 5)
			expect++;
		CHECK_EQ(log[i], expect);
		expect++;
	}
	CHECK_EQ(log[log_len - 1], 5);
	for (int i = 0; i < N; i++)
		CHECK(!um_timer_armed(&timers[i].timer));
	um_loop_free(loop);
}

struct pipe_watch {
	struct um_watch watch;
	int reads;
	struct pipe_watch *victim; /* removed from inside the callback */
};

static void on_readable(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct pipe_watch *p = watch->arg;
	char c;

	(void)events;
	if (read(watch->fd, &c, 1) == 1)
		p->reads++;
	if (p->victim) {
		um_loop_remove(loop, &p->victim->watch);
		p->victim = NULL;
	}
}

/* Removing a watch whose event is pending in the same batch never calls it. */
static void test_remove_inside_batch(void)
{
	struct um_loop *loop;
	int a[2], b[2];
	struct pipe_watch pa = {0}, pb = {0};

	CHECK_EQ(um_loop_new(&loop), 0);
	CHECK_EQ(pipe(a), 0);
	CHECK_EQ(pipe(b), 0);
	pa.watch = (struct um_watch){.fd = a[0], .events = EPOLLIN, .fn = on_readable, .arg = &pa};
	pb.watch = (struct um_watch){.fd = b[0], .events = EPOLLIN, .fn = on_readable, .arg = &pb};
	pa.victim = &pb;
	pb.victim = &pa;
	CHECK_EQ(um_loop_add(loop, &pa.watch), 0);
	CHECK_EQ(um_loop_add(loop, &pb.watch), 0);
	CHECK_EQ(write(a[1], "x", 1), 1);
	CHECK_EQ(write(b[1], "y", 1), 1);
	CHECK_EQ(um_loop_run_once(loop, 1000), 0);
	/* Exactly one ran; it removed the other before its event was served. */
	CHECK_EQ(pa.reads + pb.reads, 1);
	CHECK_EQ(um_loop_run_once(loop, 50), 0);
	CHECK_EQ(pa.reads + pb.reads, 1);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
	um_loop_free(loop);
}

static int got_signal;

static void on_signal(struct um_loop *loop, int signo, void *arg)
{
	(void)arg;
	got_signal = signo;
	um_loop_stop(loop);
}

static void stop_timer(struct um_loop *loop, struct um_timer *timer)
{
	(void)timer;
	um_loop_stop(loop);
}

/* SIGUSR1 arrives through signalfd and stops um_loop_run(); a safety timer
 * bounds the test if it does not. */
static void test_signal(void)
{
	struct um_loop *loop;
	struct um_timer safety;

	CHECK_EQ(um_loop_new(&loop), 0);
	CHECK_EQ(um_loop_add_signal(loop, SIGUSR1, on_signal, NULL), 0);
	um_timer_init(&safety, stop_timer, NULL);
	um_timer_arm_in(loop, &safety, 2 * UM_NSEC_PER_SEC);
	CHECK_EQ(kill(getpid(), SIGUSR1), 0);
	CHECK_EQ(um_loop_run(loop), 0);
	CHECK_EQ(got_signal, SIGUSR1);
	um_timer_cancel(loop, &safety);
	um_loop_free(loop);
}

int main(void)
{
	RUN(test_timer_order);
	RUN(test_remove_inside_batch);
	RUN(test_signal);
	return um_test_end();
}
