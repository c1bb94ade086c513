/* SPDX-License-Identifier: MIT */
#include "relay/relay.h"
#include "relay/relay_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "session/handshake.h"
#include "util/error.h"

/* Handshakes in flight at the relay: done states linger 5 s (a lost
 * ESTABLISHED is resent from them), so ~50 registrations a second fit
 * before states are recycled. */
#define RELAY_HS_PENDING 256

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

/* ---- setup ---------------------------------------------------------- */

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
			qsort(r->allow, c->allow_count, sizeof(*r->allow), um_relay_compare_ids);
		}
	}
	c->allow = NULL; /* the caller's array is not kept */
	if (!r->nodes || !r->by_id || !r->by_endpoint || !r->by_index || !r->hs_out || (c->allow_count && !r->allow)) {
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
	 * has never seen are admitted by um_relay_admit() below. */
	struct um_handshake_config hc = {
	    .identity = c->identity,
	    .max_pending = RELAY_HS_PENDING,
	    .load_threshold = 32,
	    .challenges_per_second = c->verifications_per_s,
	    .challenge_burst = c->verification_burst,
	    .prefix_hello_per_second = c->prefix_verifications_per_s,
	    .prefix_hello_burst = c->prefix_verification_burst,
	    .admit = um_relay_admit,
	    .admit_ctx = r,
	    /* The node cap is um_relay_admit()'s to enforce (and count); the engine's
	     * own cap only backs it up. */
	    .max_admitted = c->max_nodes + 16,
	};
	if ((rc = um_handshake_engine_new(&r->hs, &hc)) < 0)
		goto out;
	rc = um_relay_handles_init(r);
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
	um_relay_handles_destroy(r);
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
	size_t handle_buckets = (size_t)r->handle_mask + 1;
	return (size_t)r->config.max_nodes * sizeof(struct um_relay_node) + 3 * buckets * sizeof(uint32_t) +
	       (size_t)r->config.max_handles * sizeof(struct um_relay_handle) + handle_buckets * sizeof(uint32_t) +
	       r->config.allow_count * sizeof(struct um_peer_id) + (size_t)r->count * 256 +
	       RELAY_HS_PENDING * 13000 /* the engine's pending table (locked memory) */;
}

/* ---- FORWARD: the hot path ----------------------------------------- */

/* A FORWARD from no bound endpoint: the node whose binding just moved away
 * from `from` (still live, within the grace), or NONE. Cold path. */
static uint32_t recently_moved(const struct um_relay *r, const struct um_addr *from, uint64_t now)
{
	for (unsigned i = 0; i < UM_RELAY_RECENT_MOVES; i++) {
		const struct um_relay_recent_move *m = &r->recent_moves[i];
		if (m->until_ns > now && um_addr_equal(&m->endpoint, from) && r->nodes[m->index].used &&
		    r->nodes[m->index].gen == m->gen && r->nodes[m->index].registered)
			return m->index;
	}
	return NONE;
}

static int handle_forward(struct um_relay *r, const struct um_addr *from, uint8_t *in, size_t len, uint64_t now,
			  struct um_relay_output *out)
{
	if (len <= UM_RELAY_FORWARD_HEADER_BYTES || len > UM_RELAY_MAX_DATAGRAM || in[1] | in[2] | in[3]) {
		r->stats.drop_malformed++;
		return 0;
	}
	uint32_t src_index = um_relay_find_by_endpoint(r, from);
	if (src_index == NONE)
		src_index = recently_moved(r, from, now);
	if (src_index == NONE) {
		r->stats.drop_not_registered++;
		return um_relay_send_error(r, from, UM_RELAY_ERR_NOT_REGISTERED, NULL, 0, now, out);
	}
	struct um_relay_node *src = &r->nodes[src_index];
	uint64_t pt, bt;
	if (!um_relay_gcra_check(src->packet_tat, now, um_relay_unit_cost(1, r->config.packets_per_s),
				 um_relay_unit_cost(r->config.packet_burst, r->config.packets_per_s), &pt)) {
		r->stats.drop_rate_limited_packets++;
		src->dropped++;
		return 0;
	}
	if (!um_relay_gcra_check(src->byte_tat, now, um_relay_unit_cost(len, r->config.bytes_per_s),
				 um_relay_unit_cost(r->config.byte_burst, r->config.bytes_per_s), &bt)) {
		r->stats.drop_rate_limited_bytes++;
		src->dropped++;
		return 0;
	}
	src->packet_tat = pt;
	src->byte_tat = bt;
	src->last_seen_ns = now;

