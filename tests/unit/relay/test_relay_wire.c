/* SPDX-License-Identifier: MIT */
/* Relay wire formats: round trips, every truncation rejected, reserved
 * bytes checked, and every single-bit flip in a signed registration
 * rejected by decode, admission or signature check. */
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>

#include "crypto/identity.h"
#include "test.h"
#include "util/error.h"
#include "wire/relay.h"

static struct um_identity identity;
static const uint8_t admission_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static void setup(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 7 + 1);
	CHECK_EQ(um_identity_from_seed(&identity, seed), 0);
}

/* The whole check a relay does: structure, admission, signature. */
static int accept_register(const uint8_t *in, size_t len, const uint8_t *known_key)
{
	struct um_relay_register m;
	int rc = um_relay_register_decode(&m, in, len);
	if (rc < 0)
		return rc;
	rc = um_relay_register_check_admission(&m, in, admission_key);
	if (rc < 0)
		return rc;
	return um_relay_register_verify(&m, in, m.public_key ? m.public_key : known_key);
}

static const uint8_t ephemeral[UM_RELAY_X25519_BYTES] = {9, 8, 7};

static void test_register_round_trip(void)
{
	static uint8_t buf[UM_RELAY_REGISTER_MAX_BYTES + 8];
	uint8_t nonce[16] = {0xaa, 0xbb};
	struct um_relay_register m;

	int n = um_relay_register_build(buf, sizeof(buf), &identity, 1700000000123ULL, nonce, ephemeral, true,
					admission_key);
	CHECK_EQ(n, UM_RELAY_REGISTER_MAX_BYTES);
	CHECK_EQ(um_relay_register_decode(&m, buf, (size_t)n), 0);
	CHECK_EQ(m.timestamp_ms, 1700000000123ULL);
	CHECK_MEM(m.nonce, nonce, 16);
	CHECK_MEM(m.id.bytes, identity.id.bytes, 32);
	CHECK_MEM(m.ephemeral, ephemeral, 32);
	CHECK(m.public_key != NULL);
	/* Version 1 (and any other) is refused as such, not as garbage. */
	buf[1] = 1;
	CHECK_EQ(um_relay_register_decode(&m, buf, (size_t)n), -UM_EVERSION);
	CHECK_MEM(m.nonce, nonce, 16); /* for the relay's ERROR VERSION */
	buf[1] = UM_RELAY_VERSION;
	CHECK_EQ(accept_register(buf, (size_t)n, NULL), 0);
	/* A trailing byte, and every truncation, are rejected. */
	CHECK_EQ(um_relay_register_decode(&m, buf, (size_t)n + 1), -UM_ETRUNC);
	for (int l = 0; l < n; l++)
		CHECK(um_relay_register_decode(&m, buf, (size_t)l) < 0);
	/* Too small an output buffer. */
	CHECK_EQ(um_relay_register_build(buf, (size_t)n - 1, &identity, 1, nonce, ephemeral, true, NULL), -UM_ERANGE);

	/* Without the key: verifies with a known key only, and not with another's. */
	n = um_relay_register_build(buf, sizeof(buf), &identity, 5, nonce, ephemeral, false, admission_key);
	CHECK_EQ(n, UM_RELAY_REGISTER_MIN_BYTES);
	CHECK_EQ(um_relay_register_decode(&m, buf, (size_t)n), 0);
	CHECK(m.public_key == NULL);
	CHECK_EQ(accept_register(buf, (size_t)n, identity.public_key), 0);
	struct um_identity other;
	CHECK_EQ(um_identity_generate(&other), 0);
	CHECK_EQ(accept_register(buf, (size_t)n, other.public_key), -UM_EBADMSG);
	um_identity_wipe(&other);

	/* No admission key: zero tag, which a keyed relay refuses. */
	n = um_relay_register_build(buf, sizeof(buf), &identity, 5, nonce, ephemeral, true, NULL);
	CHECK_EQ(um_relay_register_decode(&m, buf, (size_t)n), 0);
	static const uint8_t zero[32];
	CHECK_MEM(m.admission_tag, zero, 32);
	CHECK_EQ(um_relay_register_check_admission(&m, buf, admission_key), -UM_EBADMSG);
	CHECK_EQ(um_relay_register_verify(&m, buf, identity.public_key), 0);
}

