/* SPDX-License-Identifier: MIT */
/* The routing table: 256 k-buckets by XOR distance, each with a replacement
 * cache, allocated when first used (a table of 10,000 nodes fills ~15).
 * Only proven contacts enter (dht.c checks the proof); address diversity
 * caps contacts per /24 (/48) per bucket and per table; a contact that
 * misses max_failures requests in a row is evicted for the freshest
 * replacement. */
#include <stdlib.h>
#include <string.h>

#include "dht/internal.h"
#include "util/error.h"

/* k * bucket_width, and 4x / 2x that for the two buckets that cover 3/4
 * of the network: a random key's first hop comes from them, and a wider
 * pool there starts each lookup ~2 bits closer (one hop fewer at 10,000
 * nodes, for ~12 KB per node). Bucket width 1 stays plain Kademlia. */
unsigned um_dht_rt_bucket_max(const struct um_dht *dht, unsigned b)
{
	unsigned n = dht->cfg.k * dht->cfg.bucket_width;
	if (dht->cfg.bucket_width > 1 && b == UM_DHT_ID_BITS - 1)
		n *= 4;
	else if (dht->cfg.bucket_width > 1 && b == UM_DHT_ID_BITS - 2)
		n *= 2;
	unsigned most = 255 / dht->cfg.k * dht->cfg.k; /* n and cap are uint8_t */
	return n < most ? n : most;
}

static struct um_dht_bucket *bucket_of(struct um_dht *dht, const uint8_t id[32], bool create)
{
	int b = um_dht_bucket_index(dht->self.bytes, id);
	if (b < 0)
		return NULL;
	struct um_dht_bucket *bk = &dht->buckets[b];
	if (!bk->contacts && create) {
		bk->contacts = um_dht_alloc(dht, dht->cfg.k * sizeof(*bk->contacts));
		bk->cap = bk->contacts ? (uint8_t)dht->cfg.k : 0;
	}
	return bk->contacts ? bk : NULL;
}

/* Room for one more contact in bk (grown by k), or false. */
static bool bucket_grow(struct um_dht *dht, struct um_dht_bucket *bk)
{
	if (bk->n < bk->cap)
		return true;
	if (bk->cap >= um_dht_rt_bucket_max(dht, (unsigned)(bk - dht->buckets)))
		return false;
	size_t old = bk->cap * sizeof(*bk->contacts), bigger = old + dht->cfg.k * sizeof(*bk->contacts);
	struct um_dht_rt_contact *c = realloc(bk->contacts, bigger);
	if (!c)
		return false;
	dht->memory += bigger - old;
	bk->contacts = c;
	bk->cap = (uint8_t)(bk->cap + dht->cfg.k);
	return true;
}

static struct um_dht_rt_contact *replacements(struct um_dht *dht, struct um_dht_bucket *bk)
{
	if (!bk->repl)
		bk->repl = um_dht_alloc(dht, dht->cfg.replacements * sizeof(*bk->repl));
	return bk->repl;
}

struct um_dht_rt_contact *um_dht_rt_find(struct um_dht *dht, const uint8_t id[32])
{
	struct um_dht_bucket *bk = bucket_of(dht, id, false);
	if (!bk)
		return NULL;
	for (unsigned i = 0; i < bk->n; i++)
		if (!memcmp(bk->contacts[i].id, id, 32))
			return &bk->contacts[i];
	return NULL;
}

static int replacement_index(struct um_dht_bucket *bk, const uint8_t id[32])
{
	struct um_dht_rt_contact *r = bk->repl;
	for (unsigned i = 0; i < bk->n_repl; i++)
		if (!memcmp(r[i].id, id, 32))
			return (int)i;
	return -1;
}

bool um_dht_rt_has_room(struct um_dht *dht, const uint8_t id[32])
{
	int b = um_dht_bucket_index(dht->self.bytes, id);
	if (b < 0)
		return false;
	struct um_dht_bucket *bk = &dht->buckets[b];
	return bk->n < um_dht_rt_bucket_max(dht, (unsigned)b) || bk->n_repl < dht->cfg.replacements;
}

/* Would one more contact at addr break the per-/24 (/48) caps? */
static bool diversity_ok(struct um_dht *dht, struct um_dht_bucket *target, const struct um_addr *addr)
{
	if (dht->cfg.no_diversity)
		return true;
	unsigned in_bucket = 0, in_table = 0;
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++) {
		struct um_dht_bucket *bk = &dht->buckets[b];
		for (unsigned i = 0; i < bk->n; i++) {
			if (!um_addr_same_network(&bk->contacts[i].addr, addr, 24, 48))
				continue;
			in_table++;
			if (bk == target)
				in_bucket++;
		}
	}
	return in_bucket < dht->cfg.per_prefix_bucket && in_table < dht->cfg.per_prefix_table;
}

