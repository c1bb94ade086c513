/* SPDX-License-Identifier: MIT */
/* The relay core's control plane (relay.h): RELAY_ID, registration
 * handshakes (the engine in responder mode, admit), and the sealed control
 * messages of registered nodes. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_internal.h"
#include "util/error.h"

/* How long a node's old endpoint may still send FORWARDs after a move. */
#define RECENT_MOVE_GRACE_NS (2 * UM_NSEC_PER_SEC)

/* ---- RELAY_ID: who we are, for a node that did not pin us ---------- */

int um_relay_handle_id(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
		       struct um_relay_output *out)
{
	struct um_relay_id_msg m;
	int rc = um_relay_id_decode(&m, in, len);

	if (rc == -UM_EVERSION) {
		/* A version 2 REGISTER piece or whole message: say so. */
		r->stats.reg_version++;
		return len >= UM_RELAY_ERROR_BYTES
			   ? um_relay_send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out)
			   : 0;
	}
	if (rc != 0 || m.reply) {
		r->stats.drop_malformed++;
		return 0;
	}
	/* The reply is the request's size: no amplification; the error budget
	 * bounds how many we answer. */
	if (!um_relay_budget_take(&r->error_tat, now, r->config.errors_per_s, r->config.error_burst)) {
		r->stats.errors_suppressed++;
		return 0;
	}
	r->stats.id_requests++;
	m.reply = true;
	m.id = r->config.identity->id;
	int n = um_relay_id_encode(r->reply, sizeof(r->reply), &m);
	return n < 0 ? 0 : um_relay_output_one(out, from, r->reply, (size_t)n);
}

/* ---- registration handshakes ------------------------------------------ */

/* The engine met an initiator it does not know, with a verified signature:
 * admit it when the allow-list and the node cap let us, opening its table
 * entry now (unbound, no session yet), so an entry and the engine's peer
 * always come and go together. */
int um_relay_admit(void *ctx, const struct um_peer_id *id, struct um_handshake_peer *peer, void **user)
{
	struct um_relay *r = ctx;

	if (r->config.allow_count &&
	    !bsearch(id, r->allow, r->config.allow_count, sizeof(*r->allow), um_relay_compare_ids)) {
		r->stats.reg_not_admitted++;
		return -UM_EPERM;
	}
	if (r->count >= r->config.max_nodes || r->free_head == NONE || um_relay_find_by_id(r, id) != NONE) {
		r->stats.reg_full++;
		return -UM_ELIMIT;
	}
	uint32_t index = r->free_head;
	struct um_relay_node *n = &r->nodes[index];
	r->free_head = n->next_by_id;
	uint32_t gen = n->gen;
	memset(n, 0, sizeof(*n));
	n->gen = gen;
	n->used = true;
	n->id = *id;
	n->hs_peer = peer;
	n->next_by_endpoint = n->next_by_index = NONE;
	n->last_seen_ns = r->now_ns;
	uint32_t *head = &r->by_id[um_relay_hash_id(r, id)];
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
	um_relay_unlink_index(r, index);
	memcpy(n->send_key, o->keypair.send_key, sizeof(n->send_key));
	memcpy(n->recv_key, o->keypair.recv_key, sizeof(n->recv_key));
	n->local_index = o->keypair.local_index;
	n->remote_index = o->keypair.remote_index;
	n->send_counter = 0;
	memset(&n->window, 0, sizeof(n->window));
	n->last_sequence = 0;
	n->registered = false;
	n->has_session = true;
	n->handshake_from = o->peer_endpoint;
	n->last_seen_ns = r->now_ns;
	uint32_t *head = &r->by_index[um_relay_hash_index(r, n->local_index)];
	n->next_by_index = *head;
	*head = index;
}

/* TLS connections reach the core from synthetic sources in the discard
 * prefix 100::/64 (relay/stream.c; UDP sources there are dropped by the
 * server), all in one /64: the connection slot (bytes 12..15) as the
 * handshake's route tag gives each connection its own HELLO budgets. */
