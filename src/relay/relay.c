/* SPDX-License-Identifier: MIT */
#include "relay/relay.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define NONE         UINT32_MAX
#define NSEC         1000000000ULL
#define NONCE_PROBES 16

struct um_relay_node {
	struct um_peer_id id;
	struct um_addr endpoint; /* family 0 = not bound to any endpoint */
	uint32_t next_by_id;     /* chain in by_id; free-list link when unused */
	uint32_t next_by_endpoint;
	uint8_t key[UM_RELAY_KEY_BYTES]; /* registration MAC key: never on the wire */
	uint64_t last_sequence;          /* newest accepted KEEPALIVE */
	/* Return routability: the endpoint a fresh KEEPALIVE came from and the
	 * challenge sent there; the binding moves only on its MACed echo. */
	struct um_addr pending; /* family 0 = none */
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES];
	uint64_t last_seen_ns;
	uint64_t last_timestamp_ms;    /* newest accepted registration */
	uint64_t packet_tat, byte_tat; /* GCRA theoretical arrival times (ns) */
	uint64_t forwarded_packets, forwarded_bytes, dropped;
	bool used;
};

struct um_relay_nonce {
	uint8_t nonce[UM_RELAY_NONCE_BYTES];
	uint64_t expires_ms; /* 0 = empty slot */
};

void um_relay_default_config(struct um_relay_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_nodes = 65536;
	c->registration_timeout_ns = 90 * NSEC;
	c->keepalive_interval_s = 25;
	c->timestamp_window_ms = 60000;
	c->packets_per_s = 20000;
	c->packet_burst = 2000;
	c->bytes_per_s = 25000000;
	c->byte_burst = 2500000;
	c->verifications_per_s = 500; /* about half a core of hybrid verification */
	c->verification_burst = 100;
	c->prefix_verifications_per_s = 20;
	c->prefix_verification_burst = 20;
	c->errors_per_s = 10000;
	c->error_burst = 1000;
}

/* ---- GCRA: a token bucket kept as one timestamp ----------------------- */

/* Cost in ns of `units` at `rate` units/s; accept if the bucket, after
 * charging, is at most `burst` units ahead of now. Commits only on accept. */
static bool gcra_check(uint64_t tat, uint64_t now, uint64_t cost, uint64_t tolerance, uint64_t *new_tat)
{
	uint64_t start = tat > now ? tat : now;
	if (start + cost > now + tolerance)
		return false;
	*new_tat = start + cost;
	return true;
}

static uint64_t unit_cost(uint64_t units, uint32_t rate)
{
	return rate ? units * NSEC / rate : UINT64_MAX / 4;
}

static bool budget_take(uint64_t *tat, uint64_t now, uint32_t rate, uint32_t burst)
{
	uint64_t cost = unit_cost(1, rate), t;
	if (!gcra_check(*tat, now, cost, cost * (burst ? burst : 1), &t))
		return false;
	*tat = t;
	return true;
}

/* ---- hashing and the two indexes ----------------------------------- */

static uint32_t hash_bytes(const struct um_relay *r, const void *data, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, data, len, r->hash_key);
	uint32_t v;
	memcpy(&v, h, sizeof(v));
	return v & r->bucket_mask;
}

static uint32_t hash_id(const struct um_relay *r, const struct um_peer_id *id)
{
	return hash_bytes(r, id->bytes, UM_PEER_ID_BYTES);
}

static uint32_t hash_endpoint(const struct um_relay *r, const struct um_addr *a)
{
	uint8_t s[UM_ADDR_WIRE_BYTES];
	um_addr_encode(a, s);
	return hash_bytes(r, s, sizeof(s));
}

static uint32_t find_by_id(const struct um_relay *r, const struct um_peer_id *id)
{
	for (uint32_t i = r->by_id[hash_id(r, id)]; i != NONE; i = r->nodes[i].next_by_id)
		if (memcmp(r->nodes[i].id.bytes, id->bytes, UM_PEER_ID_BYTES) == 0)
			return i;
	return NONE;
}

