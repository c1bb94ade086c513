/* SPDX-License-Identifier: MIT */
/* File transfers: one row per (id, direction) with its chunk bitmap, so a
 * transfer resumes after any restart with only the missing chunks. A chunk
 * marked done sets one bit in place (incremental blob I/O): the cost per
 * chunk does not grow with the file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/error.h"

/* Bytes of the bitmap of a file; -UM_ERANGE beyond 2^32 chunks (indexes are
 * u32 on the wire). */
static int file_bitmap_bytes(uint64_t size, uint32_t chunk_size, size_t *out)
{
	uint64_t chunks;

	if (chunk_size == 0)
		return -UM_EINVAL;
	chunks = size / chunk_size + (size % chunk_size != 0);
	if (chunks > (uint64_t)UINT32_MAX + 1)
		return -UM_ERANGE;
	*out = (size_t)((chunks + 7) / 8);
	return 0;
}

static int file_validate(const struct um_store_file *f, size_t *bitmap_bytes)
{
	int rc;

	if (!f || f->state > UM_STORE_FILE_FAILED || !memchr(f->name, 0, sizeof(f->name)) ||
	    !memchr(f->path, 0, sizeof(f->path)))
		return -UM_EINVAL;
	rc = file_bitmap_bytes(f->size, f->chunk_size, bitmap_bytes);
	if (rc)
		return rc;
	if (f->bitmap_len && (f->bitmap_len != *bitmap_bytes || !f->bitmap))
		return -UM_EINVAL;
	return 0;
}

/* -UM_EEXIST when (id, outgoing) is another peer's transfer. */
static int file_check_owner(struct um_store *s, const struct um_store_file *f)
{
	sqlite3_stmt *st = s->stmt[UM_STMT_FILE_OWNER];
	uint8_t owner[32];
	int rc = 0, b, step;

	b = um_store_bind_blob(st, 1, f->id, sizeof(f->id));
	b |= sqlite3_bind_int(st, 2, f->outgoing);
	if (b != SQLITE_OK) {
		rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
		um_store_reset(s, UM_STMT_FILE_OWNER);
		return rc ? rc : -UM_EINVAL;
	}
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if (!um_store_column_fixed(st, 0, owner, sizeof(owner)))
			rc = -EIO;
		else if (memcmp(owner, f->peer, sizeof(owner)) != 0)
			rc = -UM_EEXIST;
	} else if (step != SQLITE_DONE) {
		rc = um_store_error(s, step, "file owner");
	}
	um_store_reset(s, UM_STMT_FILE_OWNER);
	return rc;
}

int um_store_file_put(struct um_store *s, const struct um_store_file *f)
{
	size_t bitmap_bytes;
	sqlite3_stmt *st;
	int rc, b;

	if (!s)
		return -UM_EINVAL;
	rc = file_validate(f, &bitmap_bytes);
	if (rc)
		return rc;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	rc = file_check_owner(s, f);
	if (rc == 0) {
		st = s->stmt[UM_STMT_FILE_UPSERT];
		b = um_store_bind_blob(st, 1, f->id, sizeof(f->id));
		b |= sqlite3_bind_int(st, 2, f->outgoing);
		b |= um_store_bind_blob(st, 3, f->peer, sizeof(f->peer));
		b |= sqlite3_bind_text(st, 4, f->name, -1, SQLITE_STATIC);
		b |= sqlite3_bind_text(st, 5, f->path, -1, SQLITE_STATIC);
		b |= sqlite3_bind_int64(st, 6, (sqlite3_int64)f->size);
		b |= sqlite3_bind_int64(st, 7, f->chunk_size);
		b |= um_store_bind_blob(st, 8, f->hash, sizeof(f->hash));
		b |= sqlite3_bind_int(st, 9, f->state);
		b |= sqlite3_bind_int64(st, 10, (sqlite3_int64)f->bytes_done);
		b |= sqlite3_bind_int64(st, 11, (sqlite3_int64)f->created_ms);
		b |= sqlite3_bind_int64(st, 12, (sqlite3_int64)f->updated_ms);
		if (f->bitmap_len)
			b |= um_store_bind_blob(st, 13, f->bitmap, f->bitmap_len);
		else
			b |= sqlite3_bind_zeroblob64(st, 13, bitmap_bytes);
		rc = um_store_run_bound(s, UM_STMT_FILE_UPSERT, b, "file put");
	}
	return um_store_op_end(s, rc);
}

