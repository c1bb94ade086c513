/* SPDX-License-Identifier: MIT */
#include "net/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"

enum { UM_LOOP_BATCH = 64, UM_LOOP_MAX_SIGNALS = 8 };

struct um_loop_signal {
	int signo;
	um_signal_fn fn;
	void *arg;
};

struct um_loop {
	int epoll_fd;
	struct um_watch timer_watch;
	struct um_watch signal_watch;
	sigset_t signals;
	struct um_loop_signal handlers[UM_LOOP_MAX_SIGNALS];
	size_t handler_count;

	/* Timers: intrusive binary min-heap on (deadline_ns, sequence). */
	struct um_timer *timer_root;
	size_t timer_count;
	uint64_t timer_sequence;
	uint64_t armed_deadline; /* what the timerfd is set to; 0 = disarmed */
	struct um_lateness lateness;

	/* The batch being dispatched, so um_loop_remove() can void its events. */
	struct epoll_event batch[UM_LOOP_BATCH];
	int batch_len;
	bool stopping;
};

static void on_timerfd(struct um_loop *loop, struct um_watch *watch, uint32_t events);
static void on_signalfd(struct um_loop *loop, struct um_watch *watch, uint32_t events);

int um_loop_new(struct um_loop **out)
{
	struct um_loop *loop = calloc(1, sizeof(*loop));
	int ret;

	if (!loop)
		return -ENOMEM;
	loop->signal_watch.fd = -1;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		ret = -errno;
		goto err_loop;
	}
	loop->timer_watch.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->timer_watch.fd < 0) {
		ret = -errno;
		goto err_epoll;
	}
	loop->timer_watch.events = EPOLLIN;
	loop->timer_watch.fn = on_timerfd;
	ret = um_loop_add(loop, &loop->timer_watch);
	if (ret)
		goto err_timerfd;
	sigemptyset(&loop->signals);
	*out = loop;
	return 0;

err_timerfd:
	close(loop->timer_watch.fd);
err_epoll:
	close(loop->epoll_fd);
err_loop:
	free(loop);
	return ret;
}

void um_loop_free(struct um_loop *loop)
{
	if (!loop)
		return;
	if (loop->signal_watch.fd >= 0) {
		close(loop->signal_watch.fd);
		sigprocmask(SIG_UNBLOCK, &loop->signals, NULL);
	}
	close(loop->timer_watch.fd);
	close(loop->epoll_fd);
	free(loop);
}

int um_loop_add(struct um_loop *loop, struct um_watch *watch)
{
	struct epoll_event ev = {.events = watch->events, .data.ptr = watch};

	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, watch->fd, &ev) < 0)
		return -errno;
	return 0;
}

int um_loop_modify(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = watch};

	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, watch->fd, &ev) < 0)
		return -errno;
	watch->events = events;
	return 0;
}

int um_loop_remove(struct um_loop *loop, struct um_watch *watch)
{
	int ret = 0;

	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL) < 0)
		ret = -errno;
	/* The watch may be freed right after this returns: forget any event of
	 * the current batch that still points at it. */
	for (int i = 0; i < loop->batch_len; i++) {
		if (loop->batch[i].data.ptr == watch)
			loop->batch[i].data.ptr = NULL;
	}
	return ret;
}

/* ---- timers ---- */

/* An intrusive binary min-heap: each timer holds its parent and children, so
 * the heap is a complete binary tree of the armed timers and needs no array.
 * Node n (1-based, breadth-first) is reached from the root by the bits of n
 * below its leading one, most significant first: 0 = left, 1 = right. */

static bool heap_less(const struct um_timer *a, const struct um_timer *b)
{
	if (a->deadline_ns != b->deadline_ns)
		return a->deadline_ns < b->deadline_ns;
	return a->sequence < b->sequence;
}

/* The link that holds (or will hold) node n: &root, or a parent's left/right. */
static struct um_timer **heap_slot(struct um_loop *loop, size_t n, struct um_timer **parent)
{
	struct um_timer **slot = &loop->timer_root;
	size_t path = 0, depth = 0;

