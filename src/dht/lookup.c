/* SPDX-License-Identifier: MIT */
/* Iterative lookups (find node, find value, the find phase of a put, and
 * bucket refreshes) and the STORE phase of a put.
 *
 * A lookup keeps 3k candidates sorted by distance to its target, seeded
 * with the 3k closest contacts of the table, and keeps alpha requests in
 * flight (per path: with d disjoint paths each candidate belongs to the
 * path that learned it, S/Kademlia); a candidate likely among the k
 * closest (it shares as many bits with the target as they should) is
 * asked at once, up to k in flight. A request that misses its contact's
 * adaptive timeout (soft) stops counting toward alpha, so a dead node costs
 * one RTO, not three; its answer is still taken until the hard timeout.
 * The lookup ends when the k closest candidates of every path that are not
 * failed or slow have answered. Find value: the first valid value is
 * reported at once (after the validator), higher sequences later; values
 * come in pieces, and a piece missing is asked for again, alone. */
#include <stdlib.h>
#include <string.h>

#include "dht/internal.h"
#include "util/error.h"

enum { C_NEW, C_ASKED, C_SLOW, C_ANSWERED, C_FAILED };

static size_t lookup_size(const struct um_dht_lookup *l)
{
	return sizeof(*l) + l->cap_cand * sizeof(struct um_dht_candidate);
}

struct um_dht_lookup *um_dht_lookup_get(struct um_dht *dht, uint64_t id)
{
	for (unsigned i = 0; i < dht->n_lookups; i++)
		if (dht->lookups[i]->id == id)
			return dht->lookups[i];
	return NULL;
}

static struct um_dht_candidate *cand_find(struct um_dht_lookup *l, const uint8_t id[32])
{
	for (unsigned i = 0; i < l->n_cand; i++)
		if (!memcmp(l->cand[i].id, id, 32))
			return &l->cand[i];
	return NULL;
}

static void cand_add(struct um_dht *dht, struct um_dht_lookup *l, const uint8_t id[32], const struct um_addr *addr,
		     const uint8_t *cookie, uint8_t path)
{
	if (!memcmp(id, dht->self.bytes, 32) || cand_find(l, id))
		return;
	unsigned pos = l->n_cand;
	while (pos > 0 && um_dht_distance_cmp(l->target, id, l->cand[pos - 1].id) < 0)
		pos--;
	if (pos >= l->cap_cand)
		return;
	if (l->n_cand == l->cap_cand)
		l->n_cand--; /* the farthest goes (its answer, if any, is ignored) */
	memmove(&l->cand[pos + 1], &l->cand[pos], (l->n_cand - pos) * sizeof(l->cand[0]));
	struct um_dht_candidate *c = &l->cand[pos];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, 32);
	c->addr = *addr;
	c->path = path;
	if (cookie) {
		memcpy(c->cookie, cookie, UM_DHT_COOKIE_BYTES);
		c->has_cookie = true;
	}
	l->n_cand++;
}

/* Each disjoint path is a whole lookup of its own (S/Kademlia): alpha in
 * flight, up to k for its likely closest. Splitting alpha and k among the
 * paths made each path a near-serial walk that needs k answers: 5.5 RTT
 * done p50 at 1,000 nodes with d = 3, against 3.3 this way. */
static unsigned alpha_per_path(const struct um_dht *dht)
{
	return dht->cfg.alpha;
}

static int send_find(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_pending *p,
		     const struct um_dht_candidate *c, uint16_t want)
{
	struct um_dht_msg m;
	size_t pad = 0;
	um_dht_msg_init(dht, &m, l->kind == UM_DHT_L_VALUE ? UM_DHT_TYPE_FIND_VALUE : UM_DHT_TYPE_FIND_NODE, p->txid);
	memcpy(m.target, l->target, 32);
	if (c->has_cookie)
		memcpy(m.cookie, c->cookie, UM_DHT_COOKIE_BYTES);
	if (l->kind == UM_DHT_L_VALUE) {
		m.value_index = p->value_index;
		m.want = want;
		pad = c->has_cookie ? 0 : UM_DHT_PAD_FIND_VALUE;
	} else {
		pad = c->has_cookie ? 0 : UM_DHT_PAD_FIND_NODE;
	}
	int ret = um_dht_send(dht, &c->addr, &m, pad);
	if (!ret) {
		l->messages++;
		l->datagrams++;
	}
	return ret;
}

