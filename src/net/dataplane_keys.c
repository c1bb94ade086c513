/* SPDX-License-Identifier: MIT */
/* Control side of the data plane, part 2: session keys (the four slots
 * current/previous/next/superseded per peer), keepalives and message
 * segments. Same rules as dataplane.c: callers hold no lock, every
 * function takes dp->lock, and a retired key is wiped and freed only after
 * the workers passed a quiescent point (um_dp_rebuild_index_map
 * synchronises). */
#include "net/dataplane.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "net/dataplane_impl.h"
#include "net/udp.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/data.h"

/* A key object for keypair (64-byte aligned, NULL on ENOMEM; the caller
 * publishes or frees it with um_dp_key_free). */
static struct dp_key *key_new(uint32_t id, const struct um_keypair *keypair)
{
	struct dp_key *key = aligned_alloc(64, sizeof(*key));
	if (!key)
		return NULL;
	memset(key, 0, sizeof(*key));
	pthread_spin_init(&key->replay_lock, PTHREAD_PROCESS_PRIVATE);
	um_replay_init(&key->replay);
	memcpy(key->send_key, keypair->send_key, 32);
	memcpy(key->recv_key, keypair->recv_key, 32);
	key->local_index = keypair->local_index;
	key->remote_index = keypair->remote_index;
	key->created_ns = keypair->created_ns;
	key->peer = id;
	return key;
}

enum install_as { AS_CURRENT, AS_NEXT, AS_RECEIVE_ONLY };

static int install(struct um_dataplane *dp, uint32_t id, const struct um_keypair *keypair, enum install_as as)
{
	int rc = -UM_ENOTFOUND;
	struct dp_key *key = key_new(id, keypair);
	if (!key)
		return -UM_ENOMEM;
	pthread_mutex_lock(&dp->lock);
	key->id = ++dp->next_key_id;
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	/* Check index uniqueness before publishing anything. */
	struct dp_index_map *map = atomic_load(&dp->index_map);
	struct dp_key *clash = um_dp_index_lookup(map, key->local_index);
	struct dp_key *retire[3] = {NULL, NULL, NULL};
	if (as == AS_RECEIVE_ONLY) {
		/* Only on a first session: there is nothing to displace. */
		rc = -UM_ESTATE;
		for (int slot = 0; slot < DP_SLOTS; slot++)
			if (atomic_load(&peer->keys[slot]))
				goto out;
		rc = -UM_EINVAL;
		if (clash)
			goto out;
		atomic_store(&peer->keys[DP_SLOT_PREVIOUS], key);
	} else if (as == AS_NEXT) {
		retire[0] = atomic_load(&peer->keys[DP_SLOT_NEXT]);
		if (clash && clash != retire[0]) {
			rc = -UM_EINVAL;
			goto out;
		}
		atomic_store(&peer->keys[DP_SLOT_NEXT], key);
	} else {
		/* We initiated and the handshake is confirmed. A pending `next`
		 * is a session the peer initiated (crossed handshakes): it may
		 * already send under it, so it stays accepted as `previous`; and
		 * the old current stays accepted too (superseded), because the
		 * peer may not have finished its handshake yet and sends under
		 * the old keys until our first packet under the new ones reaches
		 * it. Without a pending next, the old current becomes previous as
		 * usual. Keys older than that (the last previous and superseded)
		 * go. */
		struct dp_key *current = atomic_load(&peer->keys[DP_SLOT_CURRENT]);
		struct dp_key *next = atomic_load(&peer->keys[DP_SLOT_NEXT]);
		retire[0] = atomic_load(&peer->keys[DP_SLOT_PREVIOUS]);
		retire[1] = atomic_load(&peer->keys[DP_SLOT_SUPERSEDED]);
		if (clash && clash != retire[0] && clash != retire[1]) {
			rc = -UM_EINVAL;
			goto out;
		}
		atomic_store(&peer->keys[DP_SLOT_NEXT], NULL);
		atomic_store(&peer->keys[DP_SLOT_SUPERSEDED], next ? current : NULL);
		atomic_store(&peer->keys[DP_SLOT_PREVIOUS], next ? next : current);
		atomic_store(&peer->keys[DP_SLOT_CURRENT], key);
		atomic_store(&peer->need_key_pending, false);
	}
	atomic_store(&peer->next_used_pending, false);
	key = NULL;
	rc = um_dp_rebuild_index_map(dp, NULL); /* synchronises */
	for (int i = 0; i < 3; i++) {
		if (rc < 0)
			um_dp_key_retire_failed(retire[i]);
		else
			um_dp_key_free(retire[i]);
	}
	if (as == AS_CURRENT)
		um_dp_stage_kick(dp); /* packets that waited for these keys */
out:
	pthread_mutex_unlock(&dp->lock);
	um_dp_key_free(key);
	return rc;
}

