/* SPDX-License-Identifier: MIT */
/* The data plane's transmit path, per worker: device read -> (TSO split,
 * MSS clamp, padding) -> seal -> sendmmsg/GSO. No allocation, log or lock
 * per packet (see dataplane_worker.c for the loop that calls it). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "net/dataplane_worker.h"
#include "net/udp.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/data.h"
#include "wire/relay.h"

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
			ssize_t r = sendto(fd, w->tx_iov[sent].iov_base, w->tx_iov[sent].iov_len, 0, first->msg_name,
					   first->msg_namelen);
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
		int fd = atomic_load_explicit(&w->dp->peers[peer].conn_fd[w->index], memory_order_relaxed);
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
UM_HOT static bool tx_append(struct dp_worker *w, uint32_t peer, const struct dp_endpoint *ep, size_t wire,
			     size_t inner)
{
	if (w->tx_count == 0)
		return false;
	unsigned i = w->tx_count - 1;
	struct msghdr *m = &w->tx_msgs[i].msg_hdr;
	size_t gso = w->tx_gso[i];
	if (!w->tx_mergeable[i] || w->tx_peer[i] != peer || w->tx_ep[i] != ep || w->tx_last_seg[i] != gso ||
	    wire > gso || w->tx_segments[i] >= UM_UDP_GSO_MAX_SEGS ||
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
	struct um_data_header hdr = {
	    .flags = (uint8_t)(pad | UM_DATA_F_CSUM_PARTIAL), .receiver_index = key->remote_index, .counter = counter};
	um_data_header_encode(msg, &hdr);
	um_aead_seal(&w->aead, key->id, key->send_key, counter, msg, UM_DATA_HEADER_LEN, out, len + pad,
		     out + len + pad);
	return UM_DATA_OVERHEAD + len + pad;
}

/* Frame and encrypt one message whose plaintext is already at msg + 16. */
UM_HOT static size_t seal_one(struct dp_worker *w, struct dp_key *key, uint8_t *msg, size_t len, uint64_t counter)
{
	size_t pad = pad_len(w, len);
	memset(msg + UM_DATA_HEADER_LEN + len, 0, pad);
	struct um_data_header hdr = {.flags = (uint8_t)pad, .receiver_index = key->remote_index, .counter = counter};
	um_data_header_encode(msg, &hdr);
	len += pad;
	um_aead_seal(&w->aead, key->id, key->send_key, counter, msg, UM_DATA_HEADER_LEN, msg + UM_DATA_HEADER_LEN, len,
		     msg + UM_DATA_HEADER_LEN + len);
	return UM_DATA_OVERHEAD + len;
}

static bool reserve_counters(struct dp_key *key, uint64_t count, uint64_t *first)
{
	*first = atomic_fetch_add_explicit(&key->send_counter, count, memory_order_relaxed);
	return *first < DP_REJECT_AFTER_MESSAGES && count <= DP_REJECT_AFTER_MESSAGES - *first;
}

/* ---- transmit: message-channel segments queued by the control side ---- */