static uint32_t stream_route(const struct um_addr *from)
{
	static const uint8_t discard[8] = {0x01, 0x00};
	if (from->family != UM_ADDR_IPV6 || memcmp(from->addr, discard, sizeof(discard)))
		return 0;
	uint32_t slot = (uint32_t)from->addr[12] << 24 | (uint32_t)from->addr[13] << 16 |
			(uint32_t)from->addr[14] << 8 | from->addr[15];
	return slot + 1 ? slot + 1 : 1;
}

/* Only what a responder takes: HELLO, and RESPONSE pieces. */
/* What an initiator sends: HELLO, RESPONSE pieces, and FRAGMENT_ACKs naming
 * the CHALLENGE pieces it holds (docs/PROTOCOL.md §7.1). */
static bool responder_message(const uint8_t *in, size_t len)
{
	return len >= 2 && (in[0] == UM_MSG_HELLO || (in[0] == UM_MSG_FRAGMENT && in[1] == UM_MSG_RESPONSE) ||
			    (in[0] == UM_TYPE_FRAGMENT_ACK && in[1] == UM_MSG_CHALLENGE));
}

int um_relay_handle_handshake(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len,
			      uint64_t now, uint64_t wall_ms, struct um_relay_output *out)
{
	struct um_handshake_output *o = r->hs_out;
	struct um_handshake_time t = {.mono_ns = now, .wall_ms = wall_ms};

	if (len < 2 || len > UM_RELAY_HANDSHAKE_MAX_BYTES || !responder_message(in + 1, len - 1)) {
		r->stats.drop_malformed++;
		return 0;
	}
	r->stats.handshakes++;
	if (um_handshake_receive_via(r->hs, from, stream_route(from), in + 1, len - 1, t, o) < 0)
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

int um_relay_send_sealed(struct um_relay *r, struct um_relay_node *n, const struct um_addr *to,
			 const struct um_relay_control *m, struct um_relay_output *out)
{
	int len =
	    um_relay_sealed_encode(r->reply, sizeof(r->reply), n->remote_index, n->send_counter++, n->send_key, m);
	return len < 0 ? 0 : um_relay_output_one(out, to, r->reply, (size_t)len);
}

int um_relay_sealed_error(struct um_relay *r, struct um_relay_node *n, const struct um_addr *to, uint8_t code,
			  const uint8_t *ref, uint64_t now, struct um_relay_output *out)
{
	struct um_relay_control m = {.kind = UM_RELAY_CTL_ERROR, .code = code};
	if (!um_relay_budget_take(&r->error_tat, now, r->config.errors_per_s, r->config.error_burst)) {
		r->stats.errors_suppressed++;
		return 0;
	}
	if (ref)
		memcpy(m.tag, ref, sizeof(m.tag));
	if (code == UM_RELAY_ERR_RATE_LIMITED)
		m.retry_after_s = 1;
	r->stats.errors_sent++;
	return um_relay_send_sealed(r, n, to, &m, out);
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
			return um_relay_sealed_error(r, n, from, UM_RELAY_ERR_NOT_ADMITTED, NULL, now, out);
		}
	}
	/* A binding moves only by the one rule: a sealed echo from the new
	 * endpoint. But an unbound node's REGISTER from where its handshake
	 * ran binds it now: the handshake proved it receives there (only a
	 * receiver of the CHALLENGE could make the keys this REGISTER is
	 * sealed with), and waiting for the echo made its peers' LOOKUPs
	 * miss it for a round trip, or a second when the echo was lost. */
	n->registered = true;
	randombytes_buf(n->challenge, sizeof(n->challenge));
	if (!n->endpoint.family && n->handshake_from.family && um_addr_equal(&n->handshake_from, from)) {
		um_relay_bind_endpoint(r, (uint32_t)(n - r->nodes), from);
		memset(&n->pending, 0, sizeof(n->pending)); /* its echo finds it bound */
		r->stats.bound_at_register++;
	} else {
		n->pending = *from;
	}
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
	um_relay_watch_fire(r, (uint32_t)(n - r->nodes), now);
	return um_relay_send_sealed(r, n, from, &ack, out);
}

