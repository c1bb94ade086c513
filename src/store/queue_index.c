/* SPDX-License-Identifier: MIT */
/* The relay queue's in-memory index (queue_index.h): hash tables of
 * recipients and of (recipient, id), each recipient's envelopes in seq
 * order, the segments' live bytes, the batch's undo list, and the replay of
 * the log on open. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/queue_index.h"
#include "util/error.h"

static uint64_t hash_of(const struct um_queue *q, const uint8_t *p, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, p, n, q->hash_key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static uint64_t entry_hash(const struct um_queue *q, const uint8_t recipient[32], const uint8_t id[16])
{
	uint8_t key[48];

	memcpy(key, recipient, 32);
	memcpy(key + 32, id, 16);
	return hash_of(q, key, sizeof(key));
}

/* Doubles t when full; the chains are rehashed through next_of/hash_of_item. */
int um_qindex_table_grow(struct um_queue *q, struct qtable *t, bool entries)
{
	size_t cap = t->slot ? (t->mask + 1) * 2 : 1024;
	void **slot;

	if (t->slot && t->n < t->mask + 1)
		return 0;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -UM_ENOMEM;
	for (size_t i = 0; t->slot && i <= t->mask; i++) {
		void *item = t->slot[i];

		while (item) {
			uint64_t h;
			void *next;

			if (entries) {
				struct qentry *e = item;
				next = e->hnext;
				h = entry_hash(q, e->r->id, e->id);
				e->hnext = slot[h & (cap - 1)];
			} else {
				struct qrecipient *r = item;
				next = r->hnext;
				h = hash_of(q, r->id, 32);
				r->hnext = slot[h & (cap - 1)];
			}
			slot[h & (cap - 1)] = item;
			item = next;
		}
	}
	free(t->slot);
	t->slot = slot;
	t->mask = cap - 1;
	return 0;
}

struct qrecipient *um_qindex_recipient_find(struct um_queue *q, const uint8_t id[32])
{
	struct qrecipient *r = q->recipients.slot[hash_of(q, id, 32) & q->recipients.mask];

	while (r && memcmp(r->id, id, 32) != 0)
		r = r->hnext;
	return r;
}

struct qrecipient *um_qindex_recipient_get(struct um_queue *q, const uint8_t id[32])
{
	struct qrecipient *r = um_qindex_recipient_find(q, id);
	void **slot;

	if (r)
		return r;
	if (um_qindex_table_grow(q, &q->recipients, false) != 0 || !(r = calloc(1, sizeof(*r))))
		return NULL;
	memcpy(r->id, id, 32);
	slot = &q->recipients.slot[hash_of(q, id, 32) & q->recipients.mask];
	r->hnext = *slot;
	*slot = r;
	q->recipients.n++;
	return r;
}

/* Takes an empty recipient out of the table (freed by the caller). */
static void recipient_unlink(struct um_queue *q, struct qrecipient *r)
{
	struct qrecipient **p = (struct qrecipient **)&q->recipients.slot[hash_of(q, r->id, 32) & q->recipients.mask];

	while (*p && *p != r)
		p = &(*p)->hnext;
	if (*p) {
		*p = r->hnext;
		q->recipients.n--;
	}
	r->unlinked = true;
}

struct qentry *um_qindex_entry_find(struct um_queue *q, const uint8_t recipient[32], const uint8_t id[16])
{
	struct qentry *e = q->entries.slot[entry_hash(q, recipient, id) & q->entries.mask];

	while (e && (memcmp(e->id, id, 16) != 0 || memcmp(e->r->id, recipient, 32) != 0))
		e = e->hnext;
	return e;
}

void um_qindex_live_add(struct um_queue *q, const struct qentry *e, int sign)
{
	struct um_qlog_segment *s = um_qlog_segment(&q->log, e->seg);

	if (s)
		s->live = sign > 0 ? s->live + um_qlog_record_size(e->len) : s->live - um_qlog_record_size(e->len);
}

/* Links e (its r set) into the table and its recipient's list by seq. */
void um_qindex_entry_link(struct um_queue *q, struct qentry *e)
{
	struct qrecipient *r = e->r;
	struct qentry *after = r->tail;
	void **slot = &q->entries.slot[entry_hash(q, r->id, e->id) & q->entries.mask];

	e->hnext = *slot;
	*slot = e;
	q->entries.n++;
	while (after && after->seq > e->seq)
		after = after->prev;
	e->prev = after;
	e->next = after ? after->next : r->head;
	if (e->next)
		e->next->prev = e;
	else
		r->tail = e;
	if (after)
		after->next = e;
	else
		r->head = e;
	if (r->count++ == 0)
		q->nonempty++;
	r->bytes += e->len;
	q->envelopes++;
	q->bytes += e->len;
	e->linked = true;
	um_qindex_live_add(q, e, 1);
}

