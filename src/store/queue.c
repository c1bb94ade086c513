/* SPDX-License-Identifier: MIT */
/* The relay's durable queue (queue.h): envelopes clustered by recipient,
 * their bodies in arrival order, the limits checked by counting the
 * recipient's rows, and the writes through db.h's transactions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/queue.h"
#include "util/error.h"

/* 64 MiB of page cache: a group of 256 x 16 KiB envelopes stays in memory
 * until its commit instead of spilling to the WAL halfway. */
#define UM_QUEUE_PRAGMAS "PRAGMA cache_size = -65536;"
/* Envelopes a purge deletes per transaction. */
#define UM_QUEUE_PURGE_BATCH 256
/* Envelopes um_queue_pending copies out per query. */
#define UM_QUEUE_PAGE 16

/* Schema migrations (see db.h): append, never edit one that shipped.
 *
 * Laid out for group commits of many recipients' envelopes: each put dirties
 * one page at a random place (the recipient's rows of envelopes, clustered
 * by (recipient, id): the duplicate check, the limits' COUNT/SUM and the
 * pending walk all read those same few pages; the walk sorts at most
 * max_messages rows by seq) and otherwise only appends (bodies by seq, the
 * expiry index by time). Every other per-recipient structure costs one more
 * random page per put. Measured with bench-queue (4 KiB, groups of 256 / 16,
 * CPU per envelope): a rowid table with indexes on (recipient, seq) and
 * (recipient, id) and a totals table kept by triggers 41-42 / 52 us, this
 * layout with a totals table 35-40 / 50-64 us, with COUNT/SUM 36-39 / 45 us:
 * the totals table bought nothing, so it is gone. */
static const char *const um_queue_migrations[UM_QUEUE_SCHEMA_VERSION] = {
    /* 0 -> 1. seq: the arrival order (the bodies' rowid: one above the
     * largest at each insert). */
    "CREATE TABLE bodies ("
    " seq INTEGER PRIMARY KEY,"
    " body BLOB NOT NULL);"
    "CREATE TABLE envelopes ("
    " recipient BLOB NOT NULL CHECK (length(recipient) = 32),"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " seq INTEGER NOT NULL,"
    " arrival_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " PRIMARY KEY (recipient, id)) WITHOUT ROWID;"
    "CREATE INDEX envelopes_by_expiry ON envelopes (expires_ms);"
    /* A body goes with its envelope, in the same statement. */
    "CREATE TRIGGER envelopes_removed AFTER DELETE ON envelopes BEGIN"
    " DELETE FROM bodies WHERE seq = old.seq;"
    " END;",
};

enum um_queue_stmt {
	UM_QSTMT_TOTALS,
	UM_QSTMT_INSERT,
	UM_QSTMT_INSERT_BODY,
	UM_QSTMT_EXISTS,
	UM_QSTMT_DROP_EXPIRED_OF,
	UM_QSTMT_PENDING,
	UM_QSTMT_DELETE,
	UM_QSTMT_DELETE_ALL,
	UM_QSTMT_PURGE,
	UM_QSTMT_STATS,
	UM_QSTMT_COUNT
};

static const char *const um_queue_sql[UM_QSTMT_COUNT] = {
    [UM_QSTMT_TOTALS] = "SELECT count(*), total(size) FROM envelopes WHERE recipient = ?1",
    [UM_QSTMT_INSERT] = "INSERT INTO envelopes (recipient, id, seq, arrival_ms, expires_ms, size)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [UM_QSTMT_INSERT_BODY] = "INSERT INTO bodies (body) VALUES (?1)",
    [UM_QSTMT_EXISTS] = "SELECT 1 FROM envelopes WHERE recipient = ?1 AND id = ?2",
    [UM_QSTMT_DROP_EXPIRED_OF] = "DELETE FROM envelopes WHERE recipient = ?1 AND expires_ms <= ?2",
    [UM_QSTMT_PENDING] = "SELECT e.seq, e.id, e.arrival_ms, e.expires_ms, b.body FROM envelopes e"
			 " JOIN bodies b ON b.seq = e.seq"
			 " WHERE e.recipient = ?1 AND e.seq > ?2 ORDER BY e.seq LIMIT ?3",
    [UM_QSTMT_DELETE] = "DELETE FROM envelopes WHERE recipient = ?1 AND id = ?2",
    [UM_QSTMT_DELETE_ALL] = "DELETE FROM envelopes WHERE recipient = ?1",
    [UM_QSTMT_PURGE] = "DELETE FROM envelopes WHERE (recipient, id) IN (SELECT recipient, id FROM envelopes"
		       " WHERE expires_ms <= ?1 ORDER BY expires_ms LIMIT ?2)",
    [UM_QSTMT_STATS] = "SELECT count(*), total(size), count(DISTINCT recipient) FROM envelopes",
};

