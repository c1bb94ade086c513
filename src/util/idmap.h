/* SPDX-License-Identifier: MIT */
/* A fixed-capacity hash index from a byte key (a peer ID, a serialised
 * endpoint: at most UM_IDMAP_KEY_MAX bytes, one length per map) to a uint32
 * value, typically the index of the entry in the caller's own array.
 *
 * Buckets are chained through a preallocated entry array, so put/get/remove
 * never allocate. The bucket hash is SipHash-2-4 (libsodium's
 * crypto_shorthash) under a random key drawn at init, so a peer choosing
 * keys (IDs on the wire) cannot aim them at one bucket. */
#ifndef UM_UTIL_IDMAP_H
#define UM_UTIL_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { UM_IDMAP_KEY_MAX = 32, UM_IDMAP_HASH_KEY_BYTES = 16 };

struct um_idmap_entry {
	uint8_t key[UM_IDMAP_KEY_MAX];
	uint32_t value;
	uint32_t next; /* chain in the bucket, or the free list */
};

struct um_idmap {
	uint8_t hash_key[UM_IDMAP_HASH_KEY_BYTES];
	uint32_t *buckets;              /* owned; head entry per bucket */
	struct um_idmap_entry *entries; /* owned; capacity entries */
	uint32_t bucket_mask, capacity, count, free_head;
	size_t key_len;
};

/* Prepares map for up to capacity keys of key_len bytes (1..UM_IDMAP_KEY_MAX)
 * and draws its hash key. The map owns its arrays until um_idmap_free.
 * 0, -UM_EINVAL or -UM_ENOMEM. */
int um_idmap_init(struct um_idmap *map, uint32_t capacity, size_t key_len);
/* Frees the arrays; map can be inited again. Safe on a zeroed map. */
void um_idmap_free(struct um_idmap *map);
/* Maps key (key_len bytes, copied) to value, replacing an existing value.
 * 0 or -UM_ELIMIT when capacity keys are already in. */
int um_idmap_put(struct um_idmap *map, const void *key, uint32_t value);
/* true and *value when key is in (value may be NULL). */
bool um_idmap_get(const struct um_idmap *map, const void *key, uint32_t *value);
/* true when key was in and is now gone. */
bool um_idmap_remove(struct um_idmap *map, const void *key);
/* Empties the map, keeping its capacity and hash key. */
void um_idmap_clear(struct um_idmap *map);

#endif
