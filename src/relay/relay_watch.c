/* SPDX-License-Identifier: MIT */
/* Held LOOKUPs (issue 14). Two nodes that start together register at
 * about the same time; the first one's LOOKUP of the other misses, and
 * before this it asked again on a timer (100-400 ms later, plus a round
 * trip). Now a miss leaves a watch for a few seconds, and the target's
 * registration answers it at once: the HANDLE the LOOKUP would have
 * returned, sealed to the watcher, unasked. The watcher learns nothing it
 * could not by asking again; a watch costs no state beyond this fixed
 * table, and one node holds at most UM_RELAY_WATCHES_PER_NODE of it.
 * relay_control.c sends the answers (um_relay_pending). */
#include <string.h>

#include "relay/relay_internal.h"

#define WATCH_NS (3 * NSEC)

static bool live(const struct um_relay_watch *w, uint64_t now)
{
	return w->until_ns > now;
}

void um_relay_watch_add(struct um_relay *r, uint32_t watcher, const struct um_peer_id *target, uint64_t now)
{
	const struct um_relay_node *n = &r->nodes[watcher];
	struct um_relay_watch *slot = NULL, *own_oldest = NULL, *oldest = NULL;
	unsigned own = 0;

	for (unsigned i = 0; i < UM_RELAY_WATCHES; i++) {
		struct um_relay_watch *w = &r->watches[i];
		if (!live(w, now) && !w->ready) {
			if (!slot)
				slot = w;
			continue;
		}
		if (w->watcher == watcher && w->watcher_gen == n->gen) {
			if (!memcmp(w->target.bytes, target->bytes, UM_PEER_ID_BYTES)) {
				w->until_ns = now + WATCH_NS; /* asked again: held longer */
				return;
			}
			own++;
			if (!own_oldest || w->until_ns < own_oldest->until_ns)
				own_oldest = w;
		}
		if (!w->ready && (!oldest || w->until_ns < oldest->until_ns))
			oldest = w;
	}
	if (own >= UM_RELAY_WATCHES_PER_NODE && !own_oldest->ready)
		slot = own_oldest;
	else if (own >= UM_RELAY_WATCHES_PER_NODE)
		return;
	if (!slot)
		slot = oldest;
	if (!slot)
		return;
	*slot = (struct um_relay_watch){
	    .target = *target, .watcher = watcher, .watcher_gen = n->gen, .until_ns = now + WATCH_NS};
	r->stats.lookups_held++;
}

void um_relay_watch_fire(struct um_relay *r, uint32_t index, uint64_t now)
{
	const struct um_relay_node *n = &r->nodes[index];

	if (!n->registered || !n->endpoint.family)
		return;
	for (unsigned i = 0; i < UM_RELAY_WATCHES; i++) {
		struct um_relay_watch *w = &r->watches[i];
		if (live(w, now) && !w->ready && !memcmp(w->target.bytes, n->id.bytes, UM_PEER_ID_BYTES)) {
			w->ready = true;
			r->watches_ready++;
		}
	}
}

int um_relay_watch_next(struct um_relay *r, uint32_t *watcher, uint32_t *target)
{
	for (unsigned i = 0; r->watches_ready && i < UM_RELAY_WATCHES; i++) {
		struct um_relay_watch *w = &r->watches[i];
		if (!w->ready)
			continue;
		w->ready = false;
		w->until_ns = 0;
		r->watches_ready--;
		const struct um_relay_node *n = &r->nodes[w->watcher];
		uint32_t t = um_relay_find_by_id(r, &w->target);
		/* Either side may have gone since (slot reused: gen moved). */
		if (!n->used || n->gen != w->watcher_gen || !n->registered || !n->endpoint.family || t == NONE ||
		    t == w->watcher || !r->nodes[t].registered || !r->nodes[t].endpoint.family)
			continue;
		*watcher = w->watcher;
		*target = t;
		return 1;
	}
	return 0;
}
