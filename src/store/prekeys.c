/* SPDX-License-Identifier: MIT */
/* The relay's published prekey bundles (prekeys.h) on db.h's helpers. */
#include "store/prekeys.h"

#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "util/error.h"

/* Schema migrations (see db.h): append, never edit one that shipped. */
static const char *const um_prekeys_migrations[UM_PREKEYS_SCHEMA_VERSION] = {
    "CREATE TABLE prekeys ("
    " owner BLOB PRIMARY KEY CHECK (length(owner) = 32),"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " bundle BLOB NOT NULL,"
    " public_key BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX prekeys_by_expiry ON prekeys (expires_ms);",
};

enum { PK_GET, PK_PUT, PK_PURGE, PK_COUNT_ROWS, PK_STMTS };

static const char *const um_prekeys_sql[PK_STMTS] = {
    [PK_GET] = "SELECT created_ms, expires_ms, bundle, public_key FROM prekeys WHERE owner = ?1",
    [PK_PUT] = "INSERT INTO prekeys (owner, created_ms, expires_ms, bundle, public_key) VALUES (?1, ?2, ?3, ?4, ?5)"
	       " ON CONFLICT (owner) DO UPDATE SET created_ms = excluded.created_ms,"
	       " expires_ms = excluded.expires_ms, bundle = excluded.bundle, public_key = excluded.public_key",
    [PK_PURGE] = "DELETE FROM prekeys WHERE expires_ms <= ?1",
    [PK_COUNT_ROWS] = "SELECT count(*) FROM prekeys",
};

static const struct um_db_schema um_prekeys_schema = {
    .kind = "prekeys",
    .migrations = um_prekeys_migrations,
    .version = UM_PREKEYS_SCHEMA_VERSION,
};

struct um_prekeys {
	struct um_db db;
	sqlite3_stmt *stmt[PK_STMTS];
	size_t max_owners;
};

int um_prekeys_open(const char *path, size_t max_owners, struct um_prekeys **out)
{
	struct um_prekeys *p;
	int rc;

	if (!path || !out)
		return -UM_EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -UM_ENOMEM;
	p->max_owners = max_owners ? max_owners : 100000;
	rc = um_db_open(&p->db, path, &um_prekeys_schema);
	if (rc) {
		free(p);
		return rc;
	}
	rc = um_db_prepare(&p->db, um_prekeys_sql, PK_STMTS, p->stmt);
	if (rc) {
		um_prekeys_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

void um_prekeys_close(struct um_prekeys *p)
{
	if (!p)
		return;
	for (int i = 0; i < PK_STMTS; i++)
		sqlite3_finalize(p->stmt[i]);
	um_db_close(&p->db);
	free(p);
}

/* The stored row of owner: 1 found (created, expires set), 0 none, <0 error. */
static int row_find(struct um_prekeys *p, const uint8_t owner[32], uint64_t *created, uint64_t *expires)
{
	sqlite3_stmt *st = p->stmt[PK_GET];
	int rc = 0, step;

	if (um_db_bind_blob(st, 1, owner, 32) != SQLITE_OK) {
		um_db_reset(st);
		return -UM_EINVAL;
	}
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*created = (uint64_t)sqlite3_column_int64(st, 0);
		*expires = (uint64_t)sqlite3_column_int64(st, 1);
		rc = 1;
	} else if (step != SQLITE_DONE) {
		rc = um_db_error(&p->db, step, "find prekey");
	}
	um_db_reset(st);
	return rc;
}

int um_prekeys_put(struct um_prekeys *p, const uint8_t owner[32], uint64_t created_ms, uint64_t expires_ms,
		   const uint8_t *bundle, size_t bundle_len, const uint8_t *public_key, size_t public_key_len,
		   uint64_t now_ms)
{
	uint64_t created = 0, expires = 0;
	sqlite3_stmt *st;
	int rc, b, found;

	if (!p || !owner || !bundle || !public_key || !bundle_len || !public_key_len)
		return -UM_EINVAL;
	rc = um_db_op_begin(&p->db);
	if (rc)
		return rc;
	st = p->stmt[PK_PURGE];
	rc = um_db_run_bound(&p->db, st, sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms), "purge prekeys");
	found = rc ? rc : row_find(p, owner, &created, &expires);
	if (found < 0) {
		rc = found;
	} else if (found && created > created_ms) {
		rc = -UM_EREPLAY;
	} else if (found && created == created_ms) {
		rc = -UM_EEXIST;
	} else if (!found) {
		st = p->stmt[PK_COUNT_ROWS];
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW && (size_t)sqlite3_column_int64(st, 0) >= p->max_owners)
			rc = -UM_ELIMIT;
		else if (step != SQLITE_ROW)
			rc = um_db_error(&p->db, step, "count prekeys");
		um_db_reset(st);
	}
	if (rc == 0) {
		st = p->stmt[PK_PUT];
		b = um_db_bind_blob(st, 1, owner, 32);
		b |= sqlite3_bind_int64(st, 2, (sqlite3_int64)created_ms);
		b |= sqlite3_bind_int64(st, 3, (sqlite3_int64)expires_ms);
		b |= um_db_bind_blob(st, 4, bundle, bundle_len);
		b |= um_db_bind_blob(st, 5, public_key, public_key_len);
		rc = um_db_run_bound(&p->db, st, b, "put prekey");
	}
	return um_db_op_end(&p->db, rc);
}

int um_prekeys_get(struct um_prekeys *p, const uint8_t owner[32], uint64_t now_ms, uint8_t *bundle, size_t cap,
		   size_t *bundle_len, uint8_t *public_key, size_t pk_cap, size_t *public_key_len)
{
	sqlite3_stmt *st;
	int rc = -UM_ENOTFOUND, step;

	if (!p || !owner || !bundle || !public_key || !bundle_len || !public_key_len)
		return -UM_EINVAL;
	st = p->stmt[PK_GET];
	if (um_db_bind_blob(st, 1, owner, 32) != SQLITE_OK) {
		um_db_reset(st);
		return -UM_EINVAL;
	}
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && (uint64_t)sqlite3_column_int64(st, 1) > now_ms) {
		size_t bl = (size_t)sqlite3_column_bytes(st, 2), kl = (size_t)sqlite3_column_bytes(st, 3);
		if (bl > cap || kl > pk_cap) {
			rc = -UM_ERANGE;
		} else {
			memcpy(bundle, sqlite3_column_blob(st, 2), bl);
			memcpy(public_key, sqlite3_column_blob(st, 3), kl);
			*bundle_len = bl;
			*public_key_len = kl;
			rc = 0;
		}
	} else if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = um_db_error(&p->db, step, "get prekey");
	}
	um_db_reset(st);
	return rc;
}
