/* SPDX-License-Identifier: MIT */
/* The DHT simulator (tests/sim/sim.h). */
#include "sim.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "dht/internal.h"
#include "util/error.h"
#include "wire/dht.h"

#include "sim_internal.h"

/* ---- randomness (deterministic from the seed) ------------------------------ */

static uint64_t rnd(struct um_sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rnd_unit(struct um_sim *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static void engine_random(void *ctx, void *buf, size_t len)
{
	struct um_sim *s = ctx;
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t r = rnd(s);
		memcpy(b + i, &r, len - i < 8 ? len - i : 8);
	}
}

/* ---- values ---------------------------------------------------------------- */

enum { V_OWNER = 4, V_SEQ = 36, V_BODY = 44, V_MAC = 32 };

static void value_key(const uint8_t owner[32], uint8_t key[32])
{
	crypto_generichash(key, 32, owner, 32, (const uint8_t *)"umbra sim key", 13);
}

static void value_mac(const struct um_sim *s, const uint8_t *v, size_t len, uint8_t mac[32])
{
	uint8_t owner_key[32];
	crypto_generichash(owner_key, 32, v + V_OWNER, 32, s->mac_secret, 32);
	crypto_generichash(mac, 32, v, len - V_MAC, owner_key, 32);
}

static size_t value_make(const struct um_sim *s, const uint8_t owner[32], uint64_t seq, bool forge, uint8_t *v)
{
	size_t len = s->cfg.value_size;
	memset(v, 0, len);
	memcpy(v, "SIMV", 4);
	memcpy(v + V_OWNER, owner, 32);
	for (int i = 0; i < 8; i++)
		v[V_SEQ + i] = (uint8_t)(seq >> (56 - 8 * i));
	for (size_t i = V_BODY; i < len - V_MAC; i++)
		v[i] = (uint8_t)(i * 7 + seq);
	value_mac(s, v, len, v + len - V_MAC);
	if (forge)
		v[len - 1] ^= 0x5a;
	return len;
}

static int value_check(void *ctx, const uint8_t key[32], const uint8_t *v, size_t len, uint64_t now_ns,
		       struct um_dht_value_info *info)
{
	struct um_sim *s = ctx;
	uint8_t mac[32], k[32];
	if (len < V_BODY + V_MAC || memcmp(v, "SIMV", 4))
		return -UM_EINVAL;
	value_key(v + V_OWNER, k);
	if (memcmp(k, key, 32))
		return -UM_EINVAL;
	value_mac(s, v, len, mac);
	if (sodium_memcmp(mac, v + len - V_MAC, 32))
		return -UM_EBADMSG;
	memcpy(info->owner, v + V_OWNER, 32);
	info->sequence = 0;
	for (int i = 0; i < 8; i++)
		info->sequence = info->sequence << 8 | v[V_SEQ + i];
	info->expires_ns = now_ns + 3600000 * MS;
	return 0;
}

/* ---- network ----------------------------------------------------------------- */

static void addr_of(unsigned i, struct um_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = UM_ADDR_IPV4;
	a->addr[0] = (uint8_t)(10 + (i >> 16)); /* one /24 per node, past 65,536 too */
	a->addr[1] = (uint8_t)(i >> 8);
	a->addr[2] = (uint8_t)i;
	a->addr[3] = 1;
	a->port = 4000;
}

static int node_of(const struct um_sim *s, const struct um_addr *a)
{
	if (a->family != UM_ADDR_IPV4 || a->addr[0] < 10 || a->addr[0] >= 26 || a->addr[3] != 1 || a->port != 4000)
		return -1;
	unsigned i = (unsigned)(a->addr[0] - 10) << 16 | (unsigned)a->addr[1] << 8 | a->addr[2];
	return i < s->cfg.nodes ? (int)i : -1;
}

static uint64_t pair_rtt(const struct um_sim *s, unsigned a, unsigned b)
{
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
	uint64_t h = (lo * 0x9e3779b97f4a7c15ULL) ^ (hi * 0xc2b2ae3d27d4eb4fULL) ^ s->cfg.seed;
	h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	double u = (double)(h & 0xffffff) / 16777216.0;
	return (uint64_t)(s->cfg.rtt_ms * (0.5 + u) * (double)MS);
}

static void heap_push(struct um_sim *s, struct sim_event ev)
{
	if (s->n_heap == s->cap_heap) {
		s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 4096;
		s->heap = realloc(s->heap, s->cap_heap * sizeof(*s->heap));
		if (!s->heap)
			abort();
	}
	ev.seq = s->seq++;
	size_t i = s->n_heap++;
	while (i) {
		size_t parent = (i - 1) / 2;
		struct sim_event *p = &s->heap[parent];
		if (p->at < ev.at || (p->at == ev.at && p->seq < ev.seq))
			break;
		s->heap[i] = *p;
		i = parent;
	}
	s->heap[i] = ev;
}

static struct sim_event heap_pop(struct um_sim *s)
{
	struct sim_event top = s->heap[0], last = s->heap[--s->n_heap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->n_heap)
			break;
		if (c + 1 < s->n_heap && (s->heap[c + 1].at < s->heap[c].at ||
					  (s->heap[c + 1].at == s->heap[c].at && s->heap[c + 1].seq < s->heap[c].seq)))
			c++;
		if (last.at < s->heap[c].at || (last.at == s->heap[c].at && last.seq < s->heap[c].seq))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n_heap)
		s->heap[i] = last;
	return top;
}

