/* SPDX-License-Identifier: MIT */
/* The store's handle: opening (permissions, pragmas, migrations, prepared
 * statements), closing, transactions and the mapping of SQLite errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "util/error.h"
#include "util/log.h"

/* Schema migrations: entry v takes a database from version v to v + 1, in
 * the same transaction as the schema_version update. Never edit an entry
 * that shipped: append one. */
static const char *const um_store_migrations[UM_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: messages, files, presence. */
    "CREATE TABLE messages ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: clients page by it */
    " peer BLOB NOT NULL CHECK (length(peer) = 32),"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " outgoing INTEGER NOT NULL CHECK (outgoing IN (0, 1)),"
    " kind INTEGER NOT NULL,"
    " sent_ms INTEGER NOT NULL,"
    " received_ms INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " body BLOB NOT NULL,"
    /* id first: also the index of the lookups by id (receipts). */
    " UNIQUE (id, outgoing, peer));"
    "CREATE INDEX messages_by_peer ON messages (peer, seq);"
    "CREATE INDEX messages_pending ON messages (peer, seq) WHERE outgoing = 1 AND state < 2;"
    "CREATE TABLE files ("
    " file_row INTEGER PRIMARY KEY," /* the rowid: incremental bitmap I/O */
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " outgoing INTEGER NOT NULL CHECK (outgoing IN (0, 1)),"
    " peer BLOB NOT NULL CHECK (length(peer) = 32),"
    " name TEXT NOT NULL,"
    " path TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " chunk_size INTEGER NOT NULL CHECK (chunk_size > 0),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " state INTEGER NOT NULL,"
    " bytes_done INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " bitmap BLOB NOT NULL,"
    " UNIQUE (id, outgoing));"
    "CREATE TABLE presence ("
    " peer BLOB PRIMARY KEY CHECK (length(peer) = 32),"
    " state INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL,"
    " text TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE self_presence ("
    " one INTEGER PRIMARY KEY CHECK (one = 1),"
    " state INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL,"
    " text TEXT NOT NULL);",
};

#define UM_MSG_COLUMNS "seq, peer, id, outgoing, kind, sent_ms, received_ms, state, body"
#define UM_FILE_COLUMNS                                                                                                \
	"file_row, id, outgoing, peer, name, path, size, chunk_size, hash, state, bytes_done, created_ms, "            \
	"updated_ms, bitmap"

