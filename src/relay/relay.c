/* SPDX-License-Identifier: MIT */
#include "relay/relay.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "session/handshake.h"
#include "util/error.h"

#define NONE UINT32_MAX
#define NSEC 1000000000ULL

struct um_relay_node {
	struct um_peer_id id;
	struct um_addr endpoint; /* family 0 = not bound to any endpoint */
	uint32_t next_by_id;     /* chain in by_id; free-list link when unused */
	uint32_t next_by_endpoint;
	uint32_t next_by_index;
	struct um_handshake_peer *hs_peer; /* the engine's entry for this node */
	/* The session of the node's last handshake: sealed control messages. */
	bool has_session, registered;
	uint32_t local_index, remote_index;
	uint8_t send_key[UM_RELAY_KEY_BYTES], recv_key[UM_RELAY_KEY_BYTES];
	uint64_t send_counter;
	struct um_relay_window window;
	uint64_t last_sequence; /* newest accepted KEEPALIVE */
	/* Return routability: the endpoint a fresh KEEPALIVE came from and the
	 * challenge sent there; the binding moves only on its sealed echo. */
	struct um_addr pending; /* family 0 = none */
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES];
	uint64_t last_seen_ns;
	uint64_t packet_tat, byte_tat; /* GCRA theoretical arrival times (ns) */
	uint64_t forwarded_packets, forwarded_bytes, dropped;
	bool used;
};

void um_relay_default_config(struct um_relay_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_nodes = 65536;
	c->registration_timeout_ns = 90 * NSEC;
	c->keepalive_interval_s = 25;
	c->packets_per_s = 20000;
	c->packet_burst = 2000;
	c->bytes_per_s = 25000000;
	c->byte_burst = 2500000;
	c->verifications_per_s = 500; /* about half a core of hybrid verification */
	c->verification_burst = 100;
	c->prefix_verifications_per_s = 40;
	c->prefix_verification_burst = 40;
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

static uint32_t hash_index(const struct um_relay *r, uint32_t index)
{
	return hash_bytes(r, &index, sizeof(index));
}

static uint32_t find_by_index(const struct um_relay *r, uint32_t session_index)
{
	for (uint32_t i = r->by_index[hash_index(r, session_index)]; i != NONE; i = r->nodes[i].next_by_index)
		if (r->nodes[i].has_session && r->nodes[i].local_index == session_index)
			return i;
	return NONE;
}

static void unlink_index(struct um_relay *r, uint32_t index)
{
	struct um_relay_node *n = &r->nodes[index];
	if (!n->has_session)
		return;
	uint32_t *link = &r->by_index[hash_index(r, n->local_index)];
	while (*link != NONE && *link != index)
		link = &r->nodes[*link].next_by_index;
	if (*link == index)
		*link = n->next_by_index;
	n->next_by_index = NONE;
	n->has_session = false;
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
	unlink_index(r, index);
	if (n->hs_peer)
		um_handshake_peer_remove(r->hs, n->hs_peer);
	uint32_t *link = &r->by_id[hash_id(r, &n->id)];
	while (*link != NONE && *link != index)
		link = &r->nodes[*link].next_by_id;
	if (*link == index)
		*link = n->next_by_id;
	sodium_memzero(n, sizeof(*n));
	n->next_by_endpoint = n->next_by_index = NONE;
	n->next_by_id = r->free_head;
	r->free_head = index;
	r->count--;
	r->stats.registered = r->count;
}

static bool expired(const struct um_relay *r, const struct um_relay_node *n, uint64_t now)
{
	return now > n->last_seen_ns && now - n->last_seen_ns > r->config.registration_timeout_ns;
}

/* ---- setup ---------------------------------------------------------- */

static int compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, UM_PEER_ID_BYTES);
}

static int admit(void *ctx, const struct um_peer_id *id, struct um_handshake_peer *peer, void **user);

