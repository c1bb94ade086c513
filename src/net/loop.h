/* SPDX-License-Identifier: MIT */
/* The event loop: epoll for file descriptors, one timerfd driving a binary
 * min-heap of timers, signalfd for signals. Single-threaded: every callback
 * runs on the thread that calls um_loop_run(). Watches and timers are
 * embedded in the caller's structs (no allocation per registration); the
 * caller owns them and must remove/cancel them before freeing. Removing a
 * watch from inside any callback is safe, including pending events of the
 * same epoll batch. */
#ifndef UM_NET_LOOP_H
#define UM_NET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct um_loop;
struct um_watch;
struct um_timer;

typedef void (*um_watch_fn)(struct um_loop *loop, struct um_watch *watch, uint32_t events);
typedef void (*um_timer_fn)(struct um_loop *loop, struct um_timer *timer);
typedef void (*um_signal_fn)(struct um_loop *loop, int signo, void *arg);

struct um_watch {
	int fd;
	uint32_t events; /* EPOLLIN | EPOLLOUT ... */
	um_watch_fn fn;
	void *arg;
};

/* The heap is intrusive (the links live here, as in libuv's heap-inl.h), so
 * arming a timer never allocates and cannot fail. */
struct um_timer {
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	uint64_t sequence;    /* arming order: equal deadlines fire first-armed first */
	struct um_timer *parent, *left, *right;
	bool armed;
	um_timer_fn fn;
	void *arg;
};

/* Timer lateness: how long after its deadline each timer callback started
 * (now - deadline_ns). A control thread starved by CPU work (signing under a
 * HELLO flood) shows here first. The figures cover a rolling window of two
 * halves of UM_LATENESS_HALF_NS each, so they describe the last 10 to 20
 * seconds, not the whole life of the daemon (its start-up would dominate
 * a lifetime maximum). The histogram is log-linear in microseconds: exact
 * below 8 us, then four buckets per power of two (at most 25% too high). */
enum {
	UM_LATENESS_BUCKETS = 160,
};
#define UM_LATENESS_HALF_NS (10ULL * 1000000000ULL)

struct um_lateness {
	uint64_t half_start_ns; /* start of the current half; 0 = nothing yet */
	uint64_t total;         /* samples since init or the last reset (all halves) */
	uint64_t max_ns[2];     /* [0] current half, [1] previous half */
	uint32_t buckets[2][UM_LATENESS_BUCKETS];
};

/* A summary of the window (both halves). */
struct um_lateness_summary {
	uint64_t total;   /* timer callbacks since init or the last reset */
	uint64_t samples; /* in the window */
	uint64_t max_us;  /* 0 when samples is 0 */
	uint64_t p99_us;  /* the upper bound of the bucket holding the 99th percentile, at most max_us */
};

/* Pure functions on a caller-owned struct (the loop embeds one; tests drive
 * them with their own clock). reset zeroes everything. */
void um_lateness_reset(struct um_lateness *lateness);
void um_lateness_add(struct um_lateness *lateness, uint64_t now_ns, uint64_t late_ns);
void um_lateness_summarize(struct um_lateness *lateness, uint64_t now_ns, struct um_lateness_summary *out);

/* Allocates a loop; free with um_loop_free(). */
int um_loop_new(struct um_loop **out);
void um_loop_free(struct um_loop *loop);

/* Register watch->fd for watch->events; the loop keeps the pointer. */
int um_loop_add(struct um_loop *loop, struct um_watch *watch);
int um_loop_modify(struct um_loop *loop, struct um_watch *watch, uint32_t events);
int um_loop_remove(struct um_loop *loop, struct um_watch *watch);

void um_timer_init(struct um_timer *timer, um_timer_fn fn, void *arg);
/* Arm (or re-arm) at an absolute monotonic deadline or after a delay. Never
 * fails: the timer is linked into the heap through its own fields. Safe from
 * any callback, including the timer's own. */
void um_timer_arm_at(struct um_loop *loop, struct um_timer *timer, uint64_t deadline_ns);
void um_timer_arm_in(struct um_loop *loop, struct um_timer *timer, uint64_t delay_ns);
/* No-op when not armed; safe from any callback. */
void um_timer_cancel(struct um_loop *loop, struct um_timer *timer);
static inline bool um_timer_armed(const struct um_timer *timer)
{
	return timer->armed;
}

/* Deliver signo through the loop (blocks it for the process's threads
 * created afterwards; call before starting threads). One handler per signal. */
int um_loop_add_signal(struct um_loop *loop, int signo, um_signal_fn fn, void *arg);

/* Run until um_loop_stop(); returns 0 or a negative error. */
int um_loop_run(struct um_loop *loop);
/* One iteration: wait at most timeout_ms (-1 = until something happens). */
int um_loop_run_once(struct um_loop *loop, int timeout_ms);
void um_loop_stop(struct um_loop *loop);
/* The epoll descriptor: readable when the loop has work, so a program with
 * its own loop can poll it and call um_loop_run_once(loop, 0). */
int um_loop_fd(const struct um_loop *loop);

/* The lateness of this loop's timer callbacks (see struct um_lateness), as
 * of now; reset starts the counters over (e.g. before a measurement). */
void um_loop_timer_lateness(struct um_loop *loop, struct um_lateness_summary *out);
void um_loop_timer_lateness_reset(struct um_loop *loop);

#endif
