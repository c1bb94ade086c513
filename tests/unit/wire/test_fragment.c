/* SPDX-License-Identifier: MIT */
/* FRAGMENT encoding and the reassembler's bounds. */
#include <sodium.h>
#include <stdlib.h>

#include "test.h"
#include "util/error.h"
#include "wire/fragment.h"

#define SEC 1000000000ULL

static uint8_t msg[UM_FRAG_MAX_MESSAGE];
static uint8_t out[UM_FRAG_MAX_MESSAGE];
static uint8_t frags[UM_FRAG_MAX_COUNT + 1][UM_HS_MAX_DATAGRAM]; /* [count]: the parity piece */
static int frag_len[UM_FRAG_MAX_COUNT + 1];

static const struct um_addr src1 = {.family = 4, .addr = {192, 0, 2, 1}, .port = 1000};
static const struct um_addr src1b = {.family = 4, .addr = {192, 0, 2, 1}, .port = 1001};
static const struct um_addr src2 = {.family = 4, .addr = {192, 0, 2, 2}, .port = 1000};

static unsigned split(size_t len, uint32_t rx, uint32_t id)
{
	unsigned count = um_fragment_count(len);
	for (unsigned i = 0; i <= count; i++) /* the parity piece too (an error for one piece) */
		frag_len[i] = um_fragment_encode(frags[i], sizeof(frags[i]), UM_MSG_CHALLENGE, rx, id, msg, len, i);
	return count;
}

static int add(struct um_reassembler *r, const struct um_addr *src, unsigned i, uint64_t now)
{
	struct um_fragment f;
	int ret = um_fragment_decode(&f, frags[i], (size_t)frag_len[i]);
	if (ret < 0)
		return ret;
	return um_reasm_add(r, src, &f, now, out, sizeof(out));
}

static void test_encode_decode(void)
{
	CHECK_EQ(um_fragment_count(0), 0);
	CHECK_EQ(um_fragment_count(1), 1);
	CHECK_EQ(um_fragment_count(UM_FRAG_CHUNK_BYTES), 1);
	CHECK_EQ(um_fragment_count(UM_FRAG_CHUNK_BYTES + 1), 2);
	CHECK_EQ(um_fragment_count(UM_FRAG_MAX_MESSAGE), UM_FRAG_MAX_COUNT);
	CHECK_EQ(um_fragment_count(UM_FRAG_MAX_MESSAGE + 1), 0);
	unsigned n = split(UM_HS_CHALLENGE_BYTES, 7, 9);
	CHECK_EQ(n, 8);
	for (unsigned i = 0; i < n; i++) {
		CHECK(frag_len[i] > 0 && frag_len[i] <= UM_HS_MAX_DATAGRAM);
		struct um_fragment f;
		CHECK_EQ(um_fragment_decode(&f, frags[i], (size_t)frag_len[i]), 0);
		CHECK_EQ(f.index, i);
		CHECK_EQ(f.count, n);
		CHECK_EQ(f.receiver_index, 7);
		CHECK_EQ(f.message_id, 9);
		CHECK_EQ(f.total_len, UM_HS_CHALLENGE_BYTES);
		CHECK_EQ(f.msg_type, UM_MSG_CHALLENGE);
	}
	CHECK_EQ(um_fragment_encode(frags[0], sizeof(frags[0]), 2, 1, 1, msg, 100, 1), -UM_EINVAL);
	CHECK_EQ(um_fragment_encode(frags[0], 10, 2, 1, 1, msg, 100, 0), -UM_ERANGE);

	/* Malformed fragments. */
	struct um_fragment f;
	uint8_t b[UM_HS_MAX_DATAGRAM + 1];
	memcpy(b, frags[0], (size_t)frag_len[0]);
	CHECK_EQ(um_fragment_decode(&f, b, 5), -UM_ETRUNC);
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[0] - 1), -UM_EINVAL); /* short piece */
	b[3] = 9;                                                                 /* count disagrees with total_len */
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[0]), -UM_EINVAL);
	b[3] = 8;
	b[2] = 9; /* index > count (index == count is the parity piece) */
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[0]), -UM_EINVAL);
	b[2] = 0;
	b[1] = UM_MSG_FRAGMENT; /* nested fragments */
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[0]), -UM_EINVAL);
	b[1] = UM_MSG_CHALLENGE;
	b[12] = 0xff; /* total_len 65k+ */
	b[13] = 0xff;
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[0]), -UM_EINVAL);
	b[12] = b[13] = 0; /* total_len 0 */
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[0]), -UM_EINVAL);
	CHECK_EQ(um_fragment_decode(&f, b, sizeof(b)), -UM_EINVAL); /* > datagram */
	b[0] = UM_MSG_HELLO;
	CHECK_EQ(um_fragment_decode(&f, frags[0], 0), -UM_ETRUNC);
}

