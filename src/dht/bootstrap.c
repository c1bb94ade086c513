/* SPDX-License-Identifier: MIT */
/* The bootstrap registry (bootstrap.h): challenges, registrations, their
 * expiry, listings. Two compact arrays (a removal moves the last item into
 * the hole), each with a hash index (util/idmap.h) by peer ID / challenge.
 * Only the per-source counts and the sweep scan a whole array: the caps keep
 * that to microseconds, below the signature check every write pays. */
#include "dht/bootstrap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hybrid.h"
#include "session/ratelimit.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/idmap.h"

#define NSEC_PER_SEC 1000000000ULL

/* Expired items are swept at most this often (lookups check expiry anyway). */
#define SWEEP_INTERVAL_NS NSEC_PER_SEC

struct challenge {
	uint8_t bytes[UM_BOOTSTRAP_CHALLENGE_BYTES];
	struct um_addr source; /* port 0 */
	uint64_t expires_ns;
};

/* One network (/24 or /48) during a listing: how many live entries it has
 * and the one picked for it (reservoir sampling). gen marks the slot used
 * by the current listing, so the table is never cleared. */
struct network_slot {
	uint64_t key;
	uint32_t count, pick, gen;
};

struct entry {
	struct um_bootstrap_peer peer;
	uint64_t network; /* network_key(observed): listings compare it */
};

struct um_bootstrap {
	struct um_bootstrap_config config;
	struct challenge *challenges; /* owned; n_challenges live */
	size_t n_challenges;
	struct entry *entries; /* owned; n_entries live */
	/* keys[i]: entries[i]'s public key, verified at registration; apart so
	 * that a listing's pass over the entries stays in cache. */
	uint8_t (*keys)[UM_HSIG_PK_BYTES];
	size_t n_entries;
	uint32_t *scratch;             /* owned; max_registrations indices for listings */
	struct network_slot *networks; /* owned; network_mask + 1 slots (>= 2 per entry) */
	uint32_t network_mask, network_gen;
	struct um_idmap by_id;        /* peer ID -> index in entries */
	struct um_idmap by_challenge; /* challenge bytes -> index in challenges */
	struct um_ratelimiter rate;
	struct um_token_bucket verify;
	uint64_t next_sweep_ns;
	/* Listing order: ChaCha20 under a random key, one nonce per listing
	 * (libsodium's randombytes is a system call each, ~9 us here). */
	uint8_t order_key[crypto_stream_chacha20_KEYBYTES];
	uint64_t order_nonce;
	struct um_bootstrap_stats stats;
};

static const char *const op_methods[] = {"POST", "POST", "DELETE"};
static const char *const op_paths[] = {"/api/bootstrap/register", "/api/bootstrap/heartbeat",
				       "/api/bootstrap/unregister"};

const char *um_bootstrap_op_method(enum um_bootstrap_op op)
{
	return (unsigned)op <= UM_BOOTSTRAP_OP_UNREGISTER ? op_methods[op] : "";
}

const char *um_bootstrap_op_path(enum um_bootstrap_op op)
{
	return (unsigned)op <= UM_BOOTSTRAP_OP_UNREGISTER ? op_paths[op] : "";
}

void um_bootstrap_default_config(struct um_bootstrap_config *c)
{
	*c = (struct um_bootstrap_config){
	    .max_registrations = 4096,
	    .max_challenges = 1024,
	    .challenges_per_source = 8,
	    .registrations_per_source = 64,
	    .challenge_ttl_ns = 30 * NSEC_PER_SEC,
	    .registration_ttl_ns = 120 * NSEC_PER_SEC,
	    .requests_per_s = 10,
	    .request_burst = 40,
	    .rate_entries = 4096,
	    .verifications_per_s = 200,
	    .verification_burst = 400,
	};
}