void um_qindex_entry_unlink(struct um_queue *q, struct qentry *e)
{
	struct qrecipient *r = e->r;
	struct qentry **p = (struct qentry **)&q->entries.slot[entry_hash(q, r->id, e->id) & q->entries.mask];

	while (*p && *p != e)
		p = &(*p)->hnext;
	if (*p)
		*p = e->hnext;
	q->entries.n--;
	if (e->prev)
		e->prev->next = e->next;
	else
		r->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		r->tail = e->prev;
	if (--r->count == 0)
		q->nonempty--;
	r->bytes -= e->len;
	q->envelopes--;
	q->bytes -= e->len;
	e->linked = false;
	um_qindex_live_add(q, e, -1);
}

int um_qindex_undo_push(struct um_queue *q, enum qundo_kind kind, struct qentry *e)
{
	if (q->n_undo == q->cap_undo) {
		size_t cap = q->cap_undo ? q->cap_undo * 2 : 256;
		struct qundo *u = realloc(q->undo, cap * sizeof(*u));

		if (!u)
			return -UM_ENOMEM;
		q->undo = u;
		q->cap_undo = cap;
	}
	q->undo[q->n_undo++] = (struct qundo){kind, e};
	return 0;
}

/* Ends a batch: on success frees what it removed; on failure puts the index
 * back as it was (in reverse) and frees what it added. Then frees the
 * recipients it emptied. */
void um_qindex_settle(struct um_queue *q, bool ok)
{
	struct qrecipient *dead_r = NULL;
	struct qentry *dead_e = NULL;

	for (size_t i = q->n_undo; !ok && i-- > 0;) {
		struct qentry *e = q->undo[i].e;

		if (q->undo[i].kind == UNDO_REMOVED && !e->linked)
			um_qindex_entry_link(q, e);
		else if (q->undo[i].kind == UNDO_ADDED && e->linked)
			um_qindex_entry_unlink(q, e);
	}
	for (size_t i = 0; i < q->n_undo; i++) {
		struct qrecipient *r = q->undo[i].e->r;

		if (r->count == 0 && !r->unlinked) {
			recipient_unlink(q, r);
			r->hnext = dead_r;
			dead_r = r;
		}
	}
	for (size_t i = 0; i < q->n_undo; i++) {
		struct qentry *e = q->undo[i].e;

		/* Out of the table: hnext is free to chain the dead. */
		if (!e->linked && !e->doomed) {
			e->doomed = true;
			e->hnext = dead_e;
			dead_e = e;
		}
	}
	while (dead_e) {
		struct qentry *next = dead_e->hnext;

		free(dead_e);
		dead_e = next;
	}
	while (dead_r) {
		struct qrecipient *next = dead_r->hnext;

		free(dead_r);
		dead_r = next;
	}
	q->n_undo = 0;
}

/* Replays one record of the log on open (no batch). */
int um_qindex_replay(void *ctx, const struct um_qlog_record *rec, uint32_t seg, uint64_t off)
{
	struct um_queue *q = ctx;
	struct qentry *e = NULL;
	struct qrecipient *r = um_qindex_recipient_find(q, rec->recipient);

	if (rec->seq >= q->next_seq)
		q->next_seq = rec->seq + 1;
	if (r)
		e = um_qindex_entry_find(q, rec->recipient, rec->id);
	if (rec->type == UM_QLOG_TOMBSTONE) {
		if (e && e->seq == rec->seq) {
			um_qindex_entry_unlink(q, e);
			free(e);
		}
		return 0;
	}
	if (e && e->seq > rec->seq)
		return 0; /* an older instance, deleted since */
	if (e) {
		/* The same one copied by a compaction (the later copy wins), or
		 * an older one (expired and purged) replaced. */
		um_qindex_entry_unlink(q, e);
	} else {
		if (um_qindex_table_grow(q, &q->entries, true) != 0)
			return -UM_ENOMEM;
		if (!r && !(r = um_qindex_recipient_get(q, rec->recipient)))
			return -UM_ENOMEM;
		if (!(e = calloc(1, sizeof(*e))))
			return -UM_ENOMEM;
		e->r = r;
		memcpy(e->id, rec->id, 16);
	}
	e->seq = rec->seq;
	e->arrival_ms = rec->arrival_ms;
	e->expires_ms = rec->expires_ms;
	e->seg = seg;
	e->off = off;
	e->len = rec->len;
	um_qindex_entry_link(q, e);
	return 0;
}

void um_qindex_free(struct um_queue *q)
{
	for (size_t i = 0; q->entries.slot && i <= q->entries.mask; i++)
		for (struct qentry *e = q->entries.slot[i], *next; e; e = next) {
			next = e->hnext;
			free(e);
		}
	for (size_t i = 0; q->recipients.slot && i <= q->recipients.mask; i++)
		for (struct qrecipient *r = q->recipients.slot[i], *next; r; r = next) {
			next = r->hnext;
			free(r);
		}
	free(q->entries.slot);
	free(q->recipients.slot);
}
