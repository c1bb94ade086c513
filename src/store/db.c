/* SPDX-License-Identifier: MIT */
/* The SQLite plumbing shared by store.c (the node's store) and queue.c (the
 * relay's queue): opening, error mapping, transactions. See db.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/db.h"
#include "util/error.h"
#include "util/log.h"

static const char *const um_db_txn_sql[UM_DB_TXN_COUNT] = {
    [UM_DB_BEGIN] = "BEGIN IMMEDIATE",     [UM_DB_COMMIT] = "COMMIT",         [UM_DB_ROLLBACK] = "ROLLBACK",
    [UM_DB_SAVEPOINT] = "SAVEPOINT um_op", [UM_DB_RELEASE] = "RELEASE um_op", [UM_DB_ROLLBACK_TO] = "ROLLBACK TO um_op",
};

int um_db_error(struct um_db *d, int sqlite_rc, const char *what)
{
	int sys = sqlite3_system_errno(d->handle);
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
		d->failed_whole = true;
	um_log_warn("%s %s: %s: %s (sqlite %d, errno %d): %s", d->kind, d->path, what, sqlite3_errmsg(d->handle),
		    sqlite_rc, sys, um_strerror(code));
	return code;
}

void um_db_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int um_db_run(struct um_db *d, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	rc = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : um_db_error(d, rc, what);
	um_db_reset(st);
	return rc;
}

int um_db_run_bound(struct um_db *d, sqlite3_stmt *st, int bind_rc, const char *what)
{
	if (bind_rc != SQLITE_OK) {
		int rc = um_db_error(d, sqlite3_errcode(d->handle), what);

		um_db_reset(st);
		return rc ? rc : -UM_EINVAL;
	}
	return um_db_run(d, st, what);
}

int um_db_bind_blob(sqlite3_stmt *st, int index, const void *data, size_t len)
{
	/* A NULL pointer would bind SQL NULL, not an empty blob. */
	static const uint8_t empty;

	return sqlite3_bind_blob64(st, index, len ? data : &empty, len, SQLITE_STATIC);
}

bool um_db_column_fixed(sqlite3_stmt *st, int col, void *out, size_t len)
{
	const void *p = sqlite3_column_blob(st, col);

	if (!p || (size_t)sqlite3_column_bytes(st, col) != len)
		return false;
	memcpy(out, p, len);
	return true;
}

/* Drops the open transaction, if SQLite has not already rolled it back. */
static void db_abort(struct um_db *d)
{
	if (!sqlite3_get_autocommit(d->handle))
		um_db_run(d, d->txn[UM_DB_ROLLBACK], "rollback");
}

int um_db_op_begin(struct um_db *d)
{
	int rc;

	if (d->batch_error)
		return d->batch_error;
	if (d->depth && sqlite3_get_autocommit(d->handle)) {
		/* SQLite dropped the batch's transaction after an error of a read:
		 * a savepoint now would commit on its own. */
		um_log_warn("%s %s: the open batch was rolled back by an earlier error", d->kind, d->path);
		d->batch_error = -EIO;
		return d->batch_error;
	}
	d->failed_whole = false;
	rc = um_db_run(d, d->txn[d->depth ? UM_DB_SAVEPOINT : UM_DB_BEGIN], "begin");
	if (rc && d->depth) {
		db_abort(d);
		d->batch_error = rc;
	}
	return rc;
}

int um_db_op_end(struct um_db *d, int rc)
{
	if (rc >= 0) {
		int c = um_db_run(d, d->txn[d->depth ? UM_DB_RELEASE : UM_DB_COMMIT], "commit");

		if (c == 0)
			return rc;
		rc = c;
	}
	if (d->depth && !d->failed_whole) {
		/* A refusal inside a batch: undo this write only, keep the batch. */
		um_db_run(d, d->txn[UM_DB_ROLLBACK_TO], "rollback to savepoint");
		um_db_run(d, d->txn[UM_DB_RELEASE], "release savepoint");
		return rc;
	}
	db_abort(d);
	if (d->depth)
		d->batch_error = rc;
	return rc;
}

