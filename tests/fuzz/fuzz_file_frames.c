/* SPDX-License-Identifier: MIT */
/* File-transfer frames on arbitrary bytes. The first byte chooses:
 *   0..4  one payload decoder (META + the receiver's checks, CHUNK,
 *         REQUEST, REFUSE/DONE, the name rule) on the rest; whatever
 *         decodes must encode back to the same bytes;
 *   else  a receiver and a sender driven by records [u8 op][u16 len][bytes]:
 *         chunk frames (raw, or made valid from the bytes so the fuzzer
 *         reaches the paths after the hash), requests both ways, imports,
 *         restarts, forgets. The chunk sets stay consistent after every
 *         step (abort otherwise). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/file.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t id[UM_FILE_ID_LEN] = {9, 9, 9};
static uint8_t out[UM_FILE_CHUNK_FRAME_MAX + UM_FILE_REQUEST_FRAME_MAX];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void decoders(uint8_t which, const uint8_t *p, size_t len)
{
	size_t olen;

	switch (which) {
	case 0: {
		struct um_file_meta_frame m;
		struct um_file_meta meta;
		struct um_file_limits limits = {.max_size = 1u << 30};
		if (um_file_meta_frame_decode(p, len, &m) == 0) {
			check(um_file_meta_frame_encode(&m, out, sizeof(out), &olen) == 0);
			check(olen == len && memcmp(out, p, len) == 0);
		}
		if (um_file_receive_meta(p, len, &limits, &meta) == 0) {
			size_t n = strlen(meta.name);
			check(n > 0 && n <= UM_FILE_NAME_MAX && meta.name[0] != '.' && !strchr(meta.name, '/'));
			check(meta.size <= limits.max_size);
		}
		break;
	}
	case 1: {
		struct um_file_chunk_frame c;
		if (um_file_chunk_frame_decode(p, len, &c) == 0) {
			check(um_file_chunk_frame_encode(&c, out, sizeof(out), &olen) == 0);
			check(olen == len && memcmp(out, p, len) == 0);
		}
		break;
	}
	case 2: {
		struct um_file_request_frame r;
		static struct um_file_range ranges[UM_FILE_REQUEST_RANGES_MAX];
		if (um_file_request_frame_decode(p, len, &r) == 0) {
			for (uint32_t i = 0; i < r.n_ranges; i++)
				ranges[i] = um_file_request_frame_range(&r, i);
			check(um_file_request_frame_encode(r.id, ranges, r.n_ranges, out, sizeof(out), &olen) == 0);
			check(olen == len && memcmp(out, p, len) == 0);
		}
		break;
	}
	case 3: {
		struct um_file_status_frame s;
		if (um_file_refuse_frame_decode(p, len, &s) == 0) {
			check(um_file_refuse_frame_encode(&s, out, sizeof(out), &olen) == 0);
			check(olen == len && memcmp(out, p, len) == 0);
		}
		if (um_file_done_frame_decode(p, len, &s) == 0) {
			check(um_file_done_frame_encode(&s, out, sizeof(out), &olen) == 0);
			check(olen == len && memcmp(out, p, len) == 0);
		}
		break;
	}
	default: {
		char name[UM_FILE_NAME_MAX + 1];
		if (um_file_name_sanitize((const char *)p, len, name, sizeof(name)) == 0) {
			size_t n = strlen(name);
			check(n > 0 && n <= UM_FILE_NAME_MAX && name[0] != '.' && name[0] != ' ');
			check(!strchr(name, '/') && !strchr(name, '\\'));
			check(um_file_text_valid((const uint8_t *)name, n));
		}
		break;
	}
	}
}

static uint32_t popcount(const struct um_file_bitmap *b)
{
	uint32_t c = 0;

	for (size_t i = 0; i < um_file_bitmap_bytes(b->n); i++)
		c += (uint32_t)__builtin_popcount(b->bits[i]);
	return c;
}

static void consistent(const struct um_file_receive *fr, const struct um_file_send *fs)
{
	const struct um_file_meta *m = &fr->meta;
	uint64_t bytes = 0;

	check(popcount(&fr->done) == fr->done.count && popcount(&fr->outstanding) == fr->outstanding.count);
	check(popcount(&fs->wanted) == fs->wanted.count);
	for (uint32_t i = 0; i < m->n_chunks; i++) {
		bool d = um_file_bitmap_test(&fr->done, i);
		check(!(d && um_file_bitmap_test(&fr->outstanding, i)));
		/* The request scan never skips a missing, unasked chunk. */
		check(i >= fr->scan || d || um_file_bitmap_test(&fr->outstanding, i));
		if (d)
			bytes += um_file_chunk_len(m->size, m->chunk_size, i);
	}
	check(bytes == fr->bytes_done && bytes <= m->size);
	check(!fr->limits.max_outstanding || fr->outstanding.count <= fr->limits.max_outstanding);
}