static uint32_t find_by_endpoint(const struct um_relay *r, const struct um_addr *a)
{
	for (uint32_t i = r->by_endpoint[hash_endpoint(r, a)]; i != NONE; i = r->nodes[i].next_by_endpoint)
		if (um_addr_equal(&r->nodes[i].endpoint, a))
			return i;
	return NONE;
}

static void unlink_endpoint(struct um_relay *r, uint32_t index)
{
	struct um_relay_node *n = &r->nodes[index];
	if (n->endpoint.family == 0)
		return;
	uint32_t *link = &r->by_endpoint[hash_endpoint(r, &n->endpoint)];
	while (*link != NONE && *link != index)
		link = &r->nodes[*link].next_by_endpoint;
	if (*link == index)
		*link = n->next_by_endpoint;
	n->next_by_endpoint = NONE;
	memset(&n->endpoint, 0, sizeof(n->endpoint));
}

/* Binds node index to endpoint a, taking it from any other node. */
static void bind_endpoint(struct um_relay *r, uint32_t index, const struct um_addr *a)
{
	struct um_relay_node *n = &r->nodes[index];
	if (n->endpoint.family && um_addr_equal(&n->endpoint, a))
		return;
	uint32_t other = find_by_endpoint(r, a);
	if (other != NONE)
		unlink_endpoint(r, other);
	unlink_endpoint(r, index);
	n->endpoint = *a;
	uint32_t *head = &r->by_endpoint[hash_endpoint(r, a)];
	n->next_by_endpoint = *head;
	*head = index;
}

static void remove_node(struct um_relay *r, uint32_t index)
{
	struct um_relay_node *n = &r->nodes[index];
	unlink_endpoint(r, index);
	uint32_t *link = &r->by_id[hash_id(r, &n->id)];
	while (*link != NONE && *link != index)
		link = &r->nodes[*link].next_by_id;
	if (*link == index)
		*link = n->next_by_id;
	sodium_memzero(n, sizeof(*n));
	n->next_by_endpoint = NONE;
	n->next_by_id = r->free_head;
	r->free_head = index;
	r->count--;
	r->stats.registered = r->count;
}

static bool expired(const struct um_relay *r, const struct um_relay_node *n, uint64_t now)
{
	return now > n->last_seen_ns && now - n->last_seen_ns > r->config.registration_timeout_ns;
}

/* ---- replay cache --------------------------------------------------- */

/* 1 = seen (replay), 0 = recorded, -1 = no room (cache full of live nonces). */
static int nonce_check_and_record(struct um_relay *r, const uint8_t nonce[UM_RELAY_NONCE_BYTES], uint64_t wall_ms,
				  bool record)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, nonce, UM_RELAY_NONCE_BYTES, r->hash_key);
	uint32_t start;
	memcpy(&start, h + 4, sizeof(start));
	uint32_t free_slot = NONE;
	for (uint32_t p = 0; p < NONCE_PROBES; p++) {
		struct um_relay_nonce *s = &r->nonces[(start + p) & r->nonce_mask];
		bool live = s->expires_ms > wall_ms;
		if (live && memcmp(s->nonce, nonce, UM_RELAY_NONCE_BYTES) == 0)
			return 1;
		if (!live && free_slot == NONE)
			free_slot = (start + p) & r->nonce_mask;
	}
	if (!record)
		return 0;
	if (free_slot == NONE)
		return -1;
	memcpy(r->nonces[free_slot].nonce, nonce, UM_RELAY_NONCE_BYTES);
	/* A registration is acceptable for window either side of its
	 * timestamp, so remembering it for twice the window covers replays. */
	r->nonces[free_slot].expires_ms = wall_ms + 2 * r->config.timestamp_window_ms + 1;
	return 0;
}

/* ---- setup ---------------------------------------------------------- */