int um_dataplane_peer_install_keypair(struct um_dataplane *dp, uint32_t id, const struct um_keypair *keypair,
				      bool as_next)
{
	return install(dp, id, keypair, as_next ? AS_NEXT : AS_CURRENT);
}

int um_dataplane_peer_install_receive(struct um_dataplane *dp, uint32_t id, const struct um_keypair *keypair)
{
	return install(dp, id, keypair, AS_RECEIVE_ONLY);
}

int um_dataplane_peer_promote_receive(struct um_dataplane *dp, uint32_t id, const struct um_keypair *keypair)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	rc = -UM_ESTATE;
	struct dp_key *early = atomic_load(&peer->keys[DP_SLOT_PREVIOUS]);
	if (!early || atomic_load(&peer->keys[DP_SLOT_CURRENT]) || atomic_load(&peer->keys[DP_SLOT_SUPERSEDED]) ||
	    early->local_index != keypair->local_index || early->remote_index != keypair->remote_index ||
	    sodium_memcmp(early->send_key, keypair->send_key, 32) ||
	    sodium_memcmp(early->recv_key, keypair->recv_key, 32))
		goto out;
	/* The same key object: its replay window goes on, and it never sent
	 * (no nonce used). A pending next (crossed handshakes) stays
	 * accepted as previous, as an install would keep it. */
	atomic_store(&peer->keys[DP_SLOT_PREVIOUS], atomic_load(&peer->keys[DP_SLOT_NEXT]));
	atomic_store(&peer->keys[DP_SLOT_NEXT], NULL);
	atomic_store(&peer->keys[DP_SLOT_CURRENT], early);
	atomic_store(&peer->next_used_pending, false);
	atomic_store(&peer->need_key_pending, false);
	rc = um_dp_rebuild_index_map(dp, NULL);
	um_dp_stage_kick(dp);
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_promote_next(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	rc = -UM_ESTATE;
	struct dp_key *next = atomic_load(&peer->keys[DP_SLOT_NEXT]);
	if (!next)
		goto out;
	struct dp_key *old[2] = {atomic_load(&peer->keys[DP_SLOT_PREVIOUS]),
				 atomic_exchange(&peer->keys[DP_SLOT_SUPERSEDED], NULL)};
	atomic_store(&peer->keys[DP_SLOT_PREVIOUS], atomic_load(&peer->keys[DP_SLOT_CURRENT]));
	atomic_store(&peer->keys[DP_SLOT_CURRENT], next);
	atomic_store(&peer->keys[DP_SLOT_NEXT], NULL);
	atomic_store(&peer->next_used_pending, false);
	atomic_store(&peer->need_key_pending, false);
	rc = um_dp_rebuild_index_map(dp, NULL);
	for (int i = 0; i < 2; i++) {
		if (rc < 0)
			um_dp_key_retire_failed(old[i]);
		else
			um_dp_key_free(old[i]);
	}
	um_dp_stage_kick(dp);
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_drop_previous(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (peer)
		rc = um_dp_clear_slots(dp, peer, 1u << DP_SLOT_PREVIOUS | 1u << DP_SLOT_SUPERSEDED);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_clear_keys(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (peer)
		rc = um_dp_clear_slots(dp, peer, DP_SLOTS_ALL);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

/* A segment fits the control ring's slots, and a relayed one (the longest
 * header, no padding past 1152) a relay's datagram. */
_Static_assert(UM_DP_MESSAGE_MAX <= UM_DP_CONTROL_MAX, "message segments fit the control ring");
_Static_assert(UM_DP_MESSAGE_MAX % 16 == 0 && UM_DP_MESSAGE_RELAY_MAX % 16 == 0 &&
		   UM_DP_RELAY_HEADER_MAX + UM_DATA_OVERHEAD + UM_DP_MESSAGE_RELAY_MAX <= UM_DP_RELAY_MAX_DATAGRAM,
	       "relayed message segments fit 1280 bytes");

/* Under dp->lock or on the control thread that sets paths. */
static size_t message_max(const struct um_dataplane *dp, struct dp_peer *peer)
{
	if (atomic_load(&peer->relay) || !atomic_load(&peer->endpoint))
		return UM_DP_MESSAGE_RELAY_MAX;
	size_t mtu = (dp->cfg.mtu ? dp->cfg.mtu : UM_DP_MTU_DEFAULT) & ~(size_t)15;
	return mtu < UM_DP_MESSAGE_RELAY_MAX ? UM_DP_MESSAGE_RELAY_MAX
	       : mtu > UM_DP_MESSAGE_MAX     ? UM_DP_MESSAGE_MAX
					     : mtu;
}

size_t um_dataplane_peer_message_max(struct um_dataplane *dp, uint32_t id)
{
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	size_t max = peer ? message_max(dp, peer) : 0;
	pthread_mutex_unlock(&dp->lock);
	return max;
}

/* Seal len bytes of payload (flags: UM_DATA_F_MESSAGE or 0) under the
 * peer's current key and send it to the relay or endpoint; caller holds
 * dp->lock. Returns 0, -UM_ENOKEY, -UM_ESTATE (nowhere to send),
 * -UM_EAGAIN (socket buffer full) or -errno. */
static int send_sealed(struct um_dataplane *dp, struct dp_peer *peer, uint8_t flags, const void *payload, size_t len)
{
	uint8_t datagram[UM_DP_RELAY_HEADER_MAX + UM_DATA_OVERHEAD + UM_DP_MESSAGE_MAX + UM_DATA_PAD_MASK];
	struct dp_key *key = atomic_load(&peer->keys[DP_SLOT_CURRENT]);
	struct dp_endpoint *relay = atomic_load(&peer->relay);
	struct dp_endpoint *ep = relay ? relay : atomic_load(&peer->endpoint);
	size_t pad = dp->cfg.pad ? (16 - (len & 15)) & 15 : 0;
	int rc;

	if (!key)
		return -UM_ENOKEY;
	if (!ep)
		return -UM_ESTATE;
	uint64_t counter = atomic_fetch_add(&key->send_counter, 1);
	if (counter >= DP_REJECT_AFTER_MESSAGES)
		return -UM_ENOKEY; /* worn out: a new session is due */
	memcpy(datagram, ep->prefix, ep->prefix_len);
	uint8_t *packet = datagram + ep->prefix_len, *plain = packet + UM_DATA_HEADER_LEN;
	struct um_data_header hdr = {
	    .flags = (uint8_t)(flags | pad), .receiver_index = key->remote_index, .counter = counter};
	um_data_header_encode(packet, &hdr);
	if (len)
		memcpy(plain, payload, len);
	memset(plain + len, 0, pad);
	if ((rc = um_aead_seal(&dp->control_aead, key->id, key->send_key, counter, packet, UM_DATA_HEADER_LEN, plain,
			       len + pad, plain + len + pad)) < 0)
		return rc;
	size_t total = ep->prefix_len + UM_DATA_OVERHEAD + len + pad;
	if (sendto(dp->workers[0].udp_fd, datagram, total, MSG_DONTWAIT, (struct sockaddr *)&ep->addr, ep->len) < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? -UM_EAGAIN : -errno;
	atomic_store(&peer->last_tx_ns, um_now_ns());
	if (flags & UM_DATA_F_MESSAGE) {
		atomic_fetch_add(&peer->message_tx[0], 1);
		atomic_fetch_add(&peer->message_tx[1], len);
		if (relay)
			atomic_fetch_add(&peer->message_tx[2], 1);
	}
	return 0;
}

int um_dataplane_peer_send_keepalive(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (peer)
		rc = send_sealed(dp, peer, 0, NULL, 0);
	pthread_mutex_unlock(&dp->lock);
	/* Keepalives kept their old word for "no key": nothing to keep alive. */
	return rc == -UM_ENOKEY ? -UM_ESTATE : rc;
}

int um_dataplane_peer_send_message(struct um_dataplane *dp, uint32_t id, const void *segment, size_t len)
{
	int rc = -UM_EINVAL;
	if (len == 0 || len > UM_DP_MESSAGE_MAX || !segment)
		return rc;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	rc = !peer                         ? -UM_ENOTFOUND
	     : len > message_max(dp, peer) ? -UM_EINVAL
					   : send_sealed(dp, peer, UM_DATA_F_MESSAGE, segment, len);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

/* The worker that seals peer id's segments: always the same one, so that
 * they leave in order (the channel would take reordering for loss). */
static struct dp_worker *message_worker(struct um_dataplane *dp, uint32_t id)
{
	return &dp->workers[id % dp->worker_count];
}

size_t um_dataplane_peer_reserve_messages(struct um_dataplane *dp, uint32_t id, uint8_t **slots, size_t n)
{
	struct dp_msg_ring *ring = &message_worker(dp, id)->msg_tx;
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
	size_t room = DP_MSG_SLOTS - (head - tail), i;

	for (i = 0; i < n && i < room && i < UM_DP_MESSAGE_BATCH; i++)
		slots[i] = ring->slots[(head + i) & (DP_MSG_SLOTS - 1)].data;
	ring->reserved = (uint32_t)i;
	return i;
}

/* Why segments for the peer cannot be queued now (0: they can); caller
 * holds dp->lock. */
static int can_queue(struct dp_peer *peer)
{
	if (!peer)
		return -UM_ENOTFOUND;
	if (!atomic_load(&peer->keys[DP_SLOT_CURRENT]))
		return -UM_ENOKEY;
	if (!atomic_load(&peer->relay) && !atomic_load(&peer->endpoint))
		return -UM_ESTATE;
	return 0;
}

/* The worker seals what is committed in parallel with the control thread
 * and sends it in GSO batches (dataplane_tx.c). */
int um_dataplane_peer_commit_messages(struct um_dataplane *dp, uint32_t id, const uint32_t *lens, size_t n,
				      size_t *sent)
{
	struct dp_worker *w = message_worker(dp, id);
	struct dp_msg_ring *ring = &w->msg_tx;
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	uint32_t reserved = ring->reserved;
	int rc = 0;
	size_t i;

	*sent = 0;
	if (n == 0 || n > reserved)
		return -UM_EINVAL; /* more than was reserved */
	ring->reserved = 0;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	size_t max = peer ? message_max(dp, peer) : 0;
	rc = can_queue(peer);
	for (i = 0; rc == 0 && i < n; i++)
		if (lens[i] == 0 || lens[i] > max)
			rc = -UM_EINVAL;
	if (rc)
		goto out;
	for (i = 0; i < n; i++) {
		struct dp_msg_slot *slot = &ring->slots[(head + i) & (DP_MSG_SLOTS - 1)];
		slot->peer = id;
		slot->len = lens[i];
	}
	atomic_store_explicit(&ring->head, head + (uint32_t)n, memory_order_release);
	atomic_fetch_add(&peer->message_tx[3], n);
	uint64_t one = 1;
	ssize_t r = write(w->wake_fd, &one, sizeof(one));
	(void)r;
	*sent = n;
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

size_t um_dataplane_peer_message_room(struct um_dataplane *dp, uint32_t id)
{
	struct dp_msg_ring *ring = &message_worker(dp, id)->msg_tx;
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);

	return DP_MSG_SLOTS - (head - tail);
}

int um_dataplane_peer_send_messages(struct um_dataplane *dp, uint32_t id, const struct iovec *segments, size_t n,
				    size_t *sent)
{
	uint8_t *slots[UM_DP_MESSAGE_BATCH];
	uint32_t lens[UM_DP_MESSAGE_BATCH];

	*sent = 0;
	if (n == 0 || n > UM_DP_MESSAGE_BATCH || !segments)
		return -UM_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (segments[i].iov_len == 0 || segments[i].iov_len > UM_DP_MESSAGE_MAX || !segments[i].iov_base)
			return -UM_EINVAL;
	size_t room = um_dataplane_peer_reserve_messages(dp, id, slots, n);
	if (room == 0) {
		pthread_mutex_lock(&dp->lock);
		int rc = can_queue(um_dp_peer_get(dp, id));
		pthread_mutex_unlock(&dp->lock);
		return rc ? rc : -UM_EAGAIN;
	}
	for (size_t i = 0; i < room; i++) {
		memcpy(slots[i], segments[i].iov_base, segments[i].iov_len);
		lens[i] = (uint32_t)segments[i].iov_len;
	}
	int rc = um_dataplane_peer_commit_messages(dp, id, lens, room, sent);
	return rc ? rc : room < n ? -UM_EAGAIN : 0;
}

void um_dataplane_flush_messages(struct um_dataplane *dp, uint64_t timeout_ns)
{
	uint64_t deadline = um_now_ns() + timeout_ns;

	for (unsigned i = 0; i < dp->worker_count; i++) {
		struct dp_msg_ring *ring = &dp->workers[i].msg_tx;
		while (dp->workers[i].started &&
		       atomic_load_explicit(&ring->tail, memory_order_acquire) !=
			   atomic_load_explicit(&ring->head, memory_order_relaxed) &&
		       um_now_ns() < deadline)
			usleep(200);
	}
}
