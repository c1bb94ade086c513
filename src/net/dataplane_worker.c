/* SPDX-License-Identifier: MIT */
/* The data-plane fast path: one instance per worker thread. Nothing here
 * allocates, logs or takes a lock per packet. Pointers to shared state
 * (keys, endpoints, routes, index map) are loaded once per batch and stay
 * valid until the worker's next quiescent point at the top of its loop. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/dataplane_impl.h"
#include "net/quiet.h"
#include "util/compiler.h"
#include "net/udp.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/data.h"
#include "wire/relay.h"

static inline void counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
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
static size_t eth_ip_offset(const uint8_t *frame, size_t len)
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

/* ---- control ring ---- */

/* Push onto `ring`; false when full (counted) or too long. relay_source:
 * the FORWARDED source ID for datagrams that came through a relay. */
static bool ring_push(struct dp_worker *w, struct dp_ring *ring, enum um_dp_control_kind kind,
		      uint32_t peer, const uint8_t *data, size_t len,
		      const struct sockaddr_storage *from, const uint8_t *relay_source)
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

/* One event per peer and kind in flight (the pending flag, cleared by the
 * control side once handled). Events have their own ring, drained before
 * datagrams; should even that be full, the flag is cleared again so the
 * next packet that triggers the event retries it. */
static void peer_event(struct dp_worker *w, _Atomic bool *pending, enum um_dp_control_kind kind,
		       uint32_t peer, const struct sockaddr_storage *from)
{
	if (atomic_load_explicit(pending, memory_order_relaxed) || atomic_exchange(pending, true))
		return;
	if (!ring_push(w, &w->events, kind, peer, NULL, 0, from, NULL))
		atomic_store(pending, false);
}

/* ---- transmit: TUN -> UDP ---- */

/* Send message i segment by segment (no GSO). 0 or -errno of the first failure. */
static int tx_send_segments(struct dp_worker *w, unsigned i)
{
	struct msghdr *m = &w->tx_msgs[i].msg_hdr;
	size_t gso = w->tx_gso[i];
	uint8_t *p = w->tx_iov[i].iov_base;
	size_t left = w->tx_iov[i].iov_len;
	if (gso == 0)
		return -EINVAL;
	while (left > 0) {
		size_t n = left < gso ? left : gso;
		if (sendto(w->tx_fd[i], p, n, 0, m->msg_name, m->msg_namelen) < 0)
			return -errno;
		p += n;
		left -= n;
	}
	return 0;
}

UM_HOT static void tx_count_sent(struct dp_worker *w, unsigned i)
{
	uint32_t p = w->tx_peer[i];
	peer_stat(w, p, DP_STAT_TX_PACKETS, w->tx_segments[i]);
	peer_stat(w, p, DP_STAT_TX_BYTES, w->tx_inner_bytes[i]);
	if (w->tx_via_relay[i])
		peer_stat(w, p, DP_STAT_TX_RELAY_PACKETS, w->tx_segments[i]);
}

UM_HOT static void tx_flush(struct dp_worker *w)
{
	struct um_dataplane *dp = w->dp;
	unsigned sent = 0;
	while (sent < w->tx_count) {
		/* One sendmmsg per run of messages leaving by the same socket. */
		int fd = w->tx_fd[sent];
		unsigned run = 1;
		while (sent + run < w->tx_count && w->tx_fd[sent + run] == fd)
			run++;
		int n;
		struct msghdr *first = &w->tx_msgs[sent].msg_hdr;
		if (run == 1 && first->msg_controllen == 0) {
			/* A lone datagram (an idle tunnel): sendto skips copying in
			 * and walking the message header (-4 us per round trip). */
			ssize_t r = sendto(fd, w->tx_iov[sent].iov_base, w->tx_iov[sent].iov_len, 0,
					   first->msg_name, first->msg_namelen);
			n = r < 0 ? -1 : 1;
		} else {
			n = sendmmsg(fd, w->tx_msgs + sent, run, 0);
		}
		if (n > 0) {
			for (unsigned i = sent; i < sent + (unsigned)n; i++) {
				tx_count_sent(w, i);
				stamp(&dp->peers[w->tx_peer[i]].last_tx_ns, w->now_ns);
			}
			global_stat(w, UM_DP_GLOBAL_UDP_SENDS, (uint64_t)n);
			w->round_sent = true;
			sent += (unsigned)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			/* Socket buffer full: wait briefly (backpressure) rather than drop. */
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (poll(&pfd, 1, 100) > 0 && !atomic_load(&dp->stopping))
				continue;
		}
		/* A GSO message the route cannot take (EIO/EINVAL from a device
		 * without UDP segmentation): send its segments one by one. */
		if (n < 0 && (errno == EIO || errno == EINVAL) && w->tx_segments[sent] > 1 &&
		    tx_send_segments(w, sent) == 0) {
			tx_count_sent(w, sent);
			sent++;
			continue;
		}
		/* This message cannot be sent (EMSGSIZE, unreachable...): skip it. */
		peer_drop(w, w->tx_peer[sent], UM_DP_DROP_SEND);
		sent++;
	}
	w->tx_count = 0;
	w->tx_used = 0;
}

