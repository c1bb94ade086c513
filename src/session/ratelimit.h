/* SPDX-License-Identifier: MIT */
/* Per-source token buckets for handshake initiations (HELLO). Sources are
 * IPv4 addresses, or IPv6 /64 prefixes (one host usually owns a whole /64,
 * so finer keys would let it multiply its allowance); a limiter made with
 * um_ratelimit_init_prefix() keys by shorter prefixes instead (the engine
 * uses IPv4 /24 and IPv6 /48 for aggregate per-site buckets). Fixed memory: a
 * 4-way set-associative table indexed by a keyed SipHash of the source, so
 * an attacker cannot aim collisions at a victim's set. When a set is full
 * the entry idle longest is replaced (its bucket would be full anyway, or
 * nearly so). Not thread safe: owned by the handshake engine. */
#ifndef UM_SESSION_RATELIMIT_H
#define UM_SESSION_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"

struct um_ratelimit_entry;

struct um_ratelimiter {
	struct um_ratelimit_entry *entries; /* owned */
	unsigned sets;                      /* power of two; 4 entries each */
	uint64_t cost_ns;                   /* credit one packet costs */
	uint64_t max_credit_ns;             /* burst * cost */
	uint8_t v4_bytes, v6_bytes;         /* address bytes in the key */
	uint8_t hash_key[16];
};

/* One global token bucket (no key). */
struct um_token_bucket {
	uint64_t cost_ns, max_credit_ns;
	uint64_t credit_ns, last_ns;
};

/* per_second and burst > 0; starts full. */
int um_token_bucket_init(struct um_token_bucket *bucket, unsigned per_second, unsigned burst);
/* true if one token was available at now (and takes it). */
bool um_token_bucket_take(struct um_token_bucket *bucket, uint64_t now_ns);

/* entries is rounded up to a power of two (>= 4). per_second and burst > 0. */
int um_ratelimit_init(struct um_ratelimiter *limiter, unsigned entries, unsigned per_second, unsigned burst);
void um_ratelimit_destroy(struct um_ratelimiter *limiter);
/* true if the source may send one more packet now (and charges it). */
bool um_ratelimit_allow(struct um_ratelimiter *limiter, const struct um_addr *source, uint64_t now_ns);
/* The same, keyed by the first v4_bytes (1..4) or v6_bytes (1..8) address bytes. */
int um_ratelimit_init_prefix(struct um_ratelimiter *limiter, unsigned entries, unsigned per_second, unsigned burst,
			     unsigned v4_bytes, unsigned v6_bytes);
/* um_ratelimit_allow that also reports how long the key had been idle
 * before this packet (UINT64_MAX when it was not in the table). */
bool um_ratelimit_allow_idle(struct um_ratelimiter *limiter, const struct um_addr *source, uint64_t now_ns,
			     uint64_t *idle_ns);

#endif
