/* SPDX-License-Identifier: MIT */
/* What a data-plane worker does differently while its tunnel is quiet:
 * busy polling for the reply, and gathering on one CPU. Pure bookkeeping:
 * the caller measures time, polls and sets its affinity.
 *
 * 1. Adaptive busy polling for the first exchange after an idle spell.
 *
 * Why: on an idle tunnel, a worker that has just sent a request sleeps in
 * epoll_wait and the reply has to wake it. Waking a sleeping thread on an
 * idle CPU costs an inter-processor interrupt and the CPU's way out of its
 * idle state: on the 2-vCPU VM of docs/BENCHMARKS.md about 25-30 us of a
 * ~340 us tunnel round trip. A worker that keeps polling for a short window
 * after it sent something takes the reply without sleeping.
 *
 * Spinning burns CPU, so it is rationed:
 *  - only after a round that followed an idle wait (UM_BUSY_POLL_IDLE_NS)
 *    and sent a datagram: bulk traffic never idles, so never spins;
 *  - after UM_BUSY_POLL_MISS_LIMIT spins in a row caught nothing, spinning
 *    stops; it resumes once a wait that a spin would have replaced (a
 *    suppressed spin, then a wake-up within the window) shows it would pay;
 *  - spin time is paid from a budget earned at 1/UM_BUSY_POLL_SHARE of wall
 *    time, so even a pathological pattern spins at most that share of a CPU.
 *
 * 2. Gathering on one CPU. The scheduler wakes a sleeping thread on an idle
 *    CPU when there is one, and on a VM every such wake-up is an
 *    inter-processor interrupt to a halted vCPU. A quiet tunnel gains
 *    nothing from spreading over CPUs, so a quiet worker pins itself to one
 *    CPU (the same for every worker: a packet handed from the device to a
 *    worker, or from the socket of one node to another node's worker on the
 *    same host, then wakes a thread on the CPU it is already on). Sustained
 *    traffic (UM_QUIET_SPREAD_AFTER short waits in a row) spreads the
 *    worker over every CPU again; a lull of UM_QUIET_GATHER_AFTER_NS
 *    gathers it back. */
#ifndef UM_NET_QUIET_H
#define UM_NET_QUIET_H

#include <stdbool.h>
#include <stdint.h>

#define UM_BUSY_POLL_IDLE_NS    10000000ull /* a 10 ms wait: the tunnel was idle */
#define UM_BUSY_POLL_MISS_LIMIT 4
#define UM_BUSY_POLL_SHARE      10   /* at most 1/10 of wall time */
#define UM_BUSY_POLL_MAX_US     2000 /* largest window accepted */

struct um_busy_poll {
	uint64_t budget_ns;    /* spin time available */
	uint64_t budget_at_ns; /* when the budget was last topped up; 0 = never */
	unsigned misses;       /* consecutive spins that caught nothing */
	bool after_idle;       /* the current round followed an idle wait */
	bool judging;          /* a spin was suppressed: judge the next wait */
};

/* Zeroes bp: spinning allowed once the budget has been earned. */
void um_busy_poll_init(struct um_busy_poll *bp);

/* The worker woke from a blocking wait of waited_ns at now_ns. */
void um_busy_poll_woke(struct um_busy_poll *bp, uint64_t now_ns, uint64_t waited_ns, uint64_t window_ns);

/* End of a round at now_ns; sent: it sent at least one datagram. True: poll
 * (without sleeping) for up to window_ns, then report with spun(). */
bool um_busy_poll_arm(struct um_busy_poll *bp, uint64_t now_ns, bool sent, uint64_t window_ns);

/* A spin of spun_ns ended; hit: something arrived during it. */
void um_busy_poll_spun(struct um_busy_poll *bp, uint64_t spun_ns, bool hit);

#define UM_QUIET_SHORT_WAIT_NS   1000000ull  /* a wait shorter than 1 ms... */
#define UM_QUIET_SPREAD_AFTER    32          /* ...this many times in a row */
#define UM_QUIET_GATHER_AFTER_NS 20000000ull /* a 20 ms lull */

struct um_gather {
	unsigned short_waits; /* waits shorter than UM_QUIET_SHORT_WAIT_NS in a row */
	bool gathered;        /* pinned to the quiet CPU */
};

enum um_gather_action { UM_GATHER_STAY, UM_GATHER_PIN, UM_GATHER_SPREAD };

/* A worker starts gathered (pinned before its first wait). */
void um_gather_init(struct um_gather *g);

/* After a blocking wait of waited_ns: what to do with the affinity. */
enum um_gather_action um_gather_woke(struct um_gather *g, uint64_t waited_ns);

#endif