static void test_in_order_and_shuffled(void)
{
	struct um_reassembler r;
	CHECK_EQ(um_reasm_init(&r, NULL), 0);
	randombytes_buf(msg, sizeof(msg));
	unsigned n = split(UM_HS_RESPONSE_BYTES, 1, 1);
	for (unsigned i = 0; i < n; i++) {
		int ret = add(&r, &src1, i, SEC);
		CHECK_EQ(ret, i + 1 < n ? 0 : UM_HS_RESPONSE_BYTES);
	}
	CHECK_MEM(out, msg, UM_HS_RESPONSE_BYTES);
	CHECK_EQ(um_reasm_pending(&r), 0);
	CHECK_EQ(r.bytes_in_use, 0);

	/* 50 random permutations. */
	for (int round = 0; round < 50; round++) {
		unsigned order[UM_FRAG_MAX_COUNT];
		size_t len = 1 + randombytes_uniform(UM_FRAG_MAX_MESSAGE);
		randombytes_buf(msg, len);
		n = split(len, 2, (uint32_t)round);
		for (unsigned i = 0; i < n; i++)
			order[i] = i;
		for (unsigned i = n - 1; i > 0; i--) {
			unsigned j = randombytes_uniform(i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		int done = 0;
		for (unsigned i = 0; i < n; i++) {
			int ret = add(&r, &src1, order[i], SEC);
			if (i + 1 < n)
				CHECK_EQ(ret, 0);
			else
				done = ret;
		}
		CHECK_EQ(done, (int)len);
		CHECK_MEM(out, msg, len);
	}
	CHECK_EQ(r.stats.completed, 51);
	um_reasm_destroy(&r);
}

static void test_duplicates_and_conflicts(void)
{
	struct um_reassembler r;
	um_reasm_init(&r, NULL);
	randombytes_buf(msg, sizeof(msg));
	unsigned n = split(UM_HS_CHALLENGE_BYTES, 3, 3);
	/* Identical duplicates are ignored. */
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	CHECK_EQ(add(&r, &src1, 1, SEC), 0);
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	CHECK_EQ(r.stats.duplicates, 2);
	for (unsigned i = 2; i < n; i++)
		CHECK_EQ(add(&r, &src1, i, SEC), i + 1 < n ? 0 : UM_HS_CHALLENGE_BYTES);
	CHECK_MEM(out, msg, UM_HS_CHALLENGE_BYTES);
	/* A late duplicate after completion starts a new slot, which expires. */
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	CHECK_EQ(um_reasm_pending(&r), 1);
	um_reasm_expire(&r, 7 * SEC);
	CHECK_EQ(um_reasm_pending(&r), 0);

	/* Same index, different bytes: the whole message is thrown away. */
	CHECK_EQ(add(&r, &src1, 0, 10 * SEC), 0);
	CHECK_EQ(add(&r, &src1, 1, 10 * SEC), 0);
	frags[1][UM_FRAG_HEADER_BYTES + 5] ^= 0x40;
	CHECK_EQ(add(&r, &src1, 1, 10 * SEC), -UM_EBADMSG);
	frags[1][UM_FRAG_HEADER_BYTES + 5] ^= 0x40;
	CHECK_EQ(um_reasm_pending(&r), 0);
	CHECK_EQ(r.bytes_in_use, 0);

	/* Same message id, different total length: conflict. */
	CHECK_EQ(add(&r, &src1, 0, 10 * SEC), 0);
	unsigned n2 = split(UM_HS_CHALLENGE_BYTES - 700, 3, 3);
	CHECK_EQ(add(&r, &src1, n2 - 1, 10 * SEC), -UM_EBADMSG);
	CHECK_EQ(um_reasm_pending(&r), 0);

	/* A new message id for the same state replaces the old attempt. */
	n = split(UM_HS_CHALLENGE_BYTES, 3, 100);
	CHECK_EQ(add(&r, &src1, 0, 11 * SEC), 0);
	n = split(UM_HS_CHALLENGE_BYTES, 3, 101);
	for (unsigned i = 1; i < n; i++)
		CHECK_EQ(add(&r, &src1, i, 11 * SEC), 0);
	CHECK_EQ(add(&r, &src1, 0, 11 * SEC), UM_HS_CHALLENGE_BYTES);
	CHECK_EQ(um_reasm_pending(&r), 0);
	um_reasm_destroy(&r);
}

static void test_missing_and_timeout(void)
{
	struct um_reassembler r;
	um_reasm_init(&r, NULL);
	unsigned n = split(UM_HS_CHALLENGE_BYTES, 4, 4);
	for (unsigned i = 0; i + 1 < n; i++)
		CHECK_EQ(add(&r, &src1, i, SEC), 0);
	CHECK_EQ(um_reasm_pending(&r), 1);
	um_reasm_expire(&r, SEC + 4 * SEC);
	CHECK_EQ(um_reasm_pending(&r), 1);
	/* The last piece after the 5 s timeout: the old pieces are gone. */
	CHECK_EQ(add(&r, &src1, n - 1, SEC + 5 * SEC), 0);
	CHECK_EQ(r.stats.expired, 1);
	CHECK_EQ(um_reasm_pending(&r), 1);
	um_reasm_destroy(&r);
	CHECK_EQ(r.slots, NULL);
}

static void test_caps(void)
{
	struct um_reassembler r;
	struct um_reasm_limits lim;
	/* A slot reserves room for the parity piece too; the caps count it. */
	const size_t reserve = um_reasm_reserve_bytes(UM_FRAG_MAX_MESSAGE);
	CHECK_EQ(reserve, UM_FRAG_MAX_MESSAGE + UM_FRAG_CHUNK_BYTES);
	CHECK_EQ(um_reasm_reserve_bytes(UM_FRAG_CHUNK_BYTES), UM_FRAG_CHUNK_BYTES); /* one piece: no parity */
	um_reasm_default_limits(&lim);
	lim.per_source_bytes = 3 * reserve - 1; /* two whole reservations fit, not three */
	lim.max_slots = 8;
	um_reasm_init(&r, &lim);
	split(UM_FRAG_MAX_MESSAGE, 0, 1);
	for (uint32_t rx = 1; rx <= 3; rx++) {
		struct um_fragment f;
		um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
		f.receiver_index = rx;
		CHECK_EQ(um_reasm_add(&r, &src1, &f, SEC, out, sizeof(out)), rx <= 2 ? 0 : -UM_ELIMIT);
	}
	CHECK_EQ(r.bytes_in_use, 2 * reserve);
	um_reasm_destroy(&r);

	um_reasm_default_limits(&lim);
	lim.per_source_bytes = 3 * reserve;
	lim.global_bytes = 5 * reserve;
	lim.max_slots = 8;
	um_reasm_init(&r, &lim);
	split(UM_FRAG_MAX_MESSAGE, 0, 1);
	/* Per source (IP, any port): 3 messages, the 4th is refused. */
	for (uint32_t rx = 1; rx <= 3; rx++) {
		struct um_fragment f;
		um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
		f.receiver_index = rx;
		CHECK_EQ(um_reasm_add(&r, rx == 3 ? &src1b : &src1, &f, SEC, out, sizeof(out)), 0);
	}
	struct um_fragment f;
	um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
	f.receiver_index = 4;
	CHECK_EQ(um_reasm_add(&r, &src1, &f, SEC, out, sizeof(out)), -UM_ELIMIT);
	/* Global: two more from another source fit, a third does not. */
	f.receiver_index = 5;
	CHECK_EQ(um_reasm_add(&r, &src2, &f, SEC, out, sizeof(out)), 0);
	f.receiver_index = 6;
	CHECK_EQ(um_reasm_add(&r, &src2, &f, SEC, out, sizeof(out)), 0);
	f.receiver_index = 7;
	struct um_addr src3 = {.family = 6, .addr = {0x20, 1}, .port = 5};
	CHECK_EQ(um_reasm_add(&r, &src3, &f, SEC, out, sizeof(out)), -UM_ELIMIT);
	CHECK(r.bytes_in_use <= lim.global_bytes);
	CHECK_EQ(r.stats.cap_rejected, 2);
	/* Fragments of a message already admitted still go in. */
	f.index = 1;
	um_fragment_decode(&f, frags[1], (size_t)frag_len[1]);
	f.receiver_index = 1;
	CHECK_EQ(um_reasm_add(&r, &src1, &f, SEC, out, sizeof(out)), 0);
	/* The timeout frees everything. */
	um_reasm_expire(&r, 10 * SEC);
	CHECK_EQ(r.bytes_in_use, 0);
	f.receiver_index = 7;
	CHECK_EQ(um_reasm_add(&r, &src3, &f, 10 * SEC, out, sizeof(out)), 0);
	/* Output buffer and max_message are enforced. */
	CHECK_EQ(um_reasm_add(&r, &src3, &f, 10 * SEC, out, 100), -UM_ERANGE);
	um_reasm_destroy(&r);

	/* Slot cap. */
	lim.per_source_bytes = lim.global_bytes = 1 << 20;
	lim.max_slots = 2;
	lim.max_message = 4096;
	um_reasm_init(&r, &lim);
	split(3000, 0, 1);
	um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
	f.receiver_index = 1;
	CHECK_EQ(um_reasm_add(&r, &src1, &f, SEC, out, sizeof(out)), 0);
	f.receiver_index = 2;
	CHECK_EQ(um_reasm_add(&r, &src1, &f, SEC, out, sizeof(out)), 0);
	f.receiver_index = 3;
	CHECK_EQ(um_reasm_add(&r, &src1, &f, SEC, out, sizeof(out)), -UM_ELIMIT);
	split(5000, 0, 1);
	um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
	CHECK_EQ(um_reasm_add(&r, &src2, &f, SEC, out, sizeof(out)), -UM_ERANGE);
	um_reasm_destroy(&r);
	lim.max_message = UM_FRAG_MAX_MESSAGE + 1;
	CHECK_EQ(um_reasm_init(&r, &lim), -UM_EINVAL);
	um_reasm_destroy(&r);
}

/* The parity piece: index == count, exactly one chunk, the XOR of the data
 * pieces zero-padded; only for messages of two pieces or more. */
static void test_parity_encode_decode(void)
{
	struct um_fragment f;
	randombytes_buf(msg, sizeof(msg));
	unsigned n = split(UM_HS_CHALLENGE_BYTES, 7, 9);
	CHECK_EQ(frag_len[n], UM_HS_MAX_DATAGRAM);
	CHECK_EQ(um_fragment_decode(&f, frags[n], (size_t)frag_len[n]), 0);
	CHECK(um_fragment_is_parity(&f));
	CHECK_EQ(f.index, n);
	CHECK_EQ(f.count, n);
	CHECK_EQ(f.payload_len, UM_FRAG_CHUNK_BYTES);
	static uint8_t x[UM_FRAG_CHUNK_BYTES];
	memset(x, 0, sizeof(x));
	for (size_t i = 0; i < UM_HS_CHALLENGE_BYTES; i++)
		x[i % UM_FRAG_CHUNK_BYTES] ^= msg[i];
	CHECK_MEM(f.payload, x, UM_FRAG_CHUNK_BYTES);
	CHECK_EQ(um_fragment_decode(&f, frags[0], (size_t)frag_len[0]), 0);
	CHECK(!um_fragment_is_parity(&f));
	/* Strict: exactly one chunk, never past the parity index. */
	uint8_t b[UM_HS_MAX_DATAGRAM];
	memcpy(b, frags[n], (size_t)frag_len[n]);
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[n] - 1), -UM_EINVAL);
	b[2] = (uint8_t)(n + 1);
	CHECK_EQ(um_fragment_decode(&f, b, (size_t)frag_len[n]), -UM_EINVAL);
	CHECK_EQ(um_fragment_encode(b, sizeof(b), UM_MSG_CHALLENGE, 7, 9, msg, UM_HS_CHALLENGE_BYTES, n + 1),
		 -UM_EINVAL);
	CHECK_EQ(um_fragment_encode(b, UM_HS_MAX_DATAGRAM - 1, UM_MSG_CHALLENGE, 7, 9, msg, UM_HS_CHALLENGE_BYTES, n),
		 -UM_ERANGE);
	/* A message of one piece has none: not encoded, not accepted. */
	CHECK_EQ(um_fragment_encode(b, sizeof(b), UM_MSG_CHALLENGE, 7, 9, msg, 100, 1), -UM_EINVAL);
	CHECK_EQ(um_fragment_encode(b, sizeof(b), UM_MSG_CHALLENGE, 7, 9, msg, 100, 0), UM_FRAG_HEADER_BYTES + 100);
	b[2] = 1;
	CHECK_EQ(um_fragment_decode(&f, b, UM_FRAG_HEADER_BYTES + 100), -UM_EINVAL);
	CHECK_EQ(um_fragment_decode(&f, b, UM_HS_MAX_DATAGRAM), -UM_EINVAL);
}