/* The socket for a datagram to ep: the peer's connected socket on the
 * direct path (dataplane_conn.c), else the shared one. */
static inline int tx_socket(const struct dp_worker *w, uint32_t peer, const struct dp_endpoint *ep)
{
	if (ep->prefix_len == 0) {
		int fd = atomic_load_explicit(&w->dp->peers[peer].conn_fd[w->index],
					      memory_order_relaxed);
		if (fd >= 0)
			return fd;
	}
	return w->udp_fd;
}

UM_HOT static void tx_add(struct dp_worker *w, uint32_t peer, const struct dp_endpoint *ep, size_t bytes,
		   uint16_t gso_size, uint32_t segments, size_t inner)
{
	unsigned i = w->tx_count++;
	struct msghdr *m = &w->tx_msgs[i].msg_hdr;
	w->tx_iov[i].iov_base = w->tx_arena + w->tx_used;
	w->tx_iov[i].iov_len = bytes;
	memset(m, 0, sizeof(*m));
	w->tx_fd[i] = tx_socket(w, peer, ep);
	w->tx_ep[i] = ep;
	if (w->tx_fd[i] == w->udp_fd) { /* a connected socket takes no address */
		m->msg_name = (void *)&ep->addr;
		m->msg_namelen = ep->len;
	}
	m->msg_iov = &w->tx_iov[i];
	m->msg_iovlen = 1;
	if (gso_size)
		um_udp_set_gso(m, w->tx_cmsg[i], gso_size);
	w->tx_peer[i] = peer;
	w->tx_segments[i] = segments;
	w->tx_inner_bytes[i] = inner;
	w->tx_via_relay[i] = ep->prefix_len != 0;
	w->tx_used += bytes;
	/* Only messages started by a single packet grow by tx_append. */
	w->tx_mergeable[i] = segments == 1 && gso_size == 0;
	w->tx_gso[i] = gso_size ? gso_size : bytes;
	w->tx_last_seg[i] = bytes;
}

/* Try to send a single packet (just sealed at the end of the arena) as one
 * more UDP GSO segment of the previous message: same peer and endpoint, all
 * earlier segments of full size, this one no longer (pitfall 4). Streams of
 * equal-sized packets (ACKs, UDP, TAP frames) then cost one send per batch. */
UM_HOT static bool tx_append(struct dp_worker *w, uint32_t peer, const struct dp_endpoint *ep,
		      size_t wire, size_t inner)
{
	if (w->tx_count == 0)
		return false;
	unsigned i = w->tx_count - 1;
	struct msghdr *m = &w->tx_msgs[i].msg_hdr;
	size_t gso = w->tx_gso[i];
	if (!w->tx_mergeable[i] || w->tx_peer[i] != peer || w->tx_ep[i] != ep ||
	    w->tx_last_seg[i] != gso || wire > gso || w->tx_segments[i] >= UM_UDP_GSO_MAX_SEGS ||
	    w->tx_iov[i].iov_len + wire > UM_UDP_GSO_MAX_BYTES ||
	    (uint8_t *)w->tx_iov[i].iov_base + w->tx_iov[i].iov_len != w->tx_arena + w->tx_used)
		return false;
	if (w->tx_segments[i] == 1)
		um_udp_set_gso(m, w->tx_cmsg[i], (uint16_t)gso);
	w->tx_iov[i].iov_len += wire;
	w->tx_segments[i]++;
	w->tx_inner_bytes[i] += inner;
	w->tx_last_seg[i] = wire;
	w->tx_used += wire;
	return true;
}

static inline size_t pad_len(const struct dp_worker *w, size_t len)
{
	return w->dp->cfg.pad ? (16 - (len & 15)) & 15 : 0;
}

/* Frame and encrypt one TSO segment: headers already at msg + 16 (checksum
 * left partial), payload copied from the super-packet. Copy + one in-place
 * pass measured ~15 % cheaper than encrypting from two places (one more
 * ChaCha20 call per packet). */
