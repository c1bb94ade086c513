/* SPDX-License-Identifier: MIT */
/* Path messages, version 3 (sealed): round trips, the clear header's exact
 * layout, nothing but header bytes readable without the key, every byte
 * authenticated, strict decoding before and after the AEAD, per-direction
 * key derivation, versions 1 and 2 refused. Also the fuzz seeds' generator:
 * UM_PATH_SEEDS_DIR=tests/fuzz/corpus/path writes them (each run checks
 * them in memory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../test.h"
#include "crypto/chacha20poly1305.h"
#include "util/bytes.h"
#include "util/error.h"
#include "wire/path.h"

static const uint8_t key[UM_PATH_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static const struct um_addr v4 = {.family = 4, .addr = {198, 51, 100, 2}, .port = 51820};
static const struct um_addr v6 = {.family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, [14] = 0x7a, [15] = 1}, .port = 9};

static void test_key_derive(void)
{
	uint8_t a_send[32], a_recv[32], as[32], ar[32], bs[32], br[32], x[32], y[32];

	memset(a_send, 0x11, 32);
	memset(a_recv, 0x22, 32);
	um_path_keys_derive(as, ar, a_send, a_recv);
	um_path_keys_derive(bs, br, a_recv, a_send); /* the peer's view: swapped */
	CHECK_MEM(as, br, 32);
	CHECK_MEM(ar, bs, 32);
	/* One key per direction: the two senders' counters never share one. */
	CHECK(memcmp(as, ar, 32) != 0);
	CHECK(memcmp(as, a_send, 32) != 0);
	CHECK(memcmp(ar, a_recv, 32) != 0);
	a_recv[5] ^= 1;
	um_path_keys_derive(x, y, a_send, a_recv);
	CHECK_MEM(x, as, 32);
	CHECK(memcmp(y, ar, 32) != 0);
}

static struct um_path_msg candidates_msg(void)
{
	struct um_path_msg m = {.type = UM_MSG_PATH_CANDIDATES,
				.flags = UM_PATH_FLAG_NEED,
				.receiver_index = 0xa1b2c3d4,
				.counter = 0x0102030405060708ULL,
				.generation = 77,
				.count = 2};

	m.candidates[0] = (struct um_path_candidate){.kind = UM_PATH_CAND_REFLEXIVE, .addr = v4};
	m.candidates[1] = (struct um_path_candidate){.kind = UM_PATH_CAND_LOCAL, .addr = v6};
	return m;
}

