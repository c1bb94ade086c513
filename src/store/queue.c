/* SPDX-License-Identifier: MIT */
/* The relay's durable queue (queue.h): the segment log of queue_log.c is the
 * durable truth; the index (recipients, their envelopes in arrival order,
 * the (recipient, id) lookup) lives in memory and is rebuilt from the log on
 * open. A put or delete changes the index at once and appends a record to
 * the group; the outermost commit writes the group and fdatasyncs once; a
 * failure undoes the group's index changes (the undo list). Deletes and
 * purges append tombstones. Purge also compacts: the oldest segment, once mostly dead, has
 * its live records copied to the head and is removed. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/queue.h"
#include "store/queue_index.h"
#include "store/queue_log.h"
#include "util/error.h"
#include "util/log.h"

/* Envelopes um_queue_pending copies out at a time. */
#define UM_QUEUE_PAGE 16
/* Segments one purge compacts at most (bounds its pause). */
#define UM_QUEUE_COMPACT_MAX 4

int um_queue_open(const char *path, const struct um_queue_limits *limits, struct um_queue **out)
{
	struct um_queue *q;
	int rc;

	if (!path || !*path || !out)
		return -UM_EINVAL;
	*out = NULL;
	if (sodium_init() < 0)
		return -UM_ESTATE;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -UM_ENOMEM;
	q->log.dir_fd = -1; /* closed by um_qlog_close only once opened */
	if (limits)
		q->limits = *limits;
	if (!q->limits.ttl_ms)
		q->limits.ttl_ms = UM_QUEUE_TTL_MS_DEFAULT;
	if (!q->limits.max_messages)
		q->limits.max_messages = UM_QUEUE_MAX_MESSAGES_DEFAULT;
	if (!q->limits.max_bytes)
		q->limits.max_bytes = UM_QUEUE_MAX_BYTES_DEFAULT;
	q->next_seq = 1;
	crypto_shorthash_keygen(q->hash_key);
	q->scratch = malloc(UM_QUEUE_ENVELOPE_MAX);
	rc = q->scratch ? um_qindex_table_grow(q, &q->entries, true) : -UM_ENOMEM;
	if (rc == 0)
		rc = um_qindex_table_grow(q, &q->recipients, false);
	if (rc == 0)
		rc = um_qlog_open(&q->log, path, um_qindex_replay, q);
	if (rc) {
		um_qlog_close(&q->log);
		um_qindex_free(q);
		free(q->scratch);
		free(q);
		return rc;
	}
	*out = q;
	return 0;
}

void um_queue_close(struct um_queue *q)
{
	if (!q)
		return;
	if (q->depth) {
		um_log_warn("queue: closed with a batch open: rolled back");
		um_qlog_discard(&q->log);
		um_qindex_settle(q, false);
	}
	um_qlog_close(&q->log);
	um_qindex_free(q);
	free(q->undo);
	free(q->scratch);
	free(q);
}

int um_queue_set_segment_size(struct um_queue *q, uint64_t bytes)
{
	if (!q || bytes < 4096)
		return -UM_EINVAL;
	q->log.segment_max = bytes;
	return 0;
}

int um_queue_begin(struct um_queue *q)
{
	if (!q)
		return -UM_EINVAL;
	if (q->depth == UINT32_MAX)
		return -UM_ERANGE;
	if (q->depth++ == 0) {
		q->failed = 0;
		um_qlog_rotate(&q->log);
	}
	return 0;
}

int um_queue_commit(struct um_queue *q)
{
	int rc;

	if (!q || q->depth == 0)
		return -UM_ESTATE;
	if (--q->depth)
		return q->failed;
	rc = q->failed;
	if (rc == 0)
		rc = um_qlog_sync(&q->log);
	if (rc && !q->failed)
		um_qindex_settle(q, false); /* a failed batch was settled when it failed */
	else if (rc == 0)
		um_qindex_settle(q, true);
	q->failed = 0;
	return rc;
}

/* A write failed in a batch: everything of it is undone now; later calls and
 * the commit return rc. */
static int batch_fail(struct um_queue *q, int rc)
{
	um_qlog_discard(&q->log);
	um_qindex_settle(q, false);
	q->failed = rc;
	return rc;
}