static int file_copy_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	size_t len = (size_t)sqlite3_column_bytes(st, col);

	if (!text || len >= cap)
		return -EIO;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}

/* Copies the current row (UM_FILE_COLUMNS) into *f with a malloc'd bitmap
 * (NULL when empty) the caller frees; *row gets the rowid. */
static int file_row_read(sqlite3_stmt *st, struct um_store_file *f, int64_t *row)
{
	const void *bitmap;
	size_t len;

	memset(f, 0, sizeof(*f));
	*row = sqlite3_column_int64(st, 0);
	if (!um_store_column_fixed(st, 1, f->id, sizeof(f->id)) ||
	    !um_store_column_fixed(st, 3, f->peer, sizeof(f->peer)) ||
	    !um_store_column_fixed(st, 8, f->hash, sizeof(f->hash)) ||
	    file_copy_text(st, 4, f->name, sizeof(f->name)) || file_copy_text(st, 5, f->path, sizeof(f->path)))
		return -EIO;
	f->outgoing = sqlite3_column_int(st, 2) != 0;
	f->size = (uint64_t)sqlite3_column_int64(st, 6);
	f->chunk_size = (uint32_t)sqlite3_column_int64(st, 7);
	f->state = (uint8_t)sqlite3_column_int(st, 9);
	f->bytes_done = (uint64_t)sqlite3_column_int64(st, 10);
	f->created_ms = (uint64_t)sqlite3_column_int64(st, 11);
	f->updated_ms = (uint64_t)sqlite3_column_int64(st, 12);
	bitmap = sqlite3_column_blob(st, 13);
	len = (size_t)sqlite3_column_bytes(st, 13);
	if (len && bitmap) {
		f->bitmap = malloc(len);
		if (!f->bitmap)
			return -UM_ENOMEM;
		memcpy(f->bitmap, bitmap, len);
		f->bitmap_len = len;
	}
	return 0;
}

int um_store_file_get(struct um_store *s, const uint8_t id[16], bool outgoing, struct um_store_file *out)
{
	sqlite3_stmt *st;
	int64_t row;
	int rc = 0, b, step;

	if (!s || !id || !out)
		return -UM_EINVAL;
	st = s->stmt[UM_STMT_FILE_GET];
	b = um_store_bind_blob(st, 1, id, 16);
	b |= sqlite3_bind_int(st, 2, outgoing);
	if (b != SQLITE_OK) {
		rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
		um_store_reset(s, UM_STMT_FILE_GET);
		return rc ? rc : -UM_EINVAL;
	}
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		rc = file_row_read(st, out, &row);
		if (rc) {
			free(out->bitmap);
			out->bitmap = NULL;
			out->bitmap_len = 0;
		}
	} else {
		rc = step == SQLITE_DONE ? -UM_ENOTFOUND : um_store_error(s, step, "file get");
	}
	um_store_reset(s, UM_STMT_FILE_GET);
	return rc;
}

int um_store_file_list(struct um_store *s, int (*cb)(void *ctx, const struct um_store_file *f), void *ctx)
{
	sqlite3_stmt *st;
	struct um_store_file *page;
	int64_t row = 0, last = 0;
	int rc = 0;

	if (!s || !cb)
		return -UM_EINVAL;
	page = calloc(UM_STORE_PAGE, sizeof(*page));
	if (!page)
		return -UM_ENOMEM;
	st = s->stmt[UM_STMT_FILE_LIST];
	for (;;) {
		size_t n = 0;
		int step = SQLITE_DONE;

		if (sqlite3_bind_int64(st, 1, last) | sqlite3_bind_int64(st, 2, UM_STORE_PAGE)) {
			rc = um_store_error(s, sqlite3_errcode(s->db.handle), "bind");
			rc = rc ? rc : -UM_EINVAL;
		}
		while (rc == 0 && n < UM_STORE_PAGE && (step = sqlite3_step(st)) == SQLITE_ROW) {
			rc = file_row_read(st, &page[n], &row); /* no bitmap kept on failure */
			if (rc)
				break;
			last = row;
			n++;
		}
		if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
			rc = um_store_error(s, step, "file list");
		um_store_reset(s, UM_STMT_FILE_LIST);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = cb(ctx, &page[i]);
		for (size_t i = 0; i < n; i++)
			free(page[i].bitmap);
		if (rc || n < UM_STORE_PAGE)
			break;
	}
	free(page);
	return rc;
}

