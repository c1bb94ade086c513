/* SPDX-License-Identifier: MIT */
/* File transfers without I/O: the frame codecs, and a sender and a
 * receiver wired in memory (resume after an interruption, wrong hashes,
 * the hash list, unsolicited chunks, oversize offers, bad requests). The
 * name rule is test_file_name.c. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "msg/file.h"
#include "test.h"
#include "util/error.h"

static const uint8_t file_id[UM_FILE_ID_LEN] = {0xf1, 0x1e, 1, 2, 3};

/* ---- the codecs ---- */

static void test_meta_codec(void)
{
	uint8_t buf[UM_FILE_META_FRAME_MAX + 8];
	struct um_file_meta_frame m = {.size = 123456789, .chunk_size = 65536, .hash_alg = 2, .name_len = 5};
	struct um_file_meta_frame d;
	size_t len;

	memcpy(m.id, file_id, sizeof(file_id));
	memset(m.hash, 0xab, sizeof(m.hash));
	m.name = (const uint8_t *)"a.bin";
	CHECK_EQ(um_file_meta_frame_encode(&m, buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, UM_FILE_META_HEADER_LEN + 5);
	CHECK_EQ(um_file_meta_frame_decode(buf, len, &d), 0);
	CHECK_EQ(d.size, m.size);
	CHECK_EQ(d.chunk_size, m.chunk_size);
	CHECK_MEM(d.hash, m.hash, 32);
	CHECK_MEM(d.id, file_id, 16);
	CHECK(d.name_len == 5 && memcmp(d.name, "a.bin", 5) == 0);
	for (size_t cut = 0; cut < len; cut++)
		CHECK(um_file_meta_frame_decode(buf, cut, &d) != 0);
	CHECK_EQ(um_file_meta_frame_decode(buf, len + 1, &d), -UM_EINVAL); /* trailing byte */
	CHECK_EQ(um_file_meta_frame_encode(&m, buf, len - 1, &len), -UM_ERANGE);

	struct um_file_meta_frame bad = m;
	bad.chunk_size = 4095;
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), -UM_EINVAL);
	bad = m;
	bad.chunk_size = 65537;
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), -UM_EINVAL);
	bad = m;
	bad.hash_alg = 1; /* the retired flat hash */
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), -UM_EINVAL);
	bad.hash_alg = 3;
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), -UM_EINVAL);
	bad = m;
	bad.name_len = 0;
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), -UM_EINVAL);
	bad = m;
	bad.chunk_size = 4096;
	bad.size = (uint64_t)UINT32_MAX * 4096 + 1; /* 2^32 chunks */
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), -UM_EINVAL);
	bad.size--;
	CHECK_EQ(um_file_meta_frame_encode(&bad, buf, sizeof(buf), &len), 0);

	/* The decoder holds the same line on bytes the encoder never makes. */
	CHECK_EQ(um_file_meta_frame_encode(&m, buf, sizeof(buf), &len), 0);
	buf[16 + 8 + 3] = 0xff; /* chunk_size 0x100ff */
	CHECK_EQ(um_file_meta_frame_decode(buf, len, &d), -UM_EINVAL);
	CHECK_EQ(um_file_meta_frame_encode(&m, buf, sizeof(buf), &len), 0);
	buf[28] = 0; /* hash_alg */
	CHECK_EQ(um_file_meta_frame_decode(buf, len, &d), -UM_EINVAL);
}

