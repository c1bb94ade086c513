/* SPDX-License-Identifier: MIT */
/* Path messages: round trips, MAC checks, strict decoding, key derivation
 * symmetry, version 2 (counter under the MAC) refusing version 1. Also the
 * fuzz seeds' generator: UM_PATH_SEEDS_DIR=tests/fuzz/corpus/path writes
 * them (each run checks them in memory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../test.h"
#include "util/error.h"
#include "wire/path.h"

static const uint8_t key[UM_PATH_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void test_key_derive(void)
{
	uint8_t a_send[32], a_recv[32], k1[32], k2[32], k3[32];

	memset(a_send, 0x11, 32);
	memset(a_recv, 0x22, 32);
	um_path_key_derive(k1, a_send, a_recv);
	um_path_key_derive(k2, a_recv, a_send); /* the peer's view: swapped */
	CHECK_MEM(k1, k2, 32);
	a_recv[5] ^= 1;
	um_path_key_derive(k3, a_send, a_recv);
	CHECK(memcmp(k1, k3, 32) != 0);
	CHECK(memcmp(k1, a_send, 32) != 0);
}

static void test_candidates(void)
{
	struct um_path_msg m = {.type = UM_MSG_PATH_CANDIDATES,
				.flags = UM_PATH_FLAG_NEED,
				.counter = 0x0102030405060708ULL,
				.generation = 77,
				.count = 2};
	struct um_path_msg d;
	uint8_t buf[UM_PATH_CANDIDATES_MAX_BYTES];

	memset(m.sender.bytes, 0xab, sizeof(m.sender.bytes));
	m.candidates[0] = (struct um_path_candidate){.kind = UM_PATH_CAND_REFLEXIVE,
						     .addr = {.family = 4, .addr = {198, 51, 100, 2}, .port = 51820}};
	m.candidates[1] = (struct um_path_candidate){
	    .kind = UM_PATH_CAND_LOCAL, .addr = {.family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, .port = 9}};
	int n = um_path_encode(buf, sizeof(buf), &m, key);
	CHECK_EQ(n, UM_PATH_CANDIDATES_MIN_BYTES + 2 * UM_PATH_CANDIDATE_BYTES);
	CHECK_EQ(um_path_verify(buf, (size_t)n, key), 0);
	CHECK_EQ(um_path_decode(&d, buf, (size_t)n), 0);
	CHECK_EQ(d.type, UM_MSG_PATH_CANDIDATES);
	CHECK_EQ(d.flags, UM_PATH_FLAG_NEED);
	CHECK_EQ(d.generation, 77);
	CHECK_EQ(d.counter, 0x0102030405060708ULL);
	CHECK_EQ(d.count, 2);
	CHECK(um_addr_equal(&d.candidates[0].addr, &m.candidates[0].addr));
	CHECK(um_addr_equal(&d.candidates[1].addr, &m.candidates[1].addr));
	CHECK_EQ(d.candidates[1].kind, UM_PATH_CAND_LOCAL);
	CHECK_MEM(d.sender.bytes, m.sender.bytes, 32);
	/* Every bit is covered by the MAC. */
	for (int i = 0; i < n; i++) {
		buf[i] ^= 0x80;
		CHECK_EQ(um_path_verify(buf, (size_t)n, key), -UM_EBADMSG);
		buf[i] ^= 0x80;
	}
	uint8_t other[UM_PATH_KEY_BYTES] = {9};
	CHECK_EQ(um_path_verify(buf, (size_t)n, other), -UM_EBADMSG);
	/* Truncation, trailing bytes, reserved bytes, bad count and kinds. */
	for (int len = 0; len < n; len++)
		CHECK(um_path_decode(&d, buf, (size_t)len) < 0);
	uint8_t longer[UM_PATH_CANDIDATES_MAX_BYTES + 1];
	memcpy(longer, buf, (size_t)n);
	longer[n] = 0;
	CHECK_EQ(um_path_decode(&d, longer, (size_t)n + 1), -UM_EINVAL);
	/* Version 2, big-endian counter after the sender and big-endian
	 * generation (docs/PROTOCOL.md §13); other versions are refused as such. */
	CHECK_EQ(UM_PATH_VERSION, 2);
	CHECK_EQ(buf[2], UM_PATH_VERSION);
	CHECK_EQ(buf[36], 0x01);
	CHECK_EQ(buf[43], 0x08);
	CHECK_EQ(buf[UM_PATH_HEADER_BYTES + 7], 77);
	CHECK_EQ(buf[UM_PATH_HEADER_BYTES], 0);
	for (uint8_t v = 0; v < 4; v++) {
		buf[2] = v;
		CHECK_EQ(um_path_decode(&d, buf, (size_t)n), v == UM_PATH_VERSION ? 0 : -UM_EVERSION);
	}
	buf[2] = UM_PATH_VERSION;
	buf[3] = 1;
	CHECK_EQ(um_path_decode(&d, buf, (size_t)n), -UM_EINVAL);
	buf[3] = 0;
	struct um_peer_id sender;
	CHECK_EQ(um_path_peek_sender(buf, (size_t)n, &sender), 0);
	CHECK_MEM(sender.bytes, m.sender.bytes, 32);
	CHECK_EQ(um_path_peek_sender(buf, UM_PATH_HEADER_BYTES, &sender), -UM_ETRUNC);
	buf[UM_PATH_HEADER_BYTES + 8] = UM_PATH_MAX_CANDIDATES + 1;
	CHECK(um_path_decode(&d, buf, (size_t)n) < 0);
	buf[UM_PATH_HEADER_BYTES + 8] = 2;
	buf[UM_PATH_HEADER_BYTES + 12] = 9; /* unknown kind */
	CHECK_EQ(um_path_decode(&d, buf, (size_t)n), -UM_EINVAL);
	buf[UM_PATH_HEADER_BYTES + 12] = UM_PATH_CAND_REFLEXIVE;
	buf[UM_PATH_HEADER_BYTES + 12 + 10] = 1; /* IPv4 padding */
	CHECK_EQ(um_path_decode(&d, buf, (size_t)n), -UM_EINVAL);
	m.count = UM_PATH_MAX_CANDIDATES + 1;
	CHECK_EQ(um_path_encode(buf, sizeof(buf), &m, key), -UM_EINVAL);
	m.count = 2;
	CHECK_EQ(um_path_encode(buf, 10, &m, key), -UM_ETRUNC);
}

