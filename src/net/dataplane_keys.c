/* SPDX-License-Identifier: MIT */
/* Control side of the data plane, part 2: session keys (the three slots
 * current/previous/next per peer) and keepalives. Same rules as
 * dataplane.c: callers hold no lock, every function takes dp->lock, and a
 * retired key is wiped and freed only after the workers passed a quiescent
 * point (um_dp_rebuild_index_map synchronises). */
#include "net/dataplane.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/dataplane_impl.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/data.h"

int um_dataplane_peer_install_keypair(struct um_dataplane *dp, uint32_t id, const struct um_keypair *keypair,
				      bool as_next)
{
	int rc = -UM_ENOTFOUND;
	struct dp_key *key = aligned_alloc(64, sizeof(*key));
	if (!key)
		return -UM_ENOMEM;
	memset(key, 0, sizeof(*key));
	pthread_spin_init(&key->replay_lock, PTHREAD_PROCESS_PRIVATE);
	um_replay_init(&key->replay);
	memcpy(key->send_key, keypair->send_key, 32);
	memcpy(key->recv_key, keypair->recv_key, 32);
	key->local_index = keypair->local_index;
	key->remote_index = keypair->remote_index;
	key->created_ns = keypair->created_ns;
	key->peer = id;
	pthread_mutex_lock(&dp->lock);
	key->id = ++dp->next_key_id;
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	/* Check index uniqueness before publishing anything. */
	struct dp_index_map *map = atomic_load(&dp->index_map);
	struct dp_key *clash = um_dp_index_lookup(map, key->local_index);
	struct dp_key *retire[2] = {NULL, NULL};
	if (as_next) {
		retire[0] = atomic_load(&peer->keys[DP_SLOT_NEXT]);
		if (clash && clash != retire[0]) {
			rc = -UM_EINVAL;
			goto out;
		}
		atomic_store(&peer->keys[DP_SLOT_NEXT], key);
	} else {
		/* We initiated and the handshake is confirmed. A pending `next`
		 * is a session the peer initiated and already sends under (it
		 * finished close to ours): keep accepting it in `previous`
		 * instead of dropping it, and retire the old current, which that
		 * peer has moved away from. Without a pending next, the old
		 * current becomes previous as usual. The new current supersedes
		 * the next for sending: the peer promotes it as soon as our
		 * first packet under it arrives. */
		struct dp_key *current = atomic_load(&peer->keys[DP_SLOT_CURRENT]);
		struct dp_key *next = atomic_load(&peer->keys[DP_SLOT_NEXT]);
		retire[0] = atomic_load(&peer->keys[DP_SLOT_PREVIOUS]);
		retire[1] = next ? current : NULL;
		if (clash && clash != retire[0] && clash != retire[1]) {
			rc = -UM_EINVAL;
			goto out;
		}
		atomic_store(&peer->keys[DP_SLOT_NEXT], NULL);
		atomic_store(&peer->keys[DP_SLOT_PREVIOUS], next ? next : current);
		atomic_store(&peer->keys[DP_SLOT_CURRENT], key);
		atomic_store(&peer->need_key_pending, false);
	}
	atomic_store(&peer->next_used_pending, false);
	key = NULL;
	rc = um_dp_rebuild_index_map(dp, NULL); /* synchronises */
	for (int i = 0; i < 2; i++) {
		if (rc < 0)
			um_dp_key_retire_failed(retire[i]);
		else
			um_dp_key_free(retire[i]);
	}
out:
	pthread_mutex_unlock(&dp->lock);
	um_dp_key_free(key);
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
	struct dp_key *old = atomic_load(&peer->keys[DP_SLOT_PREVIOUS]);
	atomic_store(&peer->keys[DP_SLOT_PREVIOUS], atomic_load(&peer->keys[DP_SLOT_CURRENT]));
	atomic_store(&peer->keys[DP_SLOT_CURRENT], next);
	atomic_store(&peer->keys[DP_SLOT_NEXT], NULL);
	atomic_store(&peer->next_used_pending, false);
	atomic_store(&peer->need_key_pending, false);
	rc = um_dp_rebuild_index_map(dp, NULL);
	if (rc < 0)
		um_dp_key_retire_failed(old);
	else
		um_dp_key_free(old);
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
		rc = um_dp_clear_slots(dp, peer, 1u << DP_SLOT_PREVIOUS);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_clear_keys(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (peer)
		rc = um_dp_clear_slots(dp, peer, 7);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_send_keepalive(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	uint8_t datagram[UM_DP_RELAY_HEADER_MAX + UM_DATA_OVERHEAD];
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	struct dp_key *key = atomic_load(&peer->keys[DP_SLOT_CURRENT]);
	struct dp_endpoint *ep = atomic_load(&peer->relay);
	if (!ep)
		ep = atomic_load(&peer->endpoint);
	rc = -UM_ESTATE;
	if (!key || !ep)
		goto out;
	uint64_t counter = atomic_fetch_add(&key->send_counter, 1);
	if (counter >= DP_REJECT_AFTER_MESSAGES)
		goto out;
	memcpy(datagram, ep->prefix, ep->prefix_len);
	uint8_t *packet = datagram + ep->prefix_len;
	struct um_data_header hdr = {.flags = 0, .receiver_index = key->remote_index, .counter = counter};
	um_data_header_encode(packet, &hdr);
	if ((rc = um_aead_seal(&dp->control_aead, key->id, key->send_key, counter, packet, UM_DATA_HEADER_LEN,
			       packet + UM_DATA_HEADER_LEN, 0, packet + UM_DATA_HEADER_LEN)) < 0)
		goto out;
	rc = 0;
	if (sendto(dp->workers[0].udp_fd, datagram, ep->prefix_len + UM_DATA_OVERHEAD, 0, (struct sockaddr *)&ep->addr,
		   ep->len) < 0)
		rc = -errno;
	else
		atomic_store(&peer->last_tx_ns, um_now_ns());
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}
