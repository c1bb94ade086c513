/* SPDX-License-Identifier: MIT */
/* The DHT engine's core: lifetime, the receive dispatch, answers to
 * requests (bounded to 3x the request for unvalidated sources), proofs of
 * possession, cookies, pending requests and their RTT-adaptive timeouts. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sha3.h"
#include "dht/internal.h"
#include "util/error.h"

static const char proof_label[] = "umbra dht proof v1";

enum {
	COOKIE_EPOCH_S = 300,
	MAX_RTO_NS_S = 10,
};

void *um_dht_alloc(struct um_dht *dht, size_t n)
{
	void *p = calloc(1, n);
	if (p)
		dht->memory += n;
	return p;
}

void um_dht_free(struct um_dht *dht, void *p, size_t n)
{
	if (!p)
		return;
	dht->memory -= n;
	free(p);
}

void um_dht_random(struct um_dht *dht, void *buf, size_t len)
{
	if (dht->cfg.random)
		dht->cfg.random(dht->cfg.random_ctx, buf, len);
	else
		randombytes_buf(buf, len);
}

/* A MAC of the source endpoint under our secret and a 5-minute epoch: a
 * requester that echoes it has shown it receives at that address, so we
 * may answer it with more than 3x what it sent. */
void um_dht_cookie(const struct um_dht *dht, const struct um_addr *addr, uint64_t now_ns, uint64_t epoch_back,
		   uint8_t out[UM_DHT_COOKIE_BYTES])
{
	uint8_t in[8 + UM_ADDR_WIRE_BYTES];
	uint64_t epoch = now_ns / (COOKIE_EPOCH_S * 1000000000ULL) - epoch_back;

	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)(epoch >> (56 - 8 * i));
	um_addr_encode(addr, in + 8);
	crypto_generichash(out, UM_DHT_COOKIE_BYTES, in, sizeof(in), dht->cookie_secret, sizeof(dht->cookie_secret));
}

bool um_dht_cookie_valid(const struct um_dht *dht, const struct um_addr *from, const uint8_t cookie[16],
			 uint64_t now_ns)
{
	uint8_t c[UM_DHT_COOKIE_BYTES];
	for (uint64_t back = 0; back < 2; back++) {
		if (back > now_ns / (COOKIE_EPOCH_S * 1000000000ULL))
			break;
		um_dht_cookie(dht, from, now_ns, back, c);
		if (sodium_memcmp(c, cookie, sizeof(c)) == 0)
			return true;
	}
	return false;
}

int um_dht_send(struct um_dht *dht, const struct um_addr *to, const struct um_dht_msg *m, size_t pad_to)
{
	struct um_dht_output *out = dht->out;
	if (!out || out->n_datagrams >= UM_DHT_OUTPUT_DATAGRAMS) {
		dht->stats.output_deferred++;
		dht->again = true;
		return -UM_ELIMIT;
	}
	struct um_dht_datagram *d = &out->datagrams[out->n_datagrams];
	int n = um_dht_msg_encode(m, d->bytes, sizeof(d->bytes), pad_to);
	if (n < 0)
		return n;
	d->to = *to;
	d->len = (uint16_t)n;
	out->n_datagrams++;
	dht->stats.sent++;
	return 0;
}

struct um_dht_event *um_dht_event_push(struct um_dht *dht, enum um_dht_event_type type)
{
	struct um_dht_output *out = dht->out;
	if (!out || out->n_events >= UM_DHT_OUTPUT_EVENTS) {
		dht->stats.events_dropped++;
		return NULL;
	}
	struct um_dht_event *e = &out->events[out->n_events++];
	/* All but the closest[] array (LOOKUP_DONE fills what it uses). */
	memset(e, 0, offsetof(struct um_dht_event, closest));
	memset(&e->n_values, 0, sizeof(*e) - offsetof(struct um_dht_event, n_values));
	e->type = type;
	return e;
}

void um_dht_msg_init(const struct um_dht *dht, struct um_dht_msg *m, uint8_t type, uint64_t txid)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->txid = txid;
	memcpy(m->sender, dht->self.bytes, 32);
}