static void test_candidates(void)
{
	struct um_path_msg m = candidates_msg(), d;
	struct um_path_header h;
	uint8_t buf[UM_PATH_CANDIDATES_MAX_BYTES], copy[UM_PATH_CANDIDATES_MAX_BYTES];

	int n = um_path_seal(buf, sizeof(buf), &m, key);
	CHECK_EQ(n, UM_PATH_CANDIDATES_MIN_BYTES + 2 * UM_PATH_CANDIDATE_BYTES);
	CHECK_EQ(um_path_open(&d, buf, (size_t)n, key), 0);
	CHECK_EQ(d.type, UM_MSG_PATH_CANDIDATES);
	CHECK_EQ(d.flags, UM_PATH_FLAG_NEED);
	CHECK_EQ(d.receiver_index, 0xa1b2c3d4);
	CHECK_EQ(d.generation, 77);
	CHECK_EQ(d.counter, 0x0102030405060708ULL);
	CHECK_EQ(d.count, 2);
	CHECK(um_addr_equal(&d.candidates[0].addr, &v4));
	CHECK(um_addr_equal(&d.candidates[1].addr, &v6));
	CHECK_EQ(d.candidates[0].kind, UM_PATH_CAND_REFLEXIVE);
	CHECK_EQ(d.candidates[1].kind, UM_PATH_CAND_LOCAL);
	/* The clear header, exactly (docs/PROTOCOL.md §13). */
	static const uint8_t header[UM_PATH_HEADER_BYTES] = {0x26, 3, 0, 0, 0xa1, 0xb2, 0xc3, 0xd4,
							     1,    2, 3, 4, 5,    6,    7,    8};
	CHECK_EQ(UM_PATH_VERSION, 3);
	CHECK_MEM(buf, header, sizeof(header));
	CHECK_EQ(um_path_header_decode(&h, buf, (size_t)n), 0);
	CHECK_EQ(h.type, UM_MSG_PATH_CANDIDATES);
	CHECK_EQ(h.receiver_index, 0xa1b2c3d4);
	CHECK_EQ(h.counter, 0x0102030405060708ULL);
	/* No address in clear: neither candidate's bytes nor its port. */
	CHECK(!memmem(buf, (size_t)n, v4.addr, 4));
	CHECK(!memmem(buf, (size_t)n, v6.addr, 16));
	CHECK(!memmem(buf + UM_PATH_HEADER_BYTES, (size_t)n - UM_PATH_HEADER_BYTES, "\xca\x6c", 2)); /* 51820 */
	/* Every bit is authenticated: a flipped header byte is refused before
	 * the AEAD (another version, reserved, type or length) or by it. */
	memcpy(copy, buf, (size_t)n);
	for (int i = 0; i < n; i++) {
		buf[i] ^= 0x80;
		int r = um_path_open(&d, buf, (size_t)n, key);
		CHECK(r < 0);
		if (i >= 4)
			CHECK_EQ(r, -UM_EBADMSG);
		CHECK_EQ(d.type, 0); /* nothing decoded */
		buf[i] ^= 0x80;
	}
	CHECK_MEM(buf, copy, (size_t)n);
	uint8_t other[UM_PATH_KEY_BYTES] = {9};
	CHECK_EQ(um_path_open(&d, buf, (size_t)n, other), -UM_EBADMSG);
	/* Truncation and trailing bytes. */
	for (int len = 0; len < n; len++)
		CHECK(um_path_open(&d, buf, (size_t)len, key) < 0);
	uint8_t longer[UM_PATH_CANDIDATES_MAX_BYTES + UM_PATH_CANDIDATE_BYTES + 1];
	memcpy(longer, buf, (size_t)n);
	memset(longer + n, 0, sizeof(longer) - (size_t)n);
	CHECK(um_path_open(&d, longer, (size_t)n + 1, key) < 0);
	/* A length that claims one more candidate than the sealed count. */
	CHECK_EQ(um_path_header_decode(&h, longer, (size_t)n + UM_PATH_CANDIDATE_BYTES), 0);
	CHECK_EQ(um_path_open(&d, longer, (size_t)n + UM_PATH_CANDIDATE_BYTES, key), -UM_EBADMSG);
	CHECK_EQ(um_path_header_decode(&h, longer, UM_PATH_CANDIDATES_MAX_BYTES + UM_PATH_CANDIDATE_BYTES), -UM_EINVAL);
	/* Reserved header bytes. */
	buf[3] = 1;
	CHECK_EQ(um_path_header_decode(&h, buf, (size_t)n), -UM_EINVAL);
	buf[3] = 0;
	/* Encoder limits. */
	m.count = UM_PATH_MAX_CANDIDATES + 1;
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), -UM_EINVAL);
	m.count = 2;
	m.flags = 0x80;
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), -UM_EINVAL);
	m.flags = 0;
	CHECK_EQ(um_path_seal(buf, 10, &m, key), -UM_ETRUNC);
	/* A full message stays far below the 1280-byte datagram rule. */
	m.count = UM_PATH_MAX_CANDIDATES;
	for (unsigned i = 0; i < m.count; i++)
		m.candidates[i] = (struct um_path_candidate){.kind = UM_PATH_CAND_LOCAL, .addr = v6};
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), UM_PATH_CANDIDATES_MAX_BYTES);
	CHECK(UM_PATH_CANDIDATES_MAX_BYTES <= 1232 - 80);
}