int um_relay_init(struct um_relay *r, const struct um_relay_config *config)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (config)
		r->config = *config;
	else
		um_relay_default_config(&r->config);
	struct um_relay_config *c = &r->config;
	if (c->max_nodes == 0 || c->max_nodes > (1u << 26) || !c->identity)
		return -UM_EINVAL;
	uint32_t buckets = 1;
	while (buckets < c->max_nodes)
		buckets <<= 1;
	r->bucket_mask = buckets - 1;

	r->nodes = calloc(c->max_nodes, sizeof(*r->nodes));
	r->by_id = malloc(sizeof(uint32_t) * buckets);
	r->by_endpoint = malloc(sizeof(uint32_t) * buckets);
	r->by_index = malloc(sizeof(uint32_t) * buckets);
	r->hs_out = calloc(1, sizeof(*r->hs_out));
	if (c->allow_count) {
		r->allow = malloc(sizeof(*r->allow) * c->allow_count);
		if (r->allow) {
			memcpy(r->allow, c->allow, sizeof(*r->allow) * c->allow_count);
			qsort(r->allow, c->allow_count, sizeof(*r->allow), compare_ids);
		}
	}
	c->allow = NULL; /* the caller's array is not kept */
	if (!r->nodes || !r->by_id || !r->by_endpoint || !r->by_index || !r->hs_out ||
	    (c->allow_count && !r->allow)) {
		rc = -UM_ENOMEM;
		goto out;
	}
	memset(r->by_id, 0xff, sizeof(uint32_t) * buckets);
	memset(r->by_endpoint, 0xff, sizeof(uint32_t) * buckets);
	memset(r->by_index, 0xff, sizeof(uint32_t) * buckets);
	for (uint32_t i = 0; i < c->max_nodes; i++) {
		r->nodes[i].next_by_id = i + 1 < c->max_nodes ? i + 1 : NONE;
		r->nodes[i].next_by_endpoint = r->nodes[i].next_by_index = NONE;
	}
	r->free_head = 0;
	if (c->admission_key) {
		memcpy(r->admission_key, c->admission_key, sizeof(r->admission_key));
		r->has_admission_key = true;
		c->admission_key = NULL;
	}
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	/* Registrations are handshakes with the relay as responder; nodes it
	 * has never seen are admitted by admit() below. */
	struct um_handshake_config hc = {
	    .identity = c->identity,
	    /* Done states linger 5 s (a lost ESTABLISHED is resent from them):
	     * room for ~50 registrations a second before recycling. */
	    .max_pending = 256,
	    .load_threshold = 32,
	    .challenges_per_second = c->verifications_per_s,
	    .challenge_burst = c->verification_burst,
	    .prefix_hello_per_second = c->prefix_verifications_per_s,
	    .prefix_hello_burst = c->prefix_verification_burst,
	    .admit = admit,
	    .admit_ctx = r,
	    /* The node cap is admit()'s to enforce (and count); the engine's
	     * own cap only backs it up. */
	    .max_admitted = c->max_nodes + 16,
	};
	rc = um_handshake_engine_new(&r->hs, &hc);
out:
	if (rc < 0)
		um_relay_destroy(r);
	return rc;
}

void um_relay_destroy(struct um_relay *r)
{
	if (r->nodes)
		sodium_memzero(r->nodes, sizeof(*r->nodes) * r->config.max_nodes); /* session keys */
	free(r->nodes);
	free(r->by_id);
	free(r->by_endpoint);
	free(r->by_index);
	free(r->allow);
	um_handshake_engine_free(r->hs);
	if (r->hs_out) {
		um_handshake_output_wipe(r->hs_out);
		free(r->hs_out);
	}
	sodium_memzero(r->admission_key, sizeof(r->admission_key));
	sodium_memzero(r->hash_key, sizeof(r->hash_key));
	r->nodes = NULL;
	r->by_id = r->by_endpoint = r->by_index = NULL;
	r->allow = NULL;
	r->hs = NULL;
	r->hs_out = NULL;
}