static void machines(uint8_t seed, const uint8_t *p, size_t len)
{
	/* 1..40 chunks of 4 KiB, the last one shorter. */
	struct um_file_meta meta = {.chunk_size = 4096, .size = (uint64_t)(seed % 40) * 4096 + 1 + seed};
	struct um_file_limits limits = {.max_size = 1u << 20, .max_outstanding = seed % 5 * 3};
	struct um_file_receive *fr = NULL;
	struct um_file_send *fs = NULL;
	static uint8_t chunk[4096];
	size_t olen;

	memcpy(meta.id, id, sizeof(id));
	meta.n_chunks = (uint32_t)um_file_chunk_count(meta.size, meta.chunk_size);
	if (um_file_receive_new(&meta, &limits, &fr) != 0 ||
	    um_file_send_new(id, meta.size, meta.chunk_size, meta.hash, "f", &fs) != 0)
		goto out;
	for (size_t pos = 0; pos + 3 <= len;) {
		uint8_t op = p[pos];
		size_t n = (size_t)p[pos + 1] << 8 | p[pos + 2];
		pos += 3;
		if (n > len - pos)
			n = len - pos;
		const uint8_t *b = p + pos;
		pos += n;
		uint32_t index;
		const uint8_t *d;
		size_t dlen;

		switch (op % 8) {
		case 0: /* a raw chunk frame */
			(void)um_file_receive_chunk(fr, b, n, &index, &d, &dlen);
			break;
		case 1: { /* a valid chunk for the index in b[0], data from b */
			struct um_file_chunk_frame c = {.index = n ? b[0] % (meta.n_chunks + 1) : 0};
			memcpy(c.id, id, sizeof(id));
			c.len = um_file_chunk_len(meta.size, meta.chunk_size, c.index);
			if (c.len == 0)
				c.len = 1;
			memset(chunk, 0, c.len);
			memcpy(chunk, b, n < c.len ? n : c.len);
			c.data = chunk;
			um_file_chunk_hash(chunk, c.len, c.hash);
			if (um_file_chunk_frame_encode(&c, out, sizeof(out), &olen) == 0 &&
			    um_file_receive_chunk(fr, out, olen, &index, &d, &dlen) == 0)
				check(index == c.index && dlen == c.len && um_file_bitmap_test(&fr->done, index));
			break;
		}
		case 2: /* the receiver asks; the sender hears it */
			if (um_file_receive_request(fr, out, sizeof(out), &olen) == 0 && olen > 0)
				check(um_file_send_request(fs, out, olen) == 0);
			break;
		case 3: /* a raw request at the sender */
			(void)um_file_send_request(fs, b, n);
			break;
		case 4: /* the sender sends what it is asked */
			if (um_file_send_next(fs, &index) == 0) {
				size_t clen = um_file_chunk_len(meta.size, meta.chunk_size, index);
				memset(chunk, seed, clen);
				check(um_file_chunk_encode(fs, index, chunk, clen, out, sizeof(out), &olen) == 0);
				(void)um_file_receive_chunk(fr, out, olen, &index, &d, &dlen);
			}
			break;
		case 5:
			(void)um_file_receive_import(fr, b, n);
			break;
		case 6:
			um_file_receive_chunk_forget(fr, n ? b[0] : 0);
			um_file_send_requeue(fs, n > 1 ? b[1] : 0);
			break;
		default:
			um_file_receive_restart(fr);
			um_file_send_restart(fs);
			break;
		}
		consistent(fr, fs);
		check(um_file_receive_complete(fr) == (fr->done.count == meta.n_chunks));
	}
out:
	um_file_receive_free(fr);
	um_file_send_free(fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] < 5)
		decoders(data[0], data + 1, size - 1);
	else
		machines(data[1], data + 2, size - 2);
	return 0;
}