	*parent = NULL;
	for (; n >= 2; n /= 2, depth++)
		path = (path << 1) | (n & 1);
	for (; depth > 0; depth--, path >>= 1) {
		*parent = *slot;
		slot = (path & 1) ? &(*slot)->right : &(*slot)->left;
	}
	return slot;
}

/* Exchange child with its parent in the tree (links only; values stay). */
static void heap_swap(struct um_loop *loop, struct um_timer *parent, struct um_timer *child)
{
	struct um_timer *grand = parent->parent;
	struct um_timer *child_left = child->left, *child_right = child->right;
	struct um_timer *sibling;

	if (parent->left == child) {
		sibling = parent->right;
		child->left = parent;
		child->right = sibling;
	} else {
		sibling = parent->left;
		child->left = sibling;
		child->right = parent;
	}
	if (sibling)
		sibling->parent = child;
	child->parent = grand;
	if (!grand)
		loop->timer_root = child;
	else if (grand->left == parent)
		grand->left = child;
	else
		grand->right = child;
	parent->parent = child;
	parent->left = child_left;
	parent->right = child_right;
	if (child_left)
		child_left->parent = parent;
	if (child_right)
		child_right->parent = parent;
}

static void heap_sift_up(struct um_loop *loop, struct um_timer *t)
{
	while (t->parent && heap_less(t, t->parent))
		heap_swap(loop, t->parent, t);
}

static void heap_sift_down(struct um_loop *loop, struct um_timer *t)
{
	for (;;) {
		struct um_timer *least = t;
		if (t->left && heap_less(t->left, least))
			least = t->left;
		if (t->right && heap_less(t->right, least))
			least = t->right;
		if (least == t)
			return;
		heap_swap(loop, t, least);
	}
}

static void heap_insert(struct um_loop *loop, struct um_timer *t)
{
	struct um_timer *parent;
	struct um_timer **slot = heap_slot(loop, loop->timer_count + 1, &parent);

	t->left = t->right = NULL;
	t->parent = parent;
	*slot = t;
	loop->timer_count++;
	t->armed = true;
	heap_sift_up(loop, t);
}

/* Unlink t: the last node takes its place, then moves up or down. */
static void heap_remove(struct um_loop *loop, struct um_timer *t)
{
	struct um_timer *parent;
	struct um_timer **slot = heap_slot(loop, loop->timer_count, &parent);
	struct um_timer *last = *slot;

	/* Detach the last node first: it may be one of t's children. */
	*slot = NULL;
	loop->timer_count--;
	t->armed = false;
	if (last != t) {
		last->left = t->left;
		last->right = t->right;
		last->parent = t->parent;
		if (last->left)
			last->left->parent = last;
		if (last->right)
			last->right->parent = last;
		if (!t->parent)
			loop->timer_root = last;
		else if (t->parent->left == t)
			t->parent->left = last;
		else
			t->parent->right = last;
		heap_sift_down(loop, last);
		heap_sift_up(loop, last);
	}
	t->parent = t->left = t->right = NULL;
}