UM_HOT static size_t seal_segment(struct dp_worker *w, struct dp_key *key, uint8_t *msg, size_t hdr_len,
			   const uint8_t *payload, size_t payload_len, uint64_t counter)
{
	size_t len = hdr_len + payload_len, pad = pad_len(w, len);
	uint8_t *out = msg + UM_DATA_HEADER_LEN;
	memcpy(out + hdr_len, payload, payload_len);
	memset(out + len, 0, pad);
	struct um_data_header hdr = {.flags = (uint8_t)(pad | UM_DATA_F_CSUM_PARTIAL),
				     .receiver_index = key->remote_index, .counter = counter};
	um_data_header_encode(msg, &hdr);
	um_aead_seal(&w->aead, key->id, key->send_key, counter, msg, UM_DATA_HEADER_LEN, out,
		     len + pad, out + len + pad);
	return UM_DATA_OVERHEAD + len + pad;
}

/* Frame and encrypt one message whose plaintext is already at msg + 16. */
UM_HOT static size_t seal_one(struct dp_worker *w, struct dp_key *key, uint8_t *msg, size_t len,
		       uint64_t counter)
{
	size_t pad = pad_len(w, len);
	memset(msg + UM_DATA_HEADER_LEN + len, 0, pad);
	struct um_data_header hdr = {.flags = (uint8_t)pad, .receiver_index = key->remote_index,
				     .counter = counter};
	um_data_header_encode(msg, &hdr);
	len += pad;
	um_aead_seal(&w->aead, key->id, key->send_key, counter, msg, UM_DATA_HEADER_LEN,
		     msg + UM_DATA_HEADER_LEN, len, msg + UM_DATA_HEADER_LEN + len);
	return UM_DATA_OVERHEAD + len;
}

static bool reserve_counters(struct dp_key *key, uint64_t count, uint64_t *first)
{
	*first = atomic_fetch_add_explicit(&key->send_counter, count, memory_order_relaxed);
	return *first < DP_REJECT_AFTER_MESSAGES && count <= DP_REJECT_AFTER_MESSAGES - *first;
}

/* TSO segments for the relay path must fit UM_DP_RELAY_MAX_DATAGRAM: cut
 * them smaller than the kernel's MSS (the TCP stream does not care how it
 * is segmented). false if not even one payload byte fits. */
static bool clamp_mss(const struct dp_worker *w, struct um_tso_info *info, size_t hdr_len,
		      size_t prefix)
{
	size_t budget = UM_DP_RELAY_MAX_DATAGRAM - prefix - UM_DATA_OVERHEAD;
	if (w->dp->cfg.pad)
		budget &= ~(size_t)15;
	if (budget <= hdr_len)
		return false;
	if (hdr_len + info->mss > budget) {
		info->mss = budget - hdr_len;
		info->segments = info->payload_len ? (info->payload_len + info->mss - 1) / info->mss : 1;
	}
	return true;
}

/* A vnet header presenting a single IPv4/IPv6 TCP packet (no GSO) as a
 * one-segment TSO packet, so the TSO path can cut it smaller. The split
 * rewrites every segment's checksum, so the original one does not matter. */
static bool tcp_as_tso(const struct dp_worker *w, const struct um_vnet_hdr *vh, const uint8_t *pkt,
		       size_t len, struct um_vnet_hdr *out)
{
	size_t l2 = w->dp->cfg.tap ? eth_ip_offset(pkt, len) : 0;
	if ((w->dp->cfg.tap && l2 == 0) || len < l2 + 40 || len - l2 > 65535)
		return false;
	const uint8_t *ip = pkt + l2;
	*out = *vh;
	if (ip[0] >> 4 == 4 && ip[9] == 6)
		out->gso_type = UM_VNET_GSO_TCPV4;
	else if (ip[0] >> 4 == 6 && ip[6] == 6)
		out->gso_type = UM_VNET_GSO_TCPV6;
	else
		return false;
	out->gso_size = (uint16_t)(len - l2); /* clamp_mss picks the real size */
	return true;
}

