/* SPDX-License-Identifier: MIT */
/* The bootstrap registry (bootstrap.h): challenges, registrations, their
 * expiry, listings. Two compact arrays (live items first, a removal moves
 * the last one into the hole), scanned linearly: the caps keep a scan to a
 * few microseconds, well below the signature check every write pays. */
#include "dht/bootstrap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hybrid.h"
#include "session/ratelimit.h"
#include "util/buf.h"
#include "util/error.h"

#define NSEC_PER_SEC 1000000000ULL

/* Expired items are swept at most this often (lookups check expiry anyway). */
#define SWEEP_INTERVAL_NS NSEC_PER_SEC
/* A listing draws at most this many candidates per slot before it settles
 * for nodes of networks already listed: bounded work however the registry
 * is populated. */
enum { LIST_DRAWS_PER_SLOT = 8 };

struct challenge {
	uint8_t bytes[UM_BOOTSTRAP_CHALLENGE_BYTES];
	struct um_addr source; /* port 0 */
	uint64_t expires_ns;
};

struct entry {
	struct um_bootstrap_peer peer;
	uint8_t public_key[UM_HSIG_PK_BYTES]; /* verified at registration */
};

struct um_bootstrap {
	struct um_bootstrap_config config;
	struct challenge *challenges; /* owned; n_challenges live */
	size_t n_challenges;
	struct entry *entries; /* owned; n_entries live */
	size_t n_entries;
	uint32_t *scratch; /* owned; max_registrations indices for listings */
	struct um_ratelimiter rate;
	struct um_token_bucket verify;
	uint64_t next_sweep_ns;
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
	    !c->rate_entries || !c->verifications_per_s || !c->verification_burst) {
		r = -UM_EINVAL;
		goto out;
	}
	b->challenges = calloc(c->max_challenges, sizeof(*b->challenges));
	b->entries = calloc(c->max_registrations, sizeof(*b->entries));
	b->scratch = calloc(c->max_registrations, sizeof(*b->scratch));
	if (!b->challenges || !b->entries || !b->scratch)
		goto out;
	r = um_ratelimit_init(&b->rate, c->rate_entries, c->requests_per_s, c->request_burst);
	if (r)
		goto out;
	r = um_token_bucket_init(&b->verify, c->verifications_per_s, c->verification_burst);
	if (r) {
		um_ratelimit_destroy(&b->rate);
		goto out;
	}
	*out = b;
	return 0;
out:
	free(b->challenges);
	free(b->entries);
	free(b->scratch);
	free(b);
	return r;
}