/* A request to candidate c of lookup l (value_index/want for FIND_VALUE). */
static struct um_dht_pending *request(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_candidate *c,
				      uint8_t value_index, uint16_t want, uint64_t now_ns)
{
	uint8_t kind = l->kind == UM_DHT_L_VALUE ? UM_DHT_P_FIND_VALUE : UM_DHT_P_FIND_NODE;
	struct um_dht_pending *p = um_dht_pending_new(dht, kind, &c->addr, c->id, now_ns);
	if (!p)
		return NULL;
	p->lookup_id = l->id;
	p->path = c->path;
	p->value_index = value_index;
	p->want = want;
	p->expect = 1;
	/* A likely holder we hold no cookie for: three padded requests for
	 * thirds of the value, each answered within 3x its size, so the value
	 * comes whole in one round trip instead of two. */
	bool split = l->kind == UM_DHT_L_VALUE && want == 0xffff && !c->has_cookie &&
		     255 - um_dht_bucket_index(c->id, l->target) >= (int)l->holder_bits;
	static const uint16_t thirds[3] = {0x0003, 0x000c, 0xfff0};
	for (unsigned i = 0; i < (split ? 3u : 1u); i++) {
		if (send_find(dht, l, p, c, split ? thirds[i] : want)) {
			if (i)
				break; /* output full: the rest is asked again if missing */
			um_dht_pending_drop(dht, p);
			return NULL;
		}
		p->expect = (uint8_t)(i + 1);
		if (i)
			l->messages--; /* one request in three datagrams */
	}
	l->pending++;
	return p;
}

/* The window of path: its first k candidates that are neither failed nor
 * slow. Returns true when all of them answered. *next: its first NEW one. */
static bool window(struct um_dht *dht, struct um_dht_lookup *l, uint8_t path, struct um_dht_candidate **next,
		   unsigned *size)
{
	unsigned seen = 0;
	bool complete = true;
	*next = NULL;
	for (unsigned i = 0; i < l->n_cand && seen < dht->cfg.k; i++) {
		struct um_dht_candidate *c = &l->cand[i];
		if (c->path != path || c->state == C_FAILED || c->state == C_SLOW)
			continue;
		seen++;
		if (c->state != C_ANSWERED)
			complete = false;
		if (c->state == C_NEW && !*next)
			*next = c;
	}
	if (size)
		*size = seen;
	return complete;
}

static void lookup_remove(struct um_dht *dht, struct um_dht_lookup *l)
{
	for (unsigned i = 0; i < dht->n_pending;) {
		if (dht->pending[i]->lookup_id == l->id)
			um_dht_pending_drop(dht, dht->pending[i]);
		else
			i++;
	}
	for (unsigned i = 0; i < dht->n_lookups; i++)
		if (dht->lookups[i] == l) {
			dht->lookups[i] = dht->lookups[--dht->n_lookups];
			break;
		}
	if (l->value)
		um_dht_free(dht, l->value, l->value_len);
	um_dht_free(dht, l, lookup_size(l));
}