/* Bit flips in a signed registration are all rejected. Every bit of the
 * header, nonce, peer ID and admission tag is flipped; in the signature
 * each flip costs a full hybrid verification, so one bit per byte is
 * flipped there (rotating through the bit positions), and one per 8 bytes
 * under sanitizers. */
static void test_register_bit_flips(void)
{
	static uint8_t buf[UM_RELAY_REGISTER_MAX_BYTES];
	uint8_t nonce[16] = {9};
	int n = um_relay_register_build(buf, sizeof(buf), &identity, 77, nonce, ephemeral, false, admission_key);
	size_t bits = (size_t)n * 8, tested = 0, rejected = 0;
	size_t cheap_end = (UM_RELAY_REGISTER_HEADER_BYTES + UM_RELAY_TAG_BYTES) * 8;

	CHECK_EQ(accept_register(buf, (size_t)n, identity.public_key), 0);
	for (size_t i = 0; i < bits; i++) {
		if (i >= cheap_end && (i % 8 != (i / 8) % 8 || (SANITIZED && (i / 8) % 8 != 0)))
			continue;
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		tested++;
		rejected += accept_register(buf, (size_t)n, identity.public_key) < 0;
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK_EQ(rejected, tested);
	fprintf(stderr, "  %zu of %zu bit flips tested, all rejected\n", tested, bits);

	/* With the public key included: flips in the key fail the peer-ID
	 * binding before any signature work; sample them. */
	n = um_relay_register_build(buf, sizeof(buf), &identity, 77, nonce, ephemeral, true, admission_key);
	tested = rejected = 0;
	for (size_t i = 0; i < (size_t)n * 8; i += SANITIZED ? 509 : 61) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		tested++;
		rejected += accept_register(buf, (size_t)n, NULL) < 0;
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK_EQ(rejected, tested);
}

/* Fixed-size messages: every shorter length is rejected. */
static void check_truncations(const uint8_t *buf, size_t n, int (*decode)(const uint8_t *, size_t))
{
	for (size_t l = 0; l < n; l++)
		CHECK(decode(buf, l) < 0);
	CHECK(decode(buf, n) == 0);
}

static int ack_decode(const uint8_t *in, size_t len)
{
	struct um_relay_register_ack m;
	return um_relay_register_ack_decode(&m, in, len);
}

static int keepalive_decode(const uint8_t *in, size_t len)
{
	struct um_relay_keepalive m;
	return um_relay_keepalive_decode(&m, in, len);
}

static int forward_decode(const uint8_t *in, size_t len)
{
	struct um_relay_forward m;
	return um_relay_forward_decode(&m, UM_MSG_RELAY_FORWARD, in, len);
}

static int error_decode(const uint8_t *in, size_t len)
{
	struct um_relay_error m;
	return um_relay_error_decode(&m, in, len);
}

static bool ack_equal(const struct um_relay_register_ack *a, const struct um_relay_register_ack *b)
{
	return a->keepalive_interval_s == b->keepalive_interval_s && !memcmp(a->nonce, b->nonce, 16) &&
	       !memcmp(a->ephemeral, b->ephemeral, 32) && !memcmp(a->challenge, b->challenge, 16) &&
	       um_addr_equal(&a->observed, &b->observed) && a->registration_timeout_s == b->registration_timeout_s &&
	       a->max_payload == b->max_payload && a->max_packets_per_s == b->max_packets_per_s &&
	       a->max_bytes_per_s == b->max_bytes_per_s;
}

static bool keepalive_equal(const struct um_relay_keepalive *a, const struct um_relay_keepalive *b)
{
	return a->flags == b->flags && !memcmp(a->id.bytes, b->id.bytes, 32) &&
	       !memcmp(a->challenge, b->challenge, 16) && a->sequence == b->sequence &&
	       a->observed.family == b->observed.family &&
	       (a->observed.family == 0 || um_addr_equal(&a->observed, &b->observed));
}

static void test_ack(void)
{
	struct um_relay_register_ack a = {.keepalive_interval_s = 25,
					  .nonce = {1, 2, 3},
					  .ephemeral = {4, 5, 6},
					  .challenge = {7, 8},
					  .observed = {.family = 6,
						       .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 9},
						       .port = 51820},
					  .registration_timeout_s = 90,
					  .max_payload = 1244,
					  .max_packets_per_s = 5000,
					  .max_bytes_per_s = 4000000},
				     b;
	uint8_t buf[160], key[UM_RELAY_KEY_BYTES] = {1}, other[UM_RELAY_KEY_BYTES] = {2};
	int n = um_relay_register_ack_encode(buf, sizeof(buf), &a, key);
	CHECK_EQ(n, UM_RELAY_REGISTER_ACK_BYTES);
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, (size_t)n), 0);
	CHECK(ack_equal(&a, &b));
	/* The MAC holds under the key only, and over every byte. */
	CHECK_EQ(um_relay_mac_check(buf, (size_t)n, key), 0);
	CHECK_EQ(um_relay_mac_check(buf, (size_t)n, other), -UM_EBADMSG);
	for (int i = 0; i < n; i++) {
		buf[i] ^= 0x10;
		CHECK_EQ(um_relay_mac_check(buf, (size_t)n, key), -UM_EBADMSG);
		buf[i] ^= 0x10;
	}
	/* Round trip without a key keeps the decoded MAC. */
	uint8_t again[160];
	CHECK_EQ(um_relay_register_ack_encode(again, sizeof(again), &b, NULL), n);
	CHECK_MEM(again, buf, (size_t)n);
	check_truncations(buf, (size_t)n, ack_decode);
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, (size_t)n + 1), -UM_ETRUNC);
	buf[1] = 1; /* a version 1 ACK */
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, 60), -UM_EVERSION);
	buf[1] = UM_RELAY_VERSION;
	buf[69] = 1; /* endpoint reserved byte */
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, (size_t)n), -UM_EINVAL);
	buf[69] = 0;
	buf[68] = 5; /* family */
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, (size_t)n), -UM_EINVAL);
	/* IPv4 with junk after the 4 address bytes. */
	a.observed = (struct um_addr){.family = 4, .addr = {203, 0, 113, 5}, .port = 1};
	n = um_relay_register_ack_encode(buf, sizeof(buf), &a, key);
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, (size_t)n), 0);
	CHECK(um_addr_equal(&a.observed, &b.observed));
	buf[72 + 5] = 1;
	CHECK_EQ(um_relay_register_ack_decode(&b, buf, (size_t)n), -UM_EINVAL);
	a.observed.family = 0;
	CHECK_EQ(um_relay_register_ack_encode(buf, sizeof(buf), &a, key), -UM_EINVAL);
}