static void event_contact(struct um_dht *dht, enum um_dht_event_type type, const struct um_dht_rt_contact *c)
{
	struct um_dht_event *e = um_dht_event_push(dht, type);
	if (!e)
		return;
	memcpy(e->peer.bytes, c->id, 32);
	e->addr = c->addr;
}

static void remove_at(struct um_dht_rt_contact *arr, uint8_t *n, unsigned i)
{
	memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(*arr));
	(*n)--;
}

/* Insert a proven contact: into the bucket when it has room (and diversity
 * allows), else into the replacement cache (newest last, oldest dropped),
 * and the bucket's least recently seen contact gets a liveness PING. An
 * existing contact takes the new address (it proved itself there). */
int um_dht_rt_insert(struct um_dht *dht, const uint8_t id[32], const struct um_addr *addr, uint64_t now_ns)
{
	struct um_dht_rt_contact *c = um_dht_rt_find(dht, id);
	if (c) {
		c->addr = *addr;
		c->last_seen_ns = now_ns;
		c->failures = 0;
		return 0;
	}
	struct um_dht_bucket *bk = bucket_of(dht, id, true);
	if (!bk)
		return -UM_ENOMEM;
	if (!diversity_ok(dht, bk, addr)) {
		dht->stats.contacts_refused_diversity++;
		return -UM_ELIMIT;
	}
	struct um_dht_rt_contact fresh = {.addr = *addr, .last_seen_ns = now_ns};
	memcpy(fresh.id, id, 32);
	if (bucket_grow(dht, bk)) {
		bk->contacts[bk->n++] = fresh;
		dht->n_contacts++;
		dht->stats.contacts_added++;
		event_contact(dht, UM_DHT_EVENT_CONTACT_ADDED, &fresh);
		return 0;
	}
	struct um_dht_rt_contact *r = replacements(dht, bk);
	if (!r)
		return -UM_ENOMEM;
	int ri = replacement_index(bk, id);
	if (ri >= 0)
		remove_at(r, &bk->n_repl, (unsigned)ri);
	else if (bk->n_repl == dht->cfg.replacements)
		remove_at(r, &bk->n_repl, 0);
	r[bk->n_repl++] = fresh;
	/* Probe the stalest contact: if it is gone, the newcomer replaces it. */
	struct um_dht_rt_contact *old = &bk->contacts[0];
	for (unsigned i = 1; i < bk->n; i++)
		if (bk->contacts[i].last_seen_ns < old->last_seen_ns)
			old = &bk->contacts[i];
	if (!old->pinging) {
		struct um_dht_pending *p = um_dht_pending_new(dht, UM_DHT_P_PING, &old->addr, old->id, now_ns);
		if (p) {
			struct um_dht_msg m;
			um_dht_msg_init(dht, &m, UM_DHT_TYPE_PING, p->txid);
			if (um_dht_send(dht, &old->addr, &m, 0))
				um_dht_pending_drop(dht, p);
			else
				old->pinging = true;
		}
	}
	return 1;
}

/* An answer (or a request) from a contact at the address we hold. */
void um_dht_rt_seen(struct um_dht *dht, const uint8_t id[32], const struct um_addr *from, uint64_t now_ns)
{
	struct um_dht_rt_contact *c = um_dht_rt_find(dht, id);
	if (!c || !um_addr_equal(&c->addr, from))
		return;
	c->last_seen_ns = now_ns;
	c->failures = 0;
	c->pinging = false;
}

void um_dht_rt_set_cookie(struct um_dht *dht, const uint8_t id[32], const uint8_t cookie[UM_DHT_COOKIE_BYTES])
{
	struct um_dht_rt_contact *c = um_dht_rt_find(dht, id);
	if (!c)
		return;
	memcpy(c->cookie, cookie, UM_DHT_COOKIE_BYTES);
	c->has_cookie = true;
}

/* A request to id timed out: after max_failures in a row the contact is
 * stale and leaves for the freshest replacement (if any). */
