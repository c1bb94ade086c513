/* SPDX-License-Identifier: MIT */
/* File-transfer frame payloads: layouts in message_file.h. */
#include "wire/message_file.h"

#include <string.h>

#include "util/buf.h"
#include "util/error.h"

uint64_t um_file_chunk_count(uint64_t size, uint32_t chunk_size)
{
	if (chunk_size == 0)
		return UINT64_MAX;
	return size / chunk_size + (size % chunk_size != 0);
}

size_t um_file_utf8_next(const uint8_t *p, size_t len, uint32_t *cp)
{
	uint8_t b = p[0];
	size_t n;
	uint32_t v, min;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if ((b & 0xe0) == 0xc0) {
		n = 2;
		v = b & 0x1f;
		min = 0x80;
	} else if ((b & 0xf0) == 0xe0) {
		n = 3;
		v = b & 0x0f;
		min = 0x800;
	} else if ((b & 0xf8) == 0xf0) {
		n = 4;
		v = b & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms would let a forbidden byte ('/', NUL) hide in a
	 * longer sequence; surrogates are not scalar values. */
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

bool um_file_text_valid(const uint8_t *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = um_file_utf8_next(text + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return false;
		i += n;
	}
	return true;
}

static bool meta_valid(const struct um_file_meta_frame *m)
{
	return m->chunk_size >= UM_FILE_CHUNK_MIN && m->chunk_size <= UM_FILE_CHUNK_MAX &&
	       m->hash_alg == UM_FILE_HASH_SHA256_LIST &&
	       um_file_chunk_count(m->size, m->chunk_size) <= UM_FILE_CHUNKS_MAX && m->name_len >= 1 &&
	       m->name_len <= UM_FILE_NAME_WIRE_MAX;
}

int um_file_meta_frame_encode(const struct um_file_meta_frame *m, uint8_t *out, size_t cap, size_t *len)
{
	struct um_writer w;

	if (!meta_valid(m) || !m->name)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_bytes(&w, m->id, UM_FILE_ID_LEN);
	um_write_u64(&w, m->size);
	um_write_u32(&w, m->chunk_size);
	um_write_u8(&w, m->hash_alg);
	um_write_bytes(&w, m->hash, UM_FILE_HASH_LEN);
	um_write_u16(&w, (uint16_t)m->name_len);
	um_write_bytes(&w, m->name, m->name_len);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	*len = w.pos;
	return 0;
}

int um_file_meta_frame_decode(const uint8_t *p, size_t len, struct um_file_meta_frame *m)
{
	struct um_reader r;

	um_reader_init(&r, p, len);
	um_read_copy(&r, m->id, UM_FILE_ID_LEN);
	m->size = um_read_u64(&r);
	m->chunk_size = um_read_u32(&r);
	m->hash_alg = um_read_u8(&r);
	um_read_copy(&r, m->hash, UM_FILE_HASH_LEN);
	m->name_len = um_read_u16(&r);
	m->name = um_read_bytes(&r, m->name_len);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (um_reader_left(&r) != 0 || !meta_valid(m))
		return -UM_EINVAL;
	return 0;
}

int um_file_chunk_frame_encode(const struct um_file_chunk_frame *c, uint8_t *out, size_t cap, size_t *len)
{
	struct um_writer w;

	if (c->len == 0 || c->len > UM_FILE_CHUNK_MAX || !c->data)
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_bytes(&w, c->id, UM_FILE_ID_LEN);
	um_write_u32(&w, c->index);
	um_write_bytes(&w, c->hash, UM_FILE_HASH_LEN);
	uint8_t *data = um_write_reserve(&w, c->len);
	if (data && data != c->data) /* else read into place by the caller: no copy */
		memmove(data, c->data, c->len);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	*len = w.pos;
	return 0;
}

int um_file_chunk_frame_decode(const uint8_t *p, size_t len, struct um_file_chunk_frame *c)
{
	struct um_reader r;

	um_reader_init(&r, p, len);
	um_read_copy(&r, c->id, UM_FILE_ID_LEN);
	c->index = um_read_u32(&r);
	um_read_copy(&r, c->hash, UM_FILE_HASH_LEN);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	c->len = um_reader_left(&r);
	c->data = um_read_bytes(&r, c->len);
	if (c->len == 0)
		return -UM_ETRUNC;
	if (c->len > UM_FILE_CHUNK_MAX)
		return -UM_EINVAL;
	return 0;
}

/* Ascending, not overlapping, count >= 1, end within 2^32-1. `prev_end` is
 * the end of the range before (0 for the first). */
static bool range_valid(struct um_file_range rg, uint64_t prev_end)
{
	return rg.count >= 1 && (uint64_t)rg.first >= prev_end && (uint64_t)rg.first + rg.count <= UM_FILE_CHUNKS_MAX;
}

int um_file_request_frame_encode(const uint8_t id[UM_FILE_ID_LEN], const struct um_file_range *ranges, size_t n,
				 uint8_t *out, size_t cap, size_t *len)
{
	struct um_writer w;
	uint64_t end = 0;

	if (n > UM_FILE_REQUEST_RANGES_MAX)
		return -UM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!range_valid(ranges[i], end))
			return -UM_EINVAL;
		end = (uint64_t)ranges[i].first + ranges[i].count;
	}
	um_writer_init(&w, out, cap);
	um_write_bytes(&w, id, UM_FILE_ID_LEN);
	um_write_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		um_write_u32(&w, ranges[i].first);
		um_write_u32(&w, ranges[i].count);
	}
	if (um_writer_error(&w))
		return -UM_ERANGE;
	*len = w.pos;
	return 0;
}