size_t um_relay_memory_bytes(const struct um_relay *r)
{
	size_t buckets = (size_t)r->bucket_mask + 1;
	/* The handshake engine: its pending table and one peer entry (~200
	 * bytes) per registered node, approximately. */
	return (size_t)r->config.max_nodes * sizeof(struct um_relay_node) + 3 * buckets * sizeof(uint32_t) +
	       r->config.allow_count * sizeof(struct um_peer_id) + (size_t)r->count * 256 + 64 * 13000;
}

/* ---- replies -------------------------------------------------------- */

static int output_one(struct um_relay_output *out, const struct um_addr *to, const uint8_t *data, size_t len)
{
	out->to = *to;
	out->data = out->datagrams[0] = data;
	out->len = out->lengths[0] = len;
	out->count = 1;
	return 1;
}

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
	return output_one(out, to, r->reply, (size_t)n);
}

/* ---- RELAY_ID: who we are, for a node that did not pin us ---------- */

static int handle_id(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
		     struct um_relay_output *out)
{
	struct um_relay_id_msg m;
	int rc = um_relay_id_decode(&m, in, len);

	if (rc == -UM_EVERSION) {
		/* A version 2 REGISTER piece or whole message: say so. */
		r->stats.reg_version++;
		return len >= UM_RELAY_ERROR_BYTES ? send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out) : 0;
	}
	if (rc != 0 || m.reply) {
		r->stats.drop_malformed++;
		return 0;
	}
	/* The reply is the request's size: no amplification; the error budget
	 * bounds how many we answer. */
	if (!budget_take(&r->error_tat, now, r->config.errors_per_s, r->config.error_burst)) {
		r->stats.errors_suppressed++;
		return 0;
	}
	r->stats.id_requests++;
	m.reply = true;
	m.id = r->config.identity->id;
	int n = um_relay_id_encode(r->reply, sizeof(r->reply), &m);
	return n < 0 ? 0 : output_one(out, from, r->reply, (size_t)n);
}

/* ---- registration handshakes ------------------------------------------ */

/* The engine met an initiator it does not know, with a verified signature:
 * admit it when the allow-list and the node cap let us, opening its table
 * entry now (unbound, no session yet), so an entry and the engine's peer
 * always come and go together. */
static int admit(void *ctx, const struct um_peer_id *id, struct um_handshake_peer *peer, void **user)
{
	struct um_relay *r = ctx;

	if (r->config.allow_count && !bsearch(id, r->allow, r->config.allow_count, sizeof(*r->allow), compare_ids)) {
		r->stats.reg_not_admitted++;
		return -UM_EPERM;
	}
	if (r->count >= r->config.max_nodes || r->free_head == NONE || find_by_id(r, id) != NONE) {
		r->stats.reg_full++;
		return -UM_ELIMIT;
	}
	uint32_t index = r->free_head;
	struct um_relay_node *n = &r->nodes[index];
	r->free_head = n->next_by_id;
	memset(n, 0, sizeof(*n));
	n->used = true;
	n->id = *id;
	n->hs_peer = peer;
	n->next_by_endpoint = n->next_by_index = NONE;
	n->last_seen_ns = r->now_ns;
	uint32_t *head = &r->by_id[hash_id(r, id)];
	n->next_by_id = *head;
	*head = index;
	r->count++;
	r->stats.registered = r->count;
	r->stats.registrations++;
	*user = (void *)(uintptr_t)(index + 1);
	return 0;
}

/* A handshake finished: the node's new session replaces its old one. Its
 * endpoint binding stays; the sealed REGISTER that follows under the new
 * keys renews the registration. */
static void on_established(struct um_relay *r, const struct um_handshake_output *o)
{
	uintptr_t user = (uintptr_t)o->peer_user;
	if (user == 0 || user > r->config.max_nodes)
		return;
	uint32_t index = (uint32_t)(user - 1);
	struct um_relay_node *n = &r->nodes[index];
	if (!n->used || n->hs_peer != o->peer)
		return;
	if (n->has_session)
		r->stats.reregistrations++;
	unlink_index(r, index);
	memcpy(n->send_key, o->keypair.send_key, sizeof(n->send_key));
	memcpy(n->recv_key, o->keypair.recv_key, sizeof(n->recv_key));
	n->local_index = o->keypair.local_index;
	n->remote_index = o->keypair.remote_index;
	n->send_counter = 0;
	memset(&n->window, 0, sizeof(n->window));
	n->last_sequence = 0;
	n->registered = false;
	n->has_session = true;
	n->last_seen_ns = r->now_ns;
	uint32_t *head = &r->by_index[hash_index(r, n->local_index)];
	n->next_by_index = *head;
	*head = index;
}