/* Any one data piece missing, the short last one included, for sizes with
 * a short and a full last piece: the parity piece rebuilds it, wherever
 * it comes among the others (but first: alone it opens no slot). */
static void test_parity_rebuilds_any_one(void)
{
	static const size_t sizes[] = {UM_HS_CHALLENGE_BYTES, UM_HS_RESPONSE_BYTES, UM_FRAG_CHUNK_BYTES + 1,
				       2 * UM_FRAG_CHUNK_BYTES, UM_FRAG_MAX_MESSAGE};
	struct um_reassembler r;
	CHECK_EQ(um_reasm_init(&r, NULL), 0);
	uint64_t rebuilt = 0;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k];
		randombytes_buf(msg, len);
		unsigned n = split(len, 5, (uint32_t)k);
		for (unsigned missing = 0; missing < n; missing++) {
			/* The parity piece last, then right after the first piece held. */
			for (int early = 0; early < 2; early++) {
				memset(out, 0, len);
				unsigned held = 0;
				int ret = 0;
				for (unsigned i = 0; i < n; i++) {
					if (i == missing)
						continue;
					CHECK_EQ(ret, 0);
					ret = add(&r, &src1, i, SEC);
					if (early && ++held == 1) {
						CHECK_EQ(ret, 0);
						ret = add(&r, &src1, n, SEC);
					}
				}
				if (!early) {
					CHECK_EQ(ret, 0);
					ret = add(&r, &src1, n, SEC);
				}
				CHECK_EQ(ret, (int)len);
				CHECK_MEM(out, msg, len);
				CHECK_EQ(r.stats.rebuilt, ++rebuilt);
				CHECK_EQ(um_reasm_pending(&r), 0);
				CHECK_EQ(r.bytes_in_use, 0);
			}
		}
	}
	/* Alone, before any data piece: ignored, no slot. */
	CHECK_EQ(add(&r, &src1, um_fragment_count(UM_FRAG_MAX_MESSAGE), SEC), 0);
	CHECK_EQ(um_reasm_pending(&r), 0);
	CHECK_EQ(r.stats.parity_ignored, 1);
	/* A complete message does not wait for its parity piece. */
	unsigned n = split(UM_HS_CHALLENGE_BYTES, 5, 77);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(add(&r, &src1, i, SEC), i + 1 < n ? 0 : UM_HS_CHALLENGE_BYTES);
	CHECK_EQ(add(&r, &src1, n, SEC), 0); /* trailing: ignored, opens nothing */
	CHECK_EQ(um_reasm_pending(&r), 0);
	CHECK_EQ(r.stats.parity_ignored, 2);
	um_reasm_destroy(&r);
}

