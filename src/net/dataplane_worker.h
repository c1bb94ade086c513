/* SPDX-License-Identifier: MIT */
/* Shared by the data plane's worker files: dataplane_worker.c (the loop and
 * its quiet logic, the control rings), dataplane_tx.c (device read ->
 * encrypt -> send) and dataplane_rx.c (recvmmsg -> decrypt -> device write).
 * The per-packet helpers are static inline here so the split costs nothing
 * per packet; the functions declared below are called once per batch or
 * wake-up (or, for um_dp_ring_push, once per control datagram/event).
 * Not a public API. */
#ifndef UM_NET_DATAPLANE_WORKER_H
#define UM_NET_DATAPLANE_WORKER_H

#include "net/dataplane_impl.h"
#include "util/bytes.h"
#include "util/compiler.h"

static inline void counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void peer_stat(struct dp_worker *w, uint32_t peer, int stat, uint64_t n)
{
	counter_add(&w->counters[peer].v[stat], n);
}

static inline void peer_drop(struct dp_worker *w, uint32_t peer, enum um_dp_drop reason)
{
	counter_add(&w->counters[peer].v[DP_STAT_DROP0 + reason], 1);
}

static inline void global_stat(struct dp_worker *w, enum um_dp_global g, uint64_t n)
{
	counter_add(&w->global[g], n);
}

static inline void stamp(_Atomic uint64_t *at, uint64_t now)
{
	if (atomic_load_explicit(at, memory_order_relaxed) != now)
		atomic_store_explicit(at, now, memory_order_relaxed);
}

/* Offset of the IP header in an Ethernet frame carrying IPv4/IPv6 (plain or
 * with one 802.1Q tag), or 0 for anything else. */
static inline size_t eth_ip_offset(const uint8_t *frame, size_t len)
{
	if (len < 14)
		return 0;
	uint16_t type = um_load16_be(frame + 12);
	size_t off = 14;
	if (type == 0x8100 && len >= 18) {
		type = um_load16_be(frame + 16);
		off = 18;
	}
	return (type == 0x0800 || type == 0x86dd) && len > off ? off : 0;
}

static inline uint64_t mac_of(const uint8_t *p)
{
	return (uint64_t)p[0] << 40 | (uint64_t)p[1] << 32 | (uint64_t)p[2] << 24 | (uint64_t)p[3] << 16 |
	       (uint64_t)p[4] << 8 | p[5];
}

static inline unsigned mac_slot(uint64_t mac)
{
	return (unsigned)((mac * 0x9E3779B97F4A7C15ull) >> 52) & (DP_MAC_TABLE - 1);
}

/* Push onto `ring`; false when full (counted) or too long. relay_source:
 * the FORWARDED source ID for datagrams that came through a relay.
 * data and from are copied; nothing is kept. (dataplane_worker.c) */
bool um_dp_ring_push(struct dp_worker *w, struct dp_ring *ring, enum um_dp_control_kind kind, uint32_t peer,
		     const uint8_t *data, size_t len, const struct sockaddr_storage *from, const uint8_t *relay_source);

/* One event per peer and kind in flight (the pending flag, cleared by the
 * control side once handled). Events have their own ring, drained before
 * datagrams; should even that be full, the flag is cleared again so the
 * next packet that triggers the event retries it. */
static inline void peer_event(struct dp_worker *w, _Atomic bool *pending, enum um_dp_control_kind kind, uint32_t peer,
			      const struct sockaddr_storage *from)
{
	if (atomic_load_explicit(pending, memory_order_relaxed) || atomic_exchange(pending, true))
		return;
	if (!um_dp_ring_push(w, &w->events, kind, peer, NULL, 0, from, NULL))
		atomic_store(pending, false);
}

/* Transmit: read up to `reads` packets from the device, seal and send them. */
/* One staged packet to peer p (dataplane_stage.c); pkt NULL: send the batch. */
void um_dp_tx_staged(struct dp_worker *w, uint32_t p, const struct um_vnet_hdr *vh, uint8_t *pkt, size_t len);
void um_dp_tx_from_tun(struct dp_worker *w, int reads);
/* Seal and send every message segment queued in w->msg_tx. */
void um_dp_tx_messages(struct dp_worker *w);
/* Receive: drain fd with recvmmsg (a few rounds), open and deliver. */
void um_dp_rx_from_udp(struct dp_worker *w, int fd);
/* Receive slot i: point it at its buffers (once), reset after a batch. */
void um_dp_rx_slot_init(struct dp_worker *w, unsigned i);
void um_dp_rx_slot_reset(struct dp_worker *w, unsigned i);
/* The GRO writer's output: one writev to the device (arg: the worker). */
int um_dp_tun_emit(const struct iovec *iov, int iovcnt, void *arg);

#endif