/* ---- pending requests ------------------------------------------------------ */

struct um_dht_pending *um_dht_pending_new(struct um_dht *dht, uint8_t kind, const struct um_addr *to, const uint8_t *id,
					  uint64_t now_ns)
{
	if (dht->n_pending == dht->cap_pending) {
		unsigned cap = dht->cap_pending ? dht->cap_pending * 2 : 16;
		if (cap > UM_DHT_MAX_PENDING)
			return NULL;
		struct um_dht_pending **arr = realloc(dht->pending, cap * sizeof(*arr));
		if (!arr)
			return NULL;
		dht->memory += (cap - dht->cap_pending) * sizeof(*arr);
		dht->pending = arr;
		dht->cap_pending = cap;
	}
	struct um_dht_pending *p = um_dht_alloc(dht, sizeof(*p));
	if (!p)
		return NULL;
	dht->pending[dht->n_pending++] = p;
	p->kind = kind;
	p->to = *to;
	if (id) {
		p->has_id = true;
		memcpy(p->id, id, 32);
	}
	do
		um_dht_random(dht, &p->txid, sizeof(p->txid));
	while (p->txid == 0);
	/* Soft: srtt + 2 rttvar, the lookup stops waiting (a slow request
	 * costs little: its answer is still taken). Hard: twice TCP's RTO. */
	uint64_t rto = um_dht_rto(dht, p->id, p->has_id);
	p->sent_ns = now_ns;
	p->soft_ns = now_ns + um_dht_timeout(dht, p->id, p->has_id, 2);
	p->hard_ns = now_ns + 2 * rto;
	return p;
}

struct um_dht_pending *um_dht_pending_find(struct um_dht *dht, uint64_t txid)
{
	for (unsigned i = 0; i < dht->n_pending; i++)
		if (dht->pending[i]->txid == txid)
			return dht->pending[i];
	return NULL;
}

void um_dht_pending_drop(struct um_dht *dht, struct um_dht_pending *p)
{
	if (p->assembly)
		um_dht_assembly_free(dht, p->assembly);
	if (p->kind == UM_DHT_P_PROOF && dht->n_proof_pings)
		dht->n_proof_pings--;
	for (unsigned i = 0; i < dht->n_pending; i++)
		if (dht->pending[i] == p) {
			dht->pending[i] = dht->pending[--dht->n_pending];
			break;
		}
	um_dht_free(dht, p, sizeof(*p));
}

/* ---- RTT ------------------------------------------------------------------- */

static uint64_t rto_of(uint64_t srtt, uint64_t rttvar, uint64_t floor, unsigned var_mult)
{
	uint64_t rto = srtt + var_mult * rttvar;
	if (rto < floor)
		rto = floor;
	if (rto > MAX_RTO_NS_S * 1000000000ULL)
		rto = MAX_RTO_NS_S * 1000000000ULL;
	return rto;
}

/* The contact's own estimate when we have one, else what the whole table
 * measured (a newcomer is probably as far as the average), else the
 * conservative initial value. */
uint64_t um_dht_timeout(const struct um_dht *dht, const uint8_t id[32], bool has_id, unsigned var_mult)
{
	if (has_id) {
		struct um_dht_rt_contact *c = um_dht_rt_find((struct um_dht *)dht, id);
		if (c && c->srtt_ns)
			return rto_of(c->srtt_ns, c->rttvar_ns, dht->cfg.min_rto_ns, var_mult);
	}
	if (dht->global_srtt_ns)
		return rto_of(dht->global_srtt_ns, dht->global_rttvar_ns, dht->cfg.min_rto_ns, var_mult);
	return dht->cfg.initial_rto_ns;
}

uint64_t um_dht_rto(const struct um_dht *dht, const uint8_t id[32], bool has_id)
{
	return um_dht_timeout(dht, id, has_id, 4);
}

static void rtt_update(uint64_t *srtt, uint64_t *rttvar, uint64_t rtt)
{
	if (!*srtt) {
		*srtt = rtt;
		*rttvar = rtt / 2;
		return;
	}
	uint64_t diff = *srtt > rtt ? *srtt - rtt : rtt - *srtt;
	*rttvar = (3 * *rttvar + diff) / 4;
	*srtt = (7 * *srtt + rtt) / 8;
}

