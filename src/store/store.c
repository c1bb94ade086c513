/* SPDX-License-Identifier: MIT */
/* The store's handle: its schema, migrations and prepared statements;
 * opening, permissions, pragmas, errors and transactions are db.c's. */
#include <errno.h>
#include <stdlib.h>

#include "store/internal.h"
#include "util/error.h"

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
    /* 1 -> 2: the rung that carried each message (enum um_store_via). */
    "ALTER TABLE messages ADD COLUMN via INTEGER NOT NULL DEFAULT 0;",
};

#define UM_MSG_COLUMNS "seq, peer, id, outgoing, kind, sent_ms, received_ms, state, body, via"
#define UM_FILE_COLUMNS                                                                                                \
	"file_row, id, outgoing, peer, name, path, size, chunk_size, hash, state, bytes_done, created_ms, "            \
	"updated_ms, bitmap"

/* Paged queries bind ?1 = the last key seen and ?2 = the page size. */
static const char *const um_store_sql[UM_STMT_COUNT] = {
    [UM_STMT_MSG_INSERT] = "INSERT INTO messages (peer, id, outgoing, kind, sent_ms, received_ms, state, body, via)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
    [UM_STMT_MSG_VIA_SET] = "UPDATE messages SET via = ?4 WHERE id = ?2 AND outgoing = ?3 AND peer = ?1 AND via <> 4"
			    " AND (via = 0 OR ?4 = 4)",
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

static const struct um_db_schema um_store_schema = {
    .kind = "store",
    .migrations = um_store_migrations,
    .version = UM_STORE_SCHEMA_VERSION,
};

int um_store_begin(struct um_store *s)
{
	return s ? um_db_begin(&s->db) : -UM_EINVAL;
}

int um_store_commit(struct um_store *s)
{
	return s ? um_db_commit(&s->db) : -UM_ESTATE;
}

int64_t um_store_last_seq(const struct um_store *s)
{
	return s ? s->last_seq : 0;
}

int um_store_open(const char *path, struct um_store **out)
{
	struct um_store *s;
	int rc;

	if (!path || !*path || !out)
		return -UM_EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -UM_ENOMEM;
	rc = um_db_open(&s->db, path, &um_store_schema);
	if (rc) {
		free(s);
		return rc;
	}
	rc = um_db_prepare(&s->db, um_store_sql, UM_STMT_COUNT, s->stmt);
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
	for (int i = 0; i < UM_STMT_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	um_db_close(&s->db);
	free(s);
}

int um_store_integrity_check(struct um_store *s)
{
	return s ? um_db_integrity_check(&s->db) : -UM_EINVAL;
}