int um_bootstrap_create(struct um_bootstrap **out, const struct um_bootstrap_config *config)
{
	struct um_bootstrap *b;
	int r = -UM_ENOMEM;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -UM_ENOMEM;
	if (config)
		b->config = *config;
	else
		um_bootstrap_default_config(&b->config);
	const struct um_bootstrap_config *c = &b->config;
	if (!c->max_registrations || !c->max_challenges || !c->challenges_per_source || !c->registrations_per_source ||
	    !c->challenge_ttl_ns || !c->registration_ttl_ns || !c->requests_per_s || !c->request_burst ||
	    !c->rate_entries || !c->verifications_per_s || !c->verification_burst || c->max_registrations > 1u << 24 ||
	    c->max_challenges > 1u << 24) {
		r = -UM_EINVAL;
		goto out;
	}
	b->challenges = calloc(c->max_challenges, sizeof(*b->challenges));
	b->entries = calloc(c->max_registrations, sizeof(*b->entries));
	b->scratch = calloc(c->max_registrations, sizeof(*b->scratch));
	b->keys = calloc(c->max_registrations, sizeof(*b->keys));
	b->network_mask = 1;
	while (b->network_mask < 2 * c->max_registrations - 1)
		b->network_mask = b->network_mask * 2 + 1;
	b->networks = calloc((size_t)b->network_mask + 1, sizeof(*b->networks));
	if (!b->challenges || !b->entries || !b->scratch || !b->networks || !b->keys)
		goto out;
	r = um_idmap_init(&b->by_id, c->max_registrations, UM_PEER_ID_BYTES);
	if (!r)
		r = um_idmap_init(&b->by_challenge, c->max_challenges, UM_BOOTSTRAP_CHALLENGE_BYTES);
	if (!r)
		r = um_ratelimit_init(&b->rate, c->rate_entries, c->requests_per_s, c->request_burst);
	if (r)
		goto out;
	r = um_token_bucket_init(&b->verify, c->verifications_per_s, c->verification_burst);
	if (r) {
		um_ratelimit_destroy(&b->rate);
		goto out;
	}
	randombytes_buf(b->order_key, sizeof(b->order_key));
	*out = b;
	return 0;
out:
	um_idmap_free(&b->by_id);
	um_idmap_free(&b->by_challenge);
	free(b->challenges);
	free(b->entries);
	free(b->scratch);
	free(b->networks);
	free(b->keys);
	free(b);
	return r;
}

void um_bootstrap_free(struct um_bootstrap *b)
{
	if (!b)
		return;
	um_ratelimit_destroy(&b->rate);
	um_idmap_free(&b->by_id);
	um_idmap_free(&b->by_challenge);
	/* Nothing secret inside: challenges are public, keys are public keys. */
	free(b->challenges);
	free(b->entries);
	free(b->scratch);
	free(b->networks);
	free(b->keys);
	free(b);
}

size_t um_bootstrap_count(const struct um_bootstrap *b)
{
	return b->n_entries;
}

void um_bootstrap_get_stats(const struct um_bootstrap *b, struct um_bootstrap_stats *out)
{
	*out = b->stats;
}

/* Removals move the last item into the hole and re-index it. */
static void challenge_remove(struct um_bootstrap *b, size_t i)
{
	size_t last = --b->n_challenges;

	um_idmap_remove(&b->by_challenge, b->challenges[i].bytes);
	if (i != last) {
		b->challenges[i] = b->challenges[last];
		um_idmap_put(&b->by_challenge, b->challenges[i].bytes, (uint32_t)i);
	}
}

static void entry_remove(struct um_bootstrap *b, size_t i)
{
	size_t last = --b->n_entries;

	um_idmap_remove(&b->by_id, &b->entries[i].peer.id);
	if (i != last) {
		b->entries[i] = b->entries[last];
		memcpy(b->keys[i], b->keys[last], sizeof(b->keys[i]));
		um_idmap_put(&b->by_id, &b->entries[i].peer.id, (uint32_t)i);
	}
}