/* Only what a responder takes: HELLO, and RESPONSE pieces. */
static bool responder_message(const uint8_t *in, size_t len)
{
	return len >= 2 && (in[0] == UM_MSG_HELLO || (in[0] == UM_MSG_FRAGMENT && in[1] == UM_MSG_RESPONSE));
}

static int handle_handshake(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len,
			    uint64_t now, uint64_t wall_ms, struct um_relay_output *out)
{
	struct um_handshake_output *o = r->hs_out;
	struct um_handshake_time t = {.mono_ns = now, .wall_ms = wall_ms};

	if (len < 2 || len > UM_RELAY_HANDSHAKE_MAX_BYTES || !responder_message(in + 1, len - 1)) {
		r->stats.drop_malformed++;
		return 0;
	}
	r->stats.handshakes++;
	if (um_handshake_receive(r->hs, from, in + 1, len - 1, t, o) < 0)
		return 0; /* counted by the engine (um_relay_sync_stats) */
	if (o->event == UM_HS_EVENT_ESTABLISHED)
		on_established(r, o);
	out->count = 0;
	for (unsigned k = 0; k < o->n_datagrams && k < UM_RELAY_OUTPUT_MAX; k++) {
		r->hs_reply[k][0] = UM_MSG_RELAY_HANDSHAKE;
		memcpy(r->hs_reply[k] + 1, o->datagrams[k], o->lengths[k]);
		out->datagrams[k] = r->hs_reply[k];
		out->lengths[k] = o->lengths[k] + 1u;
		out->count = k + 1;
	}
	um_handshake_output_wipe(o); /* session keys, if any */
	if (!out->count)
		return 0;
	out->to = *from;
	out->data = out->datagrams[0];
	out->len = out->lengths[0];
	return 1;
}

/* ---- sealed control messages ------------------------------------------ */

static int send_sealed(struct um_relay *r, struct um_relay_node *n, const struct um_addr *to,
		       const struct um_relay_control *m, struct um_relay_output *out)
{
	int len = um_relay_sealed_encode(r->reply, sizeof(r->reply), n->remote_index, n->send_counter++, n->send_key,
					 m);
	return len < 0 ? 0 : output_one(out, to, r->reply, (size_t)len);
}

static int sealed_error(struct um_relay *r, struct um_relay_node *n, const struct um_addr *to, uint8_t code,
			const uint8_t *ref, uint64_t now, struct um_relay_output *out)
{
	struct um_relay_control m = {.kind = UM_RELAY_CTL_ERROR, .code = code};
	if (!budget_take(&r->error_tat, now, r->config.errors_per_s, r->config.error_burst)) {
		r->stats.errors_suppressed++;
		return 0;
	}
	if (ref)
		memcpy(m.tag, ref, sizeof(m.tag));
	if (code == UM_RELAY_ERR_RATE_LIMITED)
		m.retry_after_s = 1;
	r->stats.errors_sent++;
	return send_sealed(r, n, to, &m, out);
}