void um_dht_rtt_sample(struct um_dht *dht, const uint8_t id[32], uint64_t rtt_ns, uint64_t now_ns)
{
	(void)now_ns;
	struct um_dht_rt_contact *c = um_dht_rt_find(dht, id);
	if (c)
		rtt_update(&c->srtt_ns, &c->rttvar_ns, rtt_ns);
	rtt_update(&dht->global_srtt_ns, &dht->global_rttvar_ns, rtt_ns);
}

/* ---- assemblies ------------------------------------------------------------ */

struct um_dht_assembly *um_dht_assembly_new(struct um_dht *dht, const struct um_dht_msg *m)
{
	if (dht->n_assemblies >= UM_DHT_MAX_ASSEMBLIES) {
		dht->stats.reassembly_dropped++;
		return NULL;
	}
	struct um_dht_assembly *a = um_dht_alloc(dht, sizeof(*a) + m->total_len);
	if (!a)
		return NULL;
	a->total_len = m->total_len;
	a->n_pieces = m->n_pieces;
	a->kind = m->kind;
	a->value_index = m->value_index;
	dht->n_assemblies++;
	return a;
}

void um_dht_assembly_free(struct um_dht *dht, struct um_dht_assembly *a)
{
	dht->n_assemblies--;
	um_dht_free(dht, a, sizeof(*a) + a->total_len);
}

int um_dht_assembly_add(struct um_dht_assembly *a, const struct um_dht_msg *m)
{
	if (m->total_len != a->total_len || m->n_pieces != a->n_pieces || m->value_index != a->value_index ||
	    (m->type == UM_DHT_TYPE_PIECE && m->kind != a->kind))
		return -UM_EINVAL;
	memcpy(a->data + (size_t)m->piece * UM_DHT_PIECE_DATA, m->data, m->data_len);
	a->have |= (uint16_t)(1u << m->piece);
	return a->have == (uint16_t)((1u << a->n_pieces) - 1) ? 1 : 0;
}

/* ---- proofs of possession ---------------------------------------------------- */

static void proof_message(uint8_t out[sizeof(proof_label) - 1 + 96], const uint8_t nonce[32],
			  const uint8_t requester[32], const uint8_t responder[32])
{
	memcpy(out, proof_label, sizeof(proof_label) - 1);
	memcpy(out + sizeof(proof_label) - 1, nonce, 32);
	memcpy(out + sizeof(proof_label) - 1 + 32, requester, 32);
	memcpy(out + sizeof(proof_label) - 1 + 64, responder, 32);
}

int um_dht_proof_ping(struct um_dht *dht, const struct um_addr *to, const uint8_t *id, uint64_t now_ns)
{
	struct um_dht_msg m;
	struct um_dht_pending *p = um_dht_pending_new(dht, UM_DHT_P_PROOF, to, id, now_ns);
	if (!p)
		return -UM_ELIMIT;
	um_dht_random(dht, p->nonce, sizeof(p->nonce));
	um_dht_msg_init(dht, &m, UM_DHT_TYPE_PING, p->txid);
	m.flags = UM_DHT_FLAG_WANT_PROOF;
	memcpy(m.nonce, p->nonce, sizeof(m.nonce));
	dht->n_proof_pings++;
	int ret = um_dht_send(dht, to, &m, UM_DHT_PAD_PROOF);
	if (ret) {
		um_dht_pending_drop(dht, p);
		return ret;
	}
	return 0;
}

/* A live node we do not hold: ask for its proof if its bucket could take
 * it, unless we asked recently or enough proofs are in flight. */
void um_dht_maybe_verify(struct um_dht *dht, const uint8_t id[32], const struct um_addr *addr, uint64_t now_ns)
{
	if (!memcmp(id, dht->self.bytes, 32) || um_dht_rt_find(dht, id) || !um_dht_rt_has_room(dht, id))
		return;
	if (dht->n_proof_pings >= UM_DHT_MAX_PROOF_PINGS)
		return;
	for (unsigned i = 0; i < UM_DHT_RECENT_PROOFS; i++)
		if (!memcmp(dht->recent_proofs[i], id, 8))
			return;
	memcpy(dht->recent_proofs[dht->recent_next], id, 8);
	dht->recent_next = (dht->recent_next + 1) % UM_DHT_RECENT_PROOFS;
	um_dht_proof_ping(dht, addr, id, now_ns);
}

