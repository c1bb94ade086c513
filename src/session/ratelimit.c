/* SPDX-License-Identifier: MIT */
#include "session/ratelimit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

enum { WAYS = 4, KEY_BYTES = 9 };

struct um_ratelimit_entry {
	uint8_t key[KEY_BYTES]; /* family || 4 or 8 address bytes */
	bool used;
	uint64_t last_ns;
	uint64_t credit_ns;
};

int um_token_bucket_init(struct um_token_bucket *bucket, unsigned per_second, unsigned burst)
{
	memset(bucket, 0, sizeof(*bucket));
	if (per_second == 0 || burst == 0)
		return -UM_EINVAL;
	bucket->cost_ns = 1000000000ULL / per_second;
	bucket->max_credit_ns = bucket->cost_ns * burst;
	bucket->credit_ns = bucket->max_credit_ns;
	return 0;
}

/* Refill by elapsed time (clamped: a clock that went backwards adds nothing). */
static void refill(uint64_t *credit_ns, uint64_t *last_ns, uint64_t max_credit_ns, uint64_t now_ns)
{
	if (now_ns > *last_ns) {
		uint64_t elapsed = now_ns - *last_ns;
		*credit_ns = elapsed >= max_credit_ns - *credit_ns ? max_credit_ns : *credit_ns + elapsed;
	}
	*last_ns = now_ns;
}

bool um_token_bucket_take(struct um_token_bucket *bucket, uint64_t now_ns)
{
	if (bucket->last_ns == 0)
		bucket->last_ns = now_ns;
	refill(&bucket->credit_ns, &bucket->last_ns, bucket->max_credit_ns, now_ns);
	if (bucket->credit_ns < bucket->cost_ns)
		return false;
	bucket->credit_ns -= bucket->cost_ns;
	return true;
}

int um_ratelimit_init(struct um_ratelimiter *limiter, unsigned entries, unsigned per_second, unsigned burst)
{
	return um_ratelimit_init_prefix(limiter, entries, per_second, burst, 4, 8);
}

int um_ratelimit_init_prefix(struct um_ratelimiter *limiter, unsigned entries, unsigned per_second, unsigned burst,
			     unsigned v4_bytes, unsigned v6_bytes)
{
	memset(limiter, 0, sizeof(*limiter));
	if (per_second == 0 || burst == 0 || entries == 0 || entries > (1u << 24) || v4_bytes == 0 || v4_bytes > 4 ||
	    v6_bytes == 0 || v6_bytes > 8)
		return -UM_EINVAL;
	limiter->v4_bytes = (uint8_t)v4_bytes;
	limiter->v6_bytes = (uint8_t)v6_bytes;
	unsigned sets = 1;
	while (sets * WAYS < entries)
		sets <<= 1;
	limiter->entries = calloc((size_t)sets * WAYS, sizeof(*limiter->entries));
	if (!limiter->entries)
		return -UM_ENOMEM;
	limiter->sets = sets;
	limiter->cost_ns = 1000000000ULL / per_second;
	limiter->max_credit_ns = limiter->cost_ns * burst;
	randombytes_buf(limiter->hash_key, sizeof(limiter->hash_key));
	return 0;
}

void um_ratelimit_destroy(struct um_ratelimiter *limiter)
{
	free(limiter->entries);
	memset(limiter, 0, sizeof(*limiter));
}

/* family || the first v4_bytes / v6_bytes of the address (the rest zero). An
 * unset source gives the all-zero key (um_addr_network clears the prefix). */
static void source_key(const struct um_ratelimiter *limiter, uint8_t key[KEY_BYTES], const struct um_addr *source)
{
	struct um_addr_prefix net;

	(void)um_addr_network(source, limiter->v4_bytes * 8u, limiter->v6_bytes * 8u, &net);
	key[0] = net.family;
	memcpy(key + 1, net.addr, KEY_BYTES - 1);
}

bool um_ratelimit_allow(struct um_ratelimiter *limiter, const struct um_addr *source, uint64_t now_ns)
{
	uint64_t idle_ns;
	return um_ratelimit_allow_idle(limiter, source, now_ns, &idle_ns);
}

bool um_ratelimit_allow_idle(struct um_ratelimiter *limiter, const struct um_addr *source, uint64_t now_ns,
			     uint64_t *idle_ns)
{
	uint8_t key[KEY_BYTES], hash[crypto_shorthash_BYTES];
	source_key(limiter, key, source);
	crypto_shorthash(hash, key, sizeof(key), limiter->hash_key);
	uint64_t h;
	memcpy(&h, hash, sizeof(h));
	struct um_ratelimit_entry *set = &limiter->entries[(size_t)(h & (limiter->sets - 1)) * WAYS];

	struct um_ratelimit_entry *entry = NULL, *victim = &set[0];
	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].used && memcmp(set[i].key, key, KEY_BYTES) == 0) {
			entry = &set[i];
			break;
		}
		if (!set[i].used)
			victim = &set[i];
		else if (victim->used && set[i].last_ns < victim->last_ns)
			victim = &set[i];
	}
	*idle_ns = UINT64_MAX;
	if (entry)
		*idle_ns = now_ns > entry->last_ns ? now_ns - entry->last_ns : 0;
	if (!entry) {
		entry = victim;
		memcpy(entry->key, key, KEY_BYTES);
		entry->used = true;
		entry->last_ns = now_ns;
		entry->credit_ns = limiter->max_credit_ns;
	}
	refill(&entry->credit_ns, &entry->last_ns, limiter->max_credit_ns, now_ns);
	if (entry->credit_ns < limiter->cost_ns)
		return false;
	entry->credit_ns -= limiter->cost_ns;
	return true;
}