static void test_probe(void)
{
	struct um_path_msg m = {.type = UM_MSG_PATH_PROBE, .flags = UM_PATH_FLAG_PING}, d;
	uint8_t buf[UM_PATH_PROBE_REPLY_BYTES];

	memset(m.nonce, 0x5a, sizeof(m.nonce));
	CHECK_EQ(um_path_encode(buf, sizeof(buf), &m, key), UM_PATH_PROBE_BYTES);
	CHECK_EQ(um_path_verify(buf, UM_PATH_PROBE_BYTES, key), 0);
	CHECK_EQ(um_path_decode(&d, buf, UM_PATH_PROBE_BYTES), 0);
	CHECK_EQ(d.type, UM_MSG_PATH_PROBE);
	CHECK_EQ(d.flags, UM_PATH_FLAG_PING);
	CHECK_MEM(d.nonce, m.nonce, sizeof(m.nonce));
	CHECK_EQ(d.counter, 0);
	buf[1] = 0x80; /* unknown flag */
	CHECK_EQ(um_path_decode(&d, buf, UM_PATH_PROBE_BYTES), -UM_EINVAL);

	m.type = UM_MSG_PATH_PROBE_REPLY;
	m.flags = 0;
	m.observed = (struct um_addr){.family = 4, .addr = {203, 0, 113, 7}, .port = 4500};
	CHECK_EQ(um_path_encode(buf, sizeof(buf), &m, key), UM_PATH_PROBE_REPLY_BYTES);
	CHECK_EQ(um_path_decode(&d, buf, UM_PATH_PROBE_REPLY_BYTES), 0);
	CHECK(um_addr_equal(&d.observed, &m.observed));
	CHECK_EQ(um_path_decode(&d, buf, UM_PATH_PROBE_BYTES), -UM_ETRUNC);
	m.observed.family = 5;
	CHECK_EQ(um_path_encode(buf, sizeof(buf), &m, key), -UM_EINVAL);
	m.type = 0x29;
	CHECK_EQ(um_path_encode(buf, sizeof(buf), &m, key), -UM_EINVAL);
	buf[0] = 0x29;
	CHECK_EQ(um_path_decode(&d, buf, UM_PATH_PROBE_REPLY_BYTES), -UM_EINVAL);
}

/* A version-1 PROBE (no counter: 36-byte header | nonce | mac), as a node
 * of the previous release sends it: refused as another version, with its
 * sender still readable (so the node can say which peer is outdated). */
static void test_version1_refused(void)
{
	uint8_t v1[36 + UM_PATH_NONCE_BYTES + UM_PATH_MAC_BYTES] = {UM_MSG_PATH_PROBE, 0, 1, 0};
	struct um_path_msg d;
	struct um_peer_id sender;

	memset(v1 + 4, 0xab, 32);
	memset(v1 + 36, 0x5a, UM_PATH_NONCE_BYTES);
	crypto_generichash(v1 + 36 + UM_PATH_NONCE_BYTES, UM_PATH_MAC_BYTES, v1, 36 + UM_PATH_NONCE_BYTES, key,
			   sizeof(key));
	CHECK_EQ(um_path_verify(v1, sizeof(v1), key), 0);
	CHECK_EQ(um_path_decode(&d, v1, sizeof(v1)), -UM_EVERSION);
	CHECK_EQ(um_path_peek_sender(v1, sizeof(v1), &sender), 0);
	CHECK_EQ(sender.bytes[0], 0xab);
}

/* The fuzz seeds (tests/fuzz/fuzz_path.c: key 0x42..., sender 0x17...,
 * receiver 0x18...): one of each message, each decoding and verifying. */
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
		memset(m.sender.bytes, 0x17, sizeof(m.sender.bytes));
		int n = um_path_encode(buf, sizeof(buf), &m, seed_key);
		CHECK(n > 0);
		if (n <= 0)
			continue;
		CHECK_EQ(um_path_verify(buf, (size_t)n, seed_key), 0);
		CHECK_EQ(um_path_decode(&d, buf, (size_t)n), 0);
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
	RUN(test_version1_refused);
	RUN(test_fuzz_seeds);
	return um_test_end();
}