static void proof_complete(struct um_dht *dht, struct um_dht_pending *p, uint64_t now_ns)
{
	const uint8_t *pk = p->assembly->data;
	const uint8_t *sig = pk + UM_HSIG_PK_BYTES;
	uint8_t msg[sizeof(proof_label) - 1 + 96];
	struct um_peer_id id;

	um_peer_id_from_public_key(&id, pk);
	if (p->has_id && memcmp(id.bytes, p->id, 32)) {
		dht->stats.proofs_failed++;
		return;
	}
	proof_message(msg, p->nonce, dht->self.bytes, id.bytes);
	if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk)) {
		dht->stats.proofs_failed++;
		return;
	}
	dht->stats.proofs_verified++;
	um_dht_rtt_sample(dht, id.bytes, now_ns - p->sent_ns, now_ns);
	bool was_empty = dht->n_contacts == 0;
	int ret = um_dht_rt_insert(dht, id.bytes, &p->to, now_ns);
	if (p->answered)
		um_dht_rt_set_cookie(dht, id.bytes, p->cookie);
	if (ret == 0 && was_empty && dht->joining) {
		dht->joining = false;
		um_dht_lookup_start(dht, UM_DHT_L_REFRESH, dht->self.bytes, NULL, 0, now_ns, NULL);
	}
}

/* ---- answers ----------------------------------------------------------------- */

static void answer_ping(struct um_dht *dht, const struct um_addr *from, const struct um_dht_msg *req, size_t len,
			uint64_t now_ns)
{
	struct um_dht_msg m;
	um_dht_msg_init(dht, &m, UM_DHT_TYPE_PONG, req->txid);
	m.observed = *from;
	um_dht_cookie(dht, from, now_ns, 0, m.cookie);
	size_t proof_cost = UM_DHT_HEADER_BYTES + 36 + UM_DHT_PROOF_BYTES + 3 * (UM_DHT_HEADER_BYTES + 6);
	bool proof = (req->flags & UM_DHT_FLAG_WANT_PROOF) && 3 * len >= proof_cost;
	if ((req->flags & UM_DHT_FLAG_WANT_PROOF) && !proof)
		dht->stats.amplification_capped++;
	if (proof)
		m.flags = UM_DHT_FLAG_PROOF;
	if (um_dht_send(dht, from, &m, 0) || !proof)
		return;
	uint8_t blob[UM_DHT_PROOF_BYTES], msg[sizeof(proof_label) - 1 + 96];
	memcpy(blob, dht->cfg.identity->public_key, UM_HSIG_PK_BYTES);
	proof_message(msg, req->nonce, req->sender, dht->self.bytes);
	crypto_sign_detached(blob + UM_HSIG_PK_BYTES, NULL, msg, sizeof(msg), dht->cfg.identity->secret_key);
	dht->stats.proofs_sent++;
	struct um_dht_msg piece;
	um_dht_msg_init(dht, &piece, UM_DHT_TYPE_PIECE, req->txid);
	piece.kind = UM_DHT_PIECE_PROOF;
	piece.total_len = sizeof(blob);
	piece.n_pieces = (uint8_t)um_dht_piece_count(sizeof(blob));
	for (unsigned i = 0; i < piece.n_pieces; i++) {
		piece.piece = (uint8_t)i;
		piece.data = blob + (size_t)i * UM_DHT_PIECE_DATA;
		piece.data_len = um_dht_piece_len(sizeof(blob), i);
		um_dht_send(dht, from, &piece, 0);
	}
}

/* NODES (and, for FIND_VALUE, value pieces) within the budget: unlimited
 * for a source that echoed our cookie, else 3x the request's size. */