static void test_probe(void)
{
	struct um_path_msg m = {.type = UM_MSG_PATH_PROBE,
				.flags = UM_PATH_FLAG_PING,
				.receiver_index = 7,
				.counter = 9},
			   d;
	uint8_t buf[UM_PATH_PROBE_REPLY_BYTES];

	memset(m.nonce, 0x5a, sizeof(m.nonce));
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), UM_PATH_PROBE_BYTES);
	CHECK_EQ(um_path_open(&d, buf, UM_PATH_PROBE_BYTES, key), 0);
	CHECK_EQ(d.type, UM_MSG_PATH_PROBE);
	CHECK_EQ(d.flags, UM_PATH_FLAG_PING);
	CHECK_EQ(d.receiver_index, 7);
	CHECK_EQ(d.counter, 9);
	CHECK_MEM(d.nonce, m.nonce, sizeof(m.nonce));
	CHECK(!memmem(buf, UM_PATH_PROBE_BYTES, m.nonce, 4)); /* the nonce is sealed too */
	CHECK_EQ(um_path_open(&d, buf, UM_PATH_PROBE_BYTES + 1, key), -UM_EINVAL);

	m.type = UM_MSG_PATH_PROBE_REPLY;
	m.flags = 0;
	m.observed = v4;
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), UM_PATH_PROBE_REPLY_BYTES);
	CHECK_EQ(um_path_open(&d, buf, UM_PATH_PROBE_REPLY_BYTES, key), 0);
	CHECK_EQ(d.type, UM_MSG_PATH_PROBE_REPLY);
	CHECK(um_addr_equal(&d.observed, &v4));
	CHECK(!memmem(buf, UM_PATH_PROBE_REPLY_BYTES, v4.addr, 4));
	CHECK_EQ(um_path_open(&d, buf, UM_PATH_PROBE_BYTES, key), -UM_ETRUNC);
	/* The same counter under the same key gives the same bytes (so the
	 * sender never reuses one: path/punch.c's send_counter). */
	uint8_t again[UM_PATH_PROBE_REPLY_BYTES];
	CHECK_EQ(um_path_seal(again, sizeof(again), &m, key), UM_PATH_PROBE_REPLY_BYTES);
	CHECK_MEM(again, buf, sizeof(again));
	m.counter++;
	CHECK_EQ(um_path_seal(again, sizeof(again), &m, key), UM_PATH_PROBE_REPLY_BYTES);
	CHECK(memcmp(again + UM_PATH_HEADER_BYTES, buf + UM_PATH_HEADER_BYTES,
		     UM_PATH_PROBE_REPLY_BYTES - UM_PATH_HEADER_BYTES) != 0);
	m.observed.family = 5;
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), -UM_EINVAL);
	m.type = 0x29;
	CHECK_EQ(um_path_seal(buf, sizeof(buf), &m, key), -UM_EINVAL);
	buf[0] = 0x29;
	CHECK_EQ(um_path_open(&d, buf, UM_PATH_PROBE_REPLY_BYTES, key), -UM_EINVAL);
}

/* Seals an arbitrary plaintext (flags | body) the way um_path_seal does,
 * to reach the strict body checks behind the AEAD. */
static size_t seal_raw(uint8_t *out, uint8_t type, const uint8_t *plain, size_t plain_len)
{
	uint8_t nonce[12] = {0};

	memset(out, 0, UM_PATH_HEADER_BYTES);
	out[0] = type;
	out[1] = UM_PATH_VERSION;
	out[7] = 1;  /* receiver index 1 */
	out[15] = 5; /* counter 5 */
	um_store64_le(nonce + 4, 5);
	memcpy(out + UM_PATH_HEADER_BYTES, plain, plain_len);
	um_chacha20poly1305_seal(key, nonce, out, UM_PATH_HEADER_BYTES, out + UM_PATH_HEADER_BYTES, plain_len,
				 out + UM_PATH_HEADER_BYTES + plain_len);
	return UM_PATH_HEADER_BYTES + plain_len + UM_PATH_TAG_BYTES;
}