void um_dht_rt_failed(struct um_dht *dht, const uint8_t id[32], uint64_t now_ns)
{
	(void)now_ns;
	struct um_dht_bucket *bk = bucket_of(dht, id, false);
	if (!bk)
		return;
	for (unsigned i = 0; i < bk->n; i++) {
		struct um_dht_rt_contact *c = &bk->contacts[i];
		if (memcmp(c->id, id, 32))
			continue;
		c->pinging = false;
		if (++c->failures < dht->cfg.max_failures)
			return;
		struct um_dht_rt_contact gone = *c;
		remove_at(bk->contacts, &bk->n, i);
		dht->n_contacts--;
		dht->stats.contacts_evicted++;
		event_contact(dht, UM_DHT_EVENT_CONTACT_EVICTED, &gone);
		struct um_dht_rt_contact *r = bk->repl;
		while (bk->n_repl) {
			struct um_dht_rt_contact next = r[bk->n_repl - 1];
			bk->n_repl--;
			if (!diversity_ok(dht, bk, &next.addr))
				continue;
			bk->contacts[bk->n++] = next;
			dht->n_contacts++;
			dht->stats.contacts_replaced++;
			event_contact(dht, UM_DHT_EVENT_CONTACT_ADDED, &next);
			break;
		}
		return;
	}
	int ri = replacement_index(bk, id);
	if (ri >= 0)
		remove_at(bk->repl, &bk->n_repl, (unsigned)ri);
}

/* The max contacts closest to target (not `exclude`), closest first: an
 * insertion sort over the table (a few hundred contacts at most). */
unsigned um_dht_rt_closest(const struct um_dht *dht, const uint8_t target[32], const uint8_t *exclude,
			   struct um_dht_rt_contact **out, unsigned max)
{
	unsigned n = 0;
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++) {
		const struct um_dht_bucket *bk = &dht->buckets[b];
		for (unsigned i = 0; i < bk->n; i++) {
			struct um_dht_rt_contact *c = &bk->contacts[i];
			if (exclude && !memcmp(c->id, exclude, 32))
				continue;
			unsigned pos = n;
			while (pos > 0 && um_dht_distance_cmp(target, c->id, out[pos - 1]->id) < 0)
				pos--;
			if (pos >= max)
				continue;
			unsigned last = n < max ? n : max - 1;
			memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof(*out));
			out[pos] = c;
			if (n < max)
				n++;
		}
	}
	return n;
}

unsigned um_dht_closest(const struct um_dht *dht, const uint8_t target[UM_DHT_KEY_BYTES], struct um_dht_contact *out,
			unsigned max)
{
	struct um_dht_rt_contact *c[UM_DHT_K_MAX * 2];
	if (max > UM_DHT_K_MAX * 2)
		max = UM_DHT_K_MAX * 2;
	unsigned n = um_dht_rt_closest(dht, target, NULL, c, max);
	for (unsigned i = 0; i < n; i++) {
		memcpy(out[i].id.bytes, c[i]->id, 32);
		out[i].addr = c[i]->addr;
	}
	return n;
}

/* A random ID in bucket b's range: our prefix up to the bucket's bit, that
 * bit flipped, the rest random. */
static void random_in_bucket(struct um_dht *dht, unsigned b, uint8_t out[32])
{
	unsigned bit = 255 - b; /* index of the first differing bit from the top */
	um_dht_random(dht, out, 32);
	for (unsigned i = 0; i < bit; i++) {
		uint8_t mask = (uint8_t)(0x80 >> (i % 8));
		out[i / 8] = (uint8_t)((out[i / 8] & ~mask) | (dht->self.bytes[i / 8] & mask));
	}
	uint8_t mask = (uint8_t)(0x80 >> (bit % 8));
	out[bit / 8] = (uint8_t)((out[bit / 8] & ~mask) | (~dht->self.bytes[bit / 8] & mask));
}

/* Refresh: every refresh interval, look up a random ID in each bucket that
 * saw no lookup since, own neighbourhood (lowest index) first, one at a
 * time so a refresh never floods. */
void um_dht_rt_tick(struct um_dht *dht, uint64_t now_ns)
{
	if (now_ns < dht->next_refresh_ns || !dht->n_contacts)
		return;
	for (unsigned i = 0; i < dht->n_lookups; i++)
		if (dht->lookups[i]->kind == UM_DHT_L_REFRESH) {
			dht->next_refresh_ns = now_ns + dht->cfg.min_rto_ns * 10;
			return;
		}
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++) {
		struct um_dht_bucket *bk = &dht->buckets[b];
		if (!bk->n || now_ns < bk->refreshed_ns + dht->cfg.refresh_interval_ns)
			continue;
		uint8_t target[32];
		random_in_bucket(dht, b, target);
		bk->refreshed_ns = now_ns;
		um_dht_lookup_start(dht, UM_DHT_L_REFRESH, target, NULL, 0, now_ns, NULL);
		dht->next_refresh_ns = now_ns + dht->cfg.min_rto_ns * 10;
		return;
	}
	dht->next_refresh_ns = now_ns + dht->cfg.refresh_interval_ns / 4;
}