static int on_register(struct um_relay *r, struct um_relay_node *n, const struct um_addr *from,
		       const struct um_relay_control *m, uint64_t now, struct um_relay_output *out)
{
	if (r->has_admission_key) {
		uint8_t tag[UM_RELAY_TAG_BYTES];
		um_relay_admission_tag(tag, r->admission_key, &n->id, &r->config.identity->id);
		bool ok = sodium_memcmp(tag, m->tag, sizeof(tag)) == 0;
		sodium_memzero(tag, sizeof(tag));
		if (!ok) {
			r->stats.reg_not_admitted++;
			return sealed_error(r, n, from, UM_RELAY_ERR_NOT_ADMITTED, NULL, now, out);
		}
	}
	/* The handshake proved the node receives at `from`, but a binding
	 * moves only by the one rule: a sealed echo from there. */
	n->registered = true;
	n->pending = *from;
	randombytes_buf(n->challenge, sizeof(n->challenge));
	struct um_relay_control ack = {
	    .kind = UM_RELAY_CTL_ACK,
	    .keepalive_interval_s = r->config.keepalive_interval_s,
	    .observed = *from,
	    .registration_timeout_s = (uint16_t)(r->config.registration_timeout_ns / NSEC),
	    .max_payload = UM_RELAY_MAX_PAYLOAD,
	    .max_packets_per_s = r->config.packets_per_s,
	    .max_bytes_per_s = r->config.bytes_per_s,
	};
	memcpy(ack.challenge, n->challenge, sizeof(ack.challenge));
	return send_sealed(r, n, from, &ack, out);
}

static int on_keepalive(struct um_relay *r, uint32_t index, const struct um_addr *from, struct um_relay_control *k,
			uint64_t now, struct um_relay_output *out)
{
	struct um_relay_node *n = &r->nodes[index];

	if (!n->registered) {
		r->stats.keepalive_unknown++;
		return sealed_error(r, n, from, UM_RELAY_ERR_NOT_REGISTERED, NULL, now, out);
	}
	if (k->sequence <= n->last_sequence) {
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
	n->last_sequence = k->sequence;
	r->stats.keepalives++;
	bool echo = (k->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) && n->pending.family &&
		    um_addr_equal(&n->pending, from) && sodium_memcmp(k->challenge, n->challenge, sizeof(k->challenge)) == 0;
	k->kind = UM_RELAY_CTL_KEEPALIVE_REPLY;
	k->flags = 0;
	memset(k->challenge, 0, sizeof(k->challenge));
	k->observed = *from;
	if (n->endpoint.family && um_addr_equal(&n->endpoint, from))
		return send_sealed(r, n, from, k, out);
	/* From elsewhere: move only when this is the echo of the challenge
	 * sent to exactly this endpoint, else challenge it (the reply goes
	 * there, so only a node receiving there can echo). */
	if (echo) {
		if (n->endpoint.family)
			r->stats.rebinds++;
		bind_endpoint(r, index, from);
		memset(&n->pending, 0, sizeof(n->pending));
		randombytes_buf(n->challenge, sizeof(n->challenge)); /* single use */
		return send_sealed(r, n, from, k, out);
	}
	n->pending = *from;
	randombytes_buf(n->challenge, sizeof(n->challenge));
	r->stats.challenges_sent++;
	k->flags = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
	memcpy(k->challenge, n->challenge, sizeof(k->challenge));
	return send_sealed(r, n, from, k, out);
}

static int handle_sealed(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
			 struct um_relay_output *out)
{
	struct um_relay_control m;
	uint32_t session;
	uint64_t counter;
	int rc = um_relay_sealed_header(in, len, &session, &counter);

	if (rc == -UM_EVERSION) {
		/* A version 2 KEEPALIVE (same type byte and size): tell it. */
		r->stats.reg_version++;
		return send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out);
	}
	if (rc != 0) {
		r->stats.drop_malformed++;
		return 0;
	}
	uint32_t index = find_by_index(r, session);
	struct um_relay_node *n = index != NONE ? &r->nodes[index] : NULL;
	if (n && expired(r, n, now)) {
		remove_node(r, index);
		r->stats.expired++;
		n = NULL;
	}
	if (!n) {
		/* We cannot seal to a session we do not know: a hint whose ref
		 * proves we saw this datagram (an off-path sender did not). */
		uint8_t hash[UM_RELAY_HASH_BYTES];
		um_relay_datagram_hash(hash, in, len);
		r->stats.sealed_unknown++;
		return send_error(r, from, UM_RELAY_ERR_NOT_REGISTERED, hash, sizeof(hash), now, out);
	}
	if (um_relay_window_check(&n->window, counter) != 0) {
		r->stats.sealed_replay++;
		return 0;
	}
	if (um_relay_sealed_open(&m, in, len, n->recv_key) != 0) {
		r->stats.sealed_bad++;
		return 0;
	}
	um_relay_window_update(&n->window, counter);
	n->last_seen_ns = now;
	switch (m.kind) {
	case UM_RELAY_CTL_REGISTER:
		return on_register(r, n, from, &m, now, out);
	case UM_RELAY_CTL_KEEPALIVE:
		return on_keepalive(r, index, from, &m, now, out);
	default:
		r->stats.drop_malformed++; /* relay-to-node kinds */
		return 0;
	}
}

