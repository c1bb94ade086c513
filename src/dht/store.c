/* SPDX-License-Identifier: MIT */
/* Stored values: per (key, owner) only the highest sequence, bounded in
 * count and bytes per node, owners per key and values per source /24
 * (/48), STOREs rate-limited per source /24 (/48); every drop is counted.
 * A STORE arrives in pieces from an address that echoed our cookie (no
 * spoofed sources); at most max_inbound_assemblies are reassembled at
 * once, each for at most 5 s. */
#include <stdlib.h>
#include <string.h>

#include "dht/internal.h"
#include "util/error.h"

enum {
	INBOUND_TIMEOUT_NS = 5000000000ULL,
	RATE_BURST = 2, /* burst = 2 s worth of STOREs */
};

static void source_prefix(const struct um_addr *from, struct um_addr_prefix *out)
{
	memset(out, 0, sizeof(*out));
	if (from)
		um_addr_network(from, 24, 48, out);
}

static void stored_remove(struct um_dht *dht, unsigned i)
{
	struct um_dht_stored *s = &dht->store[i];
	dht->store_bytes -= s->len;
	um_dht_free(dht, s->data, s->len);
	dht->store[i] = dht->store[--dht->n_store];
}

unsigned um_dht_store_get(const struct um_dht *dht, const uint8_t key[32], unsigned *idx, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < dht->n_store && n < max; i++)
		if (!memcmp(dht->store[i].key, key, 32))
			idx[n++] = i;
	return n;
}

int um_dht_store_put(struct um_dht *dht, const uint8_t key[32], const uint8_t *value, size_t len,
		     const struct um_addr *source, uint64_t now_ns)
{
	struct um_dht_value_info info;
	struct um_addr_prefix src;
	unsigned per_key = 0, per_source = 0;
	int existing = -1;

	if (len == 0 || len > UM_DHT_VALUE_MAX) {
		dht->stats.store_too_big++;
		return UM_DHT_STORE_INVALID;
	}
	if (dht->ops.check(dht->ops.ctx, key, value, len, now_ns, &info)) {
		dht->stats.store_invalid++;
		return UM_DHT_STORE_INVALID;
	}
	source_prefix(source, &src);
	for (unsigned i = 0; i < dht->n_store; i++) {
		struct um_dht_stored *s = &dht->store[i];
		if (!memcmp(s->key, key, 32)) {
			per_key++;
			if (!memcmp(s->owner, info.owner, 32))
				existing = (int)i;
		}
		if (source && um_addr_prefix_equal(&s->source, &src))
			per_source++;
	}
	if (existing >= 0 && dht->store[existing].sequence >= info.sequence) {
		dht->stats.store_stale++;
		return UM_DHT_STORE_STALE;
	}
	if (existing < 0) {
		if (per_key >= dht->cfg.max_values_per_key) {
			dht->stats.store_full_key++;
			return UM_DHT_STORE_FULL;
		}
		if (source && per_source >= dht->cfg.max_values_per_source) {
			dht->stats.store_full_source++;
			return UM_DHT_STORE_FULL;
		}
		if (dht->n_store >= dht->cfg.max_values) {
			dht->stats.store_full_node++;
			return UM_DHT_STORE_FULL;
		}
	}
	size_t old_len = existing >= 0 ? dht->store[existing].len : 0;
	if (dht->store_bytes - old_len + len > dht->cfg.max_store_bytes) {
		dht->stats.store_full_node++;
		return UM_DHT_STORE_FULL;
	}
	uint8_t *data = um_dht_alloc(dht, len);
	if (!data)
		return UM_DHT_STORE_FULL;
	memcpy(data, value, len);
	if (existing < 0) {
		if (dht->n_store == dht->cap_store) {
			unsigned cap = dht->cap_store ? dht->cap_store * 2 : 4;
			struct um_dht_stored *arr = realloc(dht->store, cap * sizeof(*arr));
			if (!arr) {
				um_dht_free(dht, data, len);
				return UM_DHT_STORE_FULL;
			}
			dht->memory += (cap - dht->cap_store) * sizeof(*arr);
			dht->store = arr;
			dht->cap_store = cap;
		}
		existing = (int)dht->n_store++;
	} else {
		um_dht_free(dht, dht->store[existing].data, old_len);
		dht->store_bytes -= old_len;
	}
	struct um_dht_stored *s = &dht->store[existing];
	memcpy(s->key, key, 32);
	memcpy(s->owner, info.owner, 32);
	s->sequence = info.sequence;
	s->stored_ns = now_ns;
	s->expires_ns = info.expires_ns;
	if (now_ns + dht->cfg.value_max_lifetime_ns < s->expires_ns)
		s->expires_ns = now_ns + dht->cfg.value_max_lifetime_ns;
	if (s->expires_ns < dht->next_expiry_ns)
		dht->next_expiry_ns = s->expires_ns;
	s->source = src;
	s->len = (uint16_t)len;
	s->data = data;
	dht->store_bytes += len;
	dht->stats.store_accepted++;
	return UM_DHT_STORE_OK;
}

/* Token bucket per source /24 (/48), a small table recycled least recently
 * used first. */
