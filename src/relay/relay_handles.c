/* SPDX-License-Identifier: MIT */
/* Routing handles (wire/relay.h): what a registration calls each peer it
 * talks to through the relay, so no peer ID crosses the node<->relay link
 * in clear. Fixed memory: a table of config.max_handles entries and a
 * SipHash-keyed (owner, target) index for LOOKUP; each node may own at
 * most a fair share of it. A handle is 32 random bits above the entry's
 * table index, so FORWARD finds its entry without hashing (and a guessed
 * handle also needs the right random half and the owner's endpoint).
 * Entries are not freed when their nodes go: a node slot's generation
 * changes when it is freed, and an entry whose owner or target generation
 * no longer matches is stale (freed when met, or by the sweep). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_internal.h"
#include "util/error.h"

static uint32_t bucket(const struct um_relay *r, uint32_t a, uint64_t b)
{
	uint8_t key[12], h[crypto_shorthash_BYTES];
	memcpy(key, &a, 4);
	memcpy(key + 4, &b, 8);
	crypto_shorthash(h, key, sizeof(key), r->hash_key);
	uint32_t v;
	memcpy(&v, h, sizeof(v));
	return v & r->handle_mask;
}

/* A node may own up to 4 times its fair share (or 64), so one node cannot
 * take every handle. */
static uint32_t owner_cap(const struct um_relay *r)
{
	uint32_t share = 4 * (r->config.max_handles / r->config.max_nodes);
	return share < 64 ? 64 : share;
}

int um_relay_handles_init(struct um_relay *r)
{
	struct um_relay_config *c = &r->config;
	if (!c->max_handles)
		c->max_handles = c->max_nodes * 8 < 1024 ? 1024 : c->max_nodes * 8;
	uint32_t buckets = 1;
	while (buckets < c->max_handles)
		buckets <<= 1;
	r->handle_mask = buckets - 1;
	r->handles = calloc(c->max_handles, sizeof(*r->handles));
	r->by_pair = malloc(sizeof(uint32_t) * buckets);
	if (!r->handles || !r->by_pair)
		return -UM_ENOMEM;
	memset(r->by_pair, 0xff, sizeof(uint32_t) * buckets);
	for (uint32_t i = 0; i < c->max_handles; i++) {
		r->handles[i].next_free = i + 1 < c->max_handles ? i + 1 : NONE;
		r->handles[i].next_by_pair = NONE;
	}
	r->handle_free = 0;
	return 0;
}

void um_relay_handles_destroy(struct um_relay *r)
{
	free(r->handles);
	free(r->by_pair);
	r->handles = NULL;
	r->by_pair = NULL;
}

static bool live(const struct um_relay *r, const struct um_relay_handle *h)
{
	const struct um_relay_node *o = &r->nodes[h->owner], *t = &r->nodes[h->target];
	return h->handle && o->used && o->gen == h->owner_gen && t->used && t->gen == h->target_gen;
}

static void unlink_chain(struct um_relay *r, uint32_t *head, uint32_t index)
{
	uint32_t *link = head;
	while (*link != NONE && *link != index)
		link = &r->handles[*link].next_by_pair;
	if (*link == index)
		*link = r->handles[index].next_by_pair;
}

static void free_entry(struct um_relay *r, uint32_t index)
{
	struct um_relay_handle *h = &r->handles[index];
	unlink_chain(r, &r->by_pair[bucket(r, h->owner, h->target)], index);
	struct um_relay_node *o = &r->nodes[h->owner];
	if (o->used && o->gen == h->owner_gen && o->n_handles)
		o->n_handles--;
	memset(h, 0, sizeof(*h));
	h->next_by_pair = NONE;
	h->next_free = r->handle_free;
	r->handle_free = index;
	r->handle_count--;
	r->stats.handles = r->handle_count;
}

uint32_t um_relay_handle_find(struct um_relay *r, uint32_t owner, uint64_t handle)
{
	uint32_t i = (uint32_t)handle;
	if (i >= r->config.max_handles)
		return NONE;
	struct um_relay_handle *h = &r->handles[i];
	if (h->handle != handle || h->owner != owner)
		return NONE;
	if (live(r, h))
		return i;
	free_entry(r, i);
	return NONE;
}

uint32_t um_relay_handle_for(struct um_relay *r, uint32_t owner, uint32_t target)
{
	struct um_relay_node *o = &r->nodes[owner];
	for (uint32_t i = r->by_pair[bucket(r, owner, target)]; i != NONE; i = r->handles[i].next_by_pair) {
		struct um_relay_handle *h = &r->handles[i];
		if (h->owner != owner || h->target != target)
			continue;
		if (live(r, h))
			return i;
		free_entry(r, i);
		break;
	}
	if (r->handle_free == NONE || o->n_handles >= owner_cap(r)) {
		r->stats.handles_full++;
		return NONE;
	}
	uint32_t index = r->handle_free;
	struct um_relay_handle *h = &r->handles[index];
	r->handle_free = h->next_free;
	uint32_t random = 1 + randombytes_uniform(UINT32_MAX); /* never 0: nor is the handle */
	uint64_t value = (uint64_t)random << 32 | index;
	*h = (struct um_relay_handle){
	    .handle = value,
	    .owner = owner,
	    .target = target,
	    .owner_gen = o->gen,
	    .target_gen = r->nodes[target].gen,
	    .back = NONE,
	};
	uint32_t *head = &r->by_pair[bucket(r, owner, target)];
	h->next_by_pair = *head;
	*head = index;
	o->n_handles++;
	r->handle_count++;
	r->stats.handles = r->handle_count;
	return index;
}

uint32_t um_relay_handle_back(struct um_relay *r, uint32_t entry)
{
	struct um_relay_handle *h = &r->handles[entry];
	uint32_t b = h->back;
	/* The hint holds while that entry still pairs the same two live slots. */
	if (b != NONE && r->handles[b].owner == h->target && r->handles[b].target == h->owner &&
	    r->handles[b].owner_gen == h->target_gen && r->handles[b].target_gen == h->owner_gen &&
	    live(r, &r->handles[b]))
		return b;
	b = um_relay_handle_for(r, h->target, h->owner);
	h->back = b;
	if (b != NONE)
		r->handles[b].back = entry;
	return b;
}

void um_relay_handles_sweep(struct um_relay *r, uint32_t budget)
{
	uint32_t total = r->config.max_handles;
	if (budget == 0 || budget > total)
		budget = total;
	for (uint32_t k = 0; k < budget; k++) {
		uint32_t i = r->handle_sweep;
		r->handle_sweep = i + 1 < total ? i + 1 : 0;
		if (r->handles[i].handle && !live(r, &r->handles[i]))
			free_entry(r, i);
	}
}