static int compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, UM_PEER_ID_BYTES);
}

int um_relay_init(struct um_relay *r, const struct um_relay_config *config)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (config)
		r->config = *config;
	else
		um_relay_default_config(&r->config);
	struct um_relay_config *c = &r->config;
	if (c->max_nodes == 0 || c->max_nodes > (1u << 26))
		return -UM_EINVAL;
	uint32_t buckets = 1;
	while (buckets < c->max_nodes)
		buckets <<= 1;
	r->bucket_mask = buckets - 1;
	/* Replay cache: 2 slots per node, at least 1024. */
	uint32_t nonce_slots = buckets * 2 < 1024 ? 1024 : buckets * 2;
	r->nonce_mask = nonce_slots - 1;

	r->nodes = calloc(c->max_nodes, sizeof(*r->nodes));
	r->by_id = malloc(sizeof(uint32_t) * buckets);
	r->by_endpoint = malloc(sizeof(uint32_t) * buckets);
	r->nonces = calloc(nonce_slots, sizeof(*r->nonces));
	r->prefix_verify_tat = calloc(UM_RELAY_PREFIX_BUDGETS, sizeof(*r->prefix_verify_tat));
	if (c->allow_count) {
		r->allow = malloc(sizeof(*r->allow) * c->allow_count);
		if (r->allow) {
			memcpy(r->allow, c->allow, sizeof(*r->allow) * c->allow_count);
			qsort(r->allow, c->allow_count, sizeof(*r->allow), compare_ids);
		}
	}
	c->allow = NULL; /* the caller's array is not kept */
	if (!r->nodes || !r->by_id || !r->by_endpoint || !r->nonces || !r->prefix_verify_tat ||
	    (c->allow_count && !r->allow)) {
		rc = -UM_ENOMEM;
		goto out;
	}
	memset(r->by_id, 0xff, sizeof(uint32_t) * buckets);
	memset(r->by_endpoint, 0xff, sizeof(uint32_t) * buckets);
	for (uint32_t i = 0; i < c->max_nodes; i++) {
		r->nodes[i].next_by_id = i + 1 < c->max_nodes ? i + 1 : NONE;
		r->nodes[i].next_by_endpoint = NONE;
	}
	r->free_head = 0;
	if (c->admission_key) {
		memcpy(r->admission_key, c->admission_key, sizeof(r->admission_key));
		r->has_admission_key = true;
		c->admission_key = NULL;
	}
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	/* REGISTER pieces come in order from one sender: only a first piece
	 * opens a slot, and a full table makes room at the greediest prefix. */
	struct um_reasm_limits limits;
	if (c->reassembly)
		limits = *c->reassembly;
	else
		um_reasm_default_limits(&limits);
	limits.first_piece_only = true;
	limits.evict_when_full = true;
	rc = um_reasm_init(&r->reasm, &limits);
	c->reassembly = NULL;
out:
	if (rc < 0)
		um_relay_destroy(r);
	return rc;
}

void um_relay_destroy(struct um_relay *r)
{
	free(r->nodes);
	free(r->by_id);
	free(r->by_endpoint);
	free(r->nonces);
	free(r->prefix_verify_tat);
	r->prefix_verify_tat = NULL;
	free(r->allow);
	if (r->reasm.slots)
		um_reasm_destroy(&r->reasm);
	sodium_memzero(r->admission_key, sizeof(r->admission_key));
	sodium_memzero(r->hash_key, sizeof(r->hash_key));
	r->nodes = NULL;
	r->by_id = r->by_endpoint = NULL;
	r->nonces = NULL;
	r->allow = NULL;
}