void um_bootstrap_expire(struct um_bootstrap *b, uint64_t now)
{
	for (size_t i = 0; i < b->n_challenges;)
		if (b->challenges[i].expires_ns <= now)
			challenge_remove(b, i);
		else
			i++;
	for (size_t i = 0; i < b->n_entries;)
		if (b->entries[i].peer.expires_ns <= now) {
			entry_remove(b, i);
			b->stats.expired++;
		} else {
			i++;
		}
	b->next_sweep_ns = now + SWEEP_INTERVAL_NS;
}

static void sweep(struct um_bootstrap *b, uint64_t now)
{
	if (now >= b->next_sweep_ns)
		um_bootstrap_expire(b, now);
}

/* The address alone (port 0): a TCP source port means nothing here. */
static struct um_addr host_of(const struct um_addr *a)
{
	struct um_addr h = *a;
	h.port = 0;
	return h;
}

/* Per-source caps count an IPv4 address or an IPv6 /64 as one source (as
 * the rate limiter does): a host holds a whole /64. */
static bool same_subscriber(const struct um_addr *a, const struct um_addr *b)
{
	return um_addr_same_network(a, b, 32, UM_ADDR_SUBSCRIBER_V6_BITS);
}

int um_bootstrap_admit(struct um_bootstrap *b, const struct um_addr *source, uint64_t now)
{
	if (um_ratelimit_allow(&b->rate, source, now))
		return 0;
	b->stats.rate_limited++;
	return -UM_ELIMIT;
}

int um_bootstrap_challenge(struct um_bootstrap *b, const struct um_addr *source, uint64_t now,
			   uint8_t out[UM_BOOTSTRAP_CHALLENGE_BYTES], uint64_t *ttl_ns)
{
	size_t mine = 0;

	sweep(b, now);
	if (!source->family)
		return -UM_EINVAL;
	for (size_t i = 0; i < b->n_challenges; i++)
		if (same_subscriber(&b->challenges[i].source, source) && b->challenges[i].expires_ns > now)
			mine++;
	if (mine >= b->config.challenges_per_source) {
		b->stats.challenge_refused++;
		return -UM_ELIMIT;
	}
	if (b->n_challenges >= b->config.max_challenges)
		um_bootstrap_expire(b, now);
	struct challenge *c;
	if (b->n_challenges < b->config.max_challenges) {
		c = &b->challenges[b->n_challenges++];
	} else {
		/* Full of live challenges (a flood from many sources): the
		 * oldest makes room. An honest client uses its challenge one
		 * round trip after getting it, so refusing newcomers would
		 * hurt it more than evicting what has waited longest. */
		c = &b->challenges[0];
		for (size_t i = 1; i < b->n_challenges; i++)
			if (b->challenges[i].expires_ns < c->expires_ns)
				c = &b->challenges[i];
		um_idmap_remove(&b->by_challenge, c->bytes);
		b->stats.challenge_evicted++;
	}
	randombytes_buf(c->bytes, sizeof(c->bytes));
	/* Cannot fail: at most max_challenges keys, one per slot. */
	um_idmap_put(&b->by_challenge, c->bytes, (uint32_t)(c - b->challenges));
	c->source = host_of(source);
	c->expires_ns = now + b->config.challenge_ttl_ns;
	memcpy(out, c->bytes, sizeof(c->bytes));
	*ttl_ns = b->config.challenge_ttl_ns;
	b->stats.challenges++;
	return 0;
}