/* STORE pieces still owed to p (p->want: pieces not yet sent). */
static void store_send(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_pending *p,
		       const struct um_dht_candidate *c)
{
	struct um_dht_msg m;
	um_dht_msg_init(dht, &m, UM_DHT_TYPE_STORE, p->txid);
	memcpy(m.target, l->target, 32);
	memcpy(m.cookie, c->cookie, UM_DHT_COOKIE_BYTES);
	m.total_len = (uint16_t)l->value_len;
	m.n_pieces = (uint8_t)um_dht_piece_count(l->value_len);
	for (unsigned i = 0; i < m.n_pieces; i++) {
		if (!(p->want & (1u << i)))
			continue;
		m.piece = (uint8_t)i;
		m.data = l->value + (size_t)i * UM_DHT_PIECE_DATA;
		m.data_len = um_dht_piece_len(l->value_len, i);
		if (um_dht_send(dht, &c->addr, &m, 0))
			return;
		p->want &= (uint16_t) ~(1u << i);
		l->datagrams++;
	}
}

static void store_to(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_candidate *c, uint64_t now_ns)
{
	struct um_dht_pending *p = um_dht_pending_new(dht, UM_DHT_P_STORE, &c->addr, c->id, now_ns);
	if (!p)
		return;
	c->stored = true;
	p->lookup_id = l->id;
	p->want = (uint16_t)((1u << um_dht_piece_count(l->value_len)) - 1);
	p->soft_expired = true; /* never counts toward alpha */
	l->pending++;
	l->messages++;
	store_send(dht, l, p, c);
}

/* The put's STORE phase: the k closest that answered, but those a STORE
 * went to already (stored on convergence). */
static void start_storing(struct um_dht *dht, struct um_dht_lookup *l, uint64_t now_ns)
{
	unsigned n = 0;
	l->storing = true;
	for (unsigned i = 0; i < l->n_cand && n < dht->cfg.k; i++) {
		struct um_dht_candidate *c = &l->cand[i];
		if (c->state != C_ANSWERED || !c->has_cookie)
			continue;
		if (!c->stored)
			store_to(dht, l, c, now_ns);
		n++;
	}
}

/* Is c among the k closest of its path that are neither failed nor slow? */
static bool in_window(struct um_dht *dht, struct um_dht_lookup *l, const struct um_dht_candidate *c)
{
	unsigned rank = 0;
	for (unsigned i = 0; i < l->n_cand && rank < dht->cfg.k; i++) {
		const struct um_dht_candidate *o = &l->cand[i];
		if (o == c)
			return true;
		if (o->path == c->path && o->state != C_FAILED && o->state != C_SLOW)
			rank++;
	}
	return false;
}

/* End the lookup if nothing is left to wait for: DONE events, or the put's
 * STORE phase. Returns true when l was freed. */
static bool maybe_finish(struct um_dht *dht, struct um_dht_lookup *l, uint64_t now_ns)
{
	if (!l->storing) {
		struct um_dht_candidate *next;
		unsigned size;
		for (uint8_t path = 0; path < dht->cfg.disjoint_paths; path++) {
			if (l->in_flight[path] || !window(dht, l, path, &next, &size))
				return false;
			/* A short window with slow requests out: they may still
			 * answer (or fail) and bring closer nodes. */
			if (size < dht->cfg.k && l->pending)
				return false;
		}
		/* Value pieces still coming from nodes that answered. */
		for (unsigned i = 0; i < dht->n_pending; i++) {
			const struct um_dht_pending *p = dht->pending[i];
			if (p->lookup_id == l->id && p->answered)
				return false;
		}
		if (l->kind == UM_DHT_L_PUT) {
			start_storing(dht, l, now_ns);
			if (l->pending)
				return false;
		}
	} else if (l->pending) {
		return false;
	}
	dht->stats.lookups_done++;
	struct um_dht_event *e = NULL;
	if (l->kind == UM_DHT_L_PUT)
		e = um_dht_event_push(dht, UM_DHT_EVENT_PUT_DONE);
	else if (l->kind != UM_DHT_L_REFRESH)
		e = um_dht_event_push(dht, UM_DHT_EVENT_LOOKUP_DONE);
	if (e) {
		e->id = l->id;
		memcpy(e->key, l->target, 32);
		e->elapsed_ns = now_ns - l->start_ns;
		e->messages = l->messages;
		e->datagrams = l->datagrams;
		e->storers = l->storers;
		e->n_values = l->n_values;
		for (unsigned i = 0; i < l->n_cand && e->n_closest < dht->cfg.k; i++) {
			if (l->cand[i].state != C_ANSWERED)
				continue;
			memcpy(e->closest[e->n_closest].id.bytes, l->cand[i].id, 32);
			e->closest[e->n_closest].addr = l->cand[i].addr;
			e->n_closest++;
		}
	}
	lookup_remove(dht, l);
	return true;
}