/* Two pieces missing: not complete with the parity piece; either one
 * resent completes it. */
static void test_parity_two_missing(void)
{
	struct um_reassembler r;
	CHECK_EQ(um_reasm_init(&r, NULL), 0);
	randombytes_buf(msg, UM_HS_RESPONSE_BYTES);
	for (int which = 0; which < 2; which++) {
		unsigned n = split(UM_HS_RESPONSE_BYTES, 6, (uint32_t)which);
		unsigned a = 2, b = n - 1; /* a full piece and the short last one */
		for (unsigned i = 0; i <= n; i++)
			if (i != a && i != b)
				CHECK_EQ(add(&r, &src1, i, SEC), 0);
		CHECK_EQ(um_reasm_pending(&r), 1);
		CHECK_EQ(add(&r, &src1, which ? b : a, 2 * SEC), UM_HS_RESPONSE_BYTES);
		CHECK_MEM(out, msg, UM_HS_RESPONSE_BYTES);
		CHECK_EQ(um_reasm_pending(&r), 0);
	}
	CHECK_EQ(r.stats.rebuilt, 2);
	um_reasm_destroy(&r);
}

/* A second, different parity piece is a conflict like different bytes for
 * a data piece; so is one that rebuilds the short last piece with nonzero
 * padding. */