size_t um_relay_memory_bytes(const struct um_relay *r)
{
	size_t buckets = (size_t)r->bucket_mask + 1;
	return (size_t)r->config.max_nodes * sizeof(struct um_relay_node) + 2 * buckets * sizeof(uint32_t) +
	       ((size_t)r->nonce_mask + 1) * sizeof(struct um_relay_nonce) +
	       r->config.allow_count * sizeof(struct um_peer_id) + UM_RELAY_PREFIX_BUDGETS * sizeof(uint64_t) +
	       r->reasm.limits.max_slots * 64 /* reassembler slot headers, approx. */;
}

/* ---- replies -------------------------------------------------------- */

static int send_error(struct um_relay *r, const struct um_addr *to, uint8_t code, const uint8_t *ref, size_t ref_len,
		      uint64_t now, struct um_relay_output *out)
{
	struct um_relay_error e = {.code = code};
	if (!budget_take(&r->error_tat, now, r->config.errors_per_s, r->config.error_burst)) {
		r->stats.errors_suppressed++;
		return 0;
	}
	if (ref)
		memcpy(e.ref, ref, ref_len < sizeof(e.ref) ? ref_len : sizeof(e.ref));
	if (code == UM_RELAY_ERR_RATE_LIMITED)
		e.retry_after_s = 1;
	int n = um_relay_error_encode(r->reply, sizeof(r->reply), &e);
	if (n < 0)
		return 0;
	r->stats.errors_sent++;
	out->to = *to;
	out->data = r->reply;
	out->len = (size_t)n;
	return 1;
}

/* ---- REGISTER ------------------------------------------------------- */

/* The verification budget of from's IPv4 /24 or IPv6 /64. */
static uint64_t *prefix_budget(struct um_relay *r, const struct um_addr *from)
{
	uint8_t key[9] = {from->family};
	memcpy(key + 1, from->addr, from->family == 4 ? 3 : 8);
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, key, sizeof(key), r->hash_key);
	uint32_t v;
	memcpy(&v, h, sizeof(v));
	return &r->prefix_verify_tat[v % UM_RELAY_PREFIX_BUDGETS];
}

static bool admitted(const struct um_relay *r, const struct um_relay_register *m, const uint8_t *in)
{
	if (r->config.allow_count && !bsearch(&m->id, r->allow, r->config.allow_count, sizeof(*r->allow), compare_ids))
		return false;
	if (r->has_admission_key && um_relay_register_check_admission(m, in, r->admission_key) != 0)
		return false;
	return true;
}