/* Authentic but malformed (only a broken peer sends these): -UM_EINVAL. */
static void test_sealed_body_strict(void)
{
	uint8_t plain[1 + 12 + 2 * UM_PATH_CANDIDATE_BYTES], msg[UM_PATH_CANDIDATES_MAX_BYTES];
	struct um_path_msg d;
	size_t n;

	/* A valid two-candidate plaintext to break one field at a time. */
	memset(plain, 0, sizeof(plain));
	plain[0] = UM_PATH_FLAG_NEED;
	plain[8] = 77; /* generation */
	plain[9] = 2;  /* count */
	for (int i = 0; i < 2; i++) {
		uint8_t *c = plain + 13 + i * UM_PATH_CANDIDATE_BYTES;
		c[0] = UM_PATH_CAND_LOCAL;
		c[1] = 4;
		c[4] = 10;
	}
	n = seal_raw(msg, UM_MSG_PATH_CANDIDATES, plain, sizeof(plain));
	CHECK_EQ(um_path_open(&d, msg, n, key), 0);
	CHECK_EQ(d.count, 2);
	CHECK_EQ(d.receiver_index, 1);
	CHECK_EQ(d.counter, 5);
	static const struct {
		size_t at;
		uint8_t value;
	} breaks[] = {
	    {0, 0x80},    /* unknown flag */
	    {9, 1},       /* count disagrees with the length */
	    {9, 9},       /* more than the maximum */
	    {10, 1},      /* padding */
	    {12, 1},      /* padding */
	    {13, 9},      /* unknown kind */
	    {14, 5},      /* unknown family */
	    {13 + 10, 1}, /* IPv4 zero padding */
	};
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		uint8_t bad[sizeof(plain)];
		memcpy(bad, plain, sizeof(bad));
		bad[breaks[i].at] = breaks[i].value;
		n = seal_raw(msg, UM_MSG_PATH_CANDIDATES, bad, sizeof(bad));
		CHECK_EQ(um_path_open(&d, msg, n, key), -UM_EINVAL);
		CHECK_EQ(d.type, 0);
	}
	/* PROBE_REPLY whose observed endpoint has a kind. */
	uint8_t reply[1 + UM_PATH_NONCE_BYTES + UM_PATH_CANDIDATE_BYTES] = {0};
	reply[1 + UM_PATH_NONCE_BYTES + 1] = 4;
	n = seal_raw(msg, UM_MSG_PATH_PROBE_REPLY, reply, sizeof(reply));
	CHECK_EQ(um_path_open(&d, msg, n, key), 0);
	reply[1 + UM_PATH_NONCE_BYTES] = 1;
	n = seal_raw(msg, UM_MSG_PATH_PROBE_REPLY, reply, sizeof(reply));
	CHECK_EQ(um_path_open(&d, msg, n, key), -UM_EINVAL);
}

/* A version-1 and a version-2 PROBE, as nodes of earlier releases send
 * them (flags in byte 1, version in byte 2, the sender's ID in clear, a
 * BLAKE2b MAC): refused as another version, with their sender readable
 * only so the node can name the outdated peer. */
static void test_old_versions_refused(void)
{
	uint8_t v1[36 + UM_PATH_NONCE_BYTES + 16] = {UM_MSG_PATH_PROBE, 0, 1, 0};
	uint8_t v2[44 + UM_PATH_NONCE_BYTES + 16] = {UM_MSG_PATH_PROBE, UM_PATH_FLAG_PING, 2, 0};
	struct um_path_header h;
	struct um_path_msg d;
	struct um_peer_id sender;

	memset(v1 + 4, 0xab, 32);
	memset(v1 + 36, 0x5a, UM_PATH_NONCE_BYTES);
	crypto_generichash(v1 + 36 + UM_PATH_NONCE_BYTES, 16, v1, 36 + UM_PATH_NONCE_BYTES, key, sizeof(key));
	memset(v2 + 4, 0xac, 32);
	v2[43] = 1; /* counter */
	memset(v2 + 44, 0x5a, UM_PATH_NONCE_BYTES);
	crypto_generichash(v2 + 44 + UM_PATH_NONCE_BYTES, 16, v2, 44 + UM_PATH_NONCE_BYTES, key, sizeof(key));
	CHECK_EQ(um_path_header_decode(&h, v1, sizeof(v1)), -UM_EVERSION);
	CHECK_EQ(um_path_open(&d, v1, sizeof(v1), key), -UM_EVERSION);
	CHECK_EQ(um_path_header_decode(&h, v2, sizeof(v2)), -UM_EVERSION);
	CHECK_EQ(um_path_open(&d, v2, sizeof(v2), key), -UM_EVERSION);
	CHECK_EQ(um_path_legacy_sender(v1, sizeof(v1), &sender), 0);
	CHECK_EQ(sender.bytes[0], 0xab);
	CHECK_EQ(um_path_legacy_sender(v2, sizeof(v2), &sender), 0);
	CHECK_EQ(sender.bytes[31], 0xac);
	/* A version-3 message names nobody. */
	struct um_path_msg m = candidates_msg();
	uint8_t buf[UM_PATH_CANDIDATES_MAX_BYTES];
	int n = um_path_seal(buf, sizeof(buf), &m, key);
	CHECK_EQ(um_path_legacy_sender(buf, (size_t)n, &sender), -UM_EINVAL);
	/* Any version byte but 3 is another version. */
	for (unsigned v = 0; v < 256; v++) {
		buf[1] = (uint8_t)v;
		CHECK_EQ(um_path_header_decode(&h, buf, (size_t)n), v == UM_PATH_VERSION ? 0 : -UM_EVERSION);
	}
}