/* Point the timerfd at the earliest deadline (only when it changed). */
static void timerfd_update(struct um_loop *loop)
{
	uint64_t next = loop->timer_root ? loop->timer_root->deadline_ns : 0;
	struct itimerspec its = {0};

	if (next == loop->armed_deadline)
		return;
	if (next) {
		/* Absolute time: a deadline already past fires at once. */
		its.it_value.tv_sec = (time_t)(next / UM_NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(next % UM_NSEC_PER_SEC);
	}
	timerfd_settime(loop->timer_watch.fd, TFD_TIMER_ABSTIME, &its, NULL);
	loop->armed_deadline = next;
}

void um_timer_init(struct um_timer *timer, um_timer_fn fn, void *arg)
{
	*timer = (struct um_timer){.fn = fn, .arg = arg};
}

void um_timer_arm_at(struct um_loop *loop, struct um_timer *timer, uint64_t deadline_ns)
{
	if (deadline_ns == 0)
		deadline_ns = 1;
	if (timer->armed)
		heap_remove(loop, timer);
	timer->deadline_ns = deadline_ns;
	timer->sequence = loop->timer_sequence++;
	heap_insert(loop, timer);
	timerfd_update(loop);
}

void um_timer_arm_in(struct um_loop *loop, struct um_timer *timer, uint64_t delay_ns)
{
	um_timer_arm_at(loop, timer, um_now_ns() + delay_ns);
}

void um_timer_cancel(struct um_loop *loop, struct um_timer *timer)
{
	if (!timer->armed)
		return;
	heap_remove(loop, timer);
	timerfd_update(loop);
}

static void on_timerfd(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	uint64_t expirations;
	uint64_t now = um_now_ns();

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	loop->armed_deadline = 0;
	/* Run every due timer; a callback may re-arm itself or others. Timers
	 * armed for "now" inside a callback run on the next pass, not this one,
	 * so a zero-delay re-arm cannot starve file descriptors. */
	while (loop->timer_root && loop->timer_root->deadline_ns <= now && !loop->stopping) {
		struct um_timer *t = loop->timer_root;
		/* Measured per callback: an earlier callback of this pass that
		 * ran long makes the later ones late, and that must show. */
		uint64_t started = um_now_ns();
		um_lateness_add(&loop->lateness, started, started > t->deadline_ns ? started - t->deadline_ns : 0);
		heap_remove(loop, t);
		t->fn(loop, t);
	}
	timerfd_update(loop);
}

/* ---- timer lateness ---- */

/* Bucket of a lateness in microseconds: exact below 8, then the power of two
 * and the next two bits below it (four buckets per octave). */
static size_t lateness_bucket(uint64_t us)
{
	if (us < 8)
		return (size_t)us;
	unsigned octave = 63u - (unsigned)__builtin_clzll(us); /* >= 3 */
	size_t index = 8 + (size_t)(octave - 3) * 4 + (size_t)((us >> (octave - 2)) & 3);
	return index < UM_LATENESS_BUCKETS ? index : UM_LATENESS_BUCKETS - 1;
}

/* The largest value that falls in bucket index. */
static uint64_t lateness_bucket_top(size_t index)
{
	if (index < 8)
		return index;
	unsigned octave = (unsigned)(index - 8) / 4 + 3, sub = (unsigned)(index - 8) % 4;
	return ((uint64_t)(4 + sub + 1) << (octave - 2)) - 1;
}

/* Moves the window forward to now: the current half becomes the previous
 * one, or both are cleared after a silence longer than a half. */
static void lateness_rotate(struct um_lateness *l, uint64_t now_ns)
{
	if (!l->half_start_ns) {
		l->half_start_ns = now_ns ? now_ns : 1;
		return;
	}
	if (now_ns < l->half_start_ns + UM_LATENESS_HALF_NS)
		return;
	if (now_ns < l->half_start_ns + 2 * UM_LATENESS_HALF_NS) {
		memcpy(l->buckets[1], l->buckets[0], sizeof(l->buckets[0]));
		l->max_ns[1] = l->max_ns[0];
		l->half_start_ns += UM_LATENESS_HALF_NS;
	} else {
		memset(l->buckets[1], 0, sizeof(l->buckets[1]));
		l->max_ns[1] = 0;
		l->half_start_ns = now_ns;
	}
	memset(l->buckets[0], 0, sizeof(l->buckets[0]));
	l->max_ns[0] = 0;
}

void um_lateness_reset(struct um_lateness *lateness)
{
	memset(lateness, 0, sizeof(*lateness));
}

void um_lateness_add(struct um_lateness *lateness, uint64_t now_ns, uint64_t late_ns)
{
	uint32_t *bucket;

	lateness_rotate(lateness, now_ns);
	lateness->total++;
	if (late_ns > lateness->max_ns[0])
		lateness->max_ns[0] = late_ns;
	bucket = &lateness->buckets[0][lateness_bucket(late_ns / 1000)];
	if (*bucket < UINT32_MAX)
		(*bucket)++;
}

void um_lateness_summarize(struct um_lateness *lateness, uint64_t now_ns, struct um_lateness_summary *out)
{
	uint64_t counts[UM_LATENESS_BUCKETS], samples = 0, max_ns;

	lateness_rotate(lateness, now_ns);
	for (size_t i = 0; i < UM_LATENESS_BUCKETS; i++) {
		counts[i] = (uint64_t)lateness->buckets[0][i] + lateness->buckets[1][i];
		samples += counts[i];
	}
	max_ns = lateness->max_ns[0] > lateness->max_ns[1] ? lateness->max_ns[0] : lateness->max_ns[1];
	*out = (struct um_lateness_summary){.total = lateness->total, .samples = samples, .max_us = max_ns / 1000};
	if (!samples)
		return;
	/* The smallest bucket with at least 99% of the samples at or below it. */
	uint64_t need = samples - samples / 100, seen = 0;
	for (size_t i = 0; i < UM_LATENESS_BUCKETS; i++) {
		seen += counts[i];
		if (seen >= need) {
			uint64_t top = lateness_bucket_top(i);
			out->p99_us = top < out->max_us ? top : out->max_us;
			return;
		}
	}
	out->p99_us = out->max_us;
}

void um_loop_timer_lateness(struct um_loop *loop, struct um_lateness_summary *out)
{
	um_lateness_summarize(&loop->lateness, um_now_ns(), out);
}

void um_loop_timer_lateness_reset(struct um_loop *loop)
{
	um_lateness_reset(&loop->lateness);
}

/* ---- signals ---- */

int um_loop_add_signal(struct um_loop *loop, int signo, um_signal_fn fn, void *arg)
{
	int fd;

	if (loop->handler_count == UM_LOOP_MAX_SIGNALS)
		return -UM_ELIMIT;
	sigaddset(&loop->signals, signo);
	if (sigprocmask(SIG_BLOCK, &loop->signals, NULL) < 0)
		return -errno;
	fd = signalfd(loop->signal_watch.fd, &loop->signals, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->signal_watch.fd < 0) {
		loop->signal_watch.fd = fd;
		loop->signal_watch.events = EPOLLIN;
		loop->signal_watch.fn = on_signalfd;
		int ret = um_loop_add(loop, &loop->signal_watch);
		if (ret)
			return ret;
	}
	loop->handlers[loop->handler_count++] = (struct um_loop_signal){signo, fn, arg};
	return 0;
}

static void on_signalfd(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct signalfd_siginfo info;

	(void)events;
	while (read(watch->fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		for (size_t i = 0; i < loop->handler_count; i++) {
			if (loop->handlers[i].signo == (int)info.ssi_signo)
				loop->handlers[i].fn(loop, (int)info.ssi_signo, loop->handlers[i].arg);
		}
	}
}

/* ---- running ---- */

int um_loop_run_once(struct um_loop *loop, int timeout_ms)
{
	int n = epoll_wait(loop->epoll_fd, loop->batch, UM_LOOP_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->batch_len = n;
	for (int i = 0; i < n && !loop->stopping; i++) {
		struct um_watch *watch = loop->batch[i].data.ptr;
		if (watch)
			watch->fn(loop, watch, loop->batch[i].events);
	}
	loop->batch_len = 0;
	return 0;
}

int um_loop_run(struct um_loop *loop)
{
	int ret = 0;

	loop->stopping = false;
	while (!loop->stopping && ret == 0)
		ret = um_loop_run_once(loop, -1);
	return ret;
}

void um_loop_stop(struct um_loop *loop)
{
	loop->stopping = true;
}

int um_loop_fd(const struct um_loop *loop)
{
	return loop->epoll_fd;
}