	/* The destination is what this handle names in the sender's
	 * registration. */
	struct um_peer_id route;
	uint64_t handle;
	memcpy(route.bytes, in + 4, UM_PEER_ID_BYTES);
	uint32_t entry =
	    um_relay_route_handle(&route, &handle) == 0 ? um_relay_handle_find(r, src_index, handle) : NONE;
	if (entry == NONE) {
		r->stats.drop_unknown_handle++;
		src->dropped++;
		if (!src->has_session)
			return 0;
		return um_relay_sealed_error(r, src, from, UM_RELAY_ERR_UNKNOWN_HANDLE, route.bytes, now, out);
	}
	uint32_t dst_index = r->handles[entry].target;
	struct um_relay_node *dst = &r->nodes[dst_index];
	if (um_relay_node_expired(r, dst, now)) {
		um_relay_remove_node(r, dst_index);
		r->stats.expired++;
		dst = NULL;
	}
	if (!dst || dst->endpoint.family == 0) {
		r->stats.drop_unknown_peer++;
		src->dropped++;
		/* Sealed: the peer ID must not cross the link in clear. */
		if (!src->has_session || !dst)
			return 0;
		return um_relay_sealed_error(r, src, from, UM_RELAY_ERR_UNKNOWN_PEER, dst->id.bytes, now, out);
	}
	if (dst == src) {
		r->stats.drop_to_self++;
		src->dropped++;
		return 0;
	}
	/* The same pair the other way: the handle the receiver knows us by. */
	uint32_t back = um_relay_handle_back(r, entry);
	if (back == NONE) {
		src->dropped++;
		return 0;
	}
	struct um_relay_handle *b = &r->handles[back];
	out->count = 0;
	if ((!b->announced_ns || (now > b->announced_ns && now - b->announced_ns > ANNOUNCE_REFRESH_NS)) &&
	    dst->has_session) {
		/* First use (and again now and then: an ANNOUNCE may be lost):
		 * tell the receiver whom the handle names (sealed, just before
		 * the FORWARDED, to the same endpoint). */
		struct um_relay_control m = {.kind = UM_RELAY_CTL_ANNOUNCE, .peer = src->id, .handle = b->handle};
		if (um_relay_send_sealed(r, dst, &dst->endpoint, &m, out) == 1) {
			b->announced_ns = now;
			r->stats.announces++;
		}
	}
	/* FORWARD -> FORWARDED in place: same size, the receiver's handle. */
	in[0] = UM_MSG_RELAY_FORWARDED;
	um_relay_route_set(&route, b->handle);
	memcpy(in + 4, route.bytes, UM_PEER_ID_BYTES);
	src->forwarded_packets++;
	src->forwarded_bytes += len;
	r->stats.forwarded_packets++;
	r->stats.forwarded_bytes += len;
	if (out->count == 0)
		return um_relay_output_one(out, &dst->endpoint, in, len);
	out->datagrams[out->count] = in;
	out->lengths[out->count] = len;
	out->count++;
	return 1;
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
		return um_relay_handle_sealed(r, from, datagram, len, now_ns, out);
	case UM_MSG_RELAY_HANDSHAKE:
		return um_relay_handle_handshake(r, from, datagram, len, now_ns, wall_ms, out);
	case UM_MSG_RELAY_ID:
		return um_relay_handle_id(r, from, datagram, len, now_ns, out);
	case UM_MSG_FRAGMENT:
		return um_relay_handle_old_fragment(r, from, datagram, len, now_ns, out);
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
		if (r->nodes[i].used && um_relay_node_expired(r, &r->nodes[i], now_ns)) {
			um_relay_remove_node(r, i);
			removed++;
		}
	}
	r->stats.expired += removed;
	um_relay_handles_sweep(r, budget);
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
	uint32_t index = um_relay_find_by_id(r, id);
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