static void answer_find(struct um_dht *dht, const struct um_addr *from, const struct um_dht_msg *req, size_t len,
			uint64_t now_ns)
{
	struct um_dht_msg m;
	struct um_dht_rt_contact *closest[UM_DHT_K_MAX];
	unsigned idx[UM_DHT_MAX_PIECES];
	size_t budget = um_dht_cookie_valid(dht, from, req->cookie, now_ns) ? SIZE_MAX : 3 * len;
	unsigned n_values = 0;
	const struct um_dht_stored *v = NULL;

	um_dht_msg_init(dht, &m, UM_DHT_TYPE_NODES, req->txid);
	um_dht_cookie(dht, from, now_ns, 0, m.cookie);
	if (req->type == UM_DHT_TYPE_FIND_VALUE) {
		n_values = um_dht_store_get(dht, req->target, idx, UM_DHT_MAX_PIECES);
		m.n_values = (uint8_t)n_values;
		m.n_summaries = n_values < UM_DHT_MAX_SUMMARIES ? n_values : UM_DHT_MAX_SUMMARIES;
		for (unsigned i = 0; i < m.n_summaries; i++) {
			memcpy(m.summaries[i].owner, dht->store[idx[i]].owner, 32);
			m.summaries[i].sequence = dht->store[idx[i]].sequence;
		}
		if (req->value_index < n_values)
			v = &dht->store[idx[req->value_index]];
	}
	unsigned n = um_dht_rt_closest(dht, req->target, req->sender, closest, dht->cfg.k);
	size_t fixed = UM_DHT_HEADER_BYTES + UM_DHT_COOKIE_BYTES + 5 + 40 * m.n_summaries;
	if (budget < SIZE_MAX && fixed + 52 * n > budget) {
		n = budget > fixed ? (unsigned)((budget - fixed) / 52) : 0;
		dht->stats.amplification_capped++;
	}
	m.n_contacts = n;
	for (unsigned i = 0; i < n; i++) {
		memcpy(m.contacts[i].id, closest[i]->id, 32);
		m.contacts[i].addr = closest[i]->addr;
	}
	size_t used = fixed + 52 * n;
	unsigned n_pieces = v ? um_dht_piece_count(v->len) : 0;
	for (unsigned i = 0; v && i < n_pieces; i++) {
		size_t cost = UM_DHT_HEADER_BYTES + UM_DHT_PIECE_HEADER + um_dht_piece_len(v->len, i);
		if (!(req->want & (1u << i)))
			continue;
		if (budget < SIZE_MAX && used + cost > budget) {
			dht->stats.amplification_capped++;
			break;
		}
		used += cost;
		m.sent |= (uint16_t)(1u << i);
	}
	if (um_dht_send(dht, from, &m, 0) || !m.sent)
		return;
	struct um_dht_msg piece;
	um_dht_msg_init(dht, &piece, UM_DHT_TYPE_PIECE, req->txid);
	piece.kind = UM_DHT_PIECE_VALUE;
	piece.value_index = req->value_index;
	piece.total_len = v->len;
	piece.n_pieces = (uint8_t)n_pieces;
	for (unsigned i = 0; i < n_pieces; i++) {
		if (!(m.sent & (1u << i)))
			continue;
		piece.piece = (uint8_t)i;
		piece.data = v->data + (size_t)i * UM_DHT_PIECE_DATA;
		piece.data_len = um_dht_piece_len(v->len, i);
		um_dht_send(dht, from, &piece, 0);
	}
}

/* ---- replies ----------------------------------------------------------------- */