int um_db_begin(struct um_db *d)
{
	int rc;

	if (d->depth == 0) {
		d->batch_error = 0;
		d->failed_whole = false;
		rc = um_db_run(d, d->txn[UM_DB_BEGIN], "begin");
		if (rc)
			return rc;
	}
	d->depth++;
	return 0;
}

int um_db_commit(struct um_db *d)
{
	int rc;

	if (d->depth == 0)
		return -UM_ESTATE;
	if (--d->depth > 0)
		return d->batch_error;
	rc = d->batch_error;
	d->batch_error = 0;
	if (rc)
		return rc; /* already rolled back when it failed */
	if (sqlite3_get_autocommit(d->handle))
		return -EIO; /* SQLite dropped it after an error of a read */
	d->failed_whole = false;
	rc = um_db_run(d, d->txn[UM_DB_COMMIT], "commit");
	if (rc)
		db_abort(d);
	return rc;
}

/* A database (or its -wal/-shm) others could read would leak what it holds. */
static int db_check_mode(const char *kind, const char *file, const struct stat *st)
{
	if (!S_ISREG(st->st_mode)) {
		um_log_error("%s %s: not a regular file", kind, file);
		return -UM_EINVAL;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		um_log_error("%s %s: refusing it: accessible by group/others (mode %04o); run chmod 600 on it", kind,
			     file, (unsigned)(st->st_mode & 07777));
		return -UM_EPERM;
	}
	return 0;
}

/* Creates the database file 0600 (SQLite would honour only the umask, and
 * gives -wal and -shm the mode of the database) and checks the modes of an
 * existing one and of its -wal and -shm. */
static int db_prepare_file(const char *kind, const char *path)
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
		um_log_error("%s %s: %s", kind, path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	rc = db_check_mode(kind, path, &st);
	for (size_t i = 0; rc == 0 && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((size_t)snprintf(side, sizeof(side), "%s%s", path, suffixes[i]) >= sizeof(side)) {
			rc = -UM_ERANGE;
			break;
		}
		if (stat(side, &st) == 0)
			rc = db_check_mode(kind, side, &st);
		else if (errno != ENOENT)
			rc = -errno;
	}
out:
	close(fd);
	return rc;
}