static void send_raw(struct um_sim *s, unsigned from, unsigned to, const uint8_t *bytes, size_t len)
{
	s->datagrams++;
	if (s->cfg.loss_pct > 0 && rnd_unit(s) * 100.0 < s->cfg.loss_pct) {
		s->dropped_loss++;
		return;
	}
	struct sim_msg *m = malloc(sizeof(*m) + len);
	if (!m)
		abort();
	m->from = from;
	m->len = (uint16_t)len;
	memcpy(m->bytes, bytes, len);
	uint64_t rtt = pair_rtt(s, from, to);
	uint64_t delay = rtt / 2 + (uint64_t)(rnd_unit(s) * 0.02 * (double)rtt);
	heap_push(s, (struct sim_event){.at = s->now + delay, .node = to, .kind = EV_DELIVER, .msg = m});
}

static void schedule_timer(struct um_sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	uint64_t d = um_dht_next_deadline(n->dht);
	if (d < s->now)
		d = s->now;
	if (d == UINT64_MAX || d >= n->timer_at)
		return;
	n->timer_at = d;
	heap_push(s, (struct sim_event){.at = d, .node = i, .kind = EV_TIMER});
}

static struct sim_op *op_find(struct um_sim *s, unsigned node, uint64_t id)
{
	for (unsigned i = s->n_ops; i-- > 0;)
		if (s->ops[i].node == node && s->ops[i].id == id && !s->ops[i].done)
			return &s->ops[i];
	return NULL;
}