static const struct um_db_schema um_queue_schema = {
    .kind = "queue",
    .migrations = um_queue_migrations,
    .version = UM_QUEUE_SCHEMA_VERSION,
    .pragmas = UM_QUEUE_PRAGMAS,
};

struct um_queue {
	struct um_db db;
	sqlite3_stmt *stmt[UM_QSTMT_COUNT];
	struct um_queue_limits limits;
	struct um_queue_stats counted; /* puts .. deleted */
};

int um_queue_open(const char *path, const struct um_queue_limits *limits, struct um_queue **out)
{
	struct um_queue *q;
	int rc;

	if (!path || !*path || !out)
		return -UM_EINVAL;
	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -UM_ENOMEM;
	if (limits)
		q->limits = *limits;
	if (!q->limits.ttl_ms)
		q->limits.ttl_ms = UM_QUEUE_TTL_MS_DEFAULT;
	if (!q->limits.max_messages)
		q->limits.max_messages = UM_QUEUE_MAX_MESSAGES_DEFAULT;
	if (!q->limits.max_bytes)
		q->limits.max_bytes = UM_QUEUE_MAX_BYTES_DEFAULT;
	rc = um_db_open(&q->db, path, &um_queue_schema);
	if (rc) {
		free(q);
		return rc;
	}
	rc = um_db_prepare(&q->db, um_queue_sql, UM_QSTMT_COUNT, q->stmt);
	if (rc) {
		um_queue_close(q);
		return rc;
	}
	*out = q;
	return 0;
}

void um_queue_close(struct um_queue *q)
{
	if (!q)
		return;
	for (int i = 0; i < UM_QSTMT_COUNT; i++)
		sqlite3_finalize(q->stmt[i]);
	um_db_close(&q->db);
	free(q);
}

int um_queue_begin(struct um_queue *q)
{
	return q ? um_db_begin(&q->db) : -UM_EINVAL;
}

int um_queue_commit(struct um_queue *q)
{
	return q ? um_db_commit(&q->db) : -UM_ESTATE;
}

int um_queue_integrity_check(struct um_queue *q)
{
	return q ? um_db_integrity_check(&q->db) : -UM_EINVAL;
}

/* The recipient's queued count and bytes (0, 0 when none). */
static int queue_totals(struct um_queue *q, const uint8_t recipient[32], uint64_t *count, uint64_t *bytes)
{
	sqlite3_stmt *st = q->stmt[UM_QSTMT_TOTALS];
	int step, rc = 0;

	*count = *bytes = 0;
	if (um_db_bind_blob(st, 1, recipient, 32) != SQLITE_OK)
		return um_db_run_bound(&q->db, st, SQLITE_ERROR, "bind");
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*count = (uint64_t)sqlite3_column_int64(st, 0);
		*bytes = (uint64_t)sqlite3_column_double(st, 1);
	} else if (step != SQLITE_DONE) {
		rc = um_db_error(&q->db, step, "totals");
	}
	um_db_reset(st);
	return rc;
}

/* 0 when len more bytes fit the recipient's limits (after dropping its
 * expired envelopes, only when they would not: *dropped says how many),
 * -UM_ELIMIT when not. */
static int queue_fits(struct um_queue *q, const uint8_t recipient[32], size_t len, uint64_t now_ms, int *dropped)
{
	uint64_t count, bytes;
	int rc, b;

	for (int pass = 0; pass < 2; pass++) {
		rc = queue_totals(q, recipient, &count, &bytes);
		if (rc)
			return rc;
		if (count + 1 <= q->limits.max_messages && bytes + len <= q->limits.max_bytes)
			return 0;
		if (pass)
			break;
		b = um_db_bind_blob(q->stmt[UM_QSTMT_DROP_EXPIRED_OF], 1, recipient, 32);
		b |= sqlite3_bind_int64(q->stmt[UM_QSTMT_DROP_EXPIRED_OF], 2, (sqlite3_int64)now_ms);
		rc = um_db_run_bound(&q->db, q->stmt[UM_QSTMT_DROP_EXPIRED_OF], b, "drop expired");
		if (rc)
			return rc;
		if (sqlite3_changes(q->db.handle) == 0)
			break;
		*dropped = sqlite3_changes(q->db.handle);
	}
	return -UM_ELIMIT;
}