int um_file_request_frame_decode(const uint8_t *p, size_t len, struct um_file_request_frame *r)
{
	struct um_reader rd;
	uint64_t end = 0;

	um_reader_init(&rd, p, len);
	um_read_copy(&rd, r->id, UM_FILE_ID_LEN);
	r->n_ranges = um_read_u32(&rd);
	if (um_reader_error(&rd))
		return -UM_ETRUNC;
	if (r->n_ranges > UM_FILE_REQUEST_RANGES_MAX)
		return -UM_EINVAL;
	r->ranges = um_read_bytes(&rd, (size_t)r->n_ranges * 8);
	if (um_reader_error(&rd))
		return -UM_ETRUNC;
	if (um_reader_left(&rd) != 0)
		return -UM_EINVAL;
	for (uint32_t i = 0; i < r->n_ranges; i++) {
		struct um_file_range rg = um_file_request_frame_range(r, i);
		if (!range_valid(rg, end))
			return -UM_EINVAL;
		end = (uint64_t)rg.first + rg.count;
	}
	return 0;
}

struct um_file_range um_file_request_frame_range(const struct um_file_request_frame *r, uint32_t i)
{
	struct um_reader rd;
	struct um_file_range rg;

	um_reader_init(&rd, r->ranges + (size_t)i * 8, 8);
	rg.first = um_read_u32(&rd);
	rg.count = um_read_u32(&rd);
	return rg;
}

static int status_encode(const struct um_file_status_frame *s, bool with_ok, uint8_t *out, size_t cap, size_t *len)
{
	struct um_writer w;

	if (s->reason_len > UM_FILE_REASON_MAX || (s->reason_len && !s->reason) ||
	    !um_file_text_valid((const uint8_t *)s->reason, s->reason_len) || (with_ok && s->ok > 1))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_bytes(&w, s->id, UM_FILE_ID_LEN);
	if (with_ok)
		um_write_u8(&w, s->ok);
	um_write_u16(&w, (uint16_t)s->reason_len);
	um_write_bytes(&w, s->reason, s->reason_len);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	*len = w.pos;
	return 0;
}

static int status_decode(const uint8_t *p, size_t len, bool with_ok, struct um_file_status_frame *s)
{
	struct um_reader r;

	um_reader_init(&r, p, len);
	um_read_copy(&r, s->id, UM_FILE_ID_LEN);
	s->ok = with_ok ? um_read_u8(&r) : 0;
	s->reason_len = um_read_u16(&r);
	s->reason = (const char *)um_read_bytes(&r, s->reason_len);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (um_reader_left(&r) != 0 || s->ok > 1 || s->reason_len > UM_FILE_REASON_MAX ||
	    !um_file_text_valid((const uint8_t *)s->reason, s->reason_len))
		return -UM_EINVAL;
	return 0;
}

int um_file_refuse_frame_encode(const struct um_file_status_frame *s, uint8_t *out, size_t cap, size_t *len)
{
	return status_encode(s, false, out, cap, len);
}

int um_file_refuse_frame_decode(const uint8_t *p, size_t len, struct um_file_status_frame *s)
{
	return status_decode(p, len, false, s);
}

int um_file_done_frame_encode(const struct um_file_status_frame *s, uint8_t *out, size_t cap, size_t *len)
{
	return status_encode(s, true, out, cap, len);
}

int um_file_done_frame_decode(const uint8_t *p, size_t len, struct um_file_status_frame *s)
{
	return status_decode(p, len, true, s);
}