static void test_keepalive(void)
{
	struct um_relay_keepalive k = {.flags = 0, .sequence = 7}, r;
	uint8_t buf[128], key[UM_RELAY_KEY_BYTES] = {3};
	memset(k.id.bytes, 0x5a, 32);
	memset(k.challenge, 0x77, 16); /* not written without the flag */
	int n = um_relay_keepalive_encode(buf, sizeof(buf), &k, key);
	CHECK_EQ(n, UM_RELAY_KEEPALIVE_BYTES);
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), 0);
	CHECK_EQ(um_relay_mac_check(buf, (size_t)n, key), 0);
	memset(k.challenge, 0, 16);
	CHECK(keepalive_equal(&k, &r));
	/* Challenge bytes without the flag are refused; with it, kept. */
	buf[44] = 1;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), -UM_EINVAL);
	buf[1] = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), 0);
	CHECK_EQ(r.challenge[0], 1);
	CHECK_EQ(um_relay_mac_check(buf, (size_t)n, key), -UM_EBADMSG);
	buf[1] = 0;
	buf[44] = 0;
	/* A version 1 keepalive (zero byte 2, 72 bytes) is refused as such. */
	buf[2] = 0;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, 72), -UM_EVERSION);
	buf[2] = UM_RELAY_VERSION;
	check_truncations(buf, (size_t)n, keepalive_decode);
	/* A reply must carry an endpoint, a request must not. */
	buf[1] = UM_RELAY_KEEPALIVE_FLAG_REPLY;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), -UM_EINVAL);
	k.flags = UM_RELAY_KEEPALIVE_FLAG_REPLY;
	k.observed = (struct um_addr){.family = 4, .addr = {198, 51, 100, 2}, .port = 4000};
	n = um_relay_keepalive_encode(buf, sizeof(buf), &k, key);
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), 0);
	CHECK(keepalive_equal(&k, &r));
	buf[1] = 0;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), -UM_EINVAL);
	buf[1] = 4;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), -UM_EINVAL);
	buf[1] = 1;
	buf[3] = 1;
	CHECK_EQ(um_relay_keepalive_decode(&r, buf, (size_t)n), -UM_EINVAL);
}

