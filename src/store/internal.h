/* SPDX-License-Identifier: MIT */
/* Shared by the files of store/ only: the handle, its prepared statements
 * and the transaction helpers every write goes through. */
#ifndef UM_STORE_INTERNAL_H
#define UM_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Every statement the store runs after opening, prepared once
 * (SQLITE_PREPARE_PERSISTENT) by um_store_open; the SQL is in store.c. */
enum um_store_stmt {
	UM_STMT_BEGIN,
	UM_STMT_COMMIT,
	UM_STMT_ROLLBACK,
	UM_STMT_SAVEPOINT,
	UM_STMT_RELEASE,
	UM_STMT_ROLLBACK_TO,
	UM_STMT_MSG_INSERT,
	UM_STMT_MSG_PENDING,
	UM_STMT_MSG_HISTORY_ALL,
	UM_STMT_MSG_HISTORY_PEER,
	UM_STMT_MSG_BY_ID,
	UM_STMT_MSG_STATE_FIND,
	UM_STMT_MSG_STATE_SET,
	UM_STMT_FILE_OWNER,
	UM_STMT_FILE_UPSERT,
	UM_STMT_FILE_GET,
	UM_STMT_FILE_LIST,
	UM_STMT_FILE_CHUNK_INFO,
	UM_STMT_FILE_ADD_BYTES,
	UM_STMT_FILE_SET_STATE,
	UM_STMT_FILE_DELETE,
	UM_STMT_PRESENCE_PUT,
	UM_STMT_PRESENCE_GET,
	UM_STMT_PRESENCE_LIST,
	UM_STMT_SELF_PUT,
	UM_STMT_SELF_GET,
	UM_STMT_COUNT
};

struct um_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[UM_STMT_COUNT];
	unsigned depth;    /* um_store_begin nesting */
	int batch_error;   /* the error that rolled back the open batch, 0 none */
	bool failed_whole; /* the last error aborts the whole transaction */
	int64_t last_seq;
	char *path;
};

/* Rows handed to iterators are copied a page at a time (see store.h). */
#define UM_STORE_PAGE 32

/* sqlite_rc (not OK/ROW/DONE) as 0 / -errno / -UM_E*, logged with what and
 * the database's message; marks s->failed_whole for errors after which the
 * transaction cannot go on (full, I/O, memory, corruption, busy). */
int um_store_error(struct um_store *s, int sqlite_rc, const char *what);
/* Steps a statement that returns no row, then resets it. */
int um_store_run(struct um_store *s, enum um_store_stmt which, const char *what);
/* um_store_run when bind_rc (the OR of the sqlite3_bind_* results) is
 * SQLITE_OK; otherwise the binding's error, and the statement is reset. */
int um_store_run_bound(struct um_store *s, enum um_store_stmt which, int bind_rc, const char *what);
/* Resets and clears the bindings of a statement. */
void um_store_reset(struct um_store *s, enum um_store_stmt which);

/* The transaction of one write: its own (BEGIN IMMEDIATE .. COMMIT) outside a
 * batch, a savepoint inside one. op_end commits (or releases) when rc >= 0 and
 * returns rc, or the commit's error; on an error it undoes the write (a batch
 * survives refusals, not failures: see store.h). */
int um_store_op_begin(struct um_store *s);
int um_store_op_end(struct um_store *s, int rc);

int um_store_bind_blob(sqlite3_stmt *st, int index, const void *data, size_t len);
/* Copies column col (a blob of exactly len bytes) to out; false otherwise. */
bool um_store_column_fixed(sqlite3_stmt *st, int col, void *out, size_t len);

#endif
