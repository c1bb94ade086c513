/* SPDX-License-Identifier: MIT */
/* Bounds-checked cursors for every encoder and decoder: no parser in umbra
 * does pointer arithmetic by hand. A reader that runs short sets `error`
 * (sticky) and returns zeros, so a decoder can read a whole header and check
 * once at the end: `if (um_reader_error(&r)) return -UM_ETRUNC;`.
 * Multi-byte integers are big-endian (network order) unless named _le. */
#ifndef UM_UTIL_BUF_H
#define UM_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct um_reader {
	const uint8_t *data;
	size_t len;
	size_t pos;
	bool error;
};

struct um_writer {
	uint8_t *data;
	size_t cap;
	size_t pos;
	bool error;
};

static inline void um_reader_init(struct um_reader *r, const void *data, size_t len)
{
	r->data = data;
	r->len = len;
	r->pos = 0;
	r->error = false;
}

static inline size_t um_reader_left(const struct um_reader *r)
{
	return r->error ? 0 : r->len - r->pos;
}

static inline bool um_reader_error(const struct um_reader *r)
{
	return r->error;
}

/* Pointer to the next n bytes (borrowed from the reader's buffer), or NULL
 * and the error flag if fewer remain. */
static inline const uint8_t *um_read_bytes(struct um_reader *r, size_t n)
{
	if (r->error || r->len - r->pos < n) {
		r->error = true;
		return NULL;
	}
	const uint8_t *p = r->data + r->pos;
	r->pos += n;
	return p;
}

static inline void um_read_copy(struct um_reader *r, void *out, size_t n)
{
	const uint8_t *p = um_read_bytes(r, n);
	if (p)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

static inline uint8_t um_read_u8(struct um_reader *r)
{
	const uint8_t *p = um_read_bytes(r, 1);
	return p ? p[0] : 0;
}

static inline uint16_t um_read_u16(struct um_reader *r)
{
	const uint8_t *p = um_read_bytes(r, 2);
	return p ? (uint16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

static inline uint32_t um_read_u32(struct um_reader *r)
{
	const uint8_t *p = um_read_bytes(r, 4);
	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static inline uint64_t um_read_u64(struct um_reader *r)
{
	uint64_t hi = um_read_u32(r);
	return hi << 32 | um_read_u32(r);
}

static inline void um_writer_init(struct um_writer *w, void *data, size_t cap)
{
	w->data = data;
	w->cap = cap;
	w->pos = 0;
	w->error = false;
}

static inline bool um_writer_error(const struct um_writer *w)
{
	return w->error;
}

/* Reserve n bytes and return where to write them (NULL + error if full). */
static inline uint8_t *um_write_reserve(struct um_writer *w, size_t n)
{
	if (w->error || w->cap - w->pos < n) {
		w->error = true;
		return NULL;
	}
	uint8_t *p = w->data + w->pos;
	w->pos += n;
	return p;
}

static inline void um_write_bytes(struct um_writer *w, const void *src, size_t n)
{
	uint8_t *p = um_write_reserve(w, n);
	if (p && n)
		memcpy(p, src, n);
}

static inline void um_write_u8(struct um_writer *w, uint8_t v)
{
	uint8_t *p = um_write_reserve(w, 1);
	if (p)
		p[0] = v;
}

static inline void um_write_u16(struct um_writer *w, uint16_t v)
{
	uint8_t *p = um_write_reserve(w, 2);
	if (p) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

static inline void um_write_u32(struct um_writer *w, uint32_t v)
{
	uint8_t *p = um_write_reserve(w, 4);
	if (p) {
		p[0] = (uint8_t)(v >> 24);
		p[1] = (uint8_t)(v >> 16);
		p[2] = (uint8_t)(v >> 8);
		p[3] = (uint8_t)v;
	}
}

static inline void um_write_u64(struct um_writer *w, uint64_t v)
{
	um_write_u32(w, (uint32_t)(v >> 32));
	um_write_u32(w, (uint32_t)v);
}

#endif