static void test_forward(void)
{
	uint8_t payload[UM_RELAY_MAX_PAYLOAD + 1], buf[UM_RELAY_MAX_DATAGRAM + 8];
	struct um_relay_forward f = {.payload = payload, .payload_len = 100}, g;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	memset(f.peer.bytes, 0x11, 32);
	int n = um_relay_forward_encode(buf, sizeof(buf), UM_MSG_RELAY_FORWARD, &f);
	CHECK_EQ(n, 136);
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARD, buf, (size_t)n), 0);
	CHECK_MEM(g.peer.bytes, f.peer.bytes, 32);
	CHECK_EQ(g.payload_len, 100);
	CHECK_MEM(g.payload, payload, 100);
	/* Shorter datagrams are valid shorter payloads down to one byte. */
	for (size_t l = 0; l <= UM_RELAY_FORWARD_HEADER_BYTES; l++)
		CHECK_EQ(forward_decode(buf, l), -UM_ETRUNC);
	CHECK_EQ(forward_decode(buf, UM_RELAY_FORWARD_HEADER_BYTES + 1), 0);
	/* Type must match what the caller expects. */
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARDED, buf, (size_t)n), -UM_EINVAL);
	buf[2] = 1;
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARD, buf, (size_t)n), -UM_EINVAL);
	/* Size limits: 1280 bytes in total, at least one payload byte. */
	f.payload_len = UM_RELAY_MAX_PAYLOAD;
	n = um_relay_forward_encode(buf, sizeof(buf), UM_MSG_RELAY_FORWARDED, &f);
	CHECK_EQ(n, UM_RELAY_MAX_DATAGRAM);
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARDED, buf, (size_t)n), 0);
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARDED, buf, (size_t)n + 1), -UM_ERANGE);
	f.payload_len = UM_RELAY_MAX_PAYLOAD + 1;
	CHECK_EQ(um_relay_forward_encode(buf, sizeof(buf), UM_MSG_RELAY_FORWARD, &f), -UM_EINVAL);
	f.payload_len = 0;
	CHECK_EQ(um_relay_forward_encode(buf, sizeof(buf), UM_MSG_RELAY_FORWARD, &f), -UM_EINVAL);
	f.payload_len = 10;
	CHECK_EQ(um_relay_forward_encode(buf, sizeof(buf), 0x10, &f), -UM_EINVAL);
	CHECK_EQ(um_relay_forward_encode(buf, 40, UM_MSG_RELAY_FORWARD, &f), -UM_ERANGE);
}

static void test_error(void)
{
	struct um_relay_error e = {.code = UM_RELAY_ERR_RATE_LIMITED, .retry_after_s = 3, .ref = {7}}, d;
	uint8_t buf[64];
	int n = um_relay_error_encode(buf, sizeof(buf), &e);
	CHECK_EQ(n, UM_RELAY_ERROR_BYTES);
	CHECK_EQ(um_relay_error_decode(&d, buf, (size_t)n), 0);
	CHECK_EQ(d.code, e.code);
	CHECK_EQ(d.retry_after_s, 3);
	CHECK_MEM(d.ref, e.ref, 32);
	check_truncations(buf, (size_t)n, error_decode);
	buf[1] = 0;
	CHECK_EQ(um_relay_error_decode(&d, buf, (size_t)n), -UM_EINVAL);
	buf[1] = 99;
	CHECK_EQ(um_relay_error_decode(&d, buf, (size_t)n), -UM_EINVAL);
	e.code = 0;
	CHECK_EQ(um_relay_error_encode(buf, sizeof(buf), &e), -UM_EINVAL);
	/* An ERROR is never larger than the smallest datagram that triggers one. */
	CHECK(UM_RELAY_ERROR_BYTES <= UM_RELAY_FORWARD_HEADER_BYTES + 1);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	setup();
	RUN(test_register_round_trip);
	RUN(test_register_bit_flips);
	RUN(test_ack);
	RUN(test_keepalive);
	RUN(test_forward);
	RUN(test_error);
	um_identity_wipe(&identity);
	return um_test_end();
}
