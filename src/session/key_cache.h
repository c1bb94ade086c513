/* SPDX-License-Identifier: MIT */
/* Verified public keys of other nodes, so a repeat handshake need not
 * carry them (docs/PROTOCOL.md section 4, "Repeat handshakes").
 *
 * A bounded table peer ID -> hybrid public key. The engine puts a key in
 * only after a signature verified under it, with the ID computed from that
 * key, so an entry always hashes to its ID; it never holds anything an
 * unauthenticated packet could choose. When full, the least recently used
 * entry makes room. Per entry it also remembers the other node's key-cache
 * epoch at the time that node verified *our* key (0: not known), which
 * tells whether it still holds ours. Public data only: nothing is wiped.
 * Not thread safe; one per engine. */
#ifndef UM_SESSION_KEY_CACHE_H
#define UM_SESSION_KEY_CACHE_H

#include <stdint.h>

#include "crypto/identity.h"

struct um_key_cache_entry {
	struct um_peer_id id;
	uint64_t peer_epoch; /* its epoch when it verified our key; 0 = unknown */
	uint64_t used;       /* LRU clock */
	uint8_t public_key[UM_HSIG_PK_BYTES];
};

struct um_key_cache {
	unsigned capacity, count;
	uint64_t clock;
	struct um_key_cache_entry **entries; /* owned; [0, count) allocated */
};

/* capacity 0 = a cache that keeps nothing (every lookup misses). */
int um_key_cache_init(struct um_key_cache *cache, unsigned capacity);
/* Frees every entry. */
void um_key_cache_destroy(struct um_key_cache *cache);

/* The entry for id (marked used), or NULL. The pointer is the cache's and
 * stays valid until the next um_key_cache_put. */
struct um_key_cache_entry *um_key_cache_find(struct um_key_cache *cache, const struct um_peer_id *id);

/* Stores public_key under id, which must be um_peer_id_from_public_key of
 * it (the caller computed it to verify): the key is copied. An entry for id
 * is refreshed (its peer_epoch kept); a new one may evict the least
 * recently used. Returns the entry (as find), or NULL when capacity is 0
 * or memory is short (the cache is an optimisation: callers go on). */
struct um_key_cache_entry *um_key_cache_put(struct um_key_cache *cache, const struct um_peer_id *id,
					    const uint8_t public_key[UM_HSIG_PK_BYTES]);

/* Drops the entry for id, if any (a key that failed to verify a signature
 * it should have: never trusted again without a full handshake). */
void um_key_cache_forget(struct um_key_cache *cache, const struct um_peer_id *id);

#endif