static void test_parity_conflicts(void)
{
	struct um_reassembler r;
	CHECK_EQ(um_reasm_init(&r, NULL), 0);
	randombytes_buf(msg, UM_HS_CHALLENGE_BYTES);
	unsigned n = split(UM_HS_CHALLENGE_BYTES, 8, 1);
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	CHECK_EQ(add(&r, &src1, n, SEC), 0);
	CHECK_EQ(add(&r, &src1, n, SEC), 0); /* identical: a duplicate */
	CHECK_EQ(r.stats.duplicates, 1);
	frags[n][UM_FRAG_HEADER_BYTES + 100] ^= 1;
	CHECK_EQ(add(&r, &src1, n, SEC), -UM_EBADMSG);
	CHECK_EQ(r.stats.conflicts, 1);
	CHECK_EQ(um_reasm_pending(&r), 0);
	CHECK_EQ(r.bytes_in_use, 0);
	/* Its padding says the short last piece is longer than it is. */
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	frags[n][UM_FRAG_HEADER_BYTES + 100] ^= 1;
	frags[n][UM_HS_MAX_DATAGRAM - 1] ^= 1; /* past the last piece's end */
	for (unsigned i = 1; i + 1 < n; i++)
		CHECK_EQ(add(&r, &src1, i, SEC), 0);
	CHECK_EQ(add(&r, &src1, n, SEC), -UM_EBADMSG);
	CHECK_EQ(r.stats.conflicts, 2);
	CHECK_EQ(um_reasm_pending(&r), 0);
	/* Damage inside the data's span rebuilds wrong bytes: the message
	 * fails its authentication above (the handshake), as a damaged data
	 * piece would. */
	frags[n][UM_HS_MAX_DATAGRAM - 1] ^= 1;
	frags[n][UM_FRAG_HEADER_BYTES] ^= 1;
	for (unsigned i = 1; i <= n; i++)
		CHECK_EQ(add(&r, &src1, i, SEC), i < n ? 0 : UM_HS_CHALLENGE_BYTES);
	CHECK(memcmp(out, msg, UM_HS_CHALLENGE_BYTES) != 0);
	frags[n][UM_FRAG_HEADER_BYTES] ^= 1;
	um_reasm_destroy(&r);
}