/* -UM_EEXIST when (recipient, id) is queued, 0 when not. */
static int queue_exists(struct um_queue *q, const uint8_t recipient[32], const uint8_t id[16])
{
	sqlite3_stmt *st = q->stmt[UM_QSTMT_EXISTS];
	int step, rc;

	if ((um_db_bind_blob(st, 1, recipient, 32) | um_db_bind_blob(st, 2, id, 16)) != SQLITE_OK)
		return um_db_run_bound(&q->db, st, SQLITE_ERROR, "bind");
	step = sqlite3_step(st);
	rc = step == SQLITE_ROW ? -UM_EEXIST : step == SQLITE_DONE ? 0 : um_db_error(&q->db, step, "exists");
	um_db_reset(st);
	return rc;
}

int um_queue_put(struct um_queue *q, const uint8_t recipient[32], const uint8_t envelope_id[16],
		 const uint8_t *envelope, size_t len, uint64_t now_ms)
{
	sqlite3_stmt *st;
	uint64_t expires;
	int rc, b, dropped = 0;

	if (!q || !recipient || !envelope_id || !envelope)
		return -UM_EINVAL;
	if (len == 0 || len > UM_QUEUE_ENVELOPE_MAX || now_ms > INT64_MAX)
		return -UM_ERANGE;
	expires = now_ms + q->limits.ttl_ms;
	if (expires < now_ms || expires > INT64_MAX)
		expires = INT64_MAX;
	rc = um_db_op_begin(&q->db);
	if (rc)
		return rc;
	rc = queue_fits(q, recipient, len, now_ms, &dropped);
	if (rc == -UM_ELIMIT) {
		/* A retry of an envelope already queued is acknowledged again,
		 * even when the queue it filled is now full. */
		int dup = queue_exists(q, recipient, envelope_id);

		if (dup)
			rc = dup;
	}
	if (rc == 0) {
		/* The body first: its rowid (one above the largest) is the
		 * envelope's seq. A duplicate fails at the envelope's insert and
		 * op_end takes the body back with it. */
		st = q->stmt[UM_QSTMT_INSERT_BODY];
		rc = um_db_run_bound(&q->db, st, um_db_bind_blob(st, 1, envelope, len), "put body");
	}
	if (rc == 0) {
		st = q->stmt[UM_QSTMT_INSERT];
		b = um_db_bind_blob(st, 1, recipient, 32);
		b |= um_db_bind_blob(st, 2, envelope_id, 16);
		b |= sqlite3_bind_int64(st, 3, sqlite3_last_insert_rowid(q->db.handle));
		b |= sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms);
		b |= sqlite3_bind_int64(st, 5, (sqlite3_int64)expires);
		b |= sqlite3_bind_int64(st, 6, (sqlite3_int64)len);
		rc = um_db_run_bound(&q->db, st, b, "put");
	}
	rc = um_db_op_end(&q->db, rc);
	if (rc == 0) {
		q->counted.puts++;
		q->counted.purged += (uint64_t)dropped; /* undone with a refusal */
	} else if (rc == -UM_ELIMIT)
		q->counted.refused_full++;
	else if (rc == -UM_EEXIST)
		q->counted.refused_dup++;
	return rc;
}

/* One page of um_queue_pending: rows copied out, so the callback may write. */
struct queue_page {
	struct um_queue_entry e[UM_QUEUE_PAGE];
	size_t offset[UM_QUEUE_PAGE]; /* of each body in bytes */
	size_t n, used, cap;
	uint8_t *bytes;
	int64_t last_seq;
};

static int page_add(struct queue_page *p, sqlite3_stmt *st)
{
	struct um_queue_entry *e = &p->e[p->n];
	const void *body = sqlite3_column_blob(st, 4);
	size_t len = (size_t)sqlite3_column_bytes(st, 4);

	if (!um_db_column_fixed(st, 1, e->id, 16) || !body || len == 0)
		return -EIO; /* the schema's checks make this a damaged file */
	if (p->used + len > p->cap) {
		size_t cap = p->cap ? p->cap : 64 * 1024;
		uint8_t *grown;

		while (cap < p->used + len)
			cap *= 2;
		grown = realloc(p->bytes, cap);
		if (!grown)
			return -UM_ENOMEM;
		p->bytes = grown;
		p->cap = cap;
	}
	memcpy(p->bytes + p->used, body, len);
	p->offset[p->n] = p->used;
	p->used += len;
	p->last_seq = sqlite3_column_int64(st, 0);
	e->arrival_ms = (uint64_t)sqlite3_column_int64(st, 2);
	e->expires_ms = (uint64_t)sqlite3_column_int64(st, 3);
	e->len = len;
	p->n++;
	return 0;
}

