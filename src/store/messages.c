/* SPDX-License-Identifier: MIT */
/* Messages: the outbox (outgoing rows not yet delivered), the inbox, the
 * history of both, and the receipts' state changes. One row per
 * (peer, id, direction): a message sent again after a reset or restart is
 * stored once, which is what makes delivery exactly-once end to end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/error.h"

static int message_validate(const struct um_store_message *m, bool outgoing)
{
	if (!m || (m->len && !m->body))
		return -UM_EINVAL;
	if (m->len > UM_STORE_BODY_MAX)
		return -UM_ERANGE;
	if (m->state > (outgoing ? UM_STORE_OUT_REFUSED : UM_STORE_IN_READ))
		return -UM_EINVAL;
	return 0;
}

static int message_add(struct um_store *s, const struct um_store_message *m, bool outgoing)
{
	sqlite3_stmt *st;
	int64_t seq = 0;
	int rc, b;

	if (!s)
		return -UM_EINVAL;
	rc = message_validate(m, outgoing);
	if (rc)
		return rc;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[UM_STMT_MSG_INSERT];
	b = um_store_bind_blob(st, 1, m->peer, sizeof(m->peer));
	b |= um_store_bind_blob(st, 2, m->id, sizeof(m->id));
	b |= sqlite3_bind_int(st, 3, outgoing);
	b |= sqlite3_bind_int(st, 4, m->kind);
	b |= sqlite3_bind_int64(st, 5, (sqlite3_int64)m->sent_ms);
	b |= sqlite3_bind_int64(st, 6, (sqlite3_int64)m->received_ms);
	b |= sqlite3_bind_int(st, 7, m->state);
	b |= um_store_bind_blob(st, 8, m->body, m->len);
	b |= sqlite3_bind_int(st, 9, m->via);
	rc = um_store_run_bound(s, UM_STMT_MSG_INSERT, b, outgoing ? "outbox add" : "inbox add");
	if (rc == 0)
		seq = sqlite3_last_insert_rowid(s->db.handle);
	rc = um_store_op_end(s, rc);
	if (rc == 0)
		s->last_seq = seq;
	return rc;
}

int um_store_outbox_add(struct um_store *s, const struct um_store_message *m)
{
	return message_add(s, m, true);
}

int um_store_inbox_add(struct um_store *s, const struct um_store_message *m)
{
	return message_add(s, m, false);
}

/* Copies the current row (columns of UM_MSG_COLUMNS); the body into a
 * malloc'd *copy (NULL when empty) the caller frees. */
static int message_row_read(sqlite3_stmt *st, struct um_store_message *m, uint8_t **copy)
{
	const void *body;
	int len;

	memset(m, 0, sizeof(*m));
	*copy = NULL;
	m->seq = sqlite3_column_int64(st, 0);
	if (!um_store_column_fixed(st, 1, m->peer, sizeof(m->peer)) ||
	    !um_store_column_fixed(st, 2, m->id, sizeof(m->id)))
		return -EIO; /* the schema's CHECKs make this corruption */
	m->outgoing = sqlite3_column_int(st, 3) != 0;
	m->kind = (uint8_t)sqlite3_column_int(st, 4);
	m->sent_ms = (uint64_t)sqlite3_column_int64(st, 5);
	m->received_ms = (uint64_t)sqlite3_column_int64(st, 6);
	m->state = (uint8_t)sqlite3_column_int(st, 7);
	m->via = (uint8_t)sqlite3_column_int(st, 9);
	body = sqlite3_column_blob(st, 8);
	len = sqlite3_column_bytes(st, 8);
	if (len > 0 && body) {
		*copy = malloc((size_t)len);
		if (!*copy)
			return -UM_ENOMEM;
		memcpy(*copy, body, (size_t)len);
		m->body = *copy;
		m->len = (size_t)len;
	}
	return 0;
}

/* What a walk selects besides seq > after: ?3 = key (a peer or an id),
 * ?4 = direction when outgoing >= 0. */
struct message_filter {
	enum um_store_stmt which;
	const uint8_t *key;
	size_t key_len;
	int outgoing;
};

/* Walks the rows of f in seq order, a page at a time: each page is copied
 * and the statement reset before the callbacks run, so they may use the
 * store. *seen (optional) counts the rows handed out. */
static int message_walk(struct um_store *s, const struct message_filter *f, int64_t after, size_t limit,
			int (*cb)(void *ctx, const struct um_store_message *m), void *ctx, size_t *seen)
{
	struct um_store_message rows[UM_STORE_PAGE];
	uint8_t *bodies[UM_STORE_PAGE];
	sqlite3_stmt *st = s->stmt[f->which];
	size_t total = 0;
	int rc = 0;

	for (;;) {
		size_t want = UM_STORE_PAGE, n = 0;
		int step = SQLITE_DONE, b;

		if (limit && limit - total < want)
			want = limit - total;
		if (want == 0)
			break;
		b = sqlite3_bind_int64(st, 1, after);
		b |= sqlite3_bind_int64(st, 2, (sqlite3_int64)want);
		if (f->key)
			b |= um_store_bind_blob(st, 3, f->key, f->key_len);
		if (f->outgoing >= 0)
			b |= sqlite3_bind_int(st, 4, f->outgoing);
		if (b != SQLITE_OK) {
			rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
			um_store_reset(s, f->which);
			return rc ? rc : -UM_EINVAL;
		}
		while (n < want && (step = sqlite3_step(st)) == SQLITE_ROW) {
			rc = message_row_read(st, &rows[n], &bodies[n]);
			if (rc) {
				free(bodies[n]);
				break;
			}
			n++;
		}
		if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
			rc = um_store_error(s, step, "read messages");
		um_store_reset(s, f->which);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = cb(ctx, &rows[i]);
		for (size_t i = 0; i < n; i++)
			free(bodies[i]);
		if (rc)
			return rc;
		total += n;
		if (n < want)
			break;
		after = rows[n - 1].seq;
	}
	if (seen)
		*seen = total;
	return 0;
}