int um_bootstrap_message(const struct um_bootstrap_request *q, uint8_t *out, size_t out_size, size_t *len)
{
	struct um_writer w;
	const char *method = um_bootstrap_op_method(q->op), *path = um_bootstrap_op_path(q->op);

	if (!*method || q->n_endpoints > UM_BOOTSTRAP_ENDPOINTS_MAX)
		return -UM_EINVAL;
	um_writer_init(&w, out, out_size);
	um_write_bytes(&w, q->challenge, sizeof(q->challenge));
	um_write_u8(&w, (uint8_t)strlen(method));
	um_write_bytes(&w, method, strlen(method));
	um_write_u8(&w, (uint8_t)strlen(path));
	um_write_bytes(&w, path, strlen(path));
	um_write_bytes(&w, q->id.bytes, sizeof(q->id.bytes));
	um_write_u8(&w, q->is_public ? 1 : 0);
	um_write_u8(&w, (uint8_t)q->n_endpoints);
	for (size_t i = 0; i < q->n_endpoints; i++)
		um_addr_write(&w, &q->endpoints[i]);
	if (um_writer_error(&w))
		return -UM_EINVAL;
	*len = w.pos;
	return 0;
}

int um_bootstrap_sign(const struct um_bootstrap_request *q, const struct um_identity *identity, uint8_t *signature)
{
	uint8_t msg[UM_BOOTSTRAP_MESSAGE_MAX];
	size_t len;
	int r = um_bootstrap_message(q, msg, sizeof(msg), &len);

	if (r)
		return r;
	return um_hsig_sign(signature, msg, len, UM_BOOTSTRAP_SIGN_CONTEXT, identity->secret_key);
}

/* The /24 (IPv4) or /48 (IPv6) of an observed address as one number:
 * family in the top byte, then the network's 3 or 6 bytes. */
static uint64_t network_key(const struct um_addr *a)
{
	size_t n = a->family == UM_ADDR_IPV6 ? 6 : 3;
	uint64_t key = (uint64_t)a->family << 56;

	for (size_t i = 0; i < n; i++)
		key |= (uint64_t)a->addr[i] << (40 - 8 * i);
	return key;
}

/* The live entry of id (NULL when none or expired). */
static struct entry *entry_find(struct um_bootstrap *b, const struct um_peer_id *id, uint64_t now, size_t *index)
{
	uint32_t i;

	if (!um_idmap_get(&b->by_id, id, &i) || b->entries[i].peer.expires_ns <= now)
		return NULL;
	if (index)
		*index = i;
	return &b->entries[i];
}

/* The fields alone, before anything is looked up. */
static int request_well_formed(const struct um_bootstrap_request *q)
{
	if ((unsigned)q->op > UM_BOOTSTRAP_OP_UNREGISTER || !q->signature)
		return -UM_EINVAL;
	if (q->op != UM_BOOTSTRAP_OP_REGISTER)
		return q->n_endpoints == 0 && !q->is_public ? 0 : -UM_EINVAL;
	if (!q->public_key || q->n_endpoints == 0 || q->n_endpoints > UM_BOOTSTRAP_ENDPOINTS_MAX)
		return -UM_EINVAL;
	for (size_t i = 0; i < q->n_endpoints; i++)
		if (!q->endpoints[i].family || !q->endpoints[i].port)
			return -UM_EINVAL;
	return 0;
}

/* Takes the challenge if it was issued to source and is still valid. */
static int challenge_take(struct um_bootstrap *b, const struct um_addr *source, const uint8_t *bytes, uint64_t now)
{
	uint32_t i;

	if (!um_idmap_get(&b->by_challenge, bytes, &i))
		return -UM_EREPLAY;
	const struct challenge *c = &b->challenges[i];
	bool ok = c->expires_ns > now && um_addr_same_host(&c->source, source);
	/* Consumed either way: one challenge, one verification attempt. */
	if (ok || c->expires_ns <= now)
		challenge_remove(b, i);
	return ok ? 0 : -UM_EREPLAY;
}

static size_t registrations_from(const struct um_bootstrap *b, const struct um_addr *source)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n_entries; i++)
		if (same_subscriber(&b->entries[i].peer.observed, source))
			n++;
	return n;
}