/* Does c share enough bits with the target to be one of its k closest? */
static bool likely_closest(const struct um_dht_lookup *l, const struct um_dht_candidate *c)
{
	return 255 - um_dht_bucket_index(c->id, l->target) >= (int)l->closest_bits;
}

/* Keep alpha requests in flight per path; then see whether l is done. */
static void advance(struct um_dht *dht, struct um_dht_lookup *l, uint64_t now_ns)
{
	if (l->storing) {
		maybe_finish(dht, l, now_ns);
		return;
	}
	/* Kademlia's last step: once the closest node known has answered
	 * (nothing closer came back), the rest of the k closest are asked at
	 * once instead of alpha at a time. */
	if (!l->converged && l->n_cand && l->cand[0].state == C_ANSWERED)
		l->converged = true;
	unsigned wide = dht->cfg.k > alpha_per_path(dht) ? dht->cfg.k : alpha_per_path(dht);
	unsigned limit = l->converged ? wide : alpha_per_path(dht);
	for (uint8_t path = 0; path < dht->cfg.disjoint_paths; path++) {
		struct um_dht_candidate *next;
		for (;;) {
			window(dht, l, path, &next, NULL);
			if (!next)
				break;
			/* A candidate that likely is among the k closest is asked
			 * at once, up to k in flight: the lookup ends only when
			 * each of those answered, so waiting for a slot only
			 * delays its end (the last round of Kademlia, started as
			 * soon as its nodes are known instead of after the
			 * closest one answered). */
			if (l->in_flight[path] >= limit && (l->in_flight[path] >= wide || !likely_closest(l, next)))
				break;
			uint16_t want = l->kind == UM_DHT_L_VALUE && !l->n_found ? 0xffff : 0;
			/* Output full (um_dht_send asked for a tick now) or the
			 * pending table full (a deadline frees it): later. */
			if (!request(dht, l, next, 0, want, now_ns))
				break;
			next->state = C_ASKED;
			l->in_flight[path]++;
		}
	}
	maybe_finish(dht, l, now_ns);
}