static void handle_reply(struct um_dht *dht, const struct um_addr *from, const struct um_dht_msg *m, uint64_t now_ns)
{
	struct um_dht_pending *p = um_dht_pending_find(dht, m->txid);
	if (!p || !um_addr_equal(&p->to, from)) {
		dht->stats.unsolicited++;
		return;
	}
	if (p->has_id && memcmp(p->id, m->sender, 32)) {
		dht->stats.wrong_sender++;
		return;
	}
	if (!p->answered && m->type != UM_DHT_TYPE_PIECE && p->kind != UM_DHT_P_PROOF) {
		um_dht_rtt_sample(dht, m->sender, now_ns - p->sent_ns, now_ns);
		um_dht_rt_seen(dht, m->sender, from, now_ns);
	}
	switch (p->kind) {
	case UM_DHT_P_PING:
		if (m->type == UM_DHT_TYPE_PONG) {
			um_dht_rt_set_cookie(dht, m->sender, m->cookie);
			um_dht_pending_drop(dht, p);
		}
		return;
	case UM_DHT_P_PROOF:
		if (m->type == UM_DHT_TYPE_PONG) {
			p->answered = true;
			memcpy(p->cookie, m->cookie, UM_DHT_COOKIE_BYTES);
			if (!(m->flags & UM_DHT_FLAG_PROOF)) {
				dht->stats.proofs_failed++;
				um_dht_pending_drop(dht, p);
			}
			return;
		}
		if (m->type != UM_DHT_TYPE_PIECE || m->kind != UM_DHT_PIECE_PROOF || m->total_len != UM_DHT_PROOF_BYTES)
			return;
		if (!p->assembly && !(p->assembly = um_dht_assembly_new(dht, m)))
			return;
		int done = um_dht_assembly_add(p->assembly, m);
		if (done == 1) {
			proof_complete(dht, p, now_ns);
			um_dht_pending_drop(dht, p);
		}
		return;
	case UM_DHT_P_FIND_NODE:
	case UM_DHT_P_FIND_VALUE:
		if (m->type == UM_DHT_TYPE_NODES)
			um_dht_lookup_reply(dht, p, m, now_ns);
		else if (m->type == UM_DHT_TYPE_PIECE && m->kind == UM_DHT_PIECE_VALUE)
			um_dht_lookup_piece(dht, p, m, now_ns);
		return;
	case UM_DHT_P_STORE:
		if (m->type == UM_DHT_TYPE_STORE_ACK)
			um_dht_lookup_store_ack(dht, p, m, now_ns);
		return;
	}
}

/* ---- entry points -------------------------------------------------------------- */

static void begin(struct um_dht *dht, struct um_dht_output *out)
{
	while (dht->n_hold)
		um_dht_assembly_free(dht, dht->hold[--dht->n_hold]);
	out->n_datagrams = 0;
	out->n_events = 0;
	dht->out = out;
}

int um_dht_create(struct um_dht **out, const struct um_dht_config *config, const struct um_dht_value_ops *ops,
		  uint64_t now_ns)
{
	struct um_dht *dht;

	*out = NULL;
	if (!config || !config->identity || !ops || !ops->check)
		return -UM_EINVAL;
	if (config->k > UM_DHT_K_MAX || config->alpha > UM_DHT_ALPHA_MAX || config->disjoint_paths > UM_DHT_ALPHA_MAX ||
	    config->bucket_width > 8)
		return -UM_EINVAL;
	dht = calloc(1, sizeof(*dht));
	if (!dht)
		return -UM_ENOMEM;
	dht->memory = sizeof(*dht);
	dht->cfg = *config;
	dht->ops = *ops;
	struct um_dht_config *c = &dht->cfg;
	c->k = c->k ? c->k : 8;
	c->alpha = c->alpha ? c->alpha : 3;
	c->replacements = c->replacements ? c->replacements : c->k;
	c->bucket_width = c->bucket_width ? c->bucket_width : 4;
	c->disjoint_paths = c->disjoint_paths ? c->disjoint_paths : 1;
	if (c->disjoint_paths > c->alpha)
		c->alpha = c->disjoint_paths;
	c->max_failures = c->max_failures ? c->max_failures : 3;
	c->per_prefix_bucket = c->per_prefix_bucket ? c->per_prefix_bucket : 2;
	c->per_prefix_table = c->per_prefix_table ? c->per_prefix_table : 10;
	c->max_lookups = c->max_lookups ? c->max_lookups : 32;
	c->initial_rto_ns = c->initial_rto_ns ? c->initial_rto_ns : 1000000000ULL;
	c->min_rto_ns = c->min_rto_ns ? c->min_rto_ns : 50000000ULL;
	c->refresh_interval_ns = c->refresh_interval_ns ? c->refresh_interval_ns : 900000000000ULL;
	c->max_values = c->max_values ? c->max_values : 1024;
	c->max_store_bytes = c->max_store_bytes ? c->max_store_bytes : 4u << 20;
	c->max_values_per_key = c->max_values_per_key ? c->max_values_per_key : 16;
	c->max_values_per_source = c->max_values_per_source ? c->max_values_per_source : 64;
	c->store_per_second = c->store_per_second ? c->store_per_second : 4;
	c->max_inbound_assemblies = c->max_inbound_assemblies ? c->max_inbound_assemblies : 4;
	if (c->max_inbound_assemblies > 8)
		c->max_inbound_assemblies = 8;
	c->value_max_lifetime_ns = c->value_max_lifetime_ns ? c->value_max_lifetime_ns : 86400000000000ULL;
	dht->self = config->identity->id;
	um_dht_random(dht, dht->cookie_secret, sizeof(dht->cookie_secret));
	dht->next_lookup_id = 1;
	dht->next_refresh_ns = now_ns + c->refresh_interval_ns;
	dht->next_expiry_ns = UINT64_MAX;
	dht->joining = true;
	*out = dht;
	return 0;
}