void um_dht_rt_free(struct um_dht *dht)
{
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++) {
		struct um_dht_bucket *bk = &dht->buckets[b];
		um_dht_free(dht, bk->contacts, bk->cap * sizeof(*bk->contacts));
		um_dht_free(dht, bk->repl, dht->cfg.replacements * sizeof(*bk->repl));
	}
}

unsigned um_dht_contact_count(const struct um_dht *dht)
{
	return dht->n_contacts;
}

unsigned um_dht_contacts(const struct um_dht *dht, struct um_dht_contact_info *infos, unsigned max)
{
	unsigned n = 0;
	for (unsigned b = 0; b < UM_DHT_ID_BITS && n < max; b++) {
		const struct um_dht_bucket *bk = &dht->buckets[b];
		for (unsigned i = 0; i < bk->n && n < max; i++) {
			const struct um_dht_rt_contact *c = &bk->contacts[i];
			struct um_dht_contact_info *info = &infos[n++];
			memcpy(info->contact.id.bytes, c->id, 32);
			info->contact.addr = c->addr;
			info->bucket = b;
			info->srtt_ns = c->srtt_ns;
			info->rto_ns = um_dht_rto(dht, c->id, true);
			info->last_seen_ns = c->last_seen_ns;
			info->failures = c->failures;
		}
	}
	return n;
}

int um_dht_test_insert(struct um_dht *dht, const struct um_dht_contact *c, uint64_t now_ns)
{
	struct um_dht_output *saved = dht->out;
	dht->out = NULL; /* no events, no pings from a warm start */
	int ret = um_dht_rt_insert(dht, c->id.bytes, &c->addr, now_ns);
	dht->out = saved;
	return ret;
}

/* ---- save / load -------------------------------------------------------------- */

enum { SAVE_VERSION = 1, SAVE_ENTRY = 32 + UM_ADDR_WIRE_BYTES };

size_t um_dht_contacts_save_size(const struct um_dht *dht)
{
	return 8 + (size_t)dht->n_contacts * SAVE_ENTRY;
}

/* "UMDHT" | version u8 | count u16 | count x (ID 32 | endpoint 20). */
int um_dht_contacts_save(const struct um_dht *dht, uint8_t *buf, size_t cap)
{
	struct um_writer w;
	if (cap < um_dht_contacts_save_size(dht))
		return -UM_ERANGE;
	um_writer_init(&w, buf, cap);
	um_write_bytes(&w, "UMDHT", 5);
	um_write_u8(&w, SAVE_VERSION);
	um_write_u16(&w, (uint16_t)dht->n_contacts);
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++) {
		const struct um_dht_bucket *bk = &dht->buckets[b];
		for (unsigned i = 0; i < bk->n; i++) {
			um_write_bytes(&w, bk->contacts[i].id, 32);
			um_addr_write(&w, &bk->contacts[i].addr);
		}
	}
	return um_writer_error(&w) ? -UM_ERANGE : (int)w.pos;
}

int um_dht_contacts_load(struct um_dht *dht, const uint8_t *buf, size_t len, uint64_t now_ns, struct um_dht_output *out)
{
	struct um_reader r;
	um_reader_init(&r, buf, len);
	const uint8_t *magic = um_read_bytes(&r, 5);
	uint8_t version = um_read_u8(&r);
	unsigned count = um_read_u16(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (memcmp(magic, "UMDHT", 5))
		return -UM_EINVAL;
	if (version != SAVE_VERSION)
		return -UM_EVERSION;
	if (um_reader_left(&r) != (size_t)count * SAVE_ENTRY)
		return -UM_EINVAL;
	out->n_datagrams = out->n_events = 0;
	for (unsigned i = 0; i < count; i++) {
		struct um_dht_contact c;
		um_read_copy(&r, c.id.bytes, 32);
		if (um_addr_read(&r, &c.addr, false))
			return -UM_EINVAL;
		/* Each one proves itself again before it counts; a full output or
		 * too many proofs in flight leaves the rest to later lookups. */
		dht->out = out;
		if (!memcmp(c.id.bytes, dht->self.bytes, 32) || um_dht_rt_find(dht, c.id.bytes))
			continue;
		if (dht->n_proof_pings < UM_DHT_MAX_PROOF_PINGS)
			um_dht_proof_ping(dht, &c.addr, c.id.bytes, now_ns);
	}
	return 0;
}