/* The fuzz seeds (tests/fuzz/fuzz_path.c: key 0x42..., receiver index
 * 0x18181818): one of each message, each opening. */
static void test_fuzz_seeds(void)
{
	static const struct {
		const char *name;
		struct um_path_msg m;
	} seeds[] = {
	    {"candidates",
	     {.type = UM_MSG_PATH_CANDIDATES,
	      .flags = UM_PATH_FLAG_NEED,
	      .counter = 3,
	      .generation = 1763000000000ULL,
	      .count = 3,
	      .candidates = {{UM_PATH_CAND_REFLEXIVE, {.family = 4, .addr = {198, 51, 100, 6}, .port = 51820}},
			     {UM_PATH_CAND_LOCAL, {.family = 4, .addr = {100, 64, 1, 2}, .port = 51820}},
			     {UM_PATH_CAND_LOCAL,
			      {.family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 2}, .port = 51820}}}}},
	    {"candidates-empty",
	     {.type = UM_MSG_PATH_CANDIDATES, .counter = 4, .generation = 1763000000001ULL, .count = 0}},
	    {"probe", {.type = UM_MSG_PATH_PROBE, .counter = 5, .nonce = {0xc3, 0xc3, 0xc3, 0xc3}}},
	    {"probe-ping", {.type = UM_MSG_PATH_PROBE, .flags = UM_PATH_FLAG_PING, .counter = 6, .nonce = {0xc4}}},
	    {"probe-reply",
	     {.type = UM_MSG_PATH_PROBE_REPLY,
	      .counter = 7,
	      .nonce = {0xc3, 0xc3, 0xc3, 0xc3},
	      .observed = {.family = 4, .addr = {198, 51, 100, 2}, .port = 51820}}},
	};
	const char *dir = getenv("UM_PATH_SEEDS_DIR");
	uint8_t seed_key[UM_PATH_KEY_BYTES], buf[UM_PATH_CANDIDATES_MAX_BYTES];
	struct um_path_msg d;

	memset(seed_key, 0x42, sizeof(seed_key));
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct um_path_msg m = seeds[i].m;
		m.receiver_index = 0x18181818;
		int n = um_path_seal(buf, sizeof(buf), &m, seed_key);
		CHECK(n > 0);
		if (n <= 0)
			continue;
		CHECK_EQ(um_path_open(&d, buf, (size_t)n, seed_key), 0);
		CHECK_EQ(d.counter, m.counter);
		if (!dir)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
		FILE *f = fopen(path, "wb");
		CHECK(f != NULL);
		if (f) {
			CHECK_EQ(fwrite(buf, 1, (size_t)n, f), (size_t)n);
			fclose(f);
		}
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_key_derive);
	RUN(test_candidates);
	RUN(test_probe);
	RUN(test_sealed_body_strict);
	RUN(test_old_versions_refused);
	RUN(test_fuzz_seeds);
	return um_test_end();
}