/* Random fragments from a few sources: memory stays within the caps and
 * nothing crashes (ASan build). */
static void test_random_storm(void)
{
	struct um_reassembler r;
	um_reasm_init(&r, NULL);
	uint8_t b[UM_HS_MAX_DATAGRAM];
	for (int i = 0; i < 20000; i++) {
		struct um_addr s = src1;
		s.addr[3] = (uint8_t)randombytes_uniform(40);
		size_t total = 1 + randombytes_uniform(UM_FRAG_MAX_MESSAGE);
		unsigned count = um_fragment_count(total);
		unsigned index = randombytes_uniform(count + (count >= 2)); /* parity pieces too */
		size_t plen = index + 1 < count || index == count ? UM_FRAG_CHUNK_BYTES
								  : total - (size_t)index * UM_FRAG_CHUNK_BYTES;
		b[0] = UM_MSG_FRAGMENT;
		b[1] = UM_MSG_RESPONSE;
		b[2] = (uint8_t)index;
		b[3] = (uint8_t)count;
		uint32_t rx = randombytes_uniform(4);
		memcpy(b + 4, &rx, 4);
		memset(b + 8, 0, 4);
		b[12] = (uint8_t)(total >> 8);
		b[13] = (uint8_t)total;
		randombytes_buf(b + 14, plen);
		struct um_fragment f;
		if (um_fragment_decode(&f, b, 14 + plen) == 0)
			um_reasm_add(&r, &s, &f, (uint64_t)i * 1000000ULL, out, sizeof(out));
		CHECK(r.bytes_in_use <= r.limits.global_bytes);
	}
	um_reasm_destroy(&r);
}