static int handle_register(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
			   uint64_t wall_ms, struct um_relay_output *out)
{
	struct um_relay_register m;
	uint8_t key_buf[UM_HSIG_PK_BYTES];
	const uint8_t *key;

	int rc = um_relay_register_decode(&m, in, len);
	if (rc == -UM_EVERSION) {
		/* An old (or newer) node: say so rather than stay silent. */
		r->stats.reg_version++;
		return send_error(r, from, UM_RELAY_ERR_VERSION, m.nonce, sizeof(m.nonce), now, out);
	}
	if (rc != 0) {
		r->stats.reg_malformed++;
		return 0; /* garbage gets no answer */
	}
	uint64_t skew = m.timestamp_ms > wall_ms ? m.timestamp_ms - wall_ms : wall_ms - m.timestamp_ms;
	if (skew > r->config.timestamp_window_ms) {
		r->stats.reg_stale++;
		return send_error(r, from, UM_RELAY_ERR_BAD_REGISTRATION, m.nonce, sizeof(m.nonce), now, out);
	}
	if (!admitted(r, &m, in)) {
		r->stats.reg_not_admitted++;
		return send_error(r, from, UM_RELAY_ERR_NOT_ADMITTED, m.nonce, sizeof(m.nonce), now, out);
	}
	uint32_t index = find_by_id(r, &m.id);
	if (nonce_check_and_record(r, m.nonce, wall_ms, false) == 1 ||
	    (index != NONE && m.timestamp_ms <= r->nodes[index].last_timestamp_ms)) {
		r->stats.reg_replay++;
		return send_error(r, from, UM_RELAY_ERR_BAD_REGISTRATION, m.nonce, sizeof(m.nonce), now, out);
	}
	if (index == NONE && r->count >= r->config.max_nodes) {
		r->stats.reg_full++;
		return send_error(r, from, UM_RELAY_ERR_FULL, m.nonce, sizeof(m.nonce), now, out);
	}
	if (m.public_key) {
		key = m.public_key;
	} else if (r->config.key_lookup && r->config.key_lookup(r->config.key_lookup_arg, &m.id, key_buf) == 0) {
		key = key_buf;
	} else {
		r->stats.reg_need_key++;
		return send_error(r, from, UM_RELAY_ERR_NEED_KEY, m.nonce, sizeof(m.nonce), now, out);
	}
	/* The ID must be the key's hash before any budget is spent: a forged
	 * ID (an allow-listed one with the sender's own key) costs one hash. */
	struct um_peer_id key_id;
	um_peer_id_from_public_key(&key_id, key);
	if (sodium_memcmp(key_id.bytes, m.id.bytes, UM_PEER_ID_BYTES) != 0) {
		r->stats.reg_bad_id++;
		return send_error(r, from, UM_RELAY_ERR_BAD_REGISTRATION, m.nonce, sizeof(m.nonce), now, out);
	}
	/* Everything cheap has passed; now the expensive part, budgeted per
	 * source prefix first (so one site cannot drain the global budget). */
	if (!budget_take(prefix_budget(r, from), now, r->config.prefix_verifications_per_s,
			 r->config.prefix_verification_burst)) {
		r->stats.reg_prefix_rate_limited++;
		r->stats.reg_rate_limited++;
		return send_error(r, from, UM_RELAY_ERR_RATE_LIMITED, m.nonce, sizeof(m.nonce), now, out);
	}
	if (!budget_take(&r->verify_tat, now, r->config.verifications_per_s, r->config.verification_burst)) {
		r->stats.reg_rate_limited++;
		return send_error(r, from, UM_RELAY_ERR_RATE_LIMITED, m.nonce, sizeof(m.nonce), now, out);
	}
	if (um_relay_register_verify(&m, in, key) != 0) {
		r->stats.reg_bad_signature++;
		return send_error(r, from, UM_RELAY_ERR_BAD_REGISTRATION, m.nonce, sizeof(m.nonce), now, out);
	}
	if (nonce_check_and_record(r, m.nonce, wall_ms, true) != 0) {
		r->stats.reg_replay_cache_full++;
		return send_error(r, from, UM_RELAY_ERR_RATE_LIMITED, m.nonce, sizeof(m.nonce), now, out);
	}
	/* Our half of the key exchange; the secret lives only for this call. */
	uint8_t secret[UM_RELAY_X25519_BYTES], mac_key[UM_RELAY_KEY_BYTES];
	struct um_relay_register_ack ack = {
	    .keepalive_interval_s = r->config.keepalive_interval_s,
	    .observed = *from,
	    .registration_timeout_s = (uint16_t)(r->config.registration_timeout_ns / NSEC),
	    .max_payload = UM_RELAY_MAX_PAYLOAD,
	    .max_packets_per_s = r->config.packets_per_s,
	    .max_bytes_per_s = r->config.bytes_per_s,
	};
	randombytes_buf(secret, sizeof(secret));
	crypto_scalarmult_base(ack.ephemeral, secret);
	rc = um_relay_registration_key(mac_key, secret, m.ephemeral, m.ephemeral, ack.ephemeral, m.nonce, &m.id);
	sodium_memzero(secret, sizeof(secret));
	if (rc != 0) {
		sodium_memzero(mac_key, sizeof(mac_key));
		r->stats.reg_bad_signature++; /* signed, but a low-order key */
		return send_error(r, from, UM_RELAY_ERR_BAD_REGISTRATION, m.nonce, sizeof(m.nonce), now, out);
	}

	struct um_relay_node *n;
	if (index == NONE) {
		index = r->free_head;
		n = &r->nodes[index];
		r->free_head = n->next_by_id;
		memset(n, 0, sizeof(*n));
		n->used = true;
		n->id = m.id;
		n->next_by_endpoint = NONE;
		uint32_t *head = &r->by_id[hash_id(r, &m.id)];
		n->next_by_id = *head;
		*head = index;
		r->count++;
		r->stats.registered = r->count;
		r->stats.registrations++;
	} else {
		n = &r->nodes[index];
		r->stats.reregistrations++;
	}
	/* A REGISTER does not prove its source address (it may be spoofed
	 * with any admitted identity): a live binding stays where it is, and
	 * the source is only a candidate until the first KEEPALIVE from there
	 * echoes the ACK's challenge. */
	memcpy(n->key, mac_key, sizeof(n->key));
	sodium_memzero(mac_key, sizeof(mac_key));
	n->last_sequence = 0;
	n->pending = *from;
	randombytes_buf(n->challenge, sizeof(n->challenge));
	n->last_timestamp_ms = m.timestamp_ms;
	n->last_seen_ns = now;
	memcpy(ack.challenge, n->challenge, sizeof(ack.challenge));
	memcpy(ack.nonce, m.nonce, sizeof(ack.nonce));
	int len_ack = um_relay_register_ack_encode(r->reply, sizeof(r->reply), &ack, n->key);
	if (len_ack < 0)
		return 0;
	out->to = *from;
	out->data = r->reply;
	out->len = (size_t)len_ack;
	return 1;
}