/* Reads the next page after p->last_seq, at most want rows. */
static int page_read(struct um_queue *q, const uint8_t recipient[32], struct queue_page *p, size_t want)
{
	sqlite3_stmt *st = q->stmt[UM_QSTMT_PENDING];
	int step = SQLITE_DONE, rc = 0, b;

	p->n = p->used = 0;
	b = um_db_bind_blob(st, 1, recipient, 32);
	b |= sqlite3_bind_int64(st, 2, p->last_seq);
	b |= sqlite3_bind_int64(st, 3, (sqlite3_int64)want);
	if (b != SQLITE_OK)
		return um_db_run_bound(&q->db, st, b, "bind");
	while (rc == 0 && p->n < want && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = page_add(p, st);
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = um_db_error(&q->db, step, "pending");
	um_db_reset(st);
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		memcpy(p->e[i].recipient, recipient, 32);
		p->e[i].envelope = p->bytes + p->offset[i];
	}
	return rc;
}

int um_queue_pending(struct um_queue *q, const uint8_t recipient[32], size_t limit,
		     int (*cb)(void *ctx, const struct um_queue_entry *e), void *ctx)
{
	struct queue_page *p;
	size_t done = 0;
	int rc = 0;

	if (!q || !recipient || !cb)
		return -UM_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -UM_ENOMEM;
	for (;;) {
		size_t want = UM_QUEUE_PAGE;

		if (limit && limit - done < want)
			want = limit - done;
		if (want == 0)
			break;
		rc = page_read(q, recipient, p, want);
		if (rc || p->n == 0)
			break;
		for (size_t i = 0; rc == 0 && i < p->n; i++)
			rc = cb(ctx, &p->e[i]);
		done += p->n;
		if (rc || p->n < want)
			break;
	}
	free(p->bytes);
	free(p);
	return rc;
}

/* Runs one of the deleting statements (bound by the caller) in its own
 * write; returns the rows deleted or an error. */
static int queue_delete_run(struct um_queue *q, sqlite3_stmt *st, int bind_rc, const char *what)
{
	int rc = um_db_op_begin(&q->db);

	if (rc) {
		um_db_reset(st);
		return rc;
	}
	rc = um_db_run_bound(&q->db, st, bind_rc, what);
	if (rc == 0)
		rc = sqlite3_changes(q->db.handle);
	return um_db_op_end(&q->db, rc);
}

int um_queue_delete(struct um_queue *q, const uint8_t recipient[32], const uint8_t envelope_id[16])
{
	sqlite3_stmt *st;
	int rc;

	if (!q || !recipient || !envelope_id)
		return -UM_EINVAL;
	st = q->stmt[UM_QSTMT_DELETE];
	rc = queue_delete_run(q, st, um_db_bind_blob(st, 1, recipient, 32) | um_db_bind_blob(st, 2, envelope_id, 16),
			      "delete");
	if (rc < 0)
		return rc;
	q->counted.deleted += (uint64_t)rc;
	return rc ? 0 : -UM_ENOTFOUND;
}

int um_queue_delete_all(struct um_queue *q, const uint8_t recipient[32])
{
	sqlite3_stmt *st;
	int rc;

	if (!q || !recipient)
		return -UM_EINVAL;
	st = q->stmt[UM_QSTMT_DELETE_ALL];
	rc = queue_delete_run(q, st, um_db_bind_blob(st, 1, recipient, 32), "delete all");
	if (rc > 0)
		q->counted.deleted += (uint64_t)rc;
	return rc;
}

int um_queue_purge(struct um_queue *q, uint64_t now_ms)
{
	sqlite3_stmt *st;
	int total = 0, rc, b;

	if (!q)
		return -UM_EINVAL;
	if (now_ms > INT64_MAX)
		now_ms = INT64_MAX;
	st = q->stmt[UM_QSTMT_PURGE];
	do {
		b = sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms);
		b |= sqlite3_bind_int(st, 2, UM_QUEUE_PURGE_BATCH);
		rc = queue_delete_run(q, st, b, "purge");
		if (rc < 0)
			return rc;
		q->counted.purged += (uint64_t)rc;
		total += rc;
	} while (rc == UM_QUEUE_PURGE_BATCH && total <= INT32_MAX - UM_QUEUE_PURGE_BATCH);
	return total;
}

int um_queue_stats(struct um_queue *q, struct um_queue_stats *out)
{
	sqlite3_stmt *st;
	int step, rc = 0;

	if (!q || !out)
		return -UM_EINVAL;
	*out = q->counted;
	st = q->stmt[UM_QSTMT_STATS];
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->envelopes = (uint64_t)sqlite3_column_int64(st, 0);
		out->bytes = (uint64_t)sqlite3_column_double(st, 1);
		out->recipients = (uint64_t)sqlite3_column_int64(st, 2);
	} else {
		rc = um_db_error(&q->db, step, "stats");
	}
	um_db_reset(st);
	return rc;
}