void um_dp_tx_messages(struct dp_worker *w)
{
	struct um_dataplane *dp = w->dp;
	struct dp_msg_ring *ring = &w->msg_tx;
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_acquire);

	if (tail == head)
		return;
	w->now_ns = um_now_ns();
	for (; tail != head; tail++) {
		const struct dp_msg_slot *slot = &ring->slots[tail & (DP_MSG_SLOTS - 1)];
		struct dp_peer *peer = um_dp_peer_get(dp, slot->peer);
		struct dp_key *key = peer ? atomic_load(&peer->keys[DP_SLOT_CURRENT]) : NULL;
		struct dp_endpoint *relay = peer ? atomic_load(&peer->relay) : NULL;
		const struct dp_endpoint *ep = relay ? relay : peer ? atomic_load(&peer->endpoint) : NULL;
		uint64_t counter;
		if (!peer)
			continue;
		/* Queued for a direct path that became a relay: too long for
		 * it; the channel sends it again, cut to the relay's size. */
		if (!key || !ep || (relay && slot->len > UM_DP_MESSAGE_RELAY_MAX) ||
		    !reserve_counters(key, 1, &counter)) {
			peer_drop(w, slot->peer, UM_DP_DROP_NO_KEY); /* the channel sends it again */
			continue;
		}
		size_t len = slot->len, pad = pad_len(w, len);
		size_t wire = ep->prefix_len + UM_DATA_OVERHEAD + len + pad;
		if (w->tx_used + wire > DP_TX_ARENA || w->tx_count == DP_TX_MSGS)
			tx_flush(w);
		uint8_t *out = w->tx_arena + w->tx_used, *msg = out + ep->prefix_len;
		uint8_t *plain = msg + UM_DATA_HEADER_LEN;
		memcpy(out, ep->prefix, ep->prefix_len);
		struct um_data_header hdr = {.flags = (uint8_t)(UM_DATA_F_MESSAGE | pad),
					     .receiver_index = key->remote_index,
					     .counter = counter};
		um_data_header_encode(msg, &hdr);
		if (len + pad <= UM_AEAD_SMALL_MAX) { /* ACKs: sealed in place, the small messages' way */
			memcpy(plain, slot->data, len);
			memset(plain + len, 0, pad);
			um_aead_seal(&w->aead, key->id, key->send_key, counter, msg, UM_DATA_HEADER_LEN, plain,
				     len + pad, plain + len + pad);
		} else { /* straight from the slot: no copy of the segment first */
			static const uint8_t zeros[UM_DATA_PAD_MASK];
			const struct iovec parts[2] = {{.iov_base = (void *)slot->data, .iov_len = len},
						       {.iov_base = (void *)zeros, .iov_len = pad}};
			um_aead_seal_parts(&w->aead, key->id, key->send_key, counter, msg, UM_DATA_HEADER_LEN, parts,
					   pad ? 2 : 1, plain, plain + len + pad);
		}
		if (!tx_append(w, slot->peer, ep, wire, len))
			tx_add(w, slot->peer, ep, wire, 0, 1, len);
	}
	/* The slots are free again only once their bytes were sealed. */
	atomic_store_explicit(&ring->tail, tail, memory_order_release);
	tx_flush(w);
}

/* TSO segments for the relay path must fit UM_DP_RELAY_MAX_DATAGRAM: cut
 * them smaller than the kernel's MSS (the TCP stream does not care how it
 * is segmented). false if not even one payload byte fits. */
static bool clamp_mss(const struct dp_worker *w, struct um_tso_info *info, size_t hdr_len, size_t prefix)
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
static bool tcp_as_tso(const struct dp_worker *w, const struct um_vnet_hdr *vh, const uint8_t *pkt, size_t len,
		       struct um_vnet_hdr *out)
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

UM_HOT static void tx_to_peer(struct dp_worker *w, uint32_t p, const struct um_vnet_hdr *vh, uint8_t *pkt, size_t len)
{
	struct dp_peer *peer = &w->dp->peers[p];
	struct dp_key *key = atomic_load_explicit(&peer->keys[DP_SLOT_CURRENT], memory_order_acquire);
	struct dp_endpoint *ep = atomic_load_explicit(&peer->relay, memory_order_acquire);
	if (!ep)
		ep = atomic_load_explicit(&peer->endpoint, memory_order_acquire);
	if (!key || !ep) {
		if (!um_dp_stage_put(w, p, vh, pkt, len))
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
			um_tso_split_partial(pkt + l2, &info, first, count, base + pre + UM_DATA_HEADER_LEN + l2,
					     stride, seg_off, seg_len);
			size_t bytes = 0, inner = 0;
			for (size_t k = 0; k < count; k++) {
				uint8_t *msg = base + k * stride;
				memcpy(msg, ep->prefix, pre);
				msg += pre;
				memcpy(msg + UM_DATA_HEADER_LEN, pkt, l2); /* link-layer header (TAP) */
				bytes =
				    k * stride + pre +
				    seal_segment(w, key, msg, hdr_len, pkt + l2 + seg_off[k], seg_len[k], counter + k);
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

UM_HOT void um_dp_tx_from_tun(struct dp_worker *w, int reads)
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

void um_dp_tx_staged(struct dp_worker *w, uint32_t p, const struct um_vnet_hdr *vh, uint8_t *pkt, size_t len)
{
	if (pkt)
		tx_to_peer(w, p, vh, pkt, len);
	else
		tx_flush(w);
}