static struct um_addr prefix_addr(uint8_t prefix, uint8_t host)
{
	struct um_addr a = {.family = 4, .addr = {198, 18, prefix, host}, .port = 1000};
	return a;
}

/* Per-prefix slot cap, per-index keying, release, first-piece-only and
 * eviction from the greediest prefix. */
static void test_prefix_caps_and_eviction(void)
{
	struct um_reassembler r;
	struct um_reasm_limits lim;
	um_reasm_default_limits(&lim);
	lim.per_prefix_slots = 3;
	lim.max_slots = 6;
	CHECK_EQ(um_reasm_init(&r, &lim), 0);
	split(3000, 1, 1);
	for (uint8_t h = 1; h <= 3; h++) {
		struct um_addr a = prefix_addr(1, h);
		CHECK_EQ(add(&r, &a, 0, SEC), 0);
	}
	struct um_addr a4 = prefix_addr(1, 4), other = prefix_addr(2, 1);
	CHECK_EQ(add(&r, &a4, 0, SEC), -UM_ELIMIT); /* the /24 holds 3 */
	CHECK_EQ(add(&r, &other, 0, SEC), 0);
	/* Release frees every source's slot for (type, index). */
	um_reasm_release(&r, UM_MSG_CHALLENGE, 1);
	CHECK_EQ(um_reasm_pending(&r), 0);
	um_reasm_destroy(&r);

	/* Per index: a second source replaces the first. */
	lim.one_slot_per_index = true;
	CHECK_EQ(um_reasm_init(&r, &lim), 0);
	split(2000, 1, 1);
	CHECK_EQ(add(&r, &src1, 0, SEC), 0);
	CHECK_EQ(add(&r, &other, 0, SEC), 0);
	CHECK_EQ(um_reasm_pending(&r), 1);
	CHECK(add(&r, &other, 1, SEC) > 0); /* completes from the new source */
	um_reasm_destroy(&r);

	/* Relay mode: first pieces only; when full, the greediest prefix pays. */
	lim.one_slot_per_index = false;
	lim.first_piece_only = true;
	lim.evict_when_full = true;
	CHECK_EQ(um_reasm_init(&r, &lim), 0);
	CHECK_EQ(add(&r, &src1, 1, SEC), -UM_ELIMIT);
	for (uint8_t h = 1; h <= 3; h++) {
		struct um_addr a = prefix_addr(1, h);
		split(3000, h, 1);
		CHECK_EQ(add(&r, &a, 0, SEC + h), 0);
	}
	for (uint8_t h = 1; h <= 2; h++) {
		struct um_addr a = prefix_addr(2, h);
		split(3000, h, 1);
		CHECK_EQ(add(&r, &a, 0, SEC + 10), 0);
	}
	split(3000, 9, 1);
	CHECK_EQ(add(&r, &src1, 0, SEC + 10), 0); /* the 6th slot */
	CHECK_EQ(um_reasm_pending(&r), 6);
	/* Full. Prefix 2 (2 slots) cannot evict prefix 1 (3): 3 <= 2 + 1. */
	struct um_addr p2 = prefix_addr(2, 9);
	CHECK_EQ(add(&r, &p2, 0, SEC + 10), -UM_ELIMIT);
	/* A newcomer with none evicts the oldest slot of prefix 1. */
	struct um_addr fresh = prefix_addr(3, 1);
	CHECK_EQ(add(&r, &fresh, 0, SEC + 10), 0);
	CHECK_EQ(r.stats.evicted, 1);
	CHECK_EQ(um_reasm_pending(&r), 6);
	struct um_addr first = prefix_addr(1, 1);
	split(3000, 1, 1);
	CHECK_EQ(add(&r, &first, 1, SEC + 10), -UM_ELIMIT); /* its slot was the one evicted */
	um_reasm_destroy(&r);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_encode_decode);
	RUN(test_in_order_and_shuffled);
	RUN(test_duplicates_and_conflicts);
	RUN(test_missing_and_timeout);
	RUN(test_caps);
	RUN(test_parity_encode_decode);
	RUN(test_parity_rebuilds_any_one);
	RUN(test_parity_two_missing);
	RUN(test_parity_conflicts);
	RUN(test_random_storm);
	RUN(test_prefix_caps_and_eviction);
	return um_test_end();
}