static int on_keepalive(struct um_relay *r, uint32_t index, const struct um_addr *from, struct um_relay_control *k,
			uint64_t now, struct um_relay_output *out)
{
	struct um_relay_node *n = &r->nodes[index];

	if (!n->registered) {
		r->stats.keepalive_unknown++;
		return um_relay_sealed_error(r, n, from, UM_RELAY_ERR_NOT_REGISTERED, NULL, now, out);
	}
	if (k->sequence <= n->last_sequence) {
		r->stats.keepalive_stale++;
		return 0;
	}
	uint64_t t;
	if (!um_relay_gcra_check(n->packet_tat, now, um_relay_unit_cost(1, r->config.packets_per_s),
				 um_relay_unit_cost(r->config.packet_burst, r->config.packets_per_s), &t)) {
		r->stats.drop_rate_limited_packets++;
		n->dropped++;
		return 0;
	}
	n->packet_tat = t;
	n->last_sequence = k->sequence;
	r->stats.keepalives++;
	bool echo = (k->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) && n->pending.family &&
		    um_addr_equal(&n->pending, from) &&
		    sodium_memcmp(k->challenge, n->challenge, sizeof(k->challenge)) == 0;
	k->kind = UM_RELAY_CTL_KEEPALIVE_REPLY;
	k->flags = 0;
	memset(k->challenge, 0, sizeof(k->challenge));
	k->observed = *from;
	if (n->endpoint.family && um_addr_equal(&n->endpoint, from))
		return um_relay_send_sealed(r, n, from, k, out);
	/* From elsewhere: move only when this is the echo of the challenge
	 * sent to exactly this endpoint, else challenge it (the reply goes
	 * there, so only a node receiving there can echo). */
	if (echo) {
		if (n->endpoint.family) {
			r->stats.rebinds++;
			struct um_relay_recent_move *m =
			    &r->recent_moves[r->recent_move_next++ % UM_RELAY_RECENT_MOVES];
			*m = (struct um_relay_recent_move){.endpoint = n->endpoint,
							   .index = index,
							   .gen = n->gen,
							   .until_ns = now + RECENT_MOVE_GRACE_NS};
		}
		um_relay_bind_endpoint(r, index, from);
		um_relay_watch_fire(r, index, now);
		memset(&n->pending, 0, sizeof(n->pending));
		randombytes_buf(n->challenge, sizeof(n->challenge)); /* single use */
		return um_relay_send_sealed(r, n, from, k, out);
	}
	n->pending = *from;
	randombytes_buf(n->challenge, sizeof(n->challenge));
	r->stats.challenges_sent++;
	k->flags = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
	memcpy(k->challenge, n->challenge, sizeof(k->challenge));
	return um_relay_send_sealed(r, n, from, k, out);
}

/* LOOKUP (a peer's handle in this registration) and RESOLVE (whom a
 * handle names), both answered sealed; the answers are no larger than the
 * requests and cost the node's packet budget. */
static int on_handle_request(struct um_relay *r, uint32_t index, const struct um_addr *from,
			     const struct um_relay_control *m, uint64_t now, struct um_relay_output *out)
{
	struct um_relay_node *n = &r->nodes[index];
	uint64_t t;

	if (!n->registered) {
		r->stats.keepalive_unknown++;
		return um_relay_sealed_error(r, n, from, UM_RELAY_ERR_NOT_REGISTERED, NULL, now, out);
	}
	if (!um_relay_gcra_check(n->packet_tat, now, um_relay_unit_cost(1, r->config.packets_per_s),
				 um_relay_unit_cost(r->config.packet_burst, r->config.packets_per_s), &t)) {
		r->stats.drop_rate_limited_packets++;
		n->dropped++;
		return 0;
	}
	n->packet_tat = t;
	struct um_relay_control a = {.kind = UM_RELAY_CTL_HANDLE, .peer = m->peer};
	if (m->kind == UM_RELAY_CTL_RESOLVE) {
		r->stats.resolves++;
		uint32_t e = um_relay_handle_find(r, index, m->handle);
		if (e == NONE) {
			struct um_peer_id route;
			um_relay_route_set(&route, m->handle);
			return um_relay_sealed_error(r, n, from, UM_RELAY_ERR_UNKNOWN_HANDLE, route.bytes, now, out);
		}
		r->handles[e].announced_ns = now;
		a.kind = UM_RELAY_CTL_ANNOUNCE;
		a.peer = r->nodes[r->handles[e].target].id;
		a.handle = m->handle;
		return um_relay_send_sealed(r, n, from, &a, out);
	}
	r->stats.lookups++;
	uint32_t target = um_relay_find_by_id(r, &m->peer);
	if (target != NONE && um_relay_node_expired(r, &r->nodes[target], now)) {
		um_relay_remove_node(r, target);
		r->stats.expired++;
		target = NONE;
	}
	uint32_t e = target == NONE || target == index || r->nodes[target].endpoint.family == 0
			 ? NONE
			 : um_relay_handle_for(r, index, target);
	if (e == NONE) {
		r->stats.lookup_misses++;
		if (target != index)
			um_relay_watch_add(r, index, &m->peer, now);
		return um_relay_send_sealed(r, n, from, &a, out); /* not found */
	}
	r->handles[e].announced_ns = now;
	a.flags = UM_RELAY_HANDLE_FLAG_FOUND;
	a.handle = r->handles[e].handle;
	return um_relay_send_sealed(r, n, from, &a, out);
}