/* A version 2 REGISTER travelled in FRAGMENTs with msg_type 0x20. */
static int handle_old_fragment(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len,
			       uint64_t now, struct um_relay_output *out)
{
	if (len < UM_RELAY_ERROR_BYTES || in[1] != 0x20) {
		r->stats.fragments_rejected++;
		return 0;
	}
	r->stats.reg_version++;
	return send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out);
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
		/* Sealed: the peer ID must not cross the link in clear. */
		if (!src->has_session)
			return 0;
		return sealed_error(r, src, from, UM_RELAY_ERR_UNKNOWN_PEER, dest_id.bytes, now, out);
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
	return output_one(out, &dst->endpoint, in, len);
}

int um_relay_input(struct um_relay *r, const struct um_addr *from, uint8_t *datagram, size_t len, uint64_t now_ns,
		   uint64_t wall_ms, struct um_relay_output *out)
{
	if (len == 0) {
		r->stats.drop_malformed++;
		return 0;
	}
	r->now_ns = now_ns;
	switch (datagram[0]) {
	case UM_MSG_RELAY_FORWARD:
		return handle_forward(r, from, datagram, len, now_ns, out);
	case UM_MSG_RELAY_SEALED:
		return handle_sealed(r, from, datagram, len, now_ns, out);
	case UM_MSG_RELAY_HANDSHAKE:
		return handle_handshake(r, from, datagram, len, now_ns, wall_ms, out);
	case UM_MSG_RELAY_ID:
		return handle_id(r, from, datagram, len, now_ns, out);
	case UM_MSG_FRAGMENT:
		return handle_old_fragment(r, from, datagram, len, now_ns, out);
	default:
		r->stats.drop_unknown_type++;
		return 0;
	}
}

unsigned um_relay_expire(struct um_relay *r, uint64_t now_ns, uint64_t wall_ms, uint32_t budget)
{
	struct um_handshake_time t = {.mono_ns = now_ns, .wall_ms = wall_ms};
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
	/* Stale pending handshakes and reassembly slots. A responder sends
	 * nothing on its own (initiators retransmit), so any output is dropped. */
	while (um_handshake_tick(r->hs, t, r->hs_out) > 0)
		um_handshake_output_wipe(r->hs_out);
	return removed;
}

void um_relay_sync_stats(struct um_relay *r)
{
	const struct um_handshake_stats *h = um_handshake_get_stats(r->hs);

	r->stats.reg_malformed = h->malformed;
	r->stats.reg_rate_limited = h->rate_limited + h->challenge_budget;
	r->stats.reg_bad_signature = h->auth_failed;
	r->stats.reg_replay = h->replays;
	r->stats.fragments_rejected = h->unknown_index;
}

int um_relay_lookup(const struct um_relay *r, const struct um_peer_id *id, struct um_relay_node_info *info)
{
	uint32_t index = find_by_id(r, id);
	if (index == NONE)
		return -UM_ENOTFOUND;
	const struct um_relay_node *n = &r->nodes[index];
	info->registered = n->registered;
	info->endpoint = n->endpoint;
	info->pending = n->pending;
	info->last_seen_ns = n->last_seen_ns;
	info->forwarded_packets = n->forwarded_packets;
	info->forwarded_bytes = n->forwarded_bytes;
	info->dropped = n->dropped;
	return 0;
}