static void on_event(struct um_sim *s, unsigned node, const struct um_dht_event *e)
{
	struct sim_op *op;
	if (e->type != UM_DHT_EVENT_VALUE && e->type != UM_DHT_EVENT_LOOKUP_DONE && e->type != UM_DHT_EVENT_PUT_DONE)
		return;
	if (!(op = op_find(s, node, e->id)))
		return;
	const struct sim_value *v = &s->values[op->value];
	if (e->type == UM_DHT_EVENT_VALUE) {
		struct um_dht_value_info info;
		if (value_check(s, v->key, e->value, e->value_len, s->now, &info) || memcmp(e->key, v->key, 32)) {
			op->forged = true; /* the engine reported what does not validate */
			return;
		}
		if (info.sequence > op->best_seq)
			op->best_seq = info.sequence;
		if (info.sequence == v->sequence && !op->found) {
			op->found = true;
			op->first_ns = s->now - op->start_ns;
		}
		return;
	}
	if (getenv("SIM_DEBUG") && op->kind == OP_GET && !op->found) {
		fprintf(stderr, "DONE without value node=%u closest=%u n_values=%u\n", node, e->n_closest, e->n_values);
		for (unsigned c = 0; c < e->n_closest; c++) {
			int j = node_of(s, &e->closest[c].addr);
			unsigned idx[4];
			fprintf(stderr, "  closest %d alive=%d sybil=%d holds=%u\n", j, s->nodes[j].alive,
				s->nodes[j].sybil, um_dht_store_get(s->nodes[j].dht, v->key, idx, 4));
		}
		for (unsigned j = 0; j < s->cfg.nodes; j++) {
			unsigned idx[4];
			if (um_dht_store_get(s->nodes[j].dht, v->key, idx, 4))
				fprintf(stderr, "  holder %u alive=%d sybil=%d\n", j, s->nodes[j].alive,
					s->nodes[j].sybil);
		}
	}
	op->done = true;
	op->done_ns = s->now - op->start_ns;
	op->messages = e->messages;
	op->datagrams = e->datagrams;
	op->storers = e->storers;
}

static void drain(struct um_sim *s, unsigned i)
{
	struct um_dht_output *out = &s->out;
	for (unsigned d = 0; d < out->n_datagrams; d++) {
		int to = node_of(s, &out->datagrams[d].to);
		if (to >= 0)
			send_raw(s, i, (unsigned)to, out->datagrams[d].bytes, out->datagrams[d].len);
	}
	for (unsigned e = 0; e < out->n_events; e++)
		on_event(s, i, &out->events[e]);
	out->n_datagrams = out->n_events = 0;
	schedule_timer(s, i);
}

/* ---- Sybils -------------------------------------------------------------------- */

static const struct sim_value *value_by_key(const struct um_sim *s, const uint8_t key[32])
{
	for (unsigned i = 0; i < s->n_values; i++)
		if (!memcmp(s->values[i].key, key, 32))
			return &s->values[i];
	return NULL;
}

static void sybil_pieces(struct um_sim *s, unsigned sy, unsigned to, uint64_t txid, const uint8_t *v, size_t len)
{
	struct um_dht_msg m;
	uint8_t buf[UM_DHT_WIRE_MAX];
	um_dht_msg_init(s->nodes[sy].dht, &m, UM_DHT_TYPE_PIECE, txid);
	m.kind = UM_DHT_PIECE_VALUE;
	m.total_len = (uint16_t)len;
	m.n_pieces = (uint8_t)um_dht_piece_count(len);
	for (unsigned p = 0; p < m.n_pieces; p++) {
		m.piece = (uint8_t)p;
		m.data = v + (size_t)p * UM_DHT_PIECE_DATA;
		m.data_len = um_dht_piece_len(len, p);
		int n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
		if (n > 0)
			send_raw(s, sy, to, buf, (size_t)n);
	}
}

/* A FIND_VALUE to a Sybil: its engine answers it as a FIND_NODE (contacts,
 * no values), then the Sybil pushes a forged or a stale value, or nothing. */