UM_HOT static void tx_to_peer(struct dp_worker *w, uint32_t p, const struct um_vnet_hdr *vh, uint8_t *pkt,
		       size_t len)
{
	struct dp_peer *peer = &w->dp->peers[p];
	struct dp_key *key = atomic_load_explicit(&peer->keys[DP_SLOT_CURRENT], memory_order_acquire);
	struct dp_endpoint *ep = atomic_load_explicit(&peer->relay, memory_order_acquire);
	if (!ep)
		ep = atomic_load_explicit(&peer->endpoint, memory_order_acquire);
	if (!key || !ep) {
		peer_drop(w, p, UM_DP_DROP_NO_KEY);
		if (!key)
			peer_event(w, &peer->need_key_pending, UM_DP_EVENT_NEED_KEY, p, NULL);
		return;
	}
	/* Relay path: every datagram is FORWARD header + DATA. */
	size_t pre = ep->prefix_len;
	size_t limit = pre ? UM_DP_RELAY_MAX_DATAGRAM : UM_UDP_GSO_MAX_BYTES;
	uint64_t counter;
	if (vh->gso_type != UM_VNET_GSO_NONE) {
		struct um_tso_info info;
		size_t l2 = w->dp->cfg.tap ? eth_ip_offset(pkt, len) : 0;
		if ((w->dp->cfg.tap && l2 == 0) || um_tso_parse(pkt + l2, len - l2, vh, &info) < 0) {
			peer_drop(w, p, UM_DP_DROP_MALFORMED);
			return;
		}
		size_t hdr_len = l2 + info.hdr_len;
		if (pre && !clamp_mss(w, &info, hdr_len, pre)) {
			peer_drop(w, p, UM_DP_DROP_SEND);
			return;
		}
		size_t full = hdr_len + info.mss;
		size_t stride = pre + UM_DATA_OVERHEAD + full + pad_len(w, full);
		if (stride > limit) {
			peer_drop(w, p, UM_DP_DROP_MALFORMED);
			return;
		}
		size_t per_msg = UM_UDP_GSO_MAX_BYTES / stride;
		if (per_msg > UM_UDP_GSO_MAX_SEGS)
			per_msg = UM_UDP_GSO_MAX_SEGS;
		for (size_t first = 0; first < info.segments; first += per_msg) {
			size_t seg_off[UM_UDP_GSO_MAX_SEGS], seg_len[UM_UDP_GSO_MAX_SEGS];
			size_t count = info.segments - first < per_msg ? info.segments - first : per_msg;
			if (w->tx_used + count * stride > DP_TX_ARENA || w->tx_count == DP_TX_MSGS)
				tx_flush(w);
			if (!reserve_counters(key, count, &counter)) {
				peer_drop(w, p, UM_DP_DROP_NO_KEY);
				peer_event(w, &peer->need_key_pending, UM_DP_EVENT_NEED_KEY, p, NULL);
				return;
			}
			uint8_t *base = w->tx_arena + w->tx_used;
			um_tso_split_partial(pkt + l2, &info, first, count,
					     base + pre + UM_DATA_HEADER_LEN + l2, stride, seg_off, seg_len);
			size_t bytes = 0, inner = 0;
			for (size_t k = 0; k < count; k++) {
				uint8_t *msg = base + k * stride;
				memcpy(msg, ep->prefix, pre);
				msg += pre;
				memcpy(msg + UM_DATA_HEADER_LEN, pkt, l2); /* link-layer header (TAP) */
				bytes = k * stride + pre +
					seal_segment(w, key, msg, hdr_len, pkt + l2 + seg_off[k], seg_len[k],
						     counter + k);
				inner += hdr_len + seg_len[k];
			}
			tx_add(w, p, ep, bytes, count > 1 ? (uint16_t)stride : 0, (uint32_t)count, inner);
		}
		return;
	}
	size_t wire = pre + UM_DATA_OVERHEAD + len + pad_len(w, len);
	if (pre && wire > limit) {
		/* Too big for the relay: a TCP packet is cut into smaller
		 * segments like a TSO one (no PMTU black hole for TCP); other
		 * packets are dropped. */
		struct um_vnet_hdr tso;
		if (tcp_as_tso(w, vh, pkt, len, &tso)) {
			tx_to_peer(w, p, &tso, pkt, len);
			return;
		}
		peer_drop(w, p, UM_DP_DROP_SEND);
		return;
	}
	if (um_offload_finish_csum(pkt, len, vh) < 0) {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	if (wire > limit) {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	if (w->tx_used + wire > DP_TX_ARENA || w->tx_count == DP_TX_MSGS)
		tx_flush(w);
	if (!reserve_counters(key, 1, &counter)) {
		peer_drop(w, p, UM_DP_DROP_NO_KEY);
		peer_event(w, &peer->need_key_pending, UM_DP_EVENT_NEED_KEY, p, NULL);
		return;
	}
	uint8_t *base = w->tx_arena + w->tx_used;
	memcpy(base, ep->prefix, pre);
	memcpy(base + pre + UM_DATA_HEADER_LEN, pkt, len);
	seal_one(w, key, base + pre, len, counter);
	if (!tx_append(w, p, ep, wire, len))
		tx_add(w, p, ep, wire, 0, 1, len);
}

static inline uint64_t mac_of(const uint8_t *p)
{
	return (uint64_t)p[0] << 40 | (uint64_t)p[1] << 32 | (uint64_t)p[2] << 24 |
	       (uint64_t)p[3] << 16 | (uint64_t)p[4] << 8 | p[5];
}

static inline unsigned mac_slot(uint64_t mac)
{
	return (unsigned)((mac * 0x9E3779B97F4A7C15ull) >> 52) & (DP_MAC_TABLE - 1);
}

UM_HOT static void tx_tap(struct dp_worker *w, const struct um_vnet_hdr *vh, uint8_t *frame, size_t len)
{
	struct um_dataplane *dp = w->dp;
	if (len < 14) {
		global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
		return;
	}
	if (!(frame[0] & 1)) {
		uint64_t mac = mac_of(frame);
		uint64_t e = atomic_load_explicit(&dp->mac_table[mac_slot(mac)], memory_order_relaxed);
		if (e && (e >> 16) == mac) {
			uint32_t p = (uint32_t)(e & 0xffff) - 1;
			if (p < dp->max_peers && atomic_load(&dp->peers[p].active)) {
				tx_to_peer(w, p, vh, frame, len);
				return;
			}
		}
	}
	/* Broadcast, multicast or unknown: flood to every keyed peer. */
	uint32_t high = atomic_load(&dp->peer_high);
	for (uint32_t p = 0; p < high; p++) {
		struct dp_peer *peer = &dp->peers[p];
		if (atomic_load(&peer->active) && atomic_load(&peer->keys[DP_SLOT_CURRENT]))
			tx_to_peer(w, p, vh, frame, len);
	}
}

UM_HOT static void tx_from_tun(struct dp_worker *w, int reads)
{
	struct um_dataplane *dp = w->dp;
	struct dp_routes *routes = atomic_load(&dp->routes);
	for (int r = 0; r < reads; r++) {
		ssize_t n = read(w->tun_fd, w->tun_buf, DP_TUN_BUF);
		if (n < 0)
			break;
		global_stat(w, UM_DP_GLOBAL_TUN_READS, 1);
		if ((size_t)n <= UM_VNET_HDR_LEN) {
			global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
			continue;
		}
		struct um_vnet_hdr vh;
		um_vnet_hdr_decode(w->tun_buf, &vh);
		uint8_t *pkt = w->tun_buf + UM_VNET_HDR_LEN;
		size_t len = (size_t)n - UM_VNET_HDR_LEN;
		if (dp->cfg.tap) {
			/* Complete a partial checksum once, not once per flooded peer. */
			if (vh.gso_type == UM_VNET_GSO_NONE && (vh.flags & UM_VNET_F_NEEDS_CSUM)) {
				if (um_offload_finish_csum(pkt, len, &vh) < 0) {
					global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
					continue;
				}
				vh.flags &= (uint8_t)~UM_VNET_F_NEEDS_CSUM;
			}
			tx_tap(w, &vh, pkt, len);
			if (r == 0 && vh.gso_type == UM_VNET_GSO_NONE)
				tx_flush(w); /* as below */
			continue;
		}
		uint32_t p = UM_LPM_NONE;
		unsigned version = pkt[0] >> 4;
		if (version == 4 && len >= 20)
			p = um_lpm_lookup4(routes->lpm, pkt + 16);
		else if (version == 6 && len >= 40)
			p = um_lpm_lookup6(routes->lpm, pkt + 24);
		if (p == UM_LPM_NONE || p >= dp->max_peers || !atomic_load(&dp->peers[p].active)) {
			global_stat(w, UM_DP_GLOBAL_NO_ROUTE, 1);
			continue;
		}
		tx_to_peer(w, p, &vh, pkt, len);
		/* The wake-up's first packet, when not a super-packet, leaves at
		 * once: on an idle tunnel it is the only one, and the read that
		 * finds the queue empty then happens after the send instead of
		 * before it (a few us off every ping). Bulk TCP comes as TSO
		 * super-packets and keeps its batches. */
		if (r == 0 && vh.gso_type == UM_VNET_GSO_NONE)
			tx_flush(w);
	}
	tx_flush(w);
}

/* ---- receive: UDP -> TUN ---- */

UM_HOT static int tun_emit(const struct iovec *iov, int iovcnt, void *arg)
{
	struct dp_worker *w = arg;
	global_stat(w, UM_DP_GLOBAL_TUN_WRITES, 1);
	w->round_wrote_tun = true;
	if (writev(w->tun_fd, iov, iovcnt) < 0)
		global_stat(w, UM_DP_GLOBAL_TUN_WRITE, 1);
	return 0;
}

static void count_rx(struct dp_worker *w, uint32_t p, size_t len, bool via_relay)
{
	peer_stat(w, p, DP_STAT_RX_PACKETS, 1);
	peer_stat(w, p, DP_STAT_RX_BYTES, len);
	if (via_relay)
		peer_stat(w, p, DP_STAT_RX_RELAY_PACKETS, 1);
}

UM_HOT static void deliver_tun(struct dp_worker *w, const struct dp_routes *routes, uint32_t p,
			uint8_t *data, size_t len, bool partial, bool via_relay)
{
	const uint8_t *src;
	int family;
	unsigned version = data[0] >> 4;
	if (version == 4 && len >= 20 && um_load16_be(data + 2) >= 20 && um_load16_be(data + 2) <= len) {
		len = um_load16_be(data + 2); /* drop trailing bytes */
		src = data + 12;
		family = 4;
	} else if (version == 6 && len >= 40 && (size_t)um_load16_be(data + 4) + 40 <= len) {
		len = (size_t)um_load16_be(data + 4) + 40;
		src = data + 8;
		family = 6;
	} else {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	size_t alen = family == 4 ? 4 : 16;
	if (w->cache_generation != routes->generation || w->cache_family != family ||
	    memcmp(w->cache_addr, src, alen) != 0) {
		w->cache_peer = family == 4 ? um_lpm_lookup4(routes->lpm, src)
					    : um_lpm_lookup6(routes->lpm, src);
		w->cache_generation = routes->generation;
		w->cache_family = family;
		memcpy(w->cache_addr, src, alen);
	}
	if (w->cache_peer != p) {
		peer_drop(w, p, UM_DP_DROP_NOT_ALLOWED);
		return;
	}
	struct um_vnet_hdr check;
	if (partial && um_offload_partial_hdr(data, len, &check) < 0) {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	count_rx(w, p, len, via_relay);
	um_gro_add(&w->gro, data, len, partial);
}

UM_HOT static void deliver_tap(struct dp_worker *w, uint32_t p, uint8_t *frame, size_t len, bool partial,
			bool via_relay)
{
	struct um_dataplane *dp = w->dp;
	if (len < 14) {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	size_t l2 = eth_ip_offset(frame, len);
	struct um_vnet_hdr check;
	if (partial && (l2 == 0 || um_offload_partial_hdr(frame + l2, len - l2, &check) < 0)) {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	if (!(frame[6] & 1)) {
		uint64_t mac = mac_of(frame + 6);
		uint64_t entry = mac << 16 | (p + 1);
		_Atomic uint64_t *slot = &dp->mac_table[mac_slot(mac)];
		if (atomic_load_explicit(slot, memory_order_relaxed) != entry)
			atomic_store_explicit(slot, entry, memory_order_relaxed);
	}
	count_rx(w, p, len, via_relay);
	if (l2) {
		/* IP frames: coalesced like TUN packets, Ethernet header kept. */
		um_gro_add_frame(&w->gro, frame, len, l2, partial);
		return;
	}
	static const uint8_t plain_vnet[UM_VNET_HDR_LEN];
	struct iovec iov[2] = {{(void *)plain_vnet, UM_VNET_HDR_LEN}, {frame, len}};
	tun_emit(iov, 2, w);
}

/* Replay check, filters and delivery of the decrypted items of a batch. */
UM_HOT static void rx_commit(struct dp_worker *w, size_t items, const struct dp_routes *routes)
{
	struct um_dataplane *dp = w->dp;
	/* Replay window: one lock per run of packets under the same key. */
	for (size_t i = 0; i < items;) {
		struct dp_key *key = w->rx_items[i].key;
		pthread_spin_lock(&key->replay_lock);
		for (; i < items && w->rx_items[i].key == key; i++) {
			if (um_replay_update(&key->replay, w->rx_items[i].counter) < 0) {
				w->rx_items[i].ok = false;
				peer_drop(w, key->peer, UM_DP_DROP_REPLAY);
			}
		}
		pthread_spin_unlock(&key->replay_lock);
	}
	int last_msg = -1;
	for (size_t i = 0; i < items; i++) {
		struct dp_rx_item *it = &w->rx_items[i];
		if (!it->ok)
			continue;
		uint32_t p = it->key->peer;
		struct dp_peer *peer = &dp->peers[p];
		if (!atomic_load_explicit(&peer->active, memory_order_relaxed))
			continue;
		if (it->msg != last_msg) {
			last_msg = it->msg;
			stamp(&peer->last_rx_ns, w->now_ns);
			if (it->key == atomic_load(&peer->keys[DP_SLOT_NEXT]))
				peer_event(w, &peer->next_used_pending, UM_DP_EVENT_NEXT_KEY_USED, p, NULL);
			/* The relay's address is never the peer's endpoint. */
			struct dp_endpoint *ep = atomic_load(&peer->endpoint);
			if (!it->via_relay && (!ep || !um_udp_addr_equal(&ep->addr, &w->rx_addr[it->msg])))
				peer_event(w, &peer->roam_pending, UM_DP_EVENT_ENDPOINT_CHANGED, p,
					   &w->rx_addr[it->msg]);
		}
		if (it->len == 0) { /* keepalive */
			count_rx(w, p, 0, it->via_relay);
			continue;
		}
		if (dp->cfg.tap)
			deliver_tap(w, p, it->data, it->len, it->partial, it->via_relay);
		else
			deliver_tun(w, routes, p, it->data, it->len, it->partial, it->via_relay);
	}
}

/* A FORWARDED datagram's source ID must name the peer whose key opened the
 * DATA, when we know that peer's ID (the FORWARD header we send it through
 * the relay carries it at bytes 4..35). The AEAD already proves the sender
 * holds the peer's keys, so this only catches a confused or lying relay. */
static bool relay_source_ok(struct dp_worker *w, const struct dp_key *key, const uint8_t *source)
{
	const struct dp_endpoint *relay = atomic_load_explicit(&w->dp->peers[key->peer].relay,
							       memory_order_acquire);
	if (!relay || relay->prefix_len < UM_RELAY_FORWARD_HEADER_BYTES)
		return true;
	return memcmp(relay->prefix + 4, source, UM_PEER_ID_BYTES) == 0;
}

/* Decrypt one DATA message into the next rx item. relay_source: the
 * FORWARDED source ID when it came through a relay, else NULL. */
UM_HOT static void rx_data(struct dp_worker *w, const struct dp_index_map *map,
		    const struct dp_routes *routes, size_t *items, uint8_t *seg, size_t slen,
		    unsigned m, const uint8_t *relay_source)
{
	struct um_data_header hdr;
	if (um_data_header_decode(seg, slen, &hdr) < 0) {
		global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
		return;
	}
	struct dp_key *key = um_dp_index_lookup(map, hdr.receiver_index);
	if (!key) {
		global_stat(w, UM_DP_GLOBAL_UNKNOWN_INDEX, 1);
		return;
	}
	if (relay_source && !relay_source_ok(w, key, relay_source)) {
		peer_drop(w, key->peer, UM_DP_DROP_MALFORMED);
		return;
	}
	size_t ct = slen - UM_DATA_OVERHEAD;
	if (um_aead_open(&w->aead, key->id, key->recv_key, hdr.counter, seg, UM_DATA_HEADER_LEN,
			 seg + UM_DATA_HEADER_LEN, ct, seg + UM_DATA_HEADER_LEN + ct) < 0) {
		peer_drop(w, key->peer, UM_DP_DROP_BAD_MAC);
		return;
	}
	if (*items == DP_RX_ITEMS) {
		rx_commit(w, *items, routes);
		*items = 0;
	}
	struct dp_rx_item *it = &w->rx_items[(*items)++];
	it->data = seg + UM_DATA_HEADER_LEN;
	it->len = ct - (hdr.flags & UM_DATA_PAD_MASK);
	it->key = key;
	it->counter = hdr.counter;
	it->msg = (uint16_t)m;
	it->ok = true;
	it->partial = (hdr.flags & UM_DATA_F_CSUM_PARTIAL) != 0;
	it->via_relay = relay_source != NULL;
}

UM_HOT static void rx_batch(struct dp_worker *w, unsigned count)
{
	struct um_dataplane *dp = w->dp;
	const struct dp_index_map *map = atomic_load(&dp->index_map);
	const struct dp_routes *routes = atomic_load(&dp->routes);
	size_t items = 0;
	for (unsigned m = 0; m < count; m++) {
		struct msghdr *mh = &w->rx_msgs[m].msg_hdr;
		size_t len = w->rx_msgs[m].msg_len;
		uint8_t *buf = w->rx_bufs + (size_t)m * DP_RX_BUF;
		global_stat(w, UM_DP_GLOBAL_UDP_RECVS, 1);
		if (mh->msg_flags & MSG_TRUNC) {
			global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
			continue;
		}
		size_t gso = um_udp_gro_size(mh);
		if (gso == 0)
			gso = len;
		for (size_t off = 0; off < len; off += gso) {
			uint8_t *seg = buf + off;
			size_t slen = len - off < gso ? len - off : gso;
			if (seg[0] == UM_MSG_DATA) {
				rx_data(w, map, routes, &items, seg, slen, m, NULL);
				continue;
			}
			if (seg[0] == UM_MSG_RELAY_FORWARDED) {
				struct um_relay_forward fwd;
				if (um_relay_forward_decode(&fwd, UM_MSG_RELAY_FORWARDED, seg, slen) < 0) {
					global_stat(w, UM_DP_GLOBAL_MALFORMED, 1);
					continue;
				}
				/* Writable: the payload lies in our receive buffer. */
				uint8_t *inner = seg + (fwd.payload - seg);
				const uint8_t *source = fwd.peer.bytes;
				if (inner[0] == UM_MSG_DATA)
					rx_data(w, map, routes, &items, inner, fwd.payload_len, m, source);
				else
					ring_push(w, &w->ring, UM_DP_CONTROL_DATAGRAM, 0, inner,
						  fwd.payload_len, &w->rx_addr[m], source);
				continue;
			}
			ring_push(w, &w->ring, UM_DP_CONTROL_DATAGRAM, 0, seg, slen, &w->rx_addr[m], NULL);
		}
	}
	rx_commit(w, items, routes);
	um_gro_flush(&w->gro);
}

/* Point receive slot i at its buffer, address and control space. */
static void rx_slot_init(struct dp_worker *w, unsigned i)
{
	struct msghdr *mh = &w->rx_msgs[i].msg_hdr;
	w->rx_iov[i].iov_base = w->rx_bufs + (size_t)i * DP_RX_BUF;
	w->rx_iov[i].iov_len = DP_RX_BUF;
	mh->msg_name = &w->rx_addr[i];
	mh->msg_iov = &w->rx_iov[i];
	mh->msg_iovlen = 1;
	mh->msg_control = w->rx_cmsg[i];
}

/* recvmmsg writes back only the name length, control length and flags of
 * the slots it filled: reset just those, so a lone packet on an idle
 * tunnel touches one slot, not all DP_RX_BATCH (fewer cold cache lines). */
static void rx_slot_reset(struct dp_worker *w, unsigned i)
{
	struct msghdr *mh = &w->rx_msgs[i].msg_hdr;
	mh->msg_namelen = sizeof(w->rx_addr[i]);
	mh->msg_controllen = sizeof(w->rx_cmsg[i]);
	mh->msg_flags = 0;
}

UM_HOT static void rx_from_udp(struct dp_worker *w, int fd)
{
	for (int round = 0; round < 4; round++) {
		int n = recvmmsg(fd, w->rx_msgs, DP_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		rx_batch(w, (unsigned)n);
		for (int i = 0; i < n; i++)
			rx_slot_reset(w, (unsigned)i);
		if (n < DP_RX_BATCH)
			break;
	}
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
static int busy_poll(struct dp_worker *w, struct dp_quiet *q, struct epoll_event *events, int max,
		     uint64_t window_ns)
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
	um_gro_init(&w->gro, tun_emit, w);
	for (unsigned i = 0; i < DP_RX_BATCH; i++) {
		rx_slot_init(w, i);
		rx_slot_reset(w, i);
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
				break;
			}
			case 1:
				if (!tun_done)
					tx_from_tun(w, quiet ? 1 : DP_TUN_READS);
				break;
			case 2:
				rx_from_udp(w, w->udp_fd);
				break;
			case DP_EVENT_CONN: {
				uint32_t peer = (uint32_t)(tag >> 32);
				int fd = peer < dp->max_peers
						 ? atomic_load(&dp->peers[peer].conn_fd[w->index])
						 : -1;
				if (fd >= 0) /* -1: closed since epoll_wait returned */
					rx_from_udp(w, fd);
				break;
			}
			}
			/* What a quiet tunnel delivers to the device often has its
			 * answer queued before writev returns (ICMP echo, a TCP
			 * ACK or RST, an ARP reply): take it now, not after
			 * another epoll_wait. */
			if (quiet && w->round_wrote_tun && !tun_done) {
				tun_done = true;
				tx_from_tun(w, 1);
			}
		}
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