static int db_exec(struct um_db *d, const char *sql, const char *what)
{
	int rc = sqlite3_exec(d->handle, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : um_db_error(d, rc, what);
}

/* WAL (readers never block the writer; a commit appends and fsyncs the log),
 * FULL (that fsync happens on every commit: what an acknowledgement promises). */
static int db_configure(struct um_db *d, const char *extra)
{
	sqlite3_stmt *st = NULL;
	int rc;

	sqlite3_extended_result_codes(d->handle, 1);
	sqlite3_busy_timeout(d->handle, 5000);
	sqlite3_db_config(d->handle, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(d->handle, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	rc = sqlite3_prepare_v2(d->handle, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return um_db_error(d, rc, "journal_mode");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = um_db_error(d, rc, "journal_mode");
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		um_log_error("%s %s: this file system cannot hold a WAL database (journal mode %s)", d->kind, d->path,
			     sqlite3_column_text(st, 0));
		rc = -EIO;
		goto out;
	}
	/* The WAL is reused after each checkpoint; one big batch should not
	 * leave it large for ever. */
	rc = db_exec(d,
		     "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
		     " PRAGMA journal_size_limit = 8388608;",
		     "pragmas");
	if (rc == 0 && extra)
		rc = db_exec(d, extra, "pragmas");
out:
	sqlite3_finalize(st);
	return rc;
}

static int db_schema_version(struct um_db *d, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*version = 0;
	rc = sqlite3_prepare_v2(d->handle, "SELECT version FROM schema_version WHERE one = 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return um_db_error(d, rc, "schema version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : um_db_error(d, rc, "schema version");
	sqlite3_finalize(st);
	return rc;
}

/* Brings the schema to schema->version in one transaction. */
static int db_migrate(struct um_db *d, const struct um_db_schema *schema)
{
	char sql[96];
	int version, rc;

	rc = db_exec(d, "BEGIN IMMEDIATE", "begin migration");
	if (rc)
		return rc;
	rc = db_exec(d,
		     "CREATE TABLE IF NOT EXISTS schema_version (one INTEGER PRIMARY KEY CHECK (one = 1),"
		     " version INTEGER NOT NULL);"
		     "INSERT OR IGNORE INTO schema_version (one, version) VALUES (1, 0);",
		     "schema_version");
	if (rc == 0)
		rc = db_schema_version(d, &version);
	if (rc)
		goto out;
	if (version < 0 || version > schema->version) {
		um_log_error("%s %s: schema version %d is not one this umbra knows (up to %d)", d->kind, d->path,
			     version, schema->version);
		rc = -UM_EVERSION;
		goto out;
	}
	for (; version < schema->version; version++) {
		rc = db_exec(d, schema->migrations[version], "migration");
		if (rc)
			goto out;
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d WHERE one = 1", version + 1);
		rc = db_exec(d, sql, "schema_version");
		if (rc)
			goto out;
	}
	rc = db_exec(d, "COMMIT", "commit migration");
out:
	if (rc && !sqlite3_get_autocommit(d->handle))
		db_exec(d, "ROLLBACK", "rollback migration");
	return rc;
}

int um_db_prepare(struct um_db *d, const char *const *sql, size_t n, sqlite3_stmt **out)
{
	for (size_t i = 0; i < n; i++) {
		int rc = sqlite3_prepare_v3(d->handle, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &out[i], NULL);

		if (rc != SQLITE_OK)
			return um_db_error(d, rc, sql[i]);
	}
	return 0;
}

int um_db_open(struct um_db *d, const char *path, const struct um_db_schema *schema)
{
	int rc;

	d->kind = schema->kind;
	rc = db_prepare_file(d->kind, path);
	if (rc)
		return rc;
	d->path = strdup(path);
	if (!d->path)
		return -UM_ENOMEM;
	/* One thread uses a connection: no SQLite mutexes. */
	rc = sqlite3_open_v2(path, &d->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = d->handle ? um_db_error(d, rc, "open") : -UM_ENOMEM;
		goto out;
	}
	rc = db_configure(d, schema->pragmas);
	if (rc == 0)
		rc = db_migrate(d, schema);
	if (rc == 0)
		rc = um_db_prepare(d, um_db_txn_sql, UM_DB_TXN_COUNT, d->txn);
out:
	if (rc)
		um_db_close(d);
	return rc;
}

void um_db_close(struct um_db *d)
{
	if (d->depth && d->handle && d->txn[UM_DB_ROLLBACK]) {
		um_log_warn("%s %s: closed inside a batch: its writes are rolled back", d->kind, d->path);
		db_abort(d);
	}
	for (int i = 0; i < UM_DB_TXN_COUNT; i++)
		sqlite3_finalize(d->txn[i]);
	if (d->handle && sqlite3_close(d->handle) != SQLITE_OK)
		um_log_warn("%s %s: close: %s", d->kind, d->path, sqlite3_errmsg(d->handle));
	free(d->path);
	memset(d, 0, sizeof(*d));
}

int um_db_integrity_check(struct um_db *d)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(d->handle, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return um_db_error(d, rc, "integrity_check");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);

		rc = text && strcmp(text, "ok") == 0 ? 0 : -EIO;
		if (rc)
			um_log_error("%s %s: integrity_check: %s", d->kind, d->path, text ? text : "(null)");
	} else {
		rc = um_db_error(d, rc, "integrity_check");
	}
	sqlite3_finalize(st);
	return rc;
}