/* Paged queries bind ?1 = the last key seen and ?2 = the page size. */
static const char *const um_store_sql[UM_STMT_COUNT] = {
    [UM_STMT_BEGIN] = "BEGIN IMMEDIATE",
    [UM_STMT_COMMIT] = "COMMIT",
    [UM_STMT_ROLLBACK] = "ROLLBACK",
    [UM_STMT_SAVEPOINT] = "SAVEPOINT um_op",
    [UM_STMT_RELEASE] = "RELEASE um_op",
    [UM_STMT_ROLLBACK_TO] = "ROLLBACK TO um_op",
    [UM_STMT_MSG_INSERT] = "INSERT INTO messages (peer, id, outgoing, kind, sent_ms, received_ms, state, body)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [UM_STMT_MSG_PENDING] = "SELECT " UM_MSG_COLUMNS " FROM messages WHERE peer = ?3 AND outgoing = 1 AND state < 2"
			    " AND seq > ?1 ORDER BY seq LIMIT ?2",
    [UM_STMT_MSG_HISTORY_ALL] = "SELECT " UM_MSG_COLUMNS " FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [UM_STMT_MSG_HISTORY_PEER] =
	"SELECT " UM_MSG_COLUMNS " FROM messages WHERE peer = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
    [UM_STMT_MSG_BY_ID] =
	"SELECT " UM_MSG_COLUMNS " FROM messages WHERE id = ?3 AND outgoing = ?4 AND seq > ?1 ORDER BY seq LIMIT ?2",
    [UM_STMT_MSG_STATE_FIND] = "SELECT seq, state FROM messages WHERE id = ?1 AND outgoing = ?2"
			       " AND (?3 IS NULL OR peer = ?3) LIMIT 2",
    [UM_STMT_MSG_STATE_SET] = "UPDATE messages SET state = ?2 WHERE seq = ?1",
    [UM_STMT_FILE_OWNER] = "SELECT peer FROM files WHERE id = ?1 AND outgoing = ?2",
    [UM_STMT_FILE_UPSERT] =
	"INSERT INTO files (id, outgoing, peer, name, path, size, chunk_size, hash, state, bytes_done,"
	" created_ms, updated_ms, bitmap) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	" ON CONFLICT (id, outgoing) DO UPDATE SET peer = excluded.peer, name = excluded.name,"
	" path = excluded.path, size = excluded.size, chunk_size = excluded.chunk_size, hash = excluded.hash,"
	" state = excluded.state, bytes_done = excluded.bytes_done, created_ms = excluded.created_ms,"
	" updated_ms = excluded.updated_ms, bitmap = excluded.bitmap",
    [UM_STMT_FILE_GET] = "SELECT " UM_FILE_COLUMNS " FROM files WHERE id = ?1 AND outgoing = ?2",
    [UM_STMT_FILE_LIST] = "SELECT " UM_FILE_COLUMNS " FROM files WHERE file_row > ?1 ORDER BY file_row LIMIT ?2",
    [UM_STMT_FILE_CHUNK_INFO] = "SELECT file_row, size, chunk_size, length(bitmap) FROM files"
				" WHERE id = ?1 AND outgoing = ?2",
    [UM_STMT_FILE_ADD_BYTES] = "UPDATE files SET bytes_done = bytes_done + ?2 WHERE file_row = ?1",
    [UM_STMT_FILE_SET_STATE] = "UPDATE files SET state = ?3, updated_ms = ?4 WHERE id = ?1 AND outgoing = ?2",
    [UM_STMT_FILE_DELETE] = "DELETE FROM files WHERE id = ?1 AND outgoing = ?2",
    [UM_STMT_PRESENCE_PUT] = "INSERT INTO presence (peer, state, last_seen_ms, text) VALUES (?1, ?2, ?3, ?4)"
			     " ON CONFLICT (peer) DO UPDATE SET state = excluded.state,"
			     " last_seen_ms = excluded.last_seen_ms, text = excluded.text",
    [UM_STMT_PRESENCE_GET] = "SELECT peer, state, last_seen_ms, text FROM presence WHERE peer = ?1",
    [UM_STMT_PRESENCE_LIST] = "SELECT peer, state, last_seen_ms, text FROM presence WHERE peer > ?1"
			      " ORDER BY peer LIMIT ?2",
    [UM_STMT_SELF_PUT] = "INSERT INTO self_presence (one, state, last_seen_ms, text) VALUES (1, ?1, ?2, ?3)"
			 " ON CONFLICT (one) DO UPDATE SET state = excluded.state,"
			 " last_seen_ms = excluded.last_seen_ms, text = excluded.text",
    [UM_STMT_SELF_GET] = "SELECT state, last_seen_ms, text FROM self_presence WHERE one = 1",
};