int um_store_outbox_pending(struct um_store *s, const uint8_t peer[32],
			    int (*cb)(void *ctx, const struct um_store_message *m), void *ctx)
{
	const struct message_filter f = {UM_STMT_MSG_PENDING, peer, 32, -1};

	if (!s || !peer || !cb)
		return -UM_EINVAL;
	return message_walk(s, &f, 0, 0, cb, ctx, NULL);
}

int um_store_messages(struct um_store *s, int64_t after_seq, size_t limit, const uint8_t *peer_or_null,
		      int (*cb)(void *ctx, const struct um_store_message *m), void *ctx)
{
	struct message_filter f = {UM_STMT_MSG_HISTORY_ALL, NULL, 0, -1};

	if (!s || !cb)
		return -UM_EINVAL;
	if (peer_or_null) {
		f.which = UM_STMT_MSG_HISTORY_PEER;
		f.key = peer_or_null;
		f.key_len = 32;
	}
	return message_walk(s, &f, after_seq, limit, cb, ctx, NULL);
}

int um_store_message_get(struct um_store *s, const uint8_t id[16], bool outgoing,
			 int (*cb)(void *ctx, const struct um_store_message *m), void *ctx)
{
	const struct message_filter f = {UM_STMT_MSG_BY_ID, id, 16, outgoing};
	size_t seen = 0;
	int rc;

	if (!s || !id || !cb)
		return -UM_EINVAL;
	rc = message_walk(s, &f, 0, 0, cb, ctx, &seen);
	return rc == 0 && seen == 0 ? -UM_ENOTFOUND : rc;
}

/* Receipts only move a message forward (see store.h); refused ends an
 * outgoing message that was not delivered. */
static bool message_state_allowed(bool outgoing, uint8_t from, uint8_t to)
{
	if (to <= from)
		return false;
	if (outgoing && to == UM_STORE_OUT_REFUSED)
		return from < UM_STORE_OUT_DELIVERED;
	return true;
}

int um_store_peer_message_set_state(struct um_store *s, const uint8_t peer[32], const uint8_t id[16], bool outgoing,
				    uint8_t state)
{
	sqlite3_stmt *st;
	int64_t seq = 0;
	int rows = 0, from = 0, rc, b, step = SQLITE_DONE;

	if (!s || !id || state > (outgoing ? UM_STORE_OUT_REFUSED : UM_STORE_IN_READ))
		return -UM_EINVAL;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[UM_STMT_MSG_STATE_FIND];
	b = um_store_bind_blob(st, 1, id, 16);
	b |= sqlite3_bind_int(st, 2, outgoing);
	b |= peer ? um_store_bind_blob(st, 3, peer, 32) : sqlite3_bind_null(st, 3);
	if (b != SQLITE_OK) {
		rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
		rc = rc ? rc : -UM_EINVAL;
	}
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		from = sqlite3_column_int(st, 1);
		rows++;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = um_store_error(s, step, "find message");
	um_store_reset(s, UM_STMT_MSG_STATE_FIND);
	if (rc == 0) {
		if (rows == 0)
			rc = -UM_ENOTFOUND;
		else if (rows > 1)
			rc = -UM_EINVAL; /* two peers' messages carry this id: name the peer */
		else if (from == state)
			rc = -UM_EEXIST;
		else if (from < 0 || from > 255 || !message_state_allowed(outgoing, (uint8_t)from, state))
			rc = -UM_ESTATE;
	}
	if (rc == 0) {
		st = s->stmt[UM_STMT_MSG_STATE_SET];
		b = sqlite3_bind_int64(st, 1, seq);
		b |= sqlite3_bind_int(st, 2, state);
		rc = um_store_run_bound(s, UM_STMT_MSG_STATE_SET, b, "set message state");
	}
	return um_store_op_end(s, rc);
}

int um_store_message_set_state(struct um_store *s, const uint8_t id[16], bool outgoing, uint8_t state)
{
	return um_store_peer_message_set_state(s, NULL, id, outgoing, state);
}

int um_store_message_set_via(struct um_store *s, const uint8_t peer[32], const uint8_t id[16], bool outgoing,
			     uint8_t via)
{
	sqlite3_stmt *st;
	int rc, b;

	if (!s || !peer || !id || via == UM_STORE_VIA_NONE || via > UM_STORE_VIA_QUEUE)
		return -UM_EINVAL;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[UM_STMT_MSG_VIA_SET];
	b = um_store_bind_blob(st, 1, peer, 32);
	b |= um_store_bind_blob(st, 2, id, 16);
	b |= sqlite3_bind_int(st, 3, outgoing);
	b |= sqlite3_bind_int(st, 4, via);
	rc = um_store_run_bound(s, UM_STMT_MSG_VIA_SET, b, "set message via");
	if (rc == 0 && sqlite3_changes(s->db.handle) == 0) {
		/* Nothing matched: already set, or no such message. */
		int found = -UM_ENOTFOUND;
		sqlite3_stmt *f = s->stmt[UM_STMT_MSG_STATE_FIND];
		b = um_store_bind_blob(f, 1, id, 16);
		b |= sqlite3_bind_int(f, 2, outgoing);
		b |= um_store_bind_blob(f, 3, peer, 32);
		if (b == SQLITE_OK && sqlite3_step(f) == SQLITE_ROW)
			found = -UM_EEXIST;
		um_store_reset(s, UM_STMT_MSG_STATE_FIND);
		rc = found;
	}
	return um_store_op_end(s, rc);
}