/* An implicit batch when none is open; paired with op_end. */
static int op_begin(struct um_queue *q)
{
	return um_queue_begin(q);
}

static int op_end(struct um_queue *q, int rc)
{
	int c = um_queue_commit(q);

	return rc ? rc : c;
}

int um_queue_integrity_check(struct um_queue *q)
{
	return q ? um_qlog_verify(&q->log) : -UM_EINVAL;
}

/* Removes e in the open batch with a tombstone. */
static int remove_entry(struct um_queue *q, struct qentry *e)
{
	struct um_qlog_record rec = {.type = UM_QLOG_TOMBSTONE, .seq = e->seq};
	uint32_t seg;
	uint64_t off;
	int rc = um_qindex_undo_push(q, UNDO_REMOVED, e);

	if (rc)
		return rc;
	um_qindex_entry_unlink(q, e);
	memcpy(rec.recipient, e->r->id, 32);
	memcpy(rec.id, e->id, 16);
	rc = um_qlog_append(&q->log, &rec, NULL, &seg, &off);
	return rc ? batch_fail(q, rc) : 0;
}

/* Drops r's expired envelopes (with tombstones: a reopen at any clock finds
 * what this handle had); returns how many. */
static int drop_expired_of(struct um_queue *q, struct qrecipient *r, uint64_t now_ms)
{
	int n = 0, rc;

	for (struct qentry *e = r->head, *next; e; e = next) {
		next = e->next;
		if (e->expires_ms > now_ms)
			continue;
		rc = remove_entry(q, e);
		if (rc)
			return rc;
		n++;
	}
	return n;
}

int um_queue_put(struct um_queue *q, const uint8_t recipient[32], const uint8_t envelope_id[16],
		 const uint8_t *envelope, size_t len, uint64_t now_ms)
{
	struct um_qlog_record rec = {.type = UM_QLOG_PUT};
	struct qrecipient *r;
	struct qentry *e = NULL;
	int rc, dropped = 0;

	if (!q || !recipient || !envelope_id || !envelope)
		return -UM_EINVAL;
	if (len == 0 || len > UM_QUEUE_ENVELOPE_MAX || now_ms > INT64_MAX)
		return -UM_ERANGE;
	rc = op_begin(q);
	if (rc)
		return rc;
	rc = q->failed;
	r = um_qindex_recipient_find(q, recipient);
	if (rc == 0 && r && um_qindex_entry_find(q, recipient, envelope_id))
		rc = -UM_EEXIST; /* acknowledged again, even when its queue is full now */
	if (rc == 0 && r && (r->count + 1 > q->limits.max_messages || r->bytes + len > q->limits.max_bytes)) {
		dropped = drop_expired_of(q, r, now_ms);
		rc = dropped < 0 ? dropped : 0;
		dropped = dropped < 0 ? 0 : dropped;
	}
	if (rc == 0 &&
	    ((r ? r->count : 0) + 1 > q->limits.max_messages || (r ? r->bytes : 0) + len > q->limits.max_bytes))
		rc = -UM_ELIMIT;
	if (rc == 0 && !r && !(r = um_qindex_recipient_get(q, recipient)))
		rc = -UM_ENOMEM;
	if (rc == 0 && um_qindex_table_grow(q, &q->entries, true) != 0)
		rc = -UM_ENOMEM;
	if (rc == 0 && !(e = calloc(1, sizeof(*e))))
		rc = -UM_ENOMEM;
	if (rc == 0)
		rc = um_qindex_undo_push(q, UNDO_ADDED, e);
	if (rc == 0) {
		e->r = r;
		memcpy(e->id, envelope_id, 16);
		e->seq = q->next_seq++;
		e->arrival_ms = now_ms;
		e->expires_ms = now_ms + q->limits.ttl_ms;
		if (e->expires_ms < now_ms || e->expires_ms > INT64_MAX)
			e->expires_ms = INT64_MAX;
		e->len = (uint32_t)len;
		rec.len = e->len;
		rec.seq = e->seq;
		rec.arrival_ms = e->arrival_ms;
		rec.expires_ms = e->expires_ms;
		memcpy(rec.recipient, recipient, 32);
		memcpy(rec.id, envelope_id, 16);
		rc = um_qlog_append(&q->log, &rec, envelope, &e->seg, &e->off);
		if (rc == 0)
			um_qindex_entry_link(q, e);
		else
			rc = batch_fail(q, rc); /* frees e with the batch */
		e = NULL;
	}
	free(e);
	rc = op_end(q, rc);
	if (rc == 0) {
		q->counted.puts++;
		q->counted.purged += (uint64_t)dropped;
	} else if (rc == -UM_ELIMIT) {
		q->counted.refused_full++;
	} else if (rc == -UM_EEXIST) {
		q->counted.refused_dup++;
	}
	return rc;
}

