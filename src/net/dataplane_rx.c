/* SPDX-License-Identifier: MIT */
/* The data plane's receive path, per worker: recvmmsg -> open (replay
 * window, roaming, relay unwrapping) -> GRO -> device write; handshakes and
 * other control datagrams go to the control ring. No allocation, log or
 * lock per packet. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "net/dataplane_worker.h"
#include "net/udp.h"
#include "util/error.h"
#include "wire/data.h"
#include "wire/relay.h"

/* ---- receive: UDP -> TUN ---- */

UM_HOT int um_dp_tun_emit(const struct iovec *iov, int iovcnt, void *arg)
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

UM_HOT static void deliver_tun(struct dp_worker *w, const struct dp_routes *routes, uint32_t p, uint8_t *data,
			       size_t len, bool partial, bool via_relay)
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
		w->cache_peer = family == 4 ? um_lpm_lookup4(routes->lpm, src) : um_lpm_lookup6(routes->lpm, src);
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
	um_dp_tun_emit(iov, 2, w);
}

/* The rare items, off the packet path: a message-channel segment goes to the
 * control ring; without a device, a keepalive counts and a packet drops. */
static void deliver_other(struct dp_worker *w, uint32_t p, const struct dp_rx_item *it)
{
	if (!it->message) {
		if (it->len == 0)
			count_rx(w, p, 0, it->via_relay);
		else
			peer_drop(w, p, UM_DP_DROP_NO_DEVICE);
		return;
	}
	if (it->len == 0 || it->len > UM_DP_MESSAGE_MAX) {
		peer_drop(w, p, UM_DP_DROP_MALFORMED);
		return;
	}
	/* A full ring drops it (counted RING_FULL): the channel resends. */
	if (!um_dp_ring_push(w, &w->ring, UM_DP_CONTROL_MESSAGE, p, it->data, it->len, &w->rx_addr[it->msg], NULL))
		return;
	count_rx(w, p, it->len, it->via_relay);
	peer_stat(w, p, DP_STAT_RX_MESSAGES, 1);
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
	bool no_device = dp->cfg.no_device;
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
		/* One test for both: packets take the branch not taken. */
		if (__builtin_expect(it->message | no_device, 0)) {
			deliver_other(w, p, it);
			continue;
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

/* A FORWARDED datagram's source field must name the peer whose key opened
 * the DATA: it is that peer's routing handle at the relay, the same both
 * ways (relay version 3), so it equals bytes 4..35 of the FORWARD header
 * we send it through that relay. Handles differ between relays, so only
 * a datagram from the relay we send through is compared. The AEAD already
 * proves the sender holds the peer's keys, so this only catches a confused
 * or lying relay. */
static bool relay_source_ok(struct dp_worker *w, const struct dp_key *key, const uint8_t *source,
			    const struct sockaddr_storage *from)
{
	const struct dp_endpoint *relay = atomic_load_explicit(&w->dp->peers[key->peer].relay, memory_order_acquire);
	if (!relay || relay->prefix_len < UM_RELAY_FORWARD_HEADER_BYTES || !um_udp_addr_equal(&relay->addr, from))
		return true;
	return memcmp(relay->prefix + 4, source, UM_PEER_ID_BYTES) == 0;
}

/* Decrypt one DATA message into the next rx item. relay_source: the
 * FORWARDED source ID when it came through a relay, else NULL. */
UM_HOT static void rx_data(struct dp_worker *w, const struct dp_index_map *map, const struct dp_routes *routes,
			   size_t *items, uint8_t *seg, size_t slen, unsigned m, const uint8_t *relay_source)
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
	if (relay_source && !relay_source_ok(w, key, relay_source, &w->rx_addr[m])) {
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
	it->message = (hdr.flags & UM_DATA_F_MESSAGE) != 0;
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
					um_dp_ring_push(w, &w->ring, UM_DP_CONTROL_DATAGRAM, 0, inner, fwd.payload_len,
							&w->rx_addr[m], source);
				continue;
			}
			um_dp_ring_push(w, &w->ring, UM_DP_CONTROL_DATAGRAM, 0, seg, slen, &w->rx_addr[m], NULL);
		}
	}
	rx_commit(w, items, routes);
	um_gro_flush(&w->gro);
}

/* Point receive slot i at its buffer, address and control space. */
void um_dp_rx_slot_init(struct dp_worker *w, unsigned i)
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
void um_dp_rx_slot_reset(struct dp_worker *w, unsigned i)
{
	struct msghdr *mh = &w->rx_msgs[i].msg_hdr;
	mh->msg_namelen = sizeof(w->rx_addr[i]);
	mh->msg_controllen = sizeof(w->rx_cmsg[i]);
	mh->msg_flags = 0;
}

UM_HOT void um_dp_rx_from_udp(struct dp_worker *w, int fd)
{
	for (int round = 0; round < 4; round++) {
		int n = recvmmsg(fd, w->rx_msgs, DP_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		rx_batch(w, (unsigned)n);
		for (int i = 0; i < n; i++)
			um_dp_rx_slot_reset(w, (unsigned)i);
		if (n < DP_RX_BATCH)
			break;
	}
}