int um_store_file_chunk_done(struct um_store *s, const uint8_t id[16], bool outgoing, uint32_t index, uint64_t bytes)
{
	sqlite3_stmt *st;
	sqlite3_blob *blob = NULL;
	int64_t row = 0, size = 0, chunk_size = 0, bitmap_len = 0;
	size_t want;
	uint8_t byte = 0;
	int rc, b, step;

	if (!s || !id)
		return -UM_EINVAL;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[UM_STMT_FILE_CHUNK_INFO];
	b = um_store_bind_blob(st, 1, id, 16);
	b |= sqlite3_bind_int(st, 2, outgoing);
	step = b == SQLITE_OK ? sqlite3_step(st) : b;
	if (step == SQLITE_ROW) {
		row = sqlite3_column_int64(st, 0);
		size = sqlite3_column_int64(st, 1);
		chunk_size = sqlite3_column_int64(st, 2);
		bitmap_len = sqlite3_column_int64(st, 3);
	} else {
		rc = step == SQLITE_DONE ? -UM_ENOTFOUND : um_store_error(s, sqlite3_errcode(s->db.handle), "chunk done");
	}
	um_store_reset(s, UM_STMT_FILE_CHUNK_INFO);
	if (rc)
		goto out;
	if (chunk_size <= 0 || chunk_size > UINT32_MAX ||
	    file_bitmap_bytes((uint64_t)size, (uint32_t)chunk_size, &want) || (int64_t)want != bitmap_len) {
		rc = -EIO; /* put validated these: the row is damaged */
		goto out;
	}
	if ((uint64_t)index >= (uint64_t)size / (uint64_t)chunk_size + ((uint64_t)size % (uint64_t)chunk_size != 0)) {
		rc = -UM_ERANGE;
		goto out;
	}
	step = sqlite3_blob_open(s->db.handle, "main", "files", "bitmap", row, 1, &blob);
	if (step == SQLITE_OK)
		step = sqlite3_blob_read(blob, &byte, 1, (int)(index / 8));
	if (step == SQLITE_OK && (byte & (1u << (index % 8)))) {
		rc = -UM_EEXIST;
		goto out;
	}
	byte |= (uint8_t)(1u << (index % 8));
	if (step == SQLITE_OK)
		step = sqlite3_blob_write(blob, &byte, 1, (int)(index / 8));
	if (step != SQLITE_OK) {
		rc = um_store_error(s, step, "chunk bitmap");
		goto out;
	}
	st = s->stmt[UM_STMT_FILE_ADD_BYTES];
	b = sqlite3_bind_int64(st, 1, row);
	b |= sqlite3_bind_int64(st, 2, (sqlite3_int64)bytes);
	rc = um_store_run_bound(s, UM_STMT_FILE_ADD_BYTES, b, "chunk bytes");
out:
	/* Closed before the commit: an open blob handle is an active statement. */
	sqlite3_blob_close(blob);
	return um_store_op_end(s, rc);
}

int um_store_file_set_state(struct um_store *s, const uint8_t id[16], bool outgoing, uint8_t state, uint64_t updated_ms)
{
	sqlite3_stmt *st;
	int rc, b;

	if (!s || !id || state > UM_STORE_FILE_FAILED)
		return -UM_EINVAL;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[UM_STMT_FILE_SET_STATE];
	b = um_store_bind_blob(st, 1, id, 16);
	b |= sqlite3_bind_int(st, 2, outgoing);
	b |= sqlite3_bind_int(st, 3, state);
	b |= sqlite3_bind_int64(st, 4, (sqlite3_int64)updated_ms);
	rc = um_store_run_bound(s, UM_STMT_FILE_SET_STATE, b, "file state");
	if (rc == 0 && sqlite3_changes(s->db.handle) == 0)
		rc = -UM_ENOTFOUND;
	return um_store_op_end(s, rc);
}

int um_store_file_delete(struct um_store *s, const uint8_t id[16], bool outgoing)
{
	sqlite3_stmt *st;
	int rc, b;

	if (!s || !id)
		return -UM_EINVAL;
	rc = um_store_op_begin(s);
	if (rc)
		return rc;
	st = s->stmt[UM_STMT_FILE_DELETE];
	b = um_store_bind_blob(st, 1, id, 16);
	b |= sqlite3_bind_int(st, 2, outgoing);
	rc = um_store_run_bound(s, UM_STMT_FILE_DELETE, b, "file delete");
	if (rc == 0 && sqlite3_changes(s->db.handle) == 0)
		rc = -UM_ENOTFOUND;
	return um_store_op_end(s, rc);
}