int um_dht_lookup_start(struct um_dht *dht, uint8_t kind, const uint8_t target[32], const uint8_t *value,
			size_t value_len, uint64_t now_ns, uint64_t *id)
{
	struct um_dht_rt_contact *seed[UM_DHT_K_MAX * UM_DHT_LOOKUP_CANDIDATES_PER_K];
	if (dht->n_lookups >= dht->cfg.max_lookups) {
		dht->stats.lookups_refused++;
		return -UM_ELIMIT;
	}
	if (!dht->n_contacts) {
		dht->stats.lookups_refused++;
		return -UM_ESTATE;
	}
	if (dht->n_lookups % 8 == 0) {
		struct um_dht_lookup **arr = realloc(dht->lookups, (dht->n_lookups + 8) * sizeof(*arr));
		if (!arr)
			return -UM_ENOMEM;
		dht->lookups = arr;
	}
	unsigned cap = dht->cfg.k * UM_DHT_LOOKUP_CANDIDATES_PER_K;
	struct um_dht_lookup *l = um_dht_alloc(dht, sizeof(*l) + cap * sizeof(struct um_dht_candidate));
	if (!l)
		return -UM_ENOMEM;
	l->cap_cand = cap;
	if (value) {
		l->value = um_dht_alloc(dht, value_len);
		if (!l->value) {
			um_dht_free(dht, l, lookup_size(l));
			return -UM_ENOMEM;
		}
		memcpy(l->value, value, value_len);
		l->value_len = value_len;
	}
	l->id = dht->next_lookup_id++;
	l->kind = kind;
	memcpy(l->target, target, 32);
	l->start_ns = now_ns;
	/* Our deepest bucket says about log2(N) bits; the k closest nodes to
	 * any key share about log2(N / k) with it (2 bits of slack). */
	int depth = 0, kbits = 0;
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++)
		if (dht->buckets[b].n) {
			depth = 255 - (int)b;
			break;
		}
	while ((1u << (kbits + 1)) <= dht->cfg.k)
		kbits++;
	l->holder_bits = depth - kbits - 2 > 0 ? (unsigned)(depth - kbits - 2) : 0;
	l->closest_bits = depth - kbits - 1 > 0 ? (unsigned)(depth - kbits - 1) : 0;
	unsigned n = um_dht_rt_closest(dht, target, NULL, seed, cap);
	for (unsigned i = 0; i < n; i++)
		cand_add(dht, l, seed[i]->id, &seed[i]->addr, seed[i]->has_cookie ? seed[i]->cookie : NULL,
			 (uint8_t)(i % dht->cfg.disjoint_paths));
	dht->lookups[dht->n_lookups++] = l;
	dht->stats.lookups_started++;
	if (id)
		*id = l->id;
	advance(dht, l, now_ns);
	return 0;
}

static bool found_has(const struct um_dht_lookup *l, const uint8_t owner[32], uint64_t sequence)
{
	for (unsigned i = 0; i < l->n_found; i++)
		if (!memcmp(l->found[i].owner, owner, 32))
			return l->found[i].sequence >= sequence;
	return false;
}

/* A value arrived whole: validate, keep the highest sequence per owner,
 * report it (the event borrows the assembly until the next call). */
static void value_complete(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_pending *p, uint64_t now_ns)
{
	struct um_dht_value_info info;
	struct um_dht_assembly *a = p->assembly;
	if (dht->ops.check(dht->ops.ctx, l->target, a->data, a->total_len, now_ns, &info)) {
		dht->stats.values_invalid++;
		return;
	}
	if (found_has(l, info.owner, info.sequence)) {
		dht->stats.values_stale++;
		return;
	}
	unsigned i;
	for (i = 0; i < l->n_found; i++)
		if (!memcmp(l->found[i].owner, info.owner, 32))
			break;
	if (i == l->n_found) {
		if (l->n_found == UM_DHT_MAX_FOUND)
			return;
		l->n_found++;
		l->n_values++;
	}
	memcpy(l->found[i].owner, info.owner, 32);
	l->found[i].sequence = info.sequence;
	dht->stats.values_found++;
	struct um_dht_event *e = um_dht_event_push(dht, UM_DHT_EVENT_VALUE);
	if (!e || dht->n_hold == UM_DHT_OUTPUT_EVENTS)
		return;
	e->id = l->id;
	memcpy(e->key, l->target, 32);
	e->value = a->data;
	e->value_len = a->total_len;
	e->info = info;
	e->elapsed_ns = now_ns - l->start_ns;
	dht->hold[dht->n_hold++] = a;
	p->assembly = NULL;
}

static void request_done(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_pending *p)
{
	um_dht_pending_drop(dht, p);
	l->pending--;
}

