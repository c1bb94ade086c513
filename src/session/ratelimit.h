/* SPDX-License-Identifier: MIT */
/* Per-source token buckets for handshake initiations (HELLO). Sources are
 * IPv4 addresses, or IPv6 /64 prefixes (one host usually owns a whole /64,
 * so finer keys would let it multiply its allowance). Fixed memory: a
 * 4-way set-associative table indexed by a keyed SipHash of the source, so
 * an attacker cannot aim collisions at a victim's set. When a set is full
 * the entry idle longest is replaced (its bucket would be full anyway, or
 * nearly so). Not thread safe: owned by the handshake engine. */
#ifndef UM_SESSION_RATELIMIT_H
#define UM_SESSION_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/handshake.h"

struct um_ratelimit_entry;

struct um_ratelimiter {
	struct um_ratelimit_entry *entries; /* owned */
	unsigned sets;                      /* power of two; 4 entries each */
	uint64_t cost_ns;                   /* credit one packet costs */
	uint64_t max_credit_ns;             /* burst * cost */
	uint8_t hash_key[16];
};

/* entries is rounded up to a power of two (>= 4). per_second and burst > 0. */
int um_ratelimit_init(struct um_ratelimiter *limiter, unsigned entries, unsigned per_second, unsigned burst);
void um_ratelimit_destroy(struct um_ratelimiter *limiter);
/* true if the source may send one more packet now (and charges it). */
bool um_ratelimit_allow(struct um_ratelimiter *limiter, const struct um_wire_addr *source, uint64_t now_ns);

#endif