int um_bootstrap_write(struct um_bootstrap *b, const struct um_addr *source, const struct um_bootstrap_request *q,
		       uint64_t now, uint64_t *ttl_ns)
{
	uint8_t msg[UM_BOOTSTRAP_MESSAGE_MAX];
	size_t len, index = 0;
	const uint8_t *key;
	int r;

	sweep(b, now);
	*ttl_ns = 0;
	if (!source->family || request_well_formed(q)) {
		b->stats.invalid++;
		return -UM_EINVAL;
	}
	if (challenge_take(b, source, q->challenge, now)) {
		b->stats.bad_challenge++;
		return -UM_EREPLAY;
	}
	struct entry *e = entry_find(b, &q->id, now, &index);
	if (q->op == UM_BOOTSTRAP_OP_REGISTER) {
		struct um_peer_id derived;
		um_peer_id_from_public_key(&derived, q->public_key);
		if (sodium_memcmp(&derived, &q->id, sizeof(derived))) {
			b->stats.key_mismatch++;
			return -UM_EBADMSG;
		}
		key = q->public_key;
		if (!e && b->n_entries >= b->config.max_registrations) {
			um_bootstrap_expire(b, now);
			if (b->n_entries >= b->config.max_registrations) {
				b->stats.registry_full++;
				return -UM_ENOMEM;
			}
		}
		/* A node moving to another address keeps its own slot. */
		if ((!e || !same_subscriber(&e->peer.observed, source)) &&
		    registrations_from(b, source) >= b->config.registrations_per_source) {
			b->stats.source_full++;
			return -UM_ELIMIT;
		}
	} else {
		if (!e) {
			b->stats.unknown_peer++;
			return -UM_ENOTFOUND;
		}
		key = b->keys[e - b->entries];
	}
	if (!um_token_bucket_take(&b->verify, now)) {
		b->stats.verify_budget++;
		return -UM_ELIMIT;
	}
	r = um_bootstrap_message(q, msg, sizeof(msg), &len);
	if (r || um_hsig_verify(q->signature, msg, len, UM_BOOTSTRAP_SIGN_CONTEXT, key)) {
		b->stats.bad_signature++;
		return -UM_EBADMSG;
	}
	switch (q->op) {
	case UM_BOOTSTRAP_OP_REGISTER:
		if (!e) {
			/* entry_find skips an expired slot of this ID: reuse it. */
			uint32_t i;
			if (!um_idmap_get(&b->by_id, &q->id, &i)) {
				i = (uint32_t)b->n_entries++;
				um_idmap_put(&b->by_id, &q->id, i); /* capacity checked above */
			}
			e = &b->entries[i];
			b->stats.registered++;
		} else {
			b->stats.refreshed++;
		}
		memset(&e->peer, 0, sizeof(e->peer));
		e->peer.id = q->id;
		memcpy(e->peer.endpoints, q->endpoints, q->n_endpoints * sizeof(q->endpoints[0]));
		e->peer.n_endpoints = q->n_endpoints;
		e->peer.observed = host_of(source);
		e->peer.is_public = q->is_public;
		e->peer.expires_ns = now + b->config.registration_ttl_ns;
		e->network = network_key(&e->peer.observed);
		memcpy(b->keys[e - b->entries], q->public_key, UM_HSIG_PK_BYTES);
		*ttl_ns = b->config.registration_ttl_ns;
		return 0;
	case UM_BOOTSTRAP_OP_HEARTBEAT:
		e->peer.expires_ns = now + b->config.registration_ttl_ns;
		*ttl_ns = b->config.registration_ttl_ns;
		b->stats.refreshed++;
		return 0;
	case UM_BOOTSTRAP_OP_UNREGISTER:
		entry_remove(b, index);
		b->stats.unregistered++;
		return 0;
	}
	return -UM_EINVAL;
}

int um_bootstrap_find(struct um_bootstrap *b, const struct um_peer_id *id, bool public_only, uint64_t now,
		      struct um_bootstrap_peer *out)
{
	struct entry *e = entry_find(b, id, now, NULL);

	b->stats.lookups++;
	if (!e || (public_only && !e->peer.is_public))
		return -UM_ENOTFOUND;
	*out = e->peer;
	return 0;
}

