/* SPDX-License-Identifier: MIT */
/* Presence: the last state each peer announced, and ours (announced again
 * after a restart). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/error.h"

static int presence_validate(uint8_t state, const char *text, size_t *len)
{
	if (state > UM_STORE_PRESENCE_BUSY)
		return -UM_EINVAL;
	*len = text ? strnlen(text, UM_STORE_PRESENCE_TEXT_MAX + 1) : 0;
	return *len > UM_STORE_PRESENCE_TEXT_MAX ? -UM_ERANGE : 0;
}

static int presence_write(struct um_store *s, enum um_store_stmt which, const uint8_t *peer, uint8_t state,
			  uint64_t last_seen_ms, const char *text)
{
	sqlite3_stmt *st;
	size_t len;
	int rc, b, i = 1;

	if (!s)
		return -UM_EINVAL;
	rc = presence_validate(state, text, &len);
	if (rc)
		return rc;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[which];
	b = peer ? um_store_bind_blob(st, i++, peer, 32) : SQLITE_OK;
	b |= sqlite3_bind_int(st, i++, state);
	b |= sqlite3_bind_int64(st, i++, (sqlite3_int64)last_seen_ms);
	b |= sqlite3_bind_text(st, i, text ? text : "", (int)len, SQLITE_STATIC);
	rc = um_store_run_bound(s, which, b, "presence put");
	return um_store_op_end(s, rc);
}

int um_store_presence_put(struct um_store *s, const uint8_t peer[32], uint8_t state, uint64_t last_seen_ms,
			  const char *text)
{
	if (!peer)
		return -UM_EINVAL;
	return presence_write(s, UM_STMT_PRESENCE_PUT, peer, state, last_seen_ms, text);
}

int um_store_self_presence_put(struct um_store *s, uint8_t state, uint64_t last_seen_ms, const char *text)
{
	return presence_write(s, UM_STMT_SELF_PUT, NULL, state, last_seen_ms, text);
}

/* Copies the current row from column first on: [peer,] state, last_seen,
 * text. */
static int presence_row_read(sqlite3_stmt *st, int first, struct um_store_presence *out)
{
	const unsigned char *text;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (first == 1 && !um_store_column_fixed(st, 0, out->peer, sizeof(out->peer)))
		return -EIO;
	out->state = (uint8_t)sqlite3_column_int(st, first);
	out->last_seen_ms = (uint64_t)sqlite3_column_int64(st, first + 1);
	text = sqlite3_column_text(st, first + 2);
	len = (size_t)sqlite3_column_bytes(st, first + 2);
	if (!text || len > UM_STORE_PRESENCE_TEXT_MAX)
		return -EIO;
	memcpy(out->text, text, len);
	return 0;
}

static int presence_read_one(struct um_store *s, enum um_store_stmt which, const uint8_t *peer,
			     struct um_store_presence *out)
{
	sqlite3_stmt *st = s->stmt[which];
	int rc, step;

	if (peer && um_store_bind_blob(st, 1, peer, 32) != SQLITE_OK) {
		rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
		um_store_reset(s, which);
		return rc ? rc : -UM_EINVAL;
	}
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = presence_row_read(st, peer ? 1 : 0, out);
	else
		rc = step == SQLITE_DONE ? -UM_ENOTFOUND : um_store_error(s, step, "presence get");
	um_store_reset(s, which);
	return rc;
}

int um_store_presence_get(struct um_store *s, const uint8_t peer[32], struct um_store_presence *out)
{
	if (!s || !peer || !out)
		return -UM_EINVAL;
	return presence_read_one(s, UM_STMT_PRESENCE_GET, peer, out);
}

int um_store_self_presence_get(struct um_store *s, struct um_store_presence *out)
{
	if (!s || !out)
		return -UM_EINVAL;
	return presence_read_one(s, UM_STMT_SELF_GET, NULL, out);
}

int um_store_presence_list(struct um_store *s, int (*cb)(void *ctx, const struct um_store_presence *p), void *ctx)
{
	struct um_store_presence *page;
	sqlite3_stmt *st;
	uint8_t last[32];
	size_t last_len = 0; /* the empty blob sorts before every peer */
	int rc = 0;

	if (!s || !cb)
		return -UM_EINVAL;
	page = calloc(UM_STORE_PAGE, sizeof(*page));
	if (!page)
		return -UM_ENOMEM;
	st = s->stmt[UM_STMT_PRESENCE_LIST];
	for (;;) {
		size_t n = 0;
		int step = SQLITE_DONE;

		if (um_store_bind_blob(st, 1, last, last_len) | sqlite3_bind_int64(st, 2, UM_STORE_PAGE)) {
			rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
			rc = rc ? rc : -UM_EINVAL;
		}
		while (rc == 0 && n < UM_STORE_PAGE && (step = sqlite3_step(st)) == SQLITE_ROW) {
			rc = presence_row_read(st, 1, &page[n]);
			if (rc)
				break;
			n++;
		}
		if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
			rc = um_store_error(s, step, "presence list");
		um_store_reset(s, UM_STMT_PRESENCE_LIST);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = cb(ctx, &page[i]);
		if (rc || n < UM_STORE_PAGE)
			break;
		memcpy(last, page[n - 1].peer, sizeof(last));
		last_len = sizeof(last);
	}
	free(page);
	return rc;
}
