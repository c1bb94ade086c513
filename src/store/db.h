/* SPDX-License-Identifier: MIT */
/* Shared by the SQLite databases of store/ (the node's store, the relay's
 * prekey bundles; the relay's queue is a segment log, queue_log.h), store/ only: opening (0600 file, permission checks,
 * WAL + synchronous=FULL pragmas, schema_version and migrations), the mapping of SQLite errors to -errno / -UM_E*, and
 * the transactions (a write's own, or a savepoint inside a group commit; nesting counted). One connection, used by one
 * thread. */
#ifndef UM_STORE_DB_H
#define UM_STORE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum um_db_txn {
	UM_DB_BEGIN,
	UM_DB_COMMIT,
	UM_DB_ROLLBACK,
	UM_DB_SAVEPOINT,
	UM_DB_RELEASE,
	UM_DB_ROLLBACK_TO,
	UM_DB_TXN_COUNT
};

/* What a kind of database is: its name in logs and its migrations (entry v
 * takes version v to v + 1; never edit one that shipped: append). */
struct um_db_schema {
	const char *kind; /* "store", "prekeys" */
	const char *const *migrations;
	int version;         /* the number of migrations */
	const char *pragmas; /* run after the shared ones (NULL: none) */
};

struct um_db {
	sqlite3 *handle;
	sqlite3_stmt *txn[UM_DB_TXN_COUNT];
	unsigned depth;    /* um_db_begin nesting */
	int batch_error;   /* the error that rolled back the open batch, 0 none */
	bool failed_whole; /* the last error aborts the whole transaction */
	const char *kind;  /* static */
	char *path;
};

/* Opens d (zeroed by the caller) on path, creating the file 0600 if missing;
 * refuses (-UM_EPERM) a file or -wal/-shm with group/other bits; configures
 * and migrates to schema->version (-UM_EVERSION for a newer one). On error d
 * is closed. Release with um_db_close. */
int um_db_open(struct um_db *d, const char *path, const struct um_db_schema *schema);
/* Prepares n statements (SQLITE_PREPARE_PERSISTENT) into out[]; the caller
 * finalizes them (before um_db_close). */
int um_db_prepare(struct um_db *d, const char *const *sql, size_t n, sqlite3_stmt **out);
/* Rolls back an open batch (logged), finalizes the transaction statements,
 * closes the connection and frees the path; d itself is the caller's. */
void um_db_close(struct um_db *d);

/* sqlite_rc (not OK/ROW/DONE) as 0 / -errno / -UM_E*: SQLITE_FULL and
 * ENOSPC under an I/O error -> -ENOSPC, other I/O errors and corruption ->
 * -EIO, busy -> -UM_EAGAIN, UNIQUE -> -UM_EEXIST (not logged); logged with
 * what. Marks d->failed_whole for errors after which the transaction cannot
 * go on. */
int um_db_error(struct um_db *d, int sqlite_rc, const char *what);
/* Steps a statement (its first row or done), then resets it. */
int um_db_run(struct um_db *d, sqlite3_stmt *st, const char *what);
/* um_db_run when bind_rc (the OR of the sqlite3_bind_* results) is
 * SQLITE_OK; otherwise the binding's error, and the statement is reset. */
int um_db_run_bound(struct um_db *d, sqlite3_stmt *st, int bind_rc, const char *what);
/* Resets and clears the bindings of a statement. */
void um_db_reset(sqlite3_stmt *st);

/* The transaction of one write: its own (BEGIN IMMEDIATE .. COMMIT) outside a
 * batch, a savepoint inside one. op_end commits (or releases) when rc >= 0 and
 * returns rc, or the commit's error; on an error it undoes the write (a batch
 * survives refusals, not failures). */
int um_db_op_begin(struct um_db *d);
int um_db_op_end(struct um_db *d, int rc);
/* Group commit: writes until the matching commit share one transaction (one
 * fsync); nesting is counted, only the outermost commit writes. commit
 * returns the error that failed the batch (rolled back whole), -UM_ESTATE
 * without a begin. */
int um_db_begin(struct um_db *d);
int um_db_commit(struct um_db *d);
/* PRAGMA integrity_check: 0 when it says ok, -EIO otherwise (logged). */
int um_db_integrity_check(struct um_db *d);

int um_db_bind_blob(sqlite3_stmt *st, int index, const void *data, size_t len);
/* Copies column col (a blob of exactly len bytes) to out; false otherwise. */
bool um_db_column_fixed(sqlite3_stmt *st, int col, void *out, size_t len);

#endif
