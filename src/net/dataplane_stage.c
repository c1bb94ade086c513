/* SPDX-License-Identifier: MIT */
/* Packets for a peer whose session is not up yet (dataplane_worker.h).
 *
 * The first packet of a connection (a TCP SYN, a DNS query, a ping) is what
 * starts the handshake; dropping it costs the application its own timeout
 * (a second for a SYN) on top of the setup. So, as WireGuard does, each
 * worker keeps the last few such packets and sends them as soon as the
 * peer has keys and a path. The area is fixed (DP_STAGE_SLOTS small
 * packets per worker, no allocation per packet); a full one gives way to
 * the newest packet; a packet older than DP_STAGE_MAX_AGE_NS is dropped,
 * never sent late. Only the worker touches its slots; the control thread
 * only reads `count` and bumps the data plane's generation (um_dp_stage_kick). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/dataplane_worker.h"
#include "util/clock.h"
#include "util/error.h"

/* The oldest slot goes (counted as a drop); its buffer moves to the end. */
static void drop_first(struct dp_worker *w, struct dp_stage *s)
{
	struct dp_stage_slot first = s->slot[0];

	peer_drop(w, first.peer, UM_DP_DROP_NO_KEY);
	memmove(&s->slot[0], &s->slot[1], (size_t)(s->used - 1) * sizeof(s->slot[0]));
	s->slot[--s->used] = first;
}

bool um_dp_stage_put(struct dp_worker *w, uint32_t peer, const struct um_vnet_hdr *vh, const uint8_t *pkt, size_t len)
{
	struct dp_stage *s = &w->stage;

	if (!s->area || s->flushing || vh->gso_type != UM_VNET_GSO_NONE || len > DP_STAGE_BYTES)
		return false;
	while (s->used && w->now_ns - s->slot[0].at_ns > DP_STAGE_MAX_AGE_NS)
		drop_first(w, s);
	if (s->used == DP_STAGE_SLOTS)
		drop_first(w, s);
	struct dp_stage_slot *slot = &s->slot[s->used++];
	slot->peer = peer;
	slot->len = (uint16_t)len;
	slot->vh = *vh;
	slot->at_ns = w->now_ns;
	memcpy(slot->data, pkt, len);
	/* seq_cst, paired with um_dp_stage_kick's bump-then-read: either the
	 * control thread sees this count and wakes us, or the worker's loop
	 * sees its new generation (um_dp_stage_due). */
	atomic_store(&s->count, s->used);
	return true;
}

void um_dp_stage_flush(struct dp_worker *w)
{
	struct dp_stage *s = &w->stage;
	struct dp_stage_slot gone[DP_STAGE_SLOTS];
	unsigned kept = 0, n_gone = 0;

	s->seen = atomic_load(&w->dp->stage_generation);
	s->flushing = true;
	for (unsigned i = 0; i < s->used; i++) {
		struct dp_stage_slot slot = s->slot[i];
		struct dp_peer *peer = &w->dp->peers[slot.peer];
		bool ready = atomic_load(&peer->active) && atomic_load(&peer->keys[DP_SLOT_CURRENT]) &&
			     (atomic_load(&peer->relay) || atomic_load(&peer->endpoint));
		if (w->now_ns - slot.at_ns > DP_STAGE_MAX_AGE_NS)
			peer_drop(w, slot.peer, UM_DP_DROP_NO_KEY);
		else if (ready)
			um_dp_tx_staged(w, slot.peer, &slot.vh, slot.data, slot.len);
		else {
			s->slot[kept++] = slot; /* kept in order; i >= kept: nothing unread is overwritten */
			continue;
		}
		gone[n_gone++] = slot;
	}
	memcpy(&s->slot[kept], gone, n_gone * sizeof(gone[0]));
	s->used = kept;
	s->flushing = false;
	atomic_store(&s->count, kept);
	if (n_gone)
		um_dp_tx_staged(w, 0, NULL, NULL, 0);
}

void um_dp_stage_kick(struct um_dataplane *dp)
{
	atomic_fetch_add(&dp->stage_generation, 1);
	for (unsigned i = 0; i < dp->worker_count; i++) {
		struct dp_worker *w = &dp->workers[i];
		if (!w->started || !atomic_load(&w->stage.count))
			continue;
		uint64_t one = 1;
		ssize_t n = write(w->wake_fd, &one, sizeof(one));
		(void)n;
	}
}

int um_dp_stage_init(struct dp_worker *w)
{
	struct dp_stage *s = &w->stage;

	s->area = malloc((size_t)DP_STAGE_SLOTS * DP_STAGE_BYTES);
	if (!s->area)
		return -UM_ENOMEM;
	for (unsigned i = 0; i < DP_STAGE_SLOTS; i++)
		s->slot[i].data = s->area + (size_t)i * DP_STAGE_BYTES;
	return 0;
}

void um_dp_stage_free(struct dp_worker *w)
{
	free(w->stage.area);
	w->stage.area = NULL;
	w->stage.used = 0;
	atomic_store(&w->stage.count, 0);
}