void um_dht_destroy(struct um_dht *dht)
{
	if (!dht)
		return;
	while (dht->n_hold)
		um_dht_assembly_free(dht, dht->hold[--dht->n_hold]);
	while (dht->n_pending)
		um_dht_pending_drop(dht, dht->pending[0]);
	free(dht->pending);
	um_dht_lookup_free_all(dht);
	um_dht_store_free(dht);
	um_dht_rt_free(dht);
	sodium_memzero(dht->cookie_secret, sizeof(dht->cookie_secret));
	free(dht);
}

int um_dht_receive(struct um_dht *dht, const struct um_addr *from, const uint8_t *data, size_t len, uint64_t now_ns,
		   struct um_dht_output *out)
{
	struct um_dht_msg m;

	begin(dht, out);
	dht->stats.received++;
	int ret = um_dht_msg_decode(&m, data, len);
	if (ret) {
		dht->stats.malformed++;
		return ret;
	}
	if (!memcmp(m.sender, dht->self.bytes, 32) || from->family == UM_ADDR_NONE) {
		dht->stats.malformed++;
		return -UM_EINVAL;
	}
	switch (m.type) {
	case UM_DHT_TYPE_PING:
		answer_ping(dht, from, &m, len, now_ns);
		break;
	case UM_DHT_TYPE_FIND_NODE:
	case UM_DHT_TYPE_FIND_VALUE:
		answer_find(dht, from, &m, len, now_ns);
		break;
	case UM_DHT_TYPE_STORE:
		um_dht_store_receive(dht, from, &m, now_ns);
		break;
	default:
		handle_reply(dht, from, &m, now_ns);
		return 0;
	}
	/* A live requester: a table candidate if it proves who it is. Only
	 * when it echoed our cookie: a proof request is 1,280 bytes, and a
	 * spoofed source must not make us send those to a victim. */
	um_dht_rt_seen(dht, m.sender, from, now_ns);
	if (m.type != UM_DHT_TYPE_PING && um_dht_cookie_valid(dht, from, m.cookie, now_ns))
		um_dht_maybe_verify(dht, m.sender, from, now_ns);
	return 0;
}

void um_dht_tick(struct um_dht *dht, uint64_t now_ns, struct um_dht_output *out)
{
	begin(dht, out);
	dht->again = false;
	for (unsigned i = 0; i < dht->n_pending;) {
		struct um_dht_pending *p = dht->pending[i];
		uint64_t txid = p->txid;
		if (!p->soft_expired && now_ns >= p->soft_ns) {
			p->soft_expired = true;
			if (p->lookup_id)
				um_dht_lookup_timeout(dht, p, false, now_ns);
		} else if (now_ns >= p->hard_ns) {
			dht->stats.timeouts++;
			if (p->lookup_id) {
				um_dht_lookup_timeout(dht, p, true, now_ns);
			} else {
				if (p->has_id && (p->kind == UM_DHT_P_PING || p->kind == UM_DHT_P_PROOF))
					um_dht_rt_failed(dht, p->id, now_ns);
				um_dht_pending_drop(dht, p);
			}
		}
		/* p may have moved (dropped or re-sent): step only past kept ones. */
		if (i < dht->n_pending && dht->pending[i]->txid == txid)
			i++;
	}
	um_dht_lookup_tick(dht, now_ns);
	um_dht_rt_tick(dht, now_ns);
	um_dht_store_tick(dht, now_ns);
}

