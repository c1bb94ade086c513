/* SPDX-License-Identifier: MIT */
/* The data-plane fast path: one instance per worker thread. This file holds
 * its loop (wait, quiet logic, dispatch) and the control rings; the transmit
 * path is dataplane_tx.c, the receive path dataplane_rx.c. Nothing here
 * allocates, logs or takes a lock per packet. Pointers to shared state
 * (keys, endpoints, routes, index map) are loaded once per batch and stay
 * valid until the worker's next quiescent point at the top of its loop. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/dataplane_worker.h"
#include "net/quiet.h"
#include "net/udp.h"
#include "util/clock.h"
#include "util/error.h"

/* ---- control ring ---- */

/* Declared in dataplane_worker.h. */
bool um_dp_ring_push(struct dp_worker *w, struct dp_ring *ring, enum um_dp_control_kind kind, uint32_t peer,
		     const uint8_t *data, size_t len, const struct sockaddr_storage *from, const uint8_t *relay_source)
{
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
	if (len > UM_DP_CONTROL_MAX) {
		global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
		return false;
	}
	if (head - tail >= ring->size) {
		global_stat(w, UM_DP_GLOBAL_RING_FULL, 1);
		return false;
	}
	struct um_dp_control_msg *slot = &ring->slots[head % ring->size];
	slot->kind = kind;
	slot->peer = peer;
	slot->via_relay = relay_source != NULL;
	if (relay_source)
		memcpy(slot->relay_source, relay_source, sizeof(slot->relay_source));
	else
		memset(slot->relay_source, 0, sizeof(slot->relay_source));
	if (from) {
		slot->from_len = um_udp_addr_unmap(from, &slot->from);
	} else {
		memset(&slot->from, 0, sizeof(slot->from));
		slot->from_len = 0;
	}
	slot->len = len;
	if (len)
		memcpy(slot->data, data, len);
	atomic_store_explicit(&ring->head, head + 1, memory_order_release);
	w->ring_pushed = true;
	return true;
}

/* What the worker does while its tunnel is quiet (net/quiet.h). */
struct dp_quiet {
	struct um_busy_poll poll;
	struct um_gather gather;
	bool spin; /* the last round armed a busy poll */
};

/* Poll without sleeping for up to window_ns. Returns what epoll_wait
 * returned last: > 0 when something arrived. While gathered, the poll
 * yields the CPU each turn: what it waits for may need this very CPU. */
static int busy_poll(struct dp_worker *w, struct dp_quiet *q, struct epoll_event *events, int max, uint64_t window_ns)
{
	bool yield = q->gather.gathered && w->dp->gather_cpu >= 0;
	uint64_t start = um_now_ns(), now = start;
	int n = 0;
	while (n == 0 && now - start < window_ns && !atomic_load_explicit(&w->dp->stopping, memory_order_relaxed)) {
		n = epoll_wait(w->epoll_fd, events, max, 0);
		if (n == 0 && yield)
			sched_yield();
		now = um_now_ns();
	}
	um_busy_poll_spun(&q->poll, now - start, n > 0);
	global_stat(w, n > 0 ? UM_DP_GLOBAL_BUSY_POLL_HITS : UM_DP_GLOBAL_BUSY_POLL_MISSES, 1);
	return n;
}

/* Pin the calling worker to the gathering CPU, or spread it again. Best
 * effort: a failure leaves the affinity as it was. */
static void gather(struct dp_worker *w, enum um_gather_action action)
{
	struct um_dataplane *dp = w->dp;
	if (action == UM_GATHER_STAY || dp->gather_cpu < 0)
		return;
	cpu_set_t one;
	const cpu_set_t *set = &dp->spread_cpus;
	if (action == UM_GATHER_PIN) {
		CPU_ZERO(&one);
		CPU_SET(dp->gather_cpu, &one);
		set = &one;
	}
	if (pthread_setaffinity_np(pthread_self(), sizeof(*set), set) == 0)
		global_stat(w, action == UM_GATHER_PIN ? UM_DP_GLOBAL_GATHERS : UM_DP_GLOBAL_SPREADS, 1);
}