/* Ask p's node again for the pieces still missing (same txid). */
static bool reask(struct um_dht *dht, struct um_dht_lookup *l, struct um_dht_pending *p, uint64_t now_ns)
{
	struct um_dht_candidate *c = cand_find(l, p->id);
	if (!c || p->retries >= 3)
		return false;
	uint16_t all = p->assembly ? (uint16_t)((1u << p->assembly->n_pieces) - 1) : 0xffff;
	p->want = (uint16_t)(all & ~(p->assembly ? p->assembly->have : 0));
	p->retries++;
	p->soft_expired = true;
	p->sent = p->want; /* we hold its cookie now: all of them should come */
	uint64_t rto = um_dht_rto(dht, p->id, true);
	p->sent_ns = now_ns;
	p->hard_ns = now_ns + 2 * rto;
	p->expect = (uint8_t)(p->replies + 1);
	return send_find(dht, l, p, c, p->want) == 0;
}

void um_dht_lookup_reply(struct um_dht *dht, struct um_dht_pending *p, const struct um_dht_msg *m, uint64_t now_ns)
{
	struct um_dht_lookup *l = um_dht_lookup_get(dht, p->lookup_id);
	if (!l || l->storing)
		return;
	struct um_dht_candidate *c = cand_find(l, p->id);
	struct um_addr from = p->to;
	uint8_t path = p->path;
	l->messages++;
	l->datagrams++;
	bool first = !p->answered;
	if (p->replies < 255)
		p->replies++;
	if (first) {
		p->answered = true;
		if (!p->soft_expired && l->in_flight[path])
			l->in_flight[path]--;
		p->soft_expired = true;
		if (c) {
			c->state = C_ANSWERED;
			memcpy(c->cookie, m->cookie, UM_DHT_COOKIE_BYTES);
			c->has_cookie = true;
		}
		um_dht_rt_set_cookie(dht, m->sender, m->cookie);
		for (unsigned i = 0; i < m->n_contacts; i++)
			cand_add(dht, l, m->contacts[i].id, &m->contacts[i].addr, NULL, path);
		/* cand_add moved the candidates (c pointed into them). */
		c = cand_find(l, p->id);
	}
	p->sent |= m->sent;
	bool wait = false;
	if (l->kind == UM_DHT_L_VALUE && c) {
		/* Other owners' values this node holds that we lack: fetch each
		 * (we hold its cookie now: no cap). */
		for (unsigned i = 1; first && i < m->n_summaries; i++) {
			if (found_has(l, m->summaries[i].owner, m->summaries[i].sequence))
				continue;
			struct um_dht_pending *fetch = request(dht, l, c, (uint8_t)i, 0xffff, now_ns);
			if (fetch)
				fetch->soft_expired = true; /* a fetch, not a step: outside alpha */
		}
		bool need0 = m->n_summaries > 0 && !found_has(l, m->summaries[0].owner, m->summaries[0].sequence);
		if (need0 && p->value_index == 0) {
			uint16_t have = p->assembly ? p->assembly->have : 0;
			if (p->replies < p->expect || (p->sent && (have & p->sent) != p->sent))
				wait = true; /* announced pieces (or answers) still coming */
			else
				wait = reask(dht, l, p, now_ns);
		}
	}
	/* A put stores at once at the k closest as they answer (past
	 * convergence, or likely among the k closest already: their answer
	 * brought the cookie): the STORE phase then has little left to do. */
	bool settled = l->converged || l->cand[0].state == C_ANSWERED || (c && likely_closest(l, c));
	if (l->kind == UM_DHT_L_PUT && c && !c->stored && settled && in_window(dht, l, c))
		store_to(dht, l, c, now_ns);
	um_dht_maybe_verify(dht, m->sender, &from, now_ns);
	if (!wait)
		request_done(dht, l, p);
	advance(dht, l, now_ns);
}