static bool sybil_intercept(struct um_sim *s, unsigned sy, const struct sim_msg *msg)
{
	struct um_dht_msg m;
	uint8_t buf[UM_DHT_WIRE_MAX], v[UM_DHT_VALUE_MAX];
	if (um_dht_msg_decode(&m, msg->bytes, msg->len))
		return false;
	if (m.type == UM_DHT_TYPE_NODES || m.type == UM_DHT_TYPE_PONG) {
		s->harvest[msg->from].sybil = (int)sy;
		memcpy(s->harvest[msg->from].cookie, m.cookie, UM_DHT_COOKIE_BYTES);
		return false;
	}
	if (m.type != UM_DHT_TYPE_FIND_VALUE)
		return false;
	m.type = UM_DHT_TYPE_FIND_NODE;
	int n = um_dht_msg_encode(&m, buf, sizeof(buf), msg->len);
	if (n > 0) {
		struct um_addr from;
		addr_of(msg->from, &from);
		um_dht_receive(s->nodes[sy].dht, &from, buf, (size_t)n, s->now, &s->out);
		drain(s, sy);
	}
	const struct sim_value *sv = value_by_key(s, m.target);
	unsigned mode = sy % 3;
	if (!sv || mode == 2)
		return true;
	size_t len = value_make(s, s->nodes[sv->owner].identity->id.bytes, mode ? sv->sequence - 1 : sv->sequence + 1,
				mode == 0, v);
	sybil_pieces(s, sy, msg->from, m.txid, v, len);
	return true;
}

/* Every 50 ms of virtual time each Sybil sends a forged or stale STORE to a
 * node whose cookie it holds. */
static void sybil_flood(struct um_sim *s)
{
	uint8_t v[UM_DHT_VALUE_MAX], buf[UM_DHT_WIRE_MAX];
	if (!s->n_values)
		return;
	for (unsigned t = 0; t < s->cfg.nodes; t++) {
		struct sim_harvest *h = &s->harvest[t];
		if (h->sybil < 0 || !s->nodes[h->sybil].alive || rnd(s) % 4)
			continue;
		const struct sim_value *sv = &s->values[rnd(s) % s->n_values];
		bool forge = rnd(s) & 1;
		size_t len = value_make(s, s->nodes[sv->owner].identity->id.bytes,
					forge ? sv->sequence + 5 : sv->sequence - 1, forge, v);
		struct um_dht_msg m;
		um_dht_msg_init(s->nodes[h->sybil].dht, &m, UM_DHT_TYPE_STORE, rnd(s) | 1);
		memcpy(m.target, sv->key, 32);
		memcpy(m.cookie, h->cookie, UM_DHT_COOKIE_BYTES);
		m.total_len = (uint16_t)len;
		m.n_pieces = (uint8_t)um_dht_piece_count(len);
		for (unsigned p = 0; p < m.n_pieces; p++) {
			m.piece = (uint8_t)p;
			m.data = v + (size_t)p * UM_DHT_PIECE_DATA;
			m.data_len = um_dht_piece_len(len, p);
			int n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
			if (n > 0)
				send_raw(s, (unsigned)h->sybil, t, buf, (size_t)n);
		}
	}
}

/* ---- the loop -------------------------------------------------------------------- */

static void step(struct um_sim *s, struct sim_event ev)
{
	struct sim_node *n = &s->nodes[ev.node];
	s->now = ev.at;
	if (ev.kind == EV_TIMER) {
		if (n->timer_at != ev.at || !n->alive)
			return;
		n->timer_at = UINT64_MAX;
		um_dht_tick(n->dht, s->now, &s->out);
		drain(s, ev.node);
		return;
	}
	if (!n->alive) {
		s->dropped_dead++;
	} else if (!(n->sybil && sybil_intercept(s, ev.node, ev.msg))) {
		struct um_addr from;
		addr_of(ev.msg->from, &from);
		um_dht_receive(n->dht, &from, ev.msg->bytes, ev.msg->len, s->now, &s->out);
		drain(s, ev.node);
	}
	free(ev.msg);
}

static bool ops_pending(const struct um_sim *s)
{
	for (unsigned i = 0; i < s->n_ops; i++)
		if (!s->ops[i].done)
			return true;
	return false;
}

/* Run until every op is done (or limit_s passed), then let the
 * stragglers' timers settle for 10 s of virtual time. */