/* Wait for work: busy-poll when the last round armed it, else sleep in
 * epoll_wait. Sets w->now_ns. */
static int wait_for_work(struct dp_worker *w, struct dp_quiet *q, struct epoll_event *events, int max)
{
	uint64_t window_ns = atomic_load_explicit(&w->dp->busy_poll_ns, memory_order_relaxed);
	int n = q->spin ? busy_poll(w, q, events, max, window_ns) : 0;
	q->spin = false;
	if (n != 0) {
		w->now_ns = um_now_ns();
		return n;
	}
	uint64_t before = um_now_ns();
	n = epoll_wait(w->epoll_fd, events, max, -1);
	w->now_ns = um_now_ns();
	um_busy_poll_woke(&q->poll, w->now_ns, w->now_ns - before, window_ns);
	gather(w, um_gather_woke(&q->gather, w->now_ns - before));
	return n;
}

UM_HOT void *um_dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct um_dataplane *dp = w->dp;
	struct epoll_event events[4];
	struct dp_quiet q = {.spin = false};
	um_busy_poll_init(&q.poll);
	um_gather_init(&q.gather);
	gather(w, UM_GATHER_PIN);
	um_gro_init(&w->gro, um_dp_tun_emit, w);
	for (unsigned i = 0; i < DP_RX_BATCH; i++) {
		um_dp_rx_slot_init(w, i);
		um_dp_rx_slot_reset(w, i);
	}
	for (;;) {
		um_dp_worker_quiescent(w);
		if (atomic_load(&dp->stopping))
			break;
		int n = wait_for_work(w, &q, events, 4);
		um_dp_worker_quiescent(w);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		w->round_sent = w->round_wrote_tun = false;
		/* The first wake-up after an idle spell is most likely a lone
		 * packet: read the device once and let epoll report what else
		 * is queued, rather than pay a read that finds it empty. */
		bool quiet = q.poll.after_idle, tun_done = false;
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			switch ((uint32_t)tag) {
			case 0: {
				uint64_t value;
				ssize_t r = read(w->wake_fd, &value, sizeof(value));
				(void)r;
				um_dp_tx_messages(w); /* after the read: a later push wakes us again */
				break;
			}
			case 1:
				if (!tun_done)
					um_dp_tx_from_tun(w, quiet ? 1 : DP_TUN_READS);
				break;
			case 2:
				um_dp_rx_from_udp(w, w->udp_fd);
				break;
			case DP_EVENT_CONN: {
				uint32_t peer = (uint32_t)(tag >> 32);
				int fd = peer < dp->max_peers ? atomic_load(&dp->peers[peer].conn_fd[w->index]) : -1;
				if (fd >= 0) /* -1: closed since epoll_wait returned */
					um_dp_rx_from_udp(w, fd);
				break;
			}
			}
			/* What a quiet tunnel delivers to the device often has its
			 * answer queued before writev returns (ICMP echo, a TCP
			 * ACK or RST, an ARP reply): take it now, not after
			 * another epoll_wait. */
			if (quiet && w->round_wrote_tun && !tun_done) {
				tun_done = true;
				um_dp_tx_from_tun(w, 1);
			}
		}
		if (um_dp_stage_due(w))
			um_dp_stage_flush(w);
		if (w->ring_pushed) {
			uint64_t one = 1;
			w->ring_pushed = false;
			ssize_t r = write(dp->control_fd, &one, sizeof(one));
			(void)r;
		}
		q.spin = um_busy_poll_arm(&q.poll, w->now_ns, w->round_sent,
					  atomic_load_explicit(&dp->busy_poll_ns, memory_order_relaxed));
	}
	return NULL;
}