static int handle_fragment(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
			   uint64_t wall_ms, struct um_relay_output *out)
{
	struct um_fragment frag;
	/* A REGISTER is one of two exact sizes (with or without the public
	 * key) and is addressed to no state (receiver index 0). */
	if (um_fragment_decode(&frag, in, len) != 0 || frag.msg_type != UM_MSG_RELAY_REGISTER ||
	    frag.receiver_index != 0 ||
	    (frag.total_len != UM_RELAY_REGISTER_MIN_BYTES && frag.total_len != UM_RELAY_REGISTER_MAX_BYTES &&
	     frag.total_len != UM_RELAY_V1_REGISTER_MIN_BYTES && frag.total_len != UM_RELAY_V1_REGISTER_MAX_BYTES)) {
		r->stats.fragments_rejected++;
		return 0;
	}
	int n = um_reasm_add(&r->reasm, from, &frag, now, r->register_buf, sizeof(r->register_buf));
	if (n < 0) {
		r->stats.fragments_rejected++;
		return 0;
	}
	r->stats.fragments_buffered++;
	if (n == 0)
		return 0;
	return handle_register(r, from, r->register_buf, (size_t)n, now, wall_ms, out);
}

/* ---- KEEPALIVE ------------------------------------------------------ */

static int reply_keepalive(struct um_relay *r, struct um_relay_node *n, struct um_relay_keepalive *k,
			   const struct um_addr *from, bool challenge, struct um_relay_output *out)
{
	k->flags = UM_RELAY_KEEPALIVE_FLAG_REPLY;
	memset(k->challenge, 0, sizeof(k->challenge));
	if (challenge) {
		k->flags |= UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
		memcpy(k->challenge, n->challenge, sizeof(k->challenge));
	}
	k->observed = *from;
	int m = um_relay_keepalive_encode(r->reply, sizeof(r->reply), k, n->key);
	if (m < 0)
		return 0;
	out->to = *from;
	out->data = r->reply;
	out->len = (size_t)m;
	return 1;
}