/* One page of um_queue_pending: copied out, so the callback may write. */
struct queue_page {
	struct um_queue_entry e[UM_QUEUE_PAGE];
	size_t offset[UM_QUEUE_PAGE];
	size_t n, used, cap;
	uint8_t *bytes;
};

/* Copies e's envelope (read back from the log, CRC checked) into p. */
static int page_add(struct um_queue *q, struct queue_page *p, const struct qentry *e)
{
	struct um_queue_entry *out = &p->e[p->n];
	struct um_qlog_record rec;
	int rc;

	if (p->used + e->len > p->cap) {
		size_t cap = p->cap ? p->cap : 64 * 1024;
		uint8_t *grown;

		while (cap < p->used + e->len)
			cap *= 2;
		grown = realloc(p->bytes, cap);
		if (!grown)
			return -UM_ENOMEM;
		p->bytes = grown;
		p->cap = cap;
	}
	rc = um_qlog_read(&q->log, e->seg, e->off, &rec, p->bytes + p->used, e->len);
	if (rc == 0 && (rec.type != UM_QLOG_PUT || rec.seq != e->seq || rec.len != e->len))
		rc = -EIO;
	if (rc) {
		um_log_error("queue %s: envelope at %u:%llu unreadable: %s", q->log.path, e->seg,
			     (unsigned long long)e->off, um_strerror(rc));
		return rc == -UM_ENOTFOUND ? -EIO : rc;
	}
	memcpy(out->recipient, e->r->id, 32);
	memcpy(out->id, e->id, 16);
	out->arrival_ms = e->arrival_ms;
	out->expires_ms = e->expires_ms;
	out->len = e->len;
	p->offset[p->n++] = p->used;
	p->used += e->len;
	return 0;
}

int um_queue_pending(struct um_queue *q, const uint8_t recipient[32], size_t limit,
		     int (*cb)(void *ctx, const struct um_queue_entry *e), void *ctx)
{
	struct queue_page *p;
	uint64_t last_seq = 0;
	size_t done = 0;
	int rc = 0;

	if (!q || !recipient || !cb)
		return -UM_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -UM_ENOMEM;
	for (;;) {
		struct qrecipient *r = um_qindex_recipient_find(q, recipient);
		struct qentry *e = r ? r->head : NULL;
		size_t want = UM_QUEUE_PAGE;

		if (limit && limit - done < want)
			want = limit - done;
		/* The callbacks may have deleted: find the place again. */
		while (e && e->seq <= last_seq)
			e = e->next;
		p->n = p->used = 0;
		for (; rc == 0 && e && p->n < want; e = e->next) {
			rc = page_add(q, p, e);
			last_seq = e->seq;
		}
		if (rc || p->n == 0)
			break;
		for (size_t i = 0; i < p->n; i++)
			p->e[i].envelope = p->bytes + p->offset[i];
		for (size_t i = 0; rc == 0 && i < p->n; i++)
			rc = cb(ctx, &p->e[i]);
		done += p->n;
		if (rc || p->n < want || !e)
			break;
	}
	free(p->bytes);
	free(p);
	return rc;
}

int um_queue_delete(struct um_queue *q, const uint8_t recipient[32], const uint8_t envelope_id[16])
{
	struct qentry *e;
	int rc;

	if (!q || !recipient || !envelope_id)
		return -UM_EINVAL;
	rc = op_begin(q);
	if (rc)
		return rc;
	rc = q->failed;
	e = rc ? NULL : um_qindex_entry_find(q, recipient, envelope_id);
	if (rc == 0)
		rc = e ? remove_entry(q, e) : -UM_ENOTFOUND;
	rc = op_end(q, rc);
	if (rc == 0)
		q->counted.deleted++;
	return rc;
}