uint64_t um_dht_next_deadline(const struct um_dht *dht)
{
	uint64_t d = dht->next_refresh_ns;
	if (dht->again)
		return 0;
	if (dht->next_expiry_ns < d)
		d = dht->next_expiry_ns;
	for (unsigned i = 0; i < dht->n_pending; i++) {
		const struct um_dht_pending *p = dht->pending[i];
		uint64_t t = p->soft_expired ? p->hard_ns : p->soft_ns;
		if (t < d)
			d = t;
	}
	return d;
}

int um_dht_add_contact_address(struct um_dht *dht, const struct um_addr *addr, uint64_t now_ns,
			       struct um_dht_output *out)
{
	begin(dht, out);
	if (!addr || addr->family == UM_ADDR_NONE)
		return -UM_EINVAL;
	return um_dht_proof_ping(dht, addr, NULL, now_ns);
}

int um_dht_add_contact(struct um_dht *dht, const struct um_dht_contact *contact, uint64_t now_ns,
		       struct um_dht_output *out)
{
	begin(dht, out);
	if (!contact || contact->addr.family == UM_ADDR_NONE || !memcmp(contact->id.bytes, dht->self.bytes, 32))
		return -UM_EINVAL;
	if (um_dht_rt_find(dht, contact->id.bytes))
		return 0;
	return um_dht_proof_ping(dht, &contact->addr, contact->id.bytes, now_ns);
}

int um_dht_find_node(struct um_dht *dht, const uint8_t target[UM_DHT_KEY_BYTES], uint64_t now_ns, uint64_t *id,
		     struct um_dht_output *out)
{
	begin(dht, out);
	return um_dht_lookup_start(dht, UM_DHT_L_NODE, target, NULL, 0, now_ns, id);
}

int um_dht_find_value(struct um_dht *dht, const uint8_t key[UM_DHT_KEY_BYTES], uint64_t now_ns, uint64_t *id,
		      struct um_dht_output *out)
{
	begin(dht, out);
	return um_dht_lookup_start(dht, UM_DHT_L_VALUE, key, NULL, 0, now_ns, id);
}

int um_dht_put(struct um_dht *dht, const uint8_t key[UM_DHT_KEY_BYTES], const uint8_t *value, size_t len,
	       uint64_t now_ns, uint64_t *id, struct um_dht_output *out)
{
	struct um_dht_value_info info;

	begin(dht, out);
	if (!value || len == 0 || len > UM_DHT_VALUE_MAX)
		return -UM_EINVAL;
	if (dht->ops.check(dht->ops.ctx, key, value, len, now_ns, &info))
		return -UM_EBADMSG;
	um_dht_store_put(dht, key, value, len, NULL, now_ns);
	return um_dht_lookup_start(dht, UM_DHT_L_PUT, key, value, len, now_ns, id);
}

const struct um_dht_stats *um_dht_stats(const struct um_dht *dht)
{
	return &dht->stats;
}

const struct um_peer_id *um_dht_self(const struct um_dht *dht)
{
	return &dht->self;
}

size_t um_dht_memory(const struct um_dht *dht)
{
	return dht->memory;
}

int um_dht_distance_cmp(const uint8_t target[32], const uint8_t a[32], const uint8_t b[32])
{
	for (int i = 0; i < 32; i++) {
		uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

int um_dht_bucket_index(const uint8_t self[32], const uint8_t other[32])
{
	for (int i = 0; i < 32; i++) {
		uint8_t x = self[i] ^ other[i];
		if (x)
			return 255 - (i * 8 + __builtin_clz((unsigned)x) - 24);
	}
	return -1;
}