static void run(struct um_sim *s)
{
	uint64_t limit = s->now + (uint64_t)((s->cfg.limit_s ? s->cfg.limit_s : 3600) * 1000 * (double)MS);
	uint64_t settle = UINT64_MAX;
	while (s->n_heap && s->heap[0].at < limit) {
		if (s->flooding && s->now >= s->next_flood) {
			sybil_flood(s);
			s->next_flood = s->now + 50 * MS;
		}
		step(s, heap_pop(s));
		if (settle == UINT64_MAX && !ops_pending(s)) {
			settle = s->now + 10000 * MS;
			limit = settle < limit ? settle : limit;
		}
	}
}

static struct sim_op *op_new(struct um_sim *s)
{
	if (s->n_ops == s->cap_ops) {
		s->cap_ops = s->cap_ops ? s->cap_ops * 2 : 256;
		s->ops = realloc(s->ops, s->cap_ops * sizeof(*s->ops));
		if (!s->ops)
			abort();
	}
	struct sim_op *op = &s->ops[s->n_ops++];
	memset(op, 0, sizeof(*op));
	op->start_ns = s->now;
	return op;
}

static unsigned random_honest(struct um_sim *s)
{
	for (;;) {
		unsigned i = (unsigned)(rnd(s) % s->cfg.nodes);
		if (s->nodes[i].alive && !s->nodes[i].sybil)
			return i;
	}
}

void um_sim_publish(struct um_sim *s, unsigned count)
{
	uint8_t v[UM_DHT_VALUE_MAX];
	unsigned first = s->n_ops;
	s->values = realloc(s->values, (s->n_values + count) * sizeof(*s->values));
	if (!s->values)
		abort();
	for (unsigned c = 0; c < count; c++) {
		struct sim_value *sv = &s->values[s->n_values];
		do
			sv->owner = random_honest(s);
		while (s->nodes[sv->owner].owner);
		s->nodes[sv->owner].owner = true; /* one value per owner: keys are distinct */
		sv->sequence = 2 + rnd(s) % 1000;
		value_key(s->nodes[sv->owner].identity->id.bytes, sv->key);
		size_t len = value_make(s, s->nodes[sv->owner].identity->id.bytes, sv->sequence, false, v);
		struct sim_op *op = op_new(s);
		op->kind = OP_PUT;
		op->node = sv->owner;
		op->value = s->n_values++;
		if (um_dht_put(s->nodes[sv->owner].dht, sv->key, v, len, s->now, &op->id, &s->out))
			op->done = true;
		drain(s, sv->owner);
	}
	run(s);
	(void)first;
}

void um_sim_churn(struct um_sim *s, double pct)
{
	unsigned kill = (unsigned)(s->cfg.nodes * pct / 100.0);
	for (unsigned k = 0; k < kill;) {
		unsigned i = (unsigned)(rnd(s) % s->cfg.nodes);
		if (s->nodes[i].alive) {
			s->nodes[i].alive = false;
			k++;
		}
	}
}

void um_sim_lookups(struct um_sim *s, unsigned count, double spacing_ms)
{
	s->flooding = s->cfg.sybil_pct > 0;
	for (unsigned c = 0; c < count; c++) {
		unsigned vi = (unsigned)(rnd(s) % s->n_values);
		unsigned node;
		do
			node = random_honest(s);
		while (node == s->values[vi].owner);
		/* Advance the clock to this lookup's start, running what is due. */
		uint64_t start = s->now + (uint64_t)(spacing_ms * (double)MS);
		while (s->n_heap && s->heap[0].at <= start)
			step(s, heap_pop(s));
		s->now = start;
		struct sim_op *op = op_new(s);
		op->kind = OP_GET;
		op->node = node;
		op->value = vi;
		if (um_dht_find_value(s->nodes[node].dht, s->values[vi].key, s->now, &op->id, &s->out))
			op->done = true;
		drain(s, node);
	}
	run(s);
	s->flooding = false;
}

/* ---- setup --------------------------------------------------------------------- */

struct sorted_id {
	uint8_t id[32];
	unsigned node;
};

static int cmp_id(const void *a, const void *b)
{
	return memcmp(((const struct sorted_id *)a)->id, ((const struct sorted_id *)b)->id, 32);
}