int um_relay_pending(struct um_relay *r, struct um_relay_output *out)
{
	uint32_t watcher, target;

	while (um_relay_watch_next(r, &watcher, &target)) {
		uint32_t e = um_relay_handle_for(r, watcher, target);
		if (e == NONE)
			continue;
		r->handles[e].announced_ns = r->now_ns;
		struct um_relay_control a = {.kind = UM_RELAY_CTL_HANDLE,
					     .flags = UM_RELAY_HANDLE_FLAG_FOUND,
					     .peer = r->nodes[target].id,
					     .handle = r->handles[e].handle};
		struct um_relay_node *n = &r->nodes[watcher];
		r->stats.lookups_answered_late++;
		if (um_relay_send_sealed(r, n, &n->endpoint, &a, out) == 1)
			return 1;
	}
	return 0;
}

int um_relay_handle_sealed(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len, uint64_t now,
			   struct um_relay_output *out)
{
	struct um_relay_control m;
	uint32_t session;
	uint64_t counter;
	int rc = um_relay_sealed_header(in, len, &session, &counter);

	if (rc == -UM_EVERSION) {
		/* A version 2 KEEPALIVE (same type byte and size): tell it, but
		 * never with more bytes than it had (no amplification). */
		r->stats.reg_version++;
		if (len != UM_RELAY_V2_KEEPALIVE_BYTES)
			return 0;
		return um_relay_send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out);
	}
	if (rc != 0) {
		r->stats.drop_malformed++;
		return 0;
	}
	uint32_t index = um_relay_find_by_index(r, session);
	struct um_relay_node *n = index != NONE ? &r->nodes[index] : NULL;
	if (n && um_relay_node_expired(r, n, now)) {
		um_relay_remove_node(r, index);
		r->stats.expired++;
		n = NULL;
	}
	if (!n) {
		/* We cannot seal to a session we do not know: a hint whose ref
		 * proves we saw this datagram (an off-path sender did not). */
		uint8_t hash[UM_RELAY_HASH_BYTES];
		um_relay_datagram_hash(hash, in, len);
		r->stats.sealed_unknown++;
		return um_relay_send_error(r, from, UM_RELAY_ERR_NOT_REGISTERED, hash, sizeof(hash), now, out);
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
	case UM_RELAY_CTL_LOOKUP:
	case UM_RELAY_CTL_RESOLVE:
		return on_handle_request(r, index, from, &m, now, out);
	default:
		r->stats.drop_malformed++; /* relay-to-node kinds */
		return 0;
	}
}

/* A version 2 REGISTER travelled in FRAGMENTs with msg_type 0x20. */
int um_relay_handle_old_fragment(struct um_relay *r, const struct um_addr *from, const uint8_t *in, size_t len,
				 uint64_t now, struct um_relay_output *out)
{
	if (len < UM_RELAY_ERROR_BYTES || in[1] != 0x20) {
		r->stats.fragments_rejected++;
		return 0;
	}
	r->stats.reg_version++;
	return um_relay_send_error(r, from, UM_RELAY_ERR_VERSION, NULL, 0, now, out);
}