void um_dht_lookup_piece(struct um_dht *dht, struct um_dht_pending *p, const struct um_dht_msg *m, uint64_t now_ns)
{
	struct um_dht_lookup *l = um_dht_lookup_get(dht, p->lookup_id);
	if (!l || m->value_index != p->value_index)
		return;
	if (!p->assembly && !(p->assembly = um_dht_assembly_new(dht, m)))
		return;
	int r = um_dht_assembly_add(p->assembly, m);
	if (r < 0)
		return;
	l->datagrams++;
	if (r == 1) {
		value_complete(dht, l, p, now_ns);
		if (p->answered) {
			request_done(dht, l, p);
			advance(dht, l, now_ns);
		} else if (p->assembly) {
			/* Invalid or stale: wait for NODES, drop what we hold. */
			um_dht_assembly_free(dht, p->assembly);
			p->assembly = NULL;
		}
		return;
	}
	if (p->answered && p->replies >= p->expect && (p->assembly->have & p->sent) == p->sent) {
		if (!reask(dht, l, p, now_ns)) {
			request_done(dht, l, p);
			advance(dht, l, now_ns);
		}
	}
}

void um_dht_lookup_store_ack(struct um_dht *dht, struct um_dht_pending *p, const struct um_dht_msg *m, uint64_t now_ns)
{
	struct um_dht_lookup *l = um_dht_lookup_get(dht, p->lookup_id);
	if (!l)
		return;
	l->messages++;
	l->datagrams++;
	if (m->status == UM_DHT_STORE_OK || m->status == UM_DHT_STORE_STALE)
		l->storers++; /* stale: it already holds this sequence (or newer) */
	request_done(dht, l, p);
	maybe_finish(dht, l, now_ns);
}

void um_dht_lookup_timeout(struct um_dht *dht, struct um_dht_pending *p, bool hard, uint64_t now_ns)
{
	struct um_dht_lookup *l = um_dht_lookup_get(dht, p->lookup_id);
	if (!l) {
		um_dht_pending_drop(dht, p);
		return;
	}
	struct um_dht_candidate *c = cand_find(l, p->id);
	uint8_t path = p->path;
	if (!hard) {
		/* Slow: let the lookup branch around it, still take its answer. */
		if (!p->answered && p->kind != UM_DHT_P_STORE) {
			if (l->in_flight[path])
				l->in_flight[path]--;
			if (c && c->state == C_ASKED)
				c->state = C_SLOW;
			advance(dht, l, now_ns);
		}
		return;
	}
	if (p->answered && p->kind == UM_DHT_P_FIND_VALUE && reask(dht, l, p, now_ns))
		return;
	if (!p->answered) {
		if (c)
			c->state = C_FAILED;
		um_dht_rt_failed(dht, p->id, now_ns);
	}
	request_done(dht, l, p);
	advance(dht, l, now_ns);
}

void um_dht_lookup_tick(struct um_dht *dht, uint64_t now_ns)
{
	/* Work a full output left over: STORE pieces, requests not sent. */
	for (unsigned i = 0; i < dht->n_lookups; i++) {
		struct um_dht_lookup *l = dht->lookups[i];
		if (!l->storing)
			continue;
		for (unsigned j = 0; j < dht->n_pending; j++) {
			struct um_dht_pending *p = dht->pending[j];
			struct um_dht_candidate *c;
			if (p->lookup_id == l->id && p->kind == UM_DHT_P_STORE && p->want && (c = cand_find(l, p->id)))
				store_send(dht, l, p, c);
		}
	}
	for (unsigned i = 0; i < dht->n_lookups;) {
		struct um_dht_lookup *l = dht->lookups[i];
		unsigned before = dht->n_lookups;
		advance(dht, l, now_ns);
		if (dht->n_lookups == before)
			i++;
	}
}

void um_dht_lookup_free_all(struct um_dht *dht)
{
	while (dht->n_lookups)
		lookup_remove(dht, dht->lookups[0]);
	free(dht->lookups);
	dht->lookups = NULL;
}

void um_dht_cancel(struct um_dht *dht, uint64_t id)
{
	struct um_dht_lookup *l = um_dht_lookup_get(dht, id);
	if (l)
		lookup_remove(dht, l);
}

unsigned um_dht_lookups_in_flight(const struct um_dht *dht)
{
	return dht->n_lookups;
}