void um_bootstrap_free(struct um_bootstrap *b)
{
	if (!b)
		return;
	um_ratelimit_destroy(&b->rate);
	/* Nothing secret inside: challenges are public, keys are public keys. */
	free(b->challenges);
	free(b->entries);
	free(b->scratch);
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

static void challenge_remove(struct um_bootstrap *b, size_t i)
{
	b->challenges[i] = b->challenges[--b->n_challenges];
}

static void entry_remove(struct um_bootstrap *b, size_t i)
{
	if (i != b->n_entries - 1)
		b->entries[i] = b->entries[b->n_entries - 1];
	b->n_entries--;
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
		if (um_addr_same_host(&b->challenges[i].source, source) && b->challenges[i].expires_ns > now)
			mine++;
	if (mine >= b->config.challenges_per_source) {
		b->stats.challenge_refused++;
		return -UM_ELIMIT;
	}
	if (b->n_challenges >= b->config.max_challenges)
		um_bootstrap_expire(b, now);
	if (b->n_challenges >= b->config.max_challenges) {
		b->stats.challenge_full++;
		return -UM_ENOMEM;
	}
	struct challenge *c = &b->challenges[b->n_challenges++];
	randombytes_buf(c->bytes, sizeof(c->bytes));
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

static struct entry *entry_find(struct um_bootstrap *b, const struct um_peer_id *id, uint64_t now, size_t *index)
{
	for (size_t i = 0; i < b->n_entries; i++)
		if (!memcmp(&b->entries[i].peer.id, id, sizeof(*id))) {
			if (b->entries[i].peer.expires_ns <= now)
				return NULL;
			if (index)
				*index = i;
			return &b->entries[i];
		}
	return NULL;
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
	for (size_t i = 0; i < b->n_challenges; i++) {
		struct challenge *c = &b->challenges[i];
		if (sodium_memcmp(c->bytes, bytes, sizeof(c->bytes)))
			continue;
		bool ok = c->expires_ns > now && um_addr_same_host(&c->source, source);
		/* Consumed either way: one challenge, one verification attempt. */
		if (ok || c->expires_ns <= now)
			challenge_remove(b, i);
		return ok ? 0 : -UM_EREPLAY;
	}
	return -UM_EREPLAY;
}

static size_t registrations_from(const struct um_bootstrap *b, const struct um_addr *source)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n_entries; i++)
		if (um_addr_same_host(&b->entries[i].peer.observed, source))
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
		if ((!e || !um_addr_same_host(&e->peer.observed, source)) &&
		    registrations_from(b, source) >= b->config.registrations_per_source) {
			b->stats.source_full++;
			return -UM_ELIMIT;
		}
	} else {
		if (!e) {
			b->stats.unknown_peer++;
			return -UM_ENOTFOUND;
		}
		key = e->public_key;
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
			/* entry_find may have skipped an expired slot of this ID. */
			for (size_t i = 0; i < b->n_entries; i++)
				if (!memcmp(&b->entries[i].peer.id, &q->id, sizeof(q->id)))
					e = &b->entries[i];
			if (!e)
				e = &b->entries[b->n_entries++];
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
		memcpy(e->public_key, q->public_key, UM_HSIG_PK_BYTES);
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

static bool network_listed(const struct um_addr_prefix *nets, size_t n, const struct um_addr_prefix *net)
{
	for (size_t i = 0; i < n; i++)
		if (um_addr_prefix_equal(&nets[i], net))
			return true;
	return false;
}

size_t um_bootstrap_list(struct um_bootstrap *b, uint64_t now, struct um_bootstrap_peer *out, size_t max)
{
	struct um_addr_prefix nets[UM_BOOTSTRAP_LIST_MAX];
	uint32_t spare[UM_BOOTSTRAP_LIST_MAX]; /* live, of a network already listed */
	size_t n = 0, n_spare = 0, live = 0, draws;

	sweep(b, now);
	b->stats.listings++;
	if (max > UM_BOOTSTRAP_LIST_MAX)
		max = UM_BOOTSTRAP_LIST_MAX;
	for (size_t i = 0; i < b->n_entries; i++)
		if (b->entries[i].peer.expires_ns > now)
			b->scratch[live++] = (uint32_t)i;
	draws = max * LIST_DRAWS_PER_SLOT;
	/* A partial Fisher-Yates shuffle: candidates come in random order. */
	for (size_t i = 0; i < live && n < max && i < draws; i++) {
		size_t j = i + randombytes_uniform((uint32_t)(live - i));
		uint32_t pick = b->scratch[j];
		b->scratch[j] = b->scratch[i];
		b->scratch[i] = pick;
		const struct um_bootstrap_peer *p = &b->entries[pick].peer;
		struct um_addr_prefix net = {0};
		if (um_addr_network(&p->observed, 24, 48, &net) == 0 && network_listed(nets, n, &net)) {
			if (n_spare < UM_BOOTSTRAP_LIST_MAX)
				spare[n_spare++] = pick;
			continue;
		}
		nets[n] = net;
		out[n++] = *p;
	}
	for (size_t i = 0; i < n_spare && n < max; i++)
		out[n++] = b->entries[spare[i]].peer;
	return n;
}