static void test_request_codec(void)
{
	uint8_t buf[UM_FILE_REQUEST_FRAME_MAX + 16];
	struct um_file_range ok[] = {{0, 3}, {3, 1}, {10, 5}};
	struct um_file_request_frame r;
	size_t len;

	CHECK_EQ(um_file_request_frame_encode(file_id, ok, 3, buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, UM_FILE_REQUEST_HEADER_LEN + 24);
	CHECK_EQ(um_file_request_frame_decode(buf, len, &r), 0);
	CHECK_EQ(r.n_ranges, 3);
	CHECK_EQ(um_file_request_frame_range(&r, 2).first, 10);
	CHECK_EQ(um_file_request_frame_range(&r, 2).count, 5);
	CHECK_EQ(um_file_request_frame_decode(buf, len - 1, &r), -UM_ETRUNC);
	CHECK_EQ(um_file_request_frame_decode(buf, len + 1, &r), -UM_EINVAL);

	struct um_file_range overlap[] = {{0, 3}, {2, 1}};
	struct um_file_range descending[] = {{10, 1}, {5, 1}};
	struct um_file_range empty[] = {{4, 0}};
	struct um_file_range wraps[] = {{UINT32_MAX - 1, 2}};
	CHECK_EQ(um_file_request_frame_encode(file_id, overlap, 2, buf, sizeof(buf), &len), -UM_EINVAL);
	CHECK_EQ(um_file_request_frame_encode(file_id, descending, 2, buf, sizeof(buf), &len), -UM_EINVAL);
	CHECK_EQ(um_file_request_frame_encode(file_id, empty, 1, buf, sizeof(buf), &len), -UM_EINVAL);
	CHECK_EQ(um_file_request_frame_encode(file_id, wraps, 1, buf, sizeof(buf), &len), -UM_EINVAL);

	/* The same violations written by hand reach the decoder. */
	CHECK_EQ(um_file_request_frame_encode(file_id, ok, 3, buf, sizeof(buf), &len), 0);
	buf[20 + 8 + 3] = 2; /* second range first = 2: overlaps {0,3} */
	CHECK_EQ(um_file_request_frame_decode(buf, len, &r), -UM_EINVAL);
	CHECK_EQ(um_file_request_frame_encode(file_id, ok, 3, buf, sizeof(buf), &len), 0);
	buf[20 + 8 + 7] = 0; /* count 0 */
	CHECK_EQ(um_file_request_frame_decode(buf, len, &r), -UM_EINVAL);
	CHECK_EQ(um_file_request_frame_encode(file_id, ok, 3, buf, sizeof(buf), &len), 0);
	memset(buf + 20 + 16, 0xff, 4); /* third range first = 2^32-1 */
	CHECK_EQ(um_file_request_frame_decode(buf, len, &r), -UM_EINVAL);

	/* At most 1024 ranges. */
	static struct um_file_range many[UM_FILE_REQUEST_RANGES_MAX + 1];
	for (uint32_t i = 0; i <= UM_FILE_REQUEST_RANGES_MAX; i++)
		many[i] = (struct um_file_range){2 * i, 1};
	CHECK_EQ(um_file_request_frame_encode(file_id, many, UM_FILE_REQUEST_RANGES_MAX, buf, sizeof(buf), &len), 0);
	CHECK_EQ(um_file_request_frame_decode(buf, len, &r), 0);
	CHECK_EQ(um_file_request_frame_encode(file_id, many, UM_FILE_REQUEST_RANGES_MAX + 1, buf, sizeof(buf), &len),
		 -UM_EINVAL);
	buf[19] = 0x01; /* n = 1025 with 1024 ranges of bytes */
	buf[18] = 0x04;
	CHECK_EQ(um_file_request_frame_decode(buf, len, &r), -UM_EINVAL);
}

static void test_status_codecs(void)
{
	uint8_t buf[UM_FILE_DONE_FRAME_MAX];
	struct um_file_status_frame s = {.ok = 1, .reason = "verified", .reason_len = 8}, d;
	size_t len;

	memcpy(s.id, file_id, 16);
	CHECK_EQ(um_file_done_frame_encode(&s, buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, UM_FILE_DONE_HEADER_LEN + 8);
	CHECK_EQ(um_file_done_frame_decode(buf, len, &d), 0);
	CHECK(d.ok == 1 && d.reason_len == 8 && memcmp(d.reason, "verified", 8) == 0);
	buf[16] = 2;
	CHECK_EQ(um_file_done_frame_decode(buf, len, &d), -UM_EINVAL);

	s.reason = "too big";
	s.reason_len = 7;
	CHECK_EQ(um_file_refuse_frame_encode(&s, buf, sizeof(buf), &len), 0);
	CHECK_EQ(len, UM_FILE_REFUSE_HEADER_LEN + 7);
	CHECK_EQ(um_file_refuse_frame_decode(buf, len, &d), 0);
	CHECK(d.reason_len == 7 && memcmp(d.reason, "too big", 7) == 0);
	buf[len - 1] = '\n'; /* control characters never reach a log */
	CHECK_EQ(um_file_refuse_frame_decode(buf, len, &d), -UM_EINVAL);
	CHECK_EQ(um_file_refuse_frame_decode(buf, len - 1, &d), -UM_ETRUNC);
	s.reason = "bad\x1b[2J";
	s.reason_len = 7;
	CHECK_EQ(um_file_refuse_frame_encode(&s, buf, sizeof(buf), &len), -UM_EINVAL);
}

/* ---- chunk sets ---- */

/* Against a plain array of flags. */
static void test_bitmap(void)
{
	bool flags[300];
	struct um_file_bitmap b;
	int wrong = 0;

	for (int t = 0; t < 300; t++) {
		uint32_t n = 1 + randombytes_uniform(300);
		CHECK_EQ(um_file_bitmap_init(&b, n), 0);
		memset(flags, 0, sizeof(flags));
		for (int op = 0; op < 20; op++) {
			uint32_t first = randombytes_uniform(n), count = 1 + randombytes_uniform(n - first);
			if (op % 3 == 2) {
				um_file_bitmap_clear(&b, first);
				flags[first] = false;
			} else {
				um_file_bitmap_set_range(&b, first, count);
				for (uint32_t i = first; i < first + count; i++)
					flags[i] = true;
			}
		}
		uint32_t count = 0;
		for (uint32_t i = 0; i < n; i++) {
			count += flags[i];
			wrong += um_file_bitmap_test(&b, i) != flags[i];
		}
		wrong += b.count != count;
		uint32_t from = randombytes_uniform(n), want = from;
		while (want < n && !flags[want])
			want++;
		wrong += um_file_bitmap_find(&b, from, true) != want;
		want = from;
		while (want < n && flags[want])
			want++;
		wrong += um_file_bitmap_find(&b, from, false) != want;
		/* Export, import into a fresh set: the same set. */
		uint8_t bytes[38];
		struct um_file_bitmap c;
		CHECK_EQ(um_file_bitmap_export(&b, bytes, sizeof(bytes)), 0);
		CHECK_EQ(um_file_bitmap_init(&c, n), 0);
		CHECK_EQ(um_file_bitmap_import(&c, bytes, um_file_bitmap_bytes(n)), 0);
		wrong += c.count != b.count || memcmp(c.bits, b.bits, um_file_bitmap_bytes(n)) != 0;
		um_file_bitmap_free(&c);
		um_file_bitmap_free(&b);
	}
	CHECK_EQ(wrong, 0);
}

/* ---- transfers ---- */

struct fixture {
	uint8_t *file;
	size_t size;
	uint32_t chunk_size;
	uint8_t hash[32];
	struct um_file_send *fs;
	struct um_file_receive *fr;
	struct um_file_meta meta;
	uint8_t *got;          /* the receiver's "disk" */
	uint8_t *chunk_hashes; /* the expected ones, n x 32 */
};

static void fixture_init(struct fixture *f, size_t size, uint32_t chunk_size, uint32_t window)
{
	crypto_hash_sha256_state h;
	uint8_t frame[UM_FILE_META_FRAME_MAX];
	size_t len;
	struct um_file_limits limits = {.max_size = 64u << 20, .max_outstanding = window};

	memset(f, 0, sizeof(*f));
	f->size = size;
	f->chunk_size = chunk_size;
	f->file = malloc(size ? size : 1);
	f->got = calloc(size ? size : 1, 1);
	randombytes_buf(f->file, size);
	/* The hash list from another SHA-256 (libsodium's, in pieces of random
	 * sizes): SHA-256 over the SHA-256 of each chunk. */
	size_t n = (size + chunk_size - 1) / chunk_size;
	f->chunk_hashes = malloc(n ? n * 32 : 1);
	for (size_t i = 0; i < n; i++) {
		size_t clen = size - i * chunk_size < chunk_size ? size - i * chunk_size : chunk_size;
		crypto_hash_sha256(f->chunk_hashes + i * 32, f->file + i * chunk_size, clen);
	}
	crypto_hash_sha256_init(&h);
	for (size_t off = 0; off < n * 32;) {
		size_t piece = 1 + randombytes_uniform(100);
		if (piece > n * 32 - off)
			piece = n * 32 - off;
		crypto_hash_sha256_update(&h, f->chunk_hashes + off, piece);
		off += piece;
	}
	crypto_hash_sha256_final(&h, f->hash);
	uint8_t mine[32];
	um_file_list_hash(f->chunk_hashes, (uint32_t)n, mine);
	CHECK_MEM(mine, f->hash, 32);
	CHECK_EQ(um_file_send_new(file_id, size, chunk_size, f->hash, "../secret/photo.raw", &f->fs), 0);
	CHECK_EQ(um_file_send_meta(f->fs, frame, sizeof(frame), &len), 0);
	CHECK_EQ(um_file_receive_meta(frame, len, &limits, &f->meta), 0);
	CHECK(strcmp(f->meta.name, "photo.raw") == 0);
	CHECK_EQ(um_file_receive_new(&f->meta, &limits, &f->fr), 0);
}

static void fixture_free(struct fixture *f)
{
	um_file_send_free(f->fs);
	um_file_receive_free(f->fr);
	free(f->file);
	free(f->got);
	free(f->chunk_hashes);
}

/* The receiver's whole-file check, the chunks it did not see in this run
 * hashed from its "disk" as the node does. */
static int receiver_verify(struct fixture *f)
{
	uint8_t hash[32];

	for (uint32_t i = 0; i < f->meta.n_chunks; i++)
		if (!um_file_receive_chunk_hash_known(f->fr, i)) {
			um_file_chunk_hash(f->got + (size_t)i * f->chunk_size,
					   um_file_chunk_len(f->size, f->chunk_size, i), hash);
			um_file_receive_set_chunk_hash(f->fr, i, hash);
		}
	return um_file_receive_verify(f->fr);
}

/* Receiver -> sender: every request the receiver has now. */
static void pump_requests(struct fixture *f)
{
	static uint8_t frame[UM_FILE_REQUEST_FRAME_MAX];
	size_t len;

	while (um_file_receive_wants_request(f->fr)) {
		CHECK_EQ(um_file_receive_request(f->fr, frame, sizeof(frame), &len), 0);
		if (len == 0)
			break;
		CHECK_EQ(um_file_send_request(f->fs, frame, len), 0);
	}
}

/* The sender's next chunk as a frame: 0, or -UM_EAGAIN. */
static int sender_frame(struct fixture *f, uint8_t *frame, size_t *len)
{
	uint32_t index;
	int ret = um_file_send_next(f->fs, &index);

	if (ret != 0)
		return ret;
	size_t off = (size_t)index * f->chunk_size;
	size_t clen = um_file_chunk_len(f->size, f->chunk_size, index);
	CHECK_EQ(um_file_chunk_encode(f->fs, index, f->file + off, clen, frame, UM_FILE_CHUNK_FRAME_MAX, len), 0);
	return 0;
}

static int receiver_take(struct fixture *f, const uint8_t *frame, size_t len)
{
	uint32_t index;
	const uint8_t *data;
	size_t dlen;
	int ret = um_file_receive_chunk(f->fr, frame, len, &index, &data, &dlen);

	if (ret == 0)
		memcpy(f->got + (size_t)index * f->chunk_size, data, dlen);
	return ret;
}

#define IN_FLIGHT 12

/* 5 MB through a link holding IN_FLIGHT frames; both ends restart after
 * 40%: the frames in flight are lost, the receiver resumes from its
 * exported bitmap, and only the missing chunks travel again. */
static void test_transfer_resume(void)
{
	struct fixture f;
	static uint8_t link[IN_FLIGHT][UM_FILE_CHUNK_FRAME_MAX];
	size_t link_len[IN_FLIGHT], head = 0, queued = 0;
	uint64_t sent_total = 0, sent_after = 0, lost = 0;
	uint32_t done_at_cut = 0;
	bool cut = false;
	int rounds = 0;

	fixture_init(&f, 5000000, 16384, 64);
	uint32_t n = f.meta.n_chunks;
	CHECK_EQ(n, 306); /* 305 x 16 KiB + 2880 bytes */
	CHECK_EQ(um_file_chunk_len(f.size, f.chunk_size, n - 1), 2880);

	while (!um_file_receive_complete(f.fr) && rounds++ < 100000) {
		pump_requests(&f);
		while (queued < IN_FLIGHT) {
			size_t slot = (head + queued) % IN_FLIGHT;
			if (sender_frame(&f, link[slot], &link_len[slot]) != 0)
				break;
			queued++;
			sent_total++;
			if (cut)
				sent_after++;
		}
		if (queued == 0)
			break; /* stalled: a bug */
		CHECK_EQ(receiver_take(&f, link[head], link_len[head]), 0);
		head = (head + 1) % IN_FLIGHT;
		queued--;

		if (!cut && f.fr->done.count * 10 >= n * 4) {
			/* kill -9 of both ends: what is in flight is gone. */
			size_t bytes = um_file_bitmap_bytes(n);
			uint8_t *saved = malloc(bytes);
			CHECK_EQ(um_file_bitmap_export(&f.fr->done, saved, bytes), 0);
			CHECK_EQ(um_file_bitmap_export(&f.fr->done, saved, bytes - 1), -UM_ERANGE);
			done_at_cut = f.fr->done.count;
			lost = queued;
			queued = 0;
			um_file_receive_free(f.fr);
			um_file_send_free(f.fs);
			struct um_file_limits limits = {.max_size = 64u << 20, .max_outstanding = 64};
			CHECK_EQ(um_file_receive_new(&f.meta, &limits, &f.fr), 0);
			CHECK_EQ(um_file_receive_import(f.fr, saved, bytes), 0);
			CHECK_EQ(f.fr->done.count, done_at_cut);
			CHECK_EQ(f.fr->bytes_done, (uint64_t)done_at_cut * f.chunk_size);
			CHECK_EQ(um_file_send_new(file_id, f.size, f.chunk_size, f.hash, "photo.raw", &f.fs), 0);
			free(saved);
			cut = true;
		}
	}
	CHECK(cut);
	CHECK(um_file_receive_complete(f.fr));
	CHECK_EQ(f.fr->bytes_done, f.size);
	CHECK(memcmp(f.got, f.file, f.size) == 0);
	/* The chunks from before the cut are not known to the new receiver:
	 * its check needs them from the disk. */
	CHECK_EQ(um_file_receive_verify(f.fr), -UM_ESTATE);
	CHECK_EQ(f.fr->hashed.count, n - done_at_cut);
	CHECK_EQ(receiver_verify(&f), 0);
	/* A corrupted disk fails it. */
	f.got[123] ^= 1;
	uint8_t bad[32];
	um_file_chunk_hash(f.got, f.chunk_size, bad);
	um_file_receive_set_chunk_hash(f.fr, 0, bad);
	CHECK_EQ(um_file_receive_verify(f.fr), -UM_EBADMSG);
	/* Only the missing chunks travel after the resume, and in all the file
	 * plus what was in flight at the cut. */
	CHECK_EQ(sent_after, n - done_at_cut);
	CHECK_EQ(sent_total, n + lost);
	CHECK(lost > 0);
	CHECK_EQ(f.fr->stats.chunks_unsolicited + f.fr->stats.chunks_bad_hash + f.fr->stats.chunks_malformed, 0);
	fprintf(stderr, "  resume: %u chunks, %u done at the cut, %llu lost in flight, %llu sent after, %llu in all\n",
		n, done_at_cut, (unsigned long long)lost, (unsigned long long)sent_after,
		(unsigned long long)sent_total);
	fixture_free(&f);
}

/* A channel reset (not a restart): both ends _restart and the receiver
 * asks again for everything missing, including what was lost in flight. */
static void test_transfer_channel_reset(void)
{
	struct fixture f;
	static uint8_t frame[UM_FILE_CHUNK_FRAME_MAX];
	size_t len;

	fixture_init(&f, 100000, 4096, 0); /* 25 chunks, no window */
	pump_requests(&f);
	CHECK_EQ(f.fr->outstanding.count, 25);
	CHECK(!um_file_receive_wants_request(f.fr));
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(sender_frame(&f, frame, &len), 0);
		if (i < 7) /* three lost in the reset */
			CHECK_EQ(receiver_take(&f, frame, len), 0);
	}
	um_file_send_restart(f.fs);
	um_file_receive_restart(f.fr);
	CHECK(um_file_receive_wants_request(f.fr));
	pump_requests(&f);
	CHECK_EQ(f.fs->wanted.count, 18);
	int sent = 0;
	while (sender_frame(&f, frame, &len) == 0) {
		CHECK_EQ(receiver_take(&f, frame, len), 0);
		sent++;
	}
	CHECK_EQ(sent, 18);
	CHECK(um_file_receive_complete(f.fr));
	CHECK(memcmp(f.got, f.file, f.size) == 0);
	CHECK_EQ(f.fr->hashed.count, 25); /* every chunk checked in this run: nothing read back */
	CHECK_EQ(um_file_receive_verify(f.fr), 0);
	fixture_free(&f);
}

static void test_wrong_hash(void)
{
	struct fixture f;
	static uint8_t frame[UM_FILE_CHUNK_FRAME_MAX], req[UM_FILE_REQUEST_FRAME_MAX];
	size_t len, rlen;
	uint32_t index;

	fixture_init(&f, 10 * 4096 + 100, 4096, 0);
	pump_requests(&f);
	CHECK_EQ(sender_frame(&f, frame, &len), 0); /* chunk 0 */
	CHECK_EQ(receiver_take(&f, frame, len), 0);
	CHECK_EQ(sender_frame(&f, frame, &len), 0); /* chunk 1, corrupted on the way */
	frame[UM_FILE_CHUNK_HEADER_LEN + 77] ^= 0x01;
	CHECK_EQ(receiver_take(&f, frame, len), -UM_EBADMSG);
	CHECK_EQ(f.fr->stats.chunks_bad_hash, 1);
	CHECK(!um_file_bitmap_test(&f.fr->done, 1));
	/* Asked for again, alone, in the next request. */
	CHECK(um_file_receive_wants_request(f.fr));
	CHECK_EQ(um_file_receive_request(f.fr, req, sizeof(req), &rlen), 0);
	struct um_file_request_frame r;
	CHECK_EQ(um_file_request_frame_decode(req, rlen, &r), 0);
	CHECK_EQ(r.n_ranges, 1);
	CHECK_EQ(um_file_request_frame_range(&r, 0).first, 1);
	CHECK_EQ(um_file_request_frame_range(&r, 0).count, 1);
	CHECK_EQ(um_file_send_request(f.fs, req, rlen), 0);
	/* A wrong hash field (the data intact) is refused as well. */
	CHECK_EQ(sender_frame(&f, frame, &len), 0);
	CHECK_EQ(frame[19], 2); /* chunk 2: the sender goes on, chunk 1 comes around */
	frame[16 + 4] ^= 0x80;
	CHECK_EQ(receiver_take(&f, frame, len), -UM_EBADMSG);
	CHECK_EQ(f.fr->stats.chunks_bad_hash, 2);
	pump_requests(&f);
	/* The rest arrives intact, the two refused chunks included. */
	while (um_file_send_next(f.fs, &index) == 0) {
		CHECK_EQ(sender_frame(&f, frame, &len), 0);
		CHECK_EQ(receiver_take(&f, frame, len), 0);
	}
	CHECK(um_file_receive_complete(f.fr));
	CHECK(memcmp(f.got, f.file, f.size) == 0);
	CHECK_EQ(f.fs->stats.chunks_sent, 11 + 2);
	CHECK_EQ(um_file_receive_verify(f.fr), 0);
	fixture_free(&f);
}

/* Chunk hashes adopted from the offer's pass: the same frames as hashing
 * each chunk as it goes, and a wrong one is refused by the receiver. */
static void test_adopted_hashes(void)
{
	struct fixture f;
	static uint8_t frame[UM_FILE_CHUNK_FRAME_MAX], plain[UM_FILE_CHUNK_FRAME_MAX];
	size_t len, plain_len;
	uint32_t index;

	fixture_init(&f, 7 * 4096 + 5, 4096, 0);
	uint8_t *copy = malloc(8 * 32);
	memcpy(copy, f.chunk_hashes, 8 * 32);
	copy[3 * 32] ^= 1; /* chunk 3's is wrong */
	um_file_send_adopt_hashes(f.fs, copy);
	pump_requests(&f);
	while (um_file_send_next(f.fs, &index) == 0) {
		size_t clen = um_file_chunk_len(f.size, f.chunk_size, index);
		struct um_file_chunk_frame c = {.index = index, .data = f.file + (size_t)index * 4096, .len = clen};
		memcpy(c.id, file_id, 16);
		um_file_chunk_hash(c.data, c.len, c.hash);
		CHECK_EQ(um_file_chunk_frame_encode(&c, plain, sizeof(plain), &plain_len), 0);
		/* The data already in place (as the node reads it): the same frame. */
		static uint8_t in_place[UM_FILE_CHUNK_FRAME_MAX];
		size_t in_place_len;
		memcpy(in_place + UM_FILE_CHUNK_HEADER_LEN, c.data, clen);
		c.data = in_place + UM_FILE_CHUNK_HEADER_LEN;
		CHECK_EQ(um_file_chunk_frame_encode(&c, in_place, sizeof(in_place), &in_place_len), 0);
		CHECK_EQ(in_place_len, plain_len);
		CHECK_MEM(in_place, plain, plain_len);
		CHECK_EQ(sender_frame(&f, frame, &len), 0);
		CHECK_EQ(len, plain_len);
		CHECK_EQ(memcmp(frame, plain, len) != 0, index == 3);
		CHECK_EQ(receiver_take(&f, frame, len), index == 3 ? -UM_EBADMSG : 0);
	}
	CHECK_EQ(f.fr->done.count, 7);
	CHECK_EQ(f.fr->stats.chunks_bad_hash, 1);
	fixture_free(&f);
}

/* Offered before hashing: FILE_META with a zero hash, each chunk hashed
 * the first time it goes (a resend is not hashed again), the list hash
 * known after the last one; the receiver verifies only once it has it. */
static void test_hash_as_sent(void)
{
	struct fixture f;
	static uint8_t frame[UM_FILE_CHUNK_FRAME_MAX], meta[UM_FILE_META_FRAME_MAX];
	size_t len;
	uint8_t zero[32] = {0};
	struct um_file_limits limits = {.max_size = 64u << 20};
	struct um_file_meta m;

	fixture_init(&f, 9 * 4096 + 17, 4096, 0);
	um_file_send_free(f.fs);
	CHECK_EQ(um_file_send_new(file_id, f.size, f.chunk_size, zero, "photo.raw", &f.fs), 0);
	CHECK(!f.fs->hash_known);
	CHECK_EQ(um_file_send_hash_as_sent(f.fs), 0);
	CHECK_EQ(um_file_send_meta(f.fs, meta, sizeof(meta), &len), 0);
	CHECK_EQ(um_file_receive_meta(meta, len, &limits, &m), 0);
	CHECK_MEM(m.hash, zero, 32);
	um_file_receive_free(f.fr);
	CHECK_EQ(um_file_receive_new(&m, NULL, &f.fr), 0);
	pump_requests(&f);
	for (int i = 0; i < 10; i++) {
		CHECK(!f.fs->hash_known);
		CHECK_EQ(sender_frame(&f, frame, &len), 0);
		if (i != 4) /* chunk 4 lost: asked again after a reset */
			CHECK_EQ(receiver_take(&f, frame, len), 0);
	}
	CHECK(f.fs->hash_known);
	CHECK_MEM(f.fs->hash, f.hash, 32);
	CHECK_EQ(f.fs->hashed.count, 10);
	CHECK_EQ(um_file_send_meta(f.fs, meta, sizeof(meta), &len), 0); /* the second offer */
	CHECK_EQ(um_file_receive_meta(meta, len, &limits, &m), 0);
	CHECK_MEM(m.hash, f.hash, 32);
	um_file_send_restart(f.fs);
	um_file_receive_restart(f.fr);
	pump_requests(&f);
	CHECK_EQ(sender_frame(&f, frame, &len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), 0);
	CHECK(um_file_receive_complete(f.fr));
	CHECK_EQ(um_file_receive_verify(f.fr), -UM_ESTATE); /* no hash yet */
	memcpy(f.fr->meta.hash, m.hash, 32);
	CHECK_EQ(um_file_receive_verify(f.fr), 0);
	/* An empty file's hash is known at once. */
	struct um_file_send *empty;
	CHECK_EQ(um_file_send_new(file_id, 0, 4096, zero, "e", &empty), 0);
	CHECK_EQ(um_file_send_hash_as_sent(empty), 0);
	CHECK(empty->hash_known);
	uint8_t expect[32];
	crypto_hash_sha256(expect, NULL, 0);
	CHECK_MEM(empty->hash, expect, 32);
	um_file_send_free(empty);
	fixture_free(&f);
}

static void test_unsolicited(void)
{
	struct fixture f;
	static uint8_t frame[UM_FILE_CHUNK_FRAME_MAX], req[UM_FILE_REQUEST_FRAME_MAX];
	size_t len, rlen;
	struct um_file_chunk_frame c = {.len = 4096};

	fixture_init(&f, 20 * 4096, 4096, 2); /* a window of two chunks */
	CHECK_EQ(um_file_receive_request(f.fr, req, sizeof(req), &rlen), 0);
	CHECK_EQ(f.fr->outstanding.count, 2);
	CHECK_EQ(um_file_receive_request(f.fr, req, sizeof(req), &rlen), 0);
	CHECK_EQ(rlen, 0); /* window full */

	/* A well-formed chunk 5, never asked for. */
	memcpy(c.id, file_id, 16);
	c.index = 5;
	c.data = f.file + 5 * 4096;
	um_file_chunk_hash(c.data, c.len, c.hash);
	CHECK_EQ(um_file_chunk_frame_encode(&c, frame, sizeof(frame), &len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), -UM_ESTATE);
	/* Past the end. */
	c.index = 20;
	CHECK_EQ(um_file_chunk_frame_encode(&c, frame, sizeof(frame), &len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), -UM_ESTATE);
	CHECK_EQ(f.fr->stats.chunks_unsolicited, 2);
	/* Asked for, but another file's. */
	c.index = 0;
	c.id[0] ^= 1;
	c.data = f.file;
	um_file_chunk_hash(c.data, c.len, c.hash);
	CHECK_EQ(um_file_chunk_frame_encode(&c, frame, sizeof(frame), &len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), -UM_EINVAL);
	/* The right one, then the same again: a duplicate is not asked for. */
	c.id[0] ^= 1;
	CHECK_EQ(um_file_chunk_frame_encode(&c, frame, sizeof(frame), &len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), -UM_ESTATE);
	CHECK_EQ(f.fr->stats.chunks_unsolicited, 3);
	/* A short chunk 1: the wrong length, asked again. */
	c.index = 1;
	c.len = 100;
	c.data = f.file + 4096;
	um_file_chunk_hash(c.data, c.len, c.hash);
	CHECK_EQ(um_file_chunk_frame_encode(&c, frame, sizeof(frame), &len), 0);
	CHECK_EQ(receiver_take(&f, frame, len), -UM_EINVAL);
	CHECK_EQ(f.fr->stats.chunks_malformed, 2);
	CHECK(!um_file_bitmap_test(&f.fr->outstanding, 1));
	CHECK_EQ(receiver_take(&f, frame, 10), -UM_ETRUNC);
	CHECK_EQ(f.fr->done.count, 1);
	/* The sender refuses to make a chunk nobody asked for. */
	CHECK_EQ(um_file_chunk_encode(f.fs, 7, f.file + 7 * 4096, 4096, frame, sizeof(frame), &len), -UM_ESTATE);
	fixture_free(&f);
}

static void test_oversize_offer(void)
{
	uint8_t frame[UM_FILE_META_FRAME_MAX], hash[32] = {0};
	struct um_file_send *fs;
	struct um_file_meta meta;
	struct um_file_limits limits = {.max_size = 5u << 20};
	size_t len;

	CHECK_EQ(um_file_send_new(file_id, (5u << 20) + 1, 65536, hash, "big.iso", &fs), 0);
	CHECK_EQ(um_file_send_meta(fs, frame, sizeof(frame), &len), 0);
	CHECK_EQ(um_file_receive_meta(frame, len, &limits, &meta), -UM_ELIMIT);
	um_file_send_free(fs);
	CHECK_EQ(um_file_send_new(file_id, 5u << 20, 65536, hash, "big.iso", &fs), 0);
	CHECK_EQ(um_file_send_meta(fs, frame, sizeof(frame), &len), 0);
	CHECK_EQ(um_file_receive_meta(frame, len, &limits, &meta), 0);
	CHECK_EQ(meta.n_chunks, 80);
	um_file_send_free(fs);
	/* A name with nothing safe in it. */
	CHECK_EQ(um_file_send_new(file_id, 10, 4096, hash, "../..", &fs), 0);
	CHECK_EQ(um_file_send_meta(fs, frame, sizeof(frame), &len), 0);
	CHECK_EQ(um_file_receive_meta(frame, len, &limits, &meta), -UM_EINVAL);
	um_file_send_free(fs);
	/* The sender's own limits. */
	CHECK_EQ(um_file_send_new(file_id, 10, 1024, hash, "x", &fs), -UM_EINVAL);
	CHECK_EQ(um_file_send_new(file_id, (uint64_t)UINT32_MAX * 4096 + 1, 4096, hash, "x", &fs), -UM_EINVAL);
	CHECK_EQ(um_file_send_new(file_id, 10, 4096, hash, "", &fs), -UM_EINVAL);
}

static void test_bad_requests(void)
{
	struct fixture f;
	uint8_t req[UM_FILE_REQUEST_FRAME_MAX];
	size_t len;
	uint8_t other[16];

	fixture_init(&f, 10 * 4096, 4096, 0); /* 10 chunks */
	struct um_file_range past[] = {{5, 6}};
	CHECK_EQ(um_file_request_frame_encode(file_id, past, 1, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_send_request(f.fs, req, len), -UM_ERANGE);
	struct um_file_range beyond[] = {{0, 1}, {10, 1}};
	CHECK_EQ(um_file_request_frame_encode(file_id, beyond, 2, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_send_request(f.fs, req, len), -UM_ERANGE);
	memcpy(other, file_id, 16);
	other[15] = 0x99;
	struct um_file_range fine[] = {{0, 2}, {4, 1}};
	CHECK_EQ(um_file_request_frame_encode(other, fine, 2, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_send_request(f.fs, req, len), -UM_ENOTFOUND);
	CHECK_EQ(um_file_request_frame_encode(file_id, fine, 2, req, sizeof(req), &len), 0);
	req[20 + 8 + 3] = 1; /* {1,1} overlaps {0,2} */
	CHECK_EQ(um_file_send_request(f.fs, req, len), -UM_EINVAL);
	CHECK_EQ(um_file_send_request(f.fs, req, len - 3), -UM_ETRUNC);
	CHECK_EQ(f.fs->stats.requests_refused, 5);
	CHECK_EQ(f.fs->wanted.count, 0);
	CHECK(!f.fs->accepted);
	uint32_t index;
	CHECK_EQ(um_file_send_next(f.fs, &index), -UM_EAGAIN);
	/* A good one, and one with zero ranges (nothing more wanted). */
	CHECK_EQ(um_file_request_frame_encode(file_id, fine, 2, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_send_request(f.fs, req, len), 0);
	CHECK_EQ(f.fs->wanted.count, 3);
	CHECK_EQ(um_file_request_frame_encode(file_id, NULL, 0, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_send_request(f.fs, req, len), 0);
	CHECK(f.fs->accepted);
	CHECK_EQ(um_file_send_next(f.fs, &index), 0);
	CHECK_EQ(index, 0);
	uint8_t frame[UM_FILE_CHUNK_FRAME_MAX];
	CHECK_EQ(um_file_chunk_encode(f.fs, 0, f.file, 4095, frame, sizeof(frame), &len), -UM_EINVAL);
	CHECK_EQ(um_file_chunk_encode(f.fs, 0, f.file, 4096, frame, 100, &len), -UM_ERANGE);
	CHECK_EQ(um_file_chunk_encode(f.fs, 0, f.file, 4096, frame, sizeof(frame), &len), 0);
	um_file_send_requeue(f.fs, 0); /* not queued after all */
	CHECK(um_file_bitmap_test(&f.fs->wanted, 0));
	fixture_free(&f);
}

/* More missing ranges than one request holds: several requests. */
static void test_many_ranges(void)
{
	struct um_file_meta meta = {.size = 3000ull * 4096, .chunk_size = 4096, .n_chunks = 3000};
	struct um_file_receive *fr;
	static uint8_t bitmap[375], req[UM_FILE_REQUEST_FRAME_MAX];
	struct um_file_request_frame r;
	size_t len;

	memcpy(meta.id, file_id, 16);
	memset(bitmap, 0x55, sizeof(bitmap)); /* every even chunk done */
	CHECK_EQ(um_file_receive_new(&meta, NULL, &fr), 0);
	CHECK_EQ(um_file_receive_import(fr, bitmap, sizeof(bitmap) - 1), -UM_EINVAL);
	CHECK_EQ(um_file_receive_import(fr, bitmap, sizeof(bitmap)), 0);
	CHECK_EQ(fr->done.count, 1500);
	CHECK_EQ(fr->bytes_done, 1500ull * 4096);
	CHECK_EQ(um_file_receive_request(fr, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_request_frame_decode(req, len, &r), 0);
	CHECK_EQ(r.n_ranges, UM_FILE_REQUEST_RANGES_MAX);
	CHECK_EQ(um_file_request_frame_range(&r, 0).first, 1);
	CHECK_EQ(um_file_receive_request(fr, req, sizeof(req), &len), 0);
	CHECK_EQ(um_file_request_frame_decode(req, len, &r), 0);
	CHECK_EQ(r.n_ranges, 1500 - UM_FILE_REQUEST_RANGES_MAX);
	CHECK_EQ(um_file_request_frame_range(&r, 0).first, 2 * UM_FILE_REQUEST_RANGES_MAX + 1);
	CHECK_EQ(um_file_receive_request(fr, req, sizeof(req), &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(fr->stats.chunks_requested, 1500);
	/* A write that failed: missing again. */
	um_file_receive_chunk_forget(fr, 0);
	CHECK_EQ(fr->done.count, 1499);
	CHECK(um_file_receive_wants_request(fr));
	um_file_receive_free(fr);

	/* Stray bits past the last chunk. */
	meta.size = 3ull * 4096;
	meta.n_chunks = 3;
	CHECK_EQ(um_file_receive_new(&meta, NULL, &fr), 0);
	uint8_t one = 0x08;
	CHECK_EQ(um_file_receive_import(fr, &one, 1), -UM_EINVAL);
	one = 0x07;
	CHECK_EQ(um_file_receive_import(fr, &one, 1), 0);
	CHECK(um_file_receive_complete(fr));
	CHECK(!um_file_receive_wants_request(fr));
	um_file_receive_free(fr);

	/* An empty file is complete at once. */
	meta.size = 0;
	meta.n_chunks = 0;
	CHECK_EQ(um_file_receive_new(&meta, NULL, &fr), 0);
	CHECK(um_file_receive_complete(fr));
	CHECK_EQ(um_file_receive_request(fr, req, sizeof(req), &len), 0);
	CHECK_EQ(len, 0);
	um_file_receive_free(fr);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_meta_codec);
	RUN(test_request_codec);
	RUN(test_status_codecs);
	RUN(test_bitmap);
	RUN(test_transfer_resume);
	RUN(test_transfer_channel_reset);
	RUN(test_wrong_hash);
	RUN(test_adopted_hashes);
	RUN(test_hash_as_sent);
	RUN(test_unsolicited);
	RUN(test_oversize_offer);
	RUN(test_bad_requests);
	RUN(test_many_ranges);
	return um_test_end();
}