static size_t lower_bound(const struct sorted_id *arr, size_t n, const uint8_t key[32])
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (memcmp(arr[mid].id, key, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Warm tables: for each node and each prefix length p, k random nodes
 * among those sharing p bits and differing at bit p (bucket 255 - p),
 * with their true RTT as if measured. */
static void warm(struct um_sim *s)
{
	unsigned n = s->cfg.nodes;
	struct sorted_id *arr = malloc(n * sizeof(*arr));
	if (!arr)
		abort();
	for (unsigned i = 0; i < n; i++) {
		memcpy(arr[i].id, s->nodes[i].identity->id.bytes, 32);
		arr[i].node = i;
	}
	qsort(arr, n, sizeof(*arr), cmp_id);
	for (unsigned i = 0; i < n; i++) {
		struct um_dht *d = s->nodes[i].dht;
		const uint8_t *self = s->nodes[i].identity->id.bytes;
		for (unsigned p = 0; p < 64; p++) {
			uint8_t lo[32], hi[32];
			memcpy(lo, self, 32);
			lo[p / 8] ^= (uint8_t)(0x80 >> (p % 8));
			for (unsigned b = p + 1; b < 256; b++)
				lo[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
			memcpy(hi, lo, 32);
			for (unsigned b = p + 1; b < 256; b++)
				hi[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			size_t a = lower_bound(arr, n, lo), z = lower_bound(arr, n, hi);
			if (z < n && !memcmp(arr[z].id, hi, 32))
				z++;
			size_t range = z - a;
			unsigned k = um_dht_rt_bucket_max(d, 255 - p);
			for (unsigned t = 0; t < k && range; t++) {
				size_t pick = range <= k ? a + t : a + rnd(s) % range;
				if (pick >= z)
					break;
				unsigned j = arr[pick].node;
				struct um_dht_contact c = {.id = s->nodes[j].identity->id, .addr = s->nodes[j].addr};
				if (um_dht_test_insert(d, &c, s->now) == 0) {
					struct um_dht_rt_contact *rc = um_dht_rt_find(d, c.id.bytes);
					uint64_t rtt = pair_rtt(s, i, j);
					if (rc && !rc->srtt_ns) {
						rc->srtt_ns = rtt;
						rc->rttvar_ns = rtt / 8;
					}
				}
			}
		}
		d->global_srtt_ns = (uint64_t)(s->cfg.rtt_ms * (double)MS);
		d->global_rttvar_ns = d->global_srtt_ns / 4;
	}
	free(arr);
}

static int engine_new(struct um_sim *s, unsigned i, uint64_t now)
{
	struct um_dht_value_ops ops = {.ctx = s, .check = value_check};
	struct um_dht_config c = {.identity = s->nodes[i].identity,
				  .random = engine_random,
				  .random_ctx = s,
				  .k = s->cfg.k,
				  .alpha = s->cfg.alpha,
				  .disjoint_paths = s->cfg.disjoint_paths,
				  .bucket_width = s->cfg.bucket_width,
				  .initial_rto_ns = (uint64_t)(s->cfg.rtt_ms * 3 * (double)MS)};
	return um_dht_create(&s->nodes[i].dht, &c, &ops, now);
}

int um_sim_cold_lookup(struct um_sim *s, struct um_sim_cold *r)
{
	unsigned x = random_honest(s), b, vi = (unsigned)(rnd(s) % s->n_values);
	do
		b = random_honest(s);
	while (b == x);
	while (x == s->values[vi].owner)
		x = random_honest(s);
	memset(r, 0, sizeof(*r));
	/* Restart x with an empty table: every contact it gets, it proves. */
	um_dht_destroy(s->nodes[x].dht);
	s->nodes[x].dht = NULL;
	s->nodes[x].timer_at = UINT64_MAX;
	if (engine_new(s, x, s->now))
		return -UM_ENOMEM;
	uint64_t start = s->now, limit = s->now + 60000 * MS;
	r->bootstrap_rtt = (double)pair_rtt(s, x, b) / (s->cfg.rtt_ms * (double)MS);
	um_dht_add_contact_address(s->nodes[x].dht, &s->nodes[b].addr, s->now, &s->out);
	drain(s, x);
	/* The first lookup starts once the bootstrap has proved itself (its
	 * own-ID lookup runs beside it). */
	while (s->n_heap && s->heap[0].at < limit && !um_dht_contact_count(s->nodes[x].dht))
		step(s, heap_pop(s));
	r->join_rtt = (double)(s->now - start) / (s->cfg.rtt_ms * (double)MS);
	struct sim_op *op = op_new(s);
	op->kind = OP_COLD;
	op->node = x;
	op->value = vi;
	if (um_dht_find_value(s->nodes[x].dht, s->values[vi].key, s->now, &op->id, &s->out))
		op->done = true;
	drain(s, x);
	run(s);
	r->found = op->found;
	r->contacts = um_dht_contact_count(s->nodes[x].dht);
	r->total_rtt = (double)(op->start_ns + op->done_ns - start) / (s->cfg.rtt_ms * (double)MS);
	r->first_rtt = (double)(op->start_ns + op->first_ns - start) / (s->cfg.rtt_ms * (double)MS);
	return 0;
}

int um_sim_create(struct um_sim **out, const struct um_sim_config *config)
{
	struct um_sim *s = calloc(1, sizeof(*s));
	if (!s)
		return -UM_ENOMEM;
	s->cfg = *config;
	if (!s->cfg.rtt_ms)
		s->cfg.rtt_ms = 100;
	if (!s->cfg.value_size)
		s->cfg.value_size = 7600;
	if (s->cfg.value_size > UM_DHT_VALUE_MAX || s->cfg.value_size < V_BODY + V_MAC || s->cfg.nodes > (1u << 20)) {
		free(s);
		return -UM_EINVAL;
	}
	s->rng = config->seed * 0x2545f4914f6cdd1dULL + 1;
	engine_random(s, s->mac_secret, sizeof(s->mac_secret));
	unsigned n = s->cfg.nodes;
	s->nodes = calloc(n, sizeof(*s->nodes));
	s->identities = calloc(n, sizeof(*s->identities));
	s->harvest = calloc(n, sizeof(*s->harvest));
	if (!s->nodes || !s->identities || !s->harvest) {
		um_sim_destroy(s);
		return -UM_ENOMEM;
	}
	unsigned sybils = (unsigned)(n * s->cfg.sybil_pct / 100.0);
	for (unsigned i = 0; i < n; i++) {
		uint8_t seed[UM_HSIG_SEED_BYTES];
		engine_random(s, seed, sizeof(seed));
		um_identity_from_seed(&s->identities[i], seed);
		struct sim_node *node = &s->nodes[i];
		node->identity = &s->identities[i];
		addr_of(i, &node->addr);
		node->alive = true;
		node->timer_at = UINT64_MAX;
		s->harvest[i].sybil = -1;
		if (engine_new(s, i, 0)) {
			um_sim_destroy(s);
			return -UM_ENOMEM;
		}
	}
	for (unsigned c = 0; c < sybils;) {
		unsigned i = (unsigned)(rnd(s) % n);
		if (!s->nodes[i].sybil) {
			s->nodes[i].sybil = true;
			c++;
		}
	}
	s->now = 1000 * MS;
	warm(s);
	*out = s;
	return 0;
}

void um_sim_destroy(struct um_sim *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->nodes && i < s->cfg.nodes; i++) {
		um_dht_destroy(s->nodes[i].dht);
		um_identity_wipe(&s->identities[i]);
	}
	while (s->n_heap)
		free(heap_pop(s).msg);
	free(s->heap);
	free(s->nodes);
	free(s->identities);
	free(s->harvest);
	free(s->values);
	free(s->ops);
	free(s);
}