/* splitmix64: a fast generator for the listing's order, seeded per listing
 * from ChaCha20 under the registry's secret key (libsodium's randombytes is
 * a system call each, ~9 us here). */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t listing_seed(struct um_bootstrap *b)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
	uint64_t seed;

	_Static_assert(sizeof(nonce) == sizeof(b->order_nonce), "one listing, one 64-bit nonce");
	memcpy(nonce, &b->order_nonce, sizeof(nonce));
	b->order_nonce++;
	crypto_stream_chacha20((uint8_t *)&seed, sizeof(seed), nonce, b->order_key);
	return seed;
}

/* The slot of network key in this listing's table (linear probing; the
 * table has at least two slots per entry). */
static struct network_slot *network_slot(struct um_bootstrap *b, uint64_t key, bool *fresh)
{
	uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & b->network_mask;

	while (b->networks[i].gen == b->network_gen && b->networks[i].key != key)
		i = (i + 1) & b->network_mask;
	struct network_slot *slot = &b->networks[i];
	*fresh = slot->gen != b->network_gen;
	return slot;
}

/* One pass groups the live entries by network and picks one of each at
 * random (reservoir sampling); random networks are listed first, one entry
 * each, then random other entries fill up. O(live) whatever the mix: a
 * registry full of one /24 cannot crowd out the other networks. */
size_t um_bootstrap_list(struct um_bootstrap *b, uint64_t now, struct um_bootstrap_peer *out, size_t max)
{
	uint32_t chosen[UM_BOOTSTRAP_LIST_MAX];
	size_t n = 0, live = 0, n_networks = 0;
	uint64_t rng;

	sweep(b, now);
	b->stats.listings++;
	if (max > UM_BOOTSTRAP_LIST_MAX)
		max = UM_BOOTSTRAP_LIST_MAX;
	rng = listing_seed(b);
	if (++b->network_gen == 0) {
		memset(b->networks, 0, ((size_t)b->network_mask + 1) * sizeof(*b->networks));
		b->network_gen = 1;
	}
	/* scratch[0..n_networks): the slots of the networks seen. */
	for (size_t i = 0; i < b->n_entries; i++) {
		const struct entry *e = &b->entries[i];
		bool fresh;
		if (e->peer.expires_ns <= now)
			continue;
		live++;
		struct network_slot *slot = network_slot(b, e->network, &fresh);
		if (fresh) {
			*slot = (struct network_slot){
			    .key = e->network, .count = 1, .pick = (uint32_t)i, .gen = b->network_gen};
			b->scratch[n_networks++] = (uint32_t)(slot - b->networks);
		} else if (next_random(&rng) % ++slot->count == 0) {
			slot->pick = (uint32_t)i;
		}
	}
	/* Random networks first (a partial Fisher-Yates shuffle). */
	for (size_t i = 0; i < n_networks && n < max; i++) {
		size_t j = i + next_random(&rng) % (n_networks - i);
		uint32_t t = b->scratch[j];
		b->scratch[j] = b->scratch[i];
		b->scratch[i] = t;
		chosen[n] = b->networks[t].pick;
		out[n] = b->entries[chosen[n]].peer;
		n++;
	}
	if (n == max || n == live)
		return n;
	/* Fewer networks than slots: random other entries fill up. */
	size_t m = 0, picked = n;
	for (size_t i = 0; i < b->n_entries; i++)
		if (b->entries[i].peer.expires_ns > now)
			b->scratch[m++] = (uint32_t)i;
	for (size_t i = 0; i < m && n < max; i++) {
		size_t j = i + next_random(&rng) % (m - i);
		uint32_t t = b->scratch[j];
		b->scratch[j] = b->scratch[i];
		b->scratch[i] = t;
		bool taken = false;
		for (size_t k = 0; k < picked; k++)
			taken |= chosen[k] == t;
		if (!taken)
			out[n++] = b->entries[t].peer;
	}
	return n;
}