static bool rate_take(struct um_dht *dht, const struct um_addr *from, uint64_t now_ns)
{
	struct um_addr_prefix src;
	struct um_dht_rate *slot = NULL, *oldest = &dht->rates[0];
	uint32_t burst = dht->cfg.store_per_second * RATE_BURST * 1000;

	source_prefix(from, &src);
	for (unsigned i = 0; i < UM_DHT_RATE_SOURCES; i++) {
		struct um_dht_rate *r = &dht->rates[i];
		if (r->last_ns && um_addr_prefix_equal(&r->prefix, &src)) {
			slot = r;
			break;
		}
		if (r->last_ns < oldest->last_ns)
			oldest = r;
	}
	if (!slot) {
		slot = oldest;
		slot->prefix = src;
		slot->tokens_milli = burst;
		slot->last_ns = now_ns ? now_ns : 1;
	}
	uint64_t refill = (now_ns - slot->last_ns) / 1000000ULL * dht->cfg.store_per_second;
	slot->tokens_milli = (uint32_t)(slot->tokens_milli + refill > burst ? burst : slot->tokens_milli + refill);
	slot->last_ns = now_ns ? now_ns : 1;
	if (slot->tokens_milli < 1000)
		return false;
	slot->tokens_milli -= 1000;
	return true;
}

static void ack(struct um_dht *dht, const struct um_addr *to, uint64_t txid, uint8_t status)
{
	struct um_dht_msg m;
	um_dht_msg_init(dht, &m, UM_DHT_TYPE_STORE_ACK, txid);
	m.status = status;
	um_dht_send(dht, to, &m, 0);
}

static void inbound_free(struct um_dht *dht, struct um_dht_inbound *in)
{
	if (in->assembly)
		um_dht_assembly_free(dht, in->assembly);
	memset(in, 0, sizeof(*in));
}

void um_dht_store_receive(struct um_dht *dht, const struct um_addr *from, const struct um_dht_msg *m, uint64_t now_ns)
{
	struct um_dht_inbound *in = NULL, *free_slot = NULL;

	if (!um_dht_cookie_valid(dht, from, m->cookie, now_ns)) {
		dht->stats.store_no_cookie++;
		if (m->piece == 0)
			ack(dht, from, m->txid, UM_DHT_STORE_NO_COOKIE);
		return;
	}
	for (unsigned i = 0; i < dht->cfg.max_inbound_assemblies; i++) {
		struct um_dht_inbound *s = &dht->inbound[i];
		if (s->used && s->txid == m->txid && um_addr_equal(&s->from, from))
			in = s;
		else if (!s->used && !free_slot)
			free_slot = s;
	}
	if (!in) {
		if (!rate_take(dht, from, now_ns)) {
			dht->stats.store_rate_limited++;
			ack(dht, from, m->txid, UM_DHT_STORE_LIMITED);
			return;
		}
		if (!free_slot) {
			dht->stats.store_assembly_dropped++;
			return;
		}
		in = free_slot;
		in->used = true;
		in->txid = m->txid;
		in->from = *from;
		in->started_ns = now_ns;
		memcpy(in->key, m->target, 32);
		struct um_dht_msg geometry = *m;
		geometry.kind = UM_DHT_PIECE_VALUE;
		geometry.value_index = 0;
		in->assembly = um_dht_assembly_new(dht, &geometry);
		if (!in->assembly) {
			dht->stats.store_assembly_dropped++;
			inbound_free(dht, in);
			return;
		}
	}
	if (memcmp(in->key, m->target, 32)) {
		dht->stats.malformed++;
		return;
	}
	struct um_dht_msg piece = *m;
	piece.value_index = 0;
	int r = um_dht_assembly_add(in->assembly, &piece);
	if (r < 0) {
		dht->stats.malformed++;
		return;
	}
	if (r == 0)
		return;
	int status = um_dht_store_put(dht, in->key, in->assembly->data, in->assembly->total_len, from, now_ns);
	ack(dht, from, m->txid, (uint8_t)status);
	inbound_free(dht, in);
}

void um_dht_store_tick(struct um_dht *dht, uint64_t now_ns)
{
	for (unsigned i = 0; i < dht->cfg.max_inbound_assemblies; i++) {
		struct um_dht_inbound *in = &dht->inbound[i];
		if (in->used && now_ns - in->started_ns > INBOUND_TIMEOUT_NS) {
			dht->stats.store_assembly_dropped++;
			inbound_free(dht, in);
		}
	}
	if (now_ns < dht->next_expiry_ns)
		return;
	dht->next_expiry_ns = UINT64_MAX;
	for (unsigned i = 0; i < dht->n_store;) {
		if (dht->store[i].expires_ns <= now_ns) {
			dht->stats.values_expired++;
			stored_remove(dht, i);
			continue;
		}
		if (dht->store[i].expires_ns < dht->next_expiry_ns)
			dht->next_expiry_ns = dht->store[i].expires_ns;
		i++;
	}
}

void um_dht_store_free(struct um_dht *dht)
{
	for (unsigned i = 0; i < dht->cfg.max_inbound_assemblies; i++)
		if (dht->inbound[i].used)
			inbound_free(dht, &dht->inbound[i]);
	while (dht->n_store)
		stored_remove(dht, dht->n_store - 1);
	free(dht->store);
}

unsigned um_dht_stored_count(const struct um_dht *dht)
{
	return dht->n_store;
}