static int handle_keepalive(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
			    struct um_relay_output *out)
{
	struct um_relay_keepalive k;
	int rc = um_relay_keepalive_decode(&k, in, len);
	if (rc == -UM_EVERSION) {
		/* Told only at version 1's size (72 bytes): never a reply
		 * larger than its cause. */
		r->stats.drop_malformed++;
		if (len != UM_RELAY_V1_KEEPALIVE_BYTES)
			return 0;
		return send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out);
	}
	if (rc != 0 || (k.flags & UM_RELAY_KEEPALIVE_FLAG_REPLY)) {
		r->stats.drop_malformed++;
		return 0;
	}
	uint32_t index = find_by_id(r, &k.id);
	struct um_relay_node *n = index != NONE ? &r->nodes[index] : NULL;
	if (n && expired(r, n, now)) {
		remove_node(r, index);
		r->stats.expired++;
		n = NULL;
	}
	if (!n) {
		/* The ref proves to the node that we saw its keepalive, which an
		 * off-path sender of a forged NOT_REGISTERED cannot. */
		uint8_t hash[UM_RELAY_HASH_BYTES];
		um_relay_datagram_hash(hash, in, len);
		r->stats.keepalive_unknown++;
		return send_error(r, from, UM_RELAY_ERR_NOT_REGISTERED, hash, sizeof(hash), now, out);
	}
	/* Forged, or for an older registration: silence (the node notices
	 * missing replies and registers again). Replays are not fresh. */
	if (um_relay_mac_check(in, len, n->key) != 0) {
		r->stats.keepalive_bad_mac++;
		return 0;
	}
	if (k.sequence <= n->last_sequence) {
		r->stats.keepalive_stale++;
		return 0;
	}
	uint64_t t;
	if (!gcra_check(n->packet_tat, now, unit_cost(1, r->config.packets_per_s),
			unit_cost(r->config.packet_burst, r->config.packets_per_s), &t)) {
		r->stats.drop_rate_limited_packets++;
		n->dropped++;
		return 0;
	}
	n->packet_tat = t;
	n->last_sequence = k.sequence;
	n->last_seen_ns = now;
	r->stats.keepalives++;
	if (n->endpoint.family && um_addr_equal(&n->endpoint, from))
		return reply_keepalive(r, n, &k, from, false, out);
	/* From elsewhere: move only when this is the echo of the challenge
	 * sent to exactly this endpoint, else challenge it (the reply goes
	 * there, so only a node receiving there can echo). */
	if (n->pending.family && um_addr_equal(&n->pending, from) && (k.flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) &&
	    sodium_memcmp(k.challenge, n->challenge, sizeof(k.challenge)) == 0) {
		if (n->endpoint.family)
			r->stats.rebinds++;
		bind_endpoint(r, index, from);
		memset(&n->pending, 0, sizeof(n->pending));
		randombytes_buf(n->challenge, sizeof(n->challenge)); /* single use */
		return reply_keepalive(r, n, &k, from, false, out);
	}
	n->pending = *from;
	randombytes_buf(n->challenge, sizeof(n->challenge));
	r->stats.challenges_sent++;
	return reply_keepalive(r, n, &k, from, true, out);
}

/* ---- FORWARD: the hot path ----------------------------------------- */

static int handle_forward(struct um_relay *r, const struct um_addr *from, uint8_t *in, size_t len, uint64_t now,
			  struct um_relay_output *out)
{
	if (len <= UM_RELAY_FORWARD_HEADER_BYTES || len > UM_RELAY_MAX_DATAGRAM || in[1] | in[2] | in[3]) {
		r->stats.drop_malformed++;
		return 0;
	}
	uint32_t src_index = find_by_endpoint(r, from);
	if (src_index == NONE) {
		r->stats.drop_not_registered++;
		return send_error(r, from, UM_RELAY_ERR_NOT_REGISTERED, NULL, 0, now, out);
	}
	struct um_relay_node *src = &r->nodes[src_index];
	uint64_t pt, bt;
	if (!gcra_check(src->packet_tat, now, unit_cost(1, r->config.packets_per_s),
			unit_cost(r->config.packet_burst, r->config.packets_per_s), &pt)) {
		r->stats.drop_rate_limited_packets++;
		src->dropped++;
		return 0;
	}
	if (!gcra_check(src->byte_tat, now, unit_cost(len, r->config.bytes_per_s),
			unit_cost(r->config.byte_burst, r->config.bytes_per_s), &bt)) {
		r->stats.drop_rate_limited_bytes++;
		src->dropped++;
		return 0;
	}
	src->packet_tat = pt;
	src->byte_tat = bt;
	src->last_seen_ns = now;