int um_store_error(struct um_store *s, int sqlite_rc, const char *what)
{
	int sys = sqlite3_system_errno(s->db);
	bool whole = true;
	int code;

	switch (sqlite_rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT:
		/* Statement-level: SQLite undid the statement, the transaction goes on. */
		whole = false;
		if (sqlite_rc == SQLITE_CONSTRAINT_UNIQUE || sqlite_rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -UM_EEXIST; /* a duplicate is an answer, not a failure: not logged */
		code = -UM_EINVAL;
		break;
	case SQLITE_TOOBIG:
		whole = false;
		code = -UM_ERANGE;
		break;
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		whole = false;
		code = -UM_EINVAL;
		break;
	case SQLITE_FULL:
		code = -ENOSPC;
		break;
	case SQLITE_IOERR:
		if (sqlite_rc == SQLITE_IOERR_NOMEM)
			code = -UM_ENOMEM;
		else if (sys == ENOSPC || sys == EDQUOT)
			code = -ENOSPC; /* a full disk seen by fsync or ftruncate */
		else
			code = -EIO;
		break;
	case SQLITE_NOMEM:
		code = -UM_ENOMEM;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = -UM_EAGAIN;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		code = -EACCES;
		break;
	default: /* corruption, not a database, misuse: nothing to retry */
		code = -EIO;
		break;
	}
	if (whole)
		s->failed_whole = true;
	um_log_warn("store %s: %s: %s (sqlite %d, errno %d): %s", s->path, what, sqlite3_errmsg(s->db), sqlite_rc, sys,
		    um_strerror(code));
	return code;
}

void um_store_reset(struct um_store *s, enum um_store_stmt which)
{
	sqlite3_reset(s->stmt[which]);
	sqlite3_clear_bindings(s->stmt[which]);
}

int um_store_run(struct um_store *s, enum um_store_stmt which, const char *what)
{
	int rc = sqlite3_step(s->stmt[which]);

	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : um_store_error(s, rc, what);
	um_store_reset(s, which);
	return rc;
}

int um_store_run_bound(struct um_store *s, enum um_store_stmt which, int bind_rc, const char *what)
{
	if (bind_rc != SQLITE_OK) {
		int rc = um_store_error(s, sqlite3_errcode(s->db), what);

		um_store_reset(s, which);
		return rc ? rc : -UM_EINVAL;
	}
	return um_store_run(s, which, what);
}

int um_store_bind_blob(sqlite3_stmt *st, int index, const void *data, size_t len)
{
	/* A NULL pointer would bind SQL NULL, not an empty blob. */
	static const uint8_t empty;

	return sqlite3_bind_blob64(st, index, len ? data : &empty, len, SQLITE_STATIC);
}

bool um_store_column_fixed(sqlite3_stmt *st, int col, void *out, size_t len)
{
	const void *p = sqlite3_column_blob(st, col);

	if (!p || (size_t)sqlite3_column_bytes(st, col) != len)
		return false;
	memcpy(out, p, len);
	return true;
}

/* Drops the open transaction, if SQLite has not already rolled it back. */
static void store_abort(struct um_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		um_store_run(s, UM_STMT_ROLLBACK, "rollback");
}

int um_store_op_begin(struct um_store *s)
{
	int rc;

	if (s->batch_error)
		return s->batch_error;
	if (s->depth && sqlite3_get_autocommit(s->db)) {
		/* SQLite dropped the batch's transaction after an error of a read:
		 * a savepoint now would commit on its own. */
		um_log_warn("store %s: the open batch was rolled back by an earlier error", s->path);
		s->batch_error = -EIO;
		return s->batch_error;
	}
	s->failed_whole = false;
	rc = um_store_run(s, s->depth ? UM_STMT_SAVEPOINT : UM_STMT_BEGIN, "begin");
	if (rc && s->depth) {
		store_abort(s);
		s->batch_error = rc;
	}
	return rc;
}

int um_store_op_end(struct um_store *s, int rc)
{
	if (rc >= 0) {
		int c = um_store_run(s, s->depth ? UM_STMT_RELEASE : UM_STMT_COMMIT, "commit");

		if (c == 0)
			return rc;
		rc = c;
	}
	if (s->depth && !s->failed_whole) {
		/* A refusal inside a batch: undo this write only, keep the batch. */
		um_store_run(s, UM_STMT_ROLLBACK_TO, "rollback to savepoint");
		um_store_run(s, UM_STMT_RELEASE, "release savepoint");
		return rc;
	}
	store_abort(s);
	if (s->depth)
		s->batch_error = rc;
	return rc;
}

int um_store_begin(struct um_store *s)
{
	int rc;

	if (!s)
		return -UM_EINVAL;
	if (s->depth == 0) {
		s->batch_error = 0;
		s->failed_whole = false;
		rc = um_store_run(s, UM_STMT_BEGIN, "begin");
		if (rc)
			return rc;
	}
	s->depth++;
	return 0;
}

int um_store_commit(struct um_store *s)
{
	int rc;

	if (!s || s->depth == 0)
		return -UM_ESTATE;
	if (--s->depth > 0)
		return s->batch_error;
	rc = s->batch_error;
	s->batch_error = 0;
	if (rc)
		return rc; /* already rolled back when it failed */
	if (sqlite3_get_autocommit(s->db))
		return -EIO; /* SQLite dropped it after an error of a read */
	s->failed_whole = false;
	rc = um_store_run(s, UM_STMT_COMMIT, "commit");
	if (rc)
		store_abort(s);
	return rc;
}

int64_t um_store_last_seq(const struct um_store *s)
{
	return s ? s->last_seq : 0;
}

/* A database (or its -wal/-shm) others could read would leak every message. */
static int store_check_mode(const char *file, const struct stat *st)
{
	if (!S_ISREG(st->st_mode)) {
		um_log_error("store %s: not a regular file", file);
		return -UM_EINVAL;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		um_log_error("store %s: refusing it: accessible by group/others (mode %04o); run chmod 600 on it", file,
			     (unsigned)(st->st_mode & 07777));
		return -UM_EPERM;
	}
	return 0;
}

/* Creates the database file 0600 (SQLite would honour only the umask, and
 * gives -wal and -shm the mode of the database) and checks the modes of an
 * existing one and of its -wal and -shm. */
static int store_prepare_file(const char *path)
{
	static const char *const suffixes[] = {"-wal", "-shm"};
	char side[4096 + 8];
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd >= 0) {
		if (fchmod(fd, 0600) < 0) {
			rc = -errno;
			goto out;
		}
	} else if (errno == EEXIST) {
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0) {
		rc = -errno;
		um_log_error("store %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	rc = store_check_mode(path, &st);
	for (size_t i = 0; rc == 0 && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((size_t)snprintf(side, sizeof(side), "%s%s", path, suffixes[i]) >= sizeof(side)) {
			rc = -UM_ERANGE;
			break;
		}
		if (stat(side, &st) == 0)
			rc = store_check_mode(side, &st);
		else if (errno != ENOENT)
			rc = -errno;
	}
out:
	close(fd);
	return rc;
}

static int store_exec(struct um_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : um_store_error(s, rc, what);
}

/* WAL (readers never block the writer; a commit appends and fsyncs the log),
 * FULL (that fsync happens on every commit: what an ACK promises). */
static int store_configure(struct um_store *s)
{
	sqlite3_stmt *st = NULL;
	int rc;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return um_store_error(s, rc, "journal_mode");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = um_store_error(s, rc, "journal_mode");
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		um_log_error("store %s: this file system cannot hold a WAL database (journal mode %s)", s->path,
			     sqlite3_column_text(st, 0));
		rc = -EIO;
		goto out;
	}
	/* The WAL is reused after each checkpoint; one big batch should not
	 * leave it large for ever. */
	rc = store_exec(s,
			"PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
			" PRAGMA journal_size_limit = 8388608;",
			"pragmas");
out:
	sqlite3_finalize(st);
	return rc;
}

static int store_schema_version(struct um_store *s, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*version = 0;
	rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version WHERE one = 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return um_store_error(s, rc, "schema version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : um_store_error(s, rc, "schema version");
	sqlite3_finalize(st);
	return rc;
}

/* Brings the schema to UM_STORE_SCHEMA_VERSION in one transaction. */
static int store_migrate(struct um_store *s)
{
	char sql[96];
	int version, rc;

	rc = store_exec(s, "BEGIN IMMEDIATE", "begin migration");
	if (rc)
		return rc;
	rc = store_exec(s,
			"CREATE TABLE IF NOT EXISTS schema_version (one INTEGER PRIMARY KEY CHECK (one = 1),"
			" version INTEGER NOT NULL);"
			"INSERT OR IGNORE INTO schema_version (one, version) VALUES (1, 0);",
			"schema_version");
	if (rc == 0)
		rc = store_schema_version(s, &version);
	if (rc)
		goto out;
	if (version < 0 || version > UM_STORE_SCHEMA_VERSION) {
		um_log_error("store %s: schema version %d is not one this umbra knows (up to %d)", s->path, version,
			     UM_STORE_SCHEMA_VERSION);
		rc = -UM_EVERSION;
		goto out;
	}
	for (; version < UM_STORE_SCHEMA_VERSION; version++) {
		rc = store_exec(s, um_store_migrations[version], "migration");
		if (rc)
			goto out;
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d WHERE one = 1", version + 1);
		rc = store_exec(s, sql, "schema_version");
		if (rc)
			goto out;
	}
	rc = store_exec(s, "COMMIT", "commit migration");
out:
	if (rc && !sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK", "rollback migration");
	return rc;
}

static int store_prepare_statements(struct um_store *s)
{
	for (int i = 0; i < UM_STMT_COUNT; i++) {
		int rc = sqlite3_prepare_v3(s->db, um_store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);

		if (rc != SQLITE_OK)
			return um_store_error(s, rc, um_store_sql[i]);
	}
	return 0;
}

int um_store_open(const char *path, struct um_store **out)
{
	struct um_store *s;
	int rc;

	if (!path || !*path || !out)
		return -UM_EINVAL;
	*out = NULL;
	rc = store_prepare_file(path);
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -UM_ENOMEM;
	s->path = strdup(path);
	if (!s->path) {
		rc = -UM_ENOMEM;
		goto out;
	}
	/* The control thread is the only user: no SQLite mutexes. */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = s->db ? um_store_error(s, rc, "open") : -UM_ENOMEM;
		goto out;
	}
	rc = store_configure(s);
	if (rc == 0)
		rc = store_migrate(s);
	if (rc == 0)
		rc = store_prepare_statements(s);
out:
	if (rc) {
		um_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void um_store_close(struct um_store *s)
{
	if (!s)
		return;
	if (s->depth && s->db) {
		um_log_warn("store %s: closed inside a batch: its writes are rolled back", s->path);
		store_abort(s);
	}
	for (int i = 0; i < UM_STMT_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		um_log_warn("store %s: close: %s", s->path, sqlite3_errmsg(s->db));
	free(s->path);
	free(s);
}

int um_store_integrity_check(struct um_store *s)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!s)
		return -UM_EINVAL;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return um_store_error(s, rc, "integrity_check");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);

		rc = text && strcmp(text, "ok") == 0 ? 0 : -EIO;
		if (rc)
			um_log_error("store %s: integrity_check: %s", s->path, text ? text : "(null)");
	} else {
		rc = um_store_error(s, rc, "integrity_check");
	}
	sqlite3_finalize(st);
	return rc;
}
