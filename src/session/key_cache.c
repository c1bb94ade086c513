/* SPDX-License-Identifier: MIT */
/* The key cache (key_cache.h): a linear table. Lookups run once per
 * handshake message, after the expensive checks that gate them (a
 * decapsulation, a signature), so scanning ~1000 IDs costs nothing next to
 * them; entries are allocated as peers are met. */
#include "session/key_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int um_key_cache_init(struct um_key_cache *cache, unsigned capacity)
{
	memset(cache, 0, sizeof(*cache));
	if (!capacity)
		return 0;
	if (!(cache->entries = calloc(capacity, sizeof(*cache->entries))))
		return -UM_ENOMEM;
	cache->capacity = capacity;
	return 0;
}

void um_key_cache_destroy(struct um_key_cache *cache)
{
	for (unsigned i = 0; i < cache->count; i++)
		free(cache->entries[i]);
	free(cache->entries);
	memset(cache, 0, sizeof(*cache));
}

struct um_key_cache_entry *um_key_cache_find(struct um_key_cache *cache, const struct um_peer_id *id)
{
	for (unsigned i = 0; i < cache->count; i++) {
		struct um_key_cache_entry *e = cache->entries[i];
		if (memcmp(e->id.bytes, id->bytes, UM_PEER_ID_BYTES) == 0) {
			e->used = ++cache->clock;
			return e;
		}
	}
	return NULL;
}

struct um_key_cache_entry *um_key_cache_put(struct um_key_cache *cache, const struct um_peer_id *id,
					    const uint8_t public_key[UM_HSIG_PK_BYTES])
{
	struct um_key_cache_entry *e = um_key_cache_find(cache, id);

	if (e) {
		memcpy(e->public_key, public_key, UM_HSIG_PK_BYTES);
		return e;
	}
	if (!cache->capacity)
		return NULL;
	if (cache->count < cache->capacity) {
		if (!(e = malloc(sizeof(*e))))
			return NULL;
		cache->entries[cache->count++] = e;
	} else {
		e = cache->entries[0];
		for (unsigned i = 1; i < cache->count; i++)
			if (cache->entries[i]->used < e->used)
				e = cache->entries[i];
	}
	e->id = *id;
	e->peer_epoch = 0;
	e->used = ++cache->clock;
	memcpy(e->public_key, public_key, UM_HSIG_PK_BYTES);
	return e;
}

void um_key_cache_forget(struct um_key_cache *cache, const struct um_peer_id *id)
{
	for (unsigned i = 0; i < cache->count; i++) {
		if (memcmp(cache->entries[i]->id.bytes, id->bytes, UM_PEER_ID_BYTES) != 0)
			continue;
		free(cache->entries[i]);
		cache->entries[i] = cache->entries[--cache->count];
		return;
	}
}