	struct um_peer_id dest_id;
	memcpy(dest_id.bytes, in + 4, UM_PEER_ID_BYTES);
	uint32_t dst_index = find_by_id(r, &dest_id);
	struct um_relay_node *dst = dst_index != NONE ? &r->nodes[dst_index] : NULL;
	if (dst && expired(r, dst, now)) {
		remove_node(r, dst_index);
		r->stats.expired++;
		dst = NULL;
	}
	if (!dst || dst->endpoint.family == 0) {
		r->stats.drop_unknown_peer++;
		src->dropped++;
		return send_error(r, from, UM_RELAY_ERR_UNKNOWN_PEER, dest_id.bytes, sizeof(dest_id.bytes), now, out);
	}
	if (dst == src) {
		r->stats.drop_to_self++;
		src->dropped++;
		return 0;
	}
	/* FORWARD -> FORWARDED in place: same size, source ID instead. */
	in[0] = UM_MSG_RELAY_FORWARDED;
	memcpy(in + 4, src->id.bytes, UM_PEER_ID_BYTES);
	src->forwarded_packets++;
	src->forwarded_bytes += len;
	r->stats.forwarded_packets++;
	r->stats.forwarded_bytes += len;
	out->to = dst->endpoint;
	out->data = in;
	out->len = len;
	return 1;
}

int um_relay_input(struct um_relay *r, const struct um_addr *from, uint8_t *datagram, size_t len, uint64_t now_ns,
		   uint64_t wall_ms, struct um_relay_output *out)
{
	if (len == 0) {
		r->stats.drop_malformed++;
		return 0;
	}
	switch (datagram[0]) {
	case UM_MSG_RELAY_FORWARD:
		return handle_forward(r, from, datagram, len, now_ns, out);
	case UM_MSG_RELAY_KEEPALIVE:
		return handle_keepalive(r, from, datagram, len, now_ns, out);
	case UM_MSG_FRAGMENT:
		return handle_fragment(r, from, datagram, len, now_ns, wall_ms, out);
	case UM_MSG_RELAY_REGISTER:
		return handle_register(r, from, datagram, len, now_ns, wall_ms, out);
	default:
		r->stats.drop_unknown_type++;
		return 0;
	}
}

unsigned um_relay_expire(struct um_relay *r, uint64_t now_ns, uint32_t budget)
{
	unsigned removed = 0;
	uint32_t total = r->config.max_nodes;
	if (budget == 0 || budget > total)
		budget = total;
	for (uint32_t k = 0; k < budget; k++) {
		uint32_t i = r->sweep_cursor;
		r->sweep_cursor = i + 1 < total ? i + 1 : 0;
		if (r->nodes[i].used && expired(r, &r->nodes[i], now_ns)) {
			remove_node(r, i);
			removed++;
		}
	}
	r->stats.expired += removed;
	um_reasm_expire(&r->reasm, now_ns);
	return removed;
}

int um_relay_lookup(const struct um_relay *r, const struct um_peer_id *id, struct um_relay_node_info *info)
{
	uint32_t index = find_by_id(r, id);
	if (index == NONE)
		return -UM_ENOTFOUND;
	const struct um_relay_node *n = &r->nodes[index];
	info->endpoint = n->endpoint;
	info->pending = n->pending;
	info->last_seen_ns = n->last_seen_ns;
	info->forwarded_packets = n->forwarded_packets;
	info->forwarded_bytes = n->forwarded_bytes;
	info->dropped = n->dropped;
	return 0;
}