int um_queue_delete_all(struct um_queue *q, const uint8_t recipient[32])
{
	struct qrecipient *r;
	int rc, n = 0;

	if (!q || !recipient)
		return -UM_EINVAL;
	rc = op_begin(q);
	if (rc)
		return rc;
	rc = q->failed;
	r = rc ? NULL : um_qindex_recipient_find(q, recipient);
	for (struct qentry *e = r ? r->head : NULL, *next; rc == 0 && e; e = next) {
		next = e->next;
		rc = remove_entry(q, e);
		n += rc == 0;
	}
	rc = op_end(q, rc);
	if (rc)
		return rc;
	q->counted.deleted += (uint64_t)n;
	return n;
}

/* Copies the live records of the oldest segment to the head, syncs, then
 * removes it. Outside a batch only. */
static int compact_oldest(struct um_queue *q)
{
	struct um_qlog_segment *old = &q->log.seg[0];
	uint32_t number = old->number, seg;
	struct qentry **moved = NULL;
	uint64_t *where = NULL, off;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i <= q->entries.mask; i++)
		for (struct qentry *e = q->entries.slot[i]; rc == 0 && e; e = e->hnext) {
			struct um_qlog_record rec;

			if (e->seg != number)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				struct qentry **m = realloc(moved, cap * sizeof(*m));
				uint64_t *w = m ? realloc(where, cap * sizeof(*w)) : NULL;
				if (m)
					moved = m;
				if (!w) {
					rc = -UM_ENOMEM;
					break;
				}
				where = w;
			}
			rc = um_qlog_read(&q->log, e->seg, e->off, &rec, q->scratch, UM_QUEUE_ENVELOPE_MAX);
			if (rc == 0)
				rc = um_qlog_append(&q->log, &rec, q->scratch, &seg, &off);
			moved[n] = e;
			where[n++] = off;
		}
	if (rc == 0)
		rc = um_qlog_sync(&q->log);
	else
		um_qlog_discard(&q->log);
	if (rc == 0) {
		seg = q->log.seg[q->log.n_seg - 1].number;
		for (size_t i = 0; i < n; i++) {
			um_qindex_live_add(q, moved[i], -1);
			moved[i]->seg = seg;
			moved[i]->off = where[i];
			um_qindex_live_add(q, moved[i], 1);
		}
		rc = um_qlog_drop_oldest(&q->log);
	}
	free(moved);
	free(where);
	if (rc)
		um_log_warn("queue %s: compacting segment %u: %s", q->log.path, number, um_strerror(rc));
	return rc;
}

int um_queue_purge(struct um_queue *q, uint64_t now_ms)
{
	int total = 0, rc;

	if (!q)
		return -UM_EINVAL;
	rc = op_begin(q);
	if (rc)
		return rc;
	rc = q->failed;
	for (size_t i = 0; rc == 0 && i <= q->recipients.mask; i++)
		for (struct qrecipient *r = q->recipients.slot[i]; rc == 0 && r; r = r->hnext) {
			int n = drop_expired_of(q, r, now_ms);

			rc = n < 0 ? n : 0;
			total += n > 0 ? n : 0;
		}
	rc = op_end(q, rc);
	if (rc)
		return rc;
	q->counted.purged += (uint64_t)total;
	/* The oldest segment once at most half alive (not inside a batch: its
	 * copies are synced on their own). */
	for (int i = 0; q->depth == 0 && i < UM_QUEUE_COMPACT_MAX && q->log.n_seg > 1; i++) {
		struct um_qlog_segment *s = &q->log.seg[0];

		if (s->live * 2 > s->size || compact_oldest(q) != 0)
			break;
	}
	return total;
}

int um_queue_stats(struct um_queue *q, struct um_queue_stats *out)
{
	if (!q || !out)
		return -UM_EINVAL;
	*out = q->counted;
	out->envelopes = q->envelopes;
	out->bytes = q->bytes;
	out->recipients = q->nonempty;
	return 0;
}
