/* SPDX-License-Identifier: MIT */
/* The relay core's tables and small helpers (relay_internal.h), below
 * both relay.c and relay_control.c: GCRA budgets, the three node indexes,
 * node removal, and unsealed replies. */
#include <sodium.h>
#include <string.h>

#include "relay/relay_internal.h"
#include "util/error.h"

/* ---- GCRA: a token bucket kept as one timestamp ----------------------- */

/* Cost in ns of `units` at `rate` units/s; accept if the bucket, after
 * charging, is at most `burst` units ahead of now. Commits only on accept. */
bool um_relay_gcra_check(uint64_t tat, uint64_t now, uint64_t cost, uint64_t tolerance, uint64_t *new_tat)
{
	uint64_t start = tat > now ? tat : now;
	if (start + cost > now + tolerance)
		return false;
	*new_tat = start + cost;
	return true;
}

uint64_t um_relay_unit_cost(uint64_t units, uint32_t rate)
{
	return rate ? units * NSEC / rate : UINT64_MAX / 4;
}

bool um_relay_budget_take(uint64_t *tat, uint64_t now, uint32_t rate, uint32_t burst)
{
	uint64_t cost = um_relay_unit_cost(1, rate), t;
	if (!um_relay_gcra_check(*tat, now, cost, cost * (burst ? burst : 1), &t))
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

uint32_t um_relay_hash_id(const struct um_relay *r, const struct um_peer_id *id)
{
	return hash_bytes(r, id->bytes, UM_PEER_ID_BYTES);
}

static uint32_t hash_endpoint(const struct um_relay *r, const struct um_addr *a)
{
	uint8_t s[UM_ADDR_WIRE_BYTES];
	um_addr_encode(a, s);
	return hash_bytes(r, s, sizeof(s));
}

uint32_t um_relay_hash_index(const struct um_relay *r, uint32_t index)
{
	return hash_bytes(r, &index, sizeof(index));
}

uint32_t um_relay_find_by_index(const struct um_relay *r, uint32_t session_index)
{
	for (uint32_t i = r->by_index[um_relay_hash_index(r, session_index)]; i != NONE; i = r->nodes[i].next_by_index)
		if (r->nodes[i].has_session && r->nodes[i].local_index == session_index)
			return i;
	return NONE;
}

void um_relay_unlink_index(struct um_relay *r, uint32_t index)
{
	struct um_relay_node *n = &r->nodes[index];
	if (!n->has_session)
		return;
	uint32_t *link = &r->by_index[um_relay_hash_index(r, n->local_index)];
	while (*link != NONE && *link != index)
		link = &r->nodes[*link].next_by_index;
	if (*link == index)
		*link = n->next_by_index;
	n->next_by_index = NONE;
	n->has_session = false;
}

uint32_t um_relay_find_by_id(const struct um_relay *r, const struct um_peer_id *id)
{
	for (uint32_t i = r->by_id[um_relay_hash_id(r, id)]; i != NONE; i = r->nodes[i].next_by_id)
		if (memcmp(r->nodes[i].id.bytes, id->bytes, UM_PEER_ID_BYTES) == 0)
			return i;
	return NONE;
}

uint32_t um_relay_find_by_endpoint(const struct um_relay *r, const struct um_addr *a)
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
void um_relay_bind_endpoint(struct um_relay *r, uint32_t index, const struct um_addr *a)
{
	struct um_relay_node *n = &r->nodes[index];
	if (n->endpoint.family && um_addr_equal(&n->endpoint, a))
		return;
	uint32_t other = um_relay_find_by_endpoint(r, a);
	if (other != NONE)
		unlink_endpoint(r, other);
	unlink_endpoint(r, index);
	n->endpoint = *a;
	uint32_t *head = &r->by_endpoint[hash_endpoint(r, a)];
	n->next_by_endpoint = *head;
	*head = index;
}

void um_relay_remove_node(struct um_relay *r, uint32_t index)
{
	struct um_relay_node *n = &r->nodes[index];
	unlink_endpoint(r, index);
	um_relay_unlink_index(r, index);
	if (n->hs_peer)
		um_handshake_peer_remove(r->hs, n->hs_peer);
	uint32_t *link = &r->by_id[um_relay_hash_id(r, &n->id)];
	while (*link != NONE && *link != index)
		link = &r->nodes[*link].next_by_id;
	if (*link == index)
		*link = n->next_by_id;
	uint32_t gen = n->gen;
	sodium_memzero(n, sizeof(*n));
	n->gen = gen + 1; /* its handles, and handles naming it, are stale now */
	n->next_by_endpoint = n->next_by_index = NONE;
	n->next_by_id = r->free_head;
	r->free_head = index;
	r->count--;
	r->stats.registered = r->count;
}

bool um_relay_node_expired(const struct um_relay *r, const struct um_relay_node *n, uint64_t now)
{
	return now > n->last_seen_ns && now - n->last_seen_ns > r->config.registration_timeout_ns;
}

int um_relay_compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, UM_PEER_ID_BYTES);
}

/* ---- replies -------------------------------------------------------- */

int um_relay_output_one(struct um_relay_output *out, const struct um_addr *to, const uint8_t *data, size_t len)
{
	out->to = *to;
	out->data = out->datagrams[0] = data;
	out->len = out->lengths[0] = len;
	out->count = 1;
	return 1;
}

int um_relay_send_error(struct um_relay *r, const struct um_addr *to, uint8_t code, const uint8_t *ref, size_t ref_len,
			uint64_t now, struct um_relay_output *out)
{
	struct um_relay_error e = {.code = code};
	if (!um_relay_budget_take(&r->error_tat, now, r->config.errors_per_s, r->config.error_burst)) {
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
	return um_relay_output_one(out, to, r->reply, (size_t)n);
}
