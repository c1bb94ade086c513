/* SPDX-License-Identifier: MIT */
/* Shared by the files of store/ only: the handle, its prepared statements
 * and the transaction helpers every write goes through. */
#ifndef UM_STORE_INTERNAL_H
#define UM_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"
#include "store/store.h"

/* Every statement the store runs after opening, prepared once
 * (SQLITE_PREPARE_PERSISTENT) by um_store_open; the SQL is in store.c. */
enum um_store_stmt {
	UM_STMT_MSG_INSERT,
	UM_STMT_MSG_PENDING,
	UM_STMT_MSG_HISTORY_ALL,
	UM_STMT_MSG_HISTORY_PEER,
	UM_STMT_MSG_BY_ID,
	UM_STMT_MSG_STATE_FIND,
	UM_STMT_MSG_STATE_SET,
	UM_STMT_MSG_VIA_SET,
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
	struct um_db db; /* connection, transactions (db.h) */
	sqlite3_stmt *stmt[UM_STMT_COUNT];
	int64_t last_seq;
};

/* Rows handed to iterators are copied a page at a time (see store.h). */
#define UM_STORE_PAGE 32

/* The helpers of db.h on the store's connection and statements. */
static inline int um_store_error(struct um_store *s, int sqlite_rc, const char *what)
{
	return um_db_error(&s->db, sqlite_rc, what);
}
static inline int um_store_run(struct um_store *s, enum um_store_stmt which, const char *what)
{
	return um_db_run(&s->db, s->stmt[which], what);
}
static inline int um_store_run_bound(struct um_store *s, enum um_store_stmt which, int bind_rc, const char *what)
{
	return um_db_run_bound(&s->db, s->stmt[which], bind_rc, what);
}
static inline void um_store_reset(struct um_store *s, enum um_store_stmt which)
{
	um_db_reset(s->stmt[which]);
}
static inline int um_store_op_begin(struct um_store *s)
{
	return um_db_op_begin(&s->db);
}
static inline int um_store_op_end(struct um_store *s, int rc)
{
	return um_db_op_end(&s->db, rc);
}
#define um_store_bind_blob    um_db_bind_blob
#define um_store_column_fixed um_db_column_fixed

#endif
