/* SPDX-License-Identifier: MIT */
/* Relay wire formats, version 3: round trips, every truncation rejected,
 * reserved and padding bytes checked, every bit flip of a sealed message
 * refused by its AEAD, the replay window, and version 2 recognised. */
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>

#include "crypto/identity.h"
#include "test.h"
#include "util/error.h"
#include "wire/relay.h"

static const uint8_t key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static void check_truncations(const uint8_t *buf, size_t n, int (*decode)(const uint8_t *, size_t))
{
	for (size_t l = 0; l < n; l++)
		CHECK(decode(buf, l) < 0);
	CHECK(decode(buf, n) == 0);
}

static int id_decode(const uint8_t *in, size_t len)
{
	struct um_relay_id_msg m;
	return um_relay_id_decode(&m, in, len);
}

static void test_id(void)
{
	struct um_relay_id_msg q = {.nonce = {1, 2, 3}}, r = {.reply = true, .nonce = {1, 2, 3}, .id = {{5, 6, 7}}}, d;
	uint8_t a[128], b[128];

	int n = um_relay_id_encode(a, sizeof(a), &q);
	CHECK_EQ(n, UM_RELAY_ID_BYTES);
	int m = um_relay_id_encode(b, sizeof(b), &r);
	/* No amplification: the answer is exactly the request's size. */
	CHECK_EQ(m, n);
	CHECK_EQ(um_relay_id_decode(&d, a, (size_t)n), 0);
	CHECK(!d.reply);
	CHECK_EQ(um_relay_id_decode(&d, b, (size_t)m), 0);
	CHECK(d.reply);
	CHECK_MEM(d.id.bytes, r.id.bytes, UM_PEER_ID_BYTES);
	CHECK_MEM(d.nonce, r.nonce, UM_RELAY_NONCE_BYTES);
	check_truncations(a, (size_t)n, id_decode);
	a[60] = 1; /* padding */
	CHECK_EQ(um_relay_id_decode(&d, a, (size_t)n), -UM_EINVAL);
	a[60] = 0;
	a[30] = 1; /* an ID in a request */
	CHECK_EQ(um_relay_id_decode(&d, a, (size_t)n), -UM_EINVAL);
	a[30] = 0;
	a[1] = 2; /* version 2 */
	CHECK_EQ(um_relay_id_decode(&d, a, (size_t)n), -UM_EVERSION);
}

static void roundtrip(const struct um_relay_control *m)
{
	uint8_t buf[UM_RELAY_SEALED_BYTES + 8];
	struct um_relay_control d;
	uint32_t index;
	uint64_t counter;

	int n = um_relay_sealed_encode(buf, sizeof(buf), 0x01020304, 77, key, m);
	CHECK_EQ(n, UM_RELAY_SEALED_BYTES);
	CHECK_EQ(um_relay_sealed_header(buf, (size_t)n, &index, &counter), 0);
	CHECK_EQ(index, 0x01020304);
	CHECK_EQ(counter, 77);
	CHECK_EQ(um_relay_sealed_open(&d, buf, (size_t)n, key), 0);
	CHECK_EQ(d.kind, m->kind);
	CHECK_EQ(d.flags, m->flags);
	CHECK_EQ(d.sequence, m->sequence);
	CHECK_MEM(d.challenge, m->challenge, sizeof(d.challenge));
	CHECK_MEM(d.tag, m->tag, sizeof(d.tag));
	CHECK(um_addr_equal(&d.observed, &m->observed) || m->observed.family == 0);
	/* Every bit of header and ciphertext is authenticated. */
	unsigned refused = 0, total = 0;
	for (size_t i = 0; i < (size_t)n; i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			refused += um_relay_sealed_open(&d, buf, (size_t)n, key) != 0;
			total++;
			buf[i] ^= (uint8_t)(1u << bit);
		}
	CHECK_EQ(refused, total);
	uint8_t other[32] = {1};
	CHECK_EQ(um_relay_sealed_open(&d, buf, (size_t)n, other), -UM_EBADMSG);
	CHECK_EQ(um_relay_sealed_open(&d, buf, (size_t)n - 1, key), -UM_ETRUNC);
}

static void test_sealed(void)
{
	struct um_addr ep = {.family = 4, .addr = {203, 0, 113, 9}, .port = 4242};
	struct um_relay_control reg = {.kind = UM_RELAY_CTL_REGISTER, .tag = {1, 2, 3}};
	struct um_relay_control ack = {.kind = UM_RELAY_CTL_ACK,
				       .keepalive_interval_s = 25,
				       .challenge = {4, 5},
				       .observed = ep,
				       .registration_timeout_s = 90,
				       .max_payload = 1244,
				       .max_packets_per_s = 20000,
				       .max_bytes_per_s = 25000000};
	struct um_relay_control ka = {.kind = UM_RELAY_CTL_KEEPALIVE, .sequence = 9};
	struct um_relay_control echo = {.kind = UM_RELAY_CTL_KEEPALIVE,
					.flags = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE,
					.sequence = 10,
					.challenge = {7}};
	struct um_relay_control reply = {.kind = UM_RELAY_CTL_KEEPALIVE_REPLY, .sequence = 9, .observed = ep};
	struct um_relay_control err = {.kind = UM_RELAY_CTL_ERROR, .code = UM_RELAY_ERR_UNKNOWN_PEER, .tag = {0xaa}};
	roundtrip(&reg);
	roundtrip(&ack);
	roundtrip(&ka);
	roundtrip(&echo);
	roundtrip(&reply);
	roundtrip(&err);

	/* Plaintext rules: unknown kinds, padding, challenge bytes without the
	 * flag, replies without an endpoint. */
	uint8_t plain[UM_RELAY_CONTROL_BYTES];
	struct um_relay_control d;
	CHECK_EQ(um_relay_control_encode(plain, &ka), 0);
	CHECK_EQ(um_relay_control_decode(&d, plain), 0);
	plain[63] = 1;
	CHECK_EQ(um_relay_control_decode(&d, plain), -UM_EINVAL);
	plain[63] = 0;
	plain[20] = 1; /* challenge byte, flag clear */
	CHECK_EQ(um_relay_control_decode(&d, plain), -UM_EINVAL);
	plain[0] = 9;
	CHECK_EQ(um_relay_control_decode(&d, plain), -UM_EINVAL);
	struct um_relay_control bad = reply;
	bad.observed.family = 0;
	CHECK_EQ(um_relay_control_encode(plain, &bad), -UM_EINVAL);
	bad = ka;
	bad.flags = 0x80;
	CHECK_EQ(um_relay_control_encode(plain, &bad), -UM_EINVAL);

	/* Version 2's KEEPALIVE shares the type byte and size. */
	uint8_t v2[UM_RELAY_V2_KEEPALIVE_BYTES] = {UM_MSG_RELAY_SEALED, 0x02, UM_RELAY_V2, 0};
	uint32_t index;
	uint64_t counter;
	CHECK_EQ(um_relay_sealed_header(v2, sizeof(v2), &index, &counter), -UM_EVERSION);
}

static void test_window(void)
{
	struct um_relay_window w = {0};
	CHECK_EQ(um_relay_window_check(&w, 0), 0);
	um_relay_window_update(&w, 0);
	CHECK_EQ(um_relay_window_check(&w, 0), -UM_EREPLAY);
	CHECK_EQ(um_relay_window_check(&w, 5), 0);
	um_relay_window_update(&w, 5);
	CHECK_EQ(um_relay_window_check(&w, 3), 0); /* reordered: still fresh */
	um_relay_window_update(&w, 3);
	CHECK_EQ(um_relay_window_check(&w, 3), -UM_EREPLAY);
	CHECK_EQ(um_relay_window_check(&w, 5), -UM_EREPLAY);
	um_relay_window_update(&w, 200);
	CHECK_EQ(um_relay_window_check(&w, 137), 0);           /* the oldest still in the window */
	CHECK_EQ(um_relay_window_check(&w, 136), -UM_EREPLAY); /* fell out of it */
	CHECK_EQ(um_relay_window_check(&w, UINT64_MAX), -UM_EREPLAY);
}

static void test_admission_tag(void)
{
	struct um_peer_id a = {{1}}, b = {{2}};
	uint8_t k1[32] = {1}, k2[32] = {2}, t1[32], t2[32], t3[32], t4[32];
	um_relay_admission_tag(t1, k1, &a, &b);
	um_relay_admission_tag(t2, k2, &a, &b);
	um_relay_admission_tag(t3, k1, &b, &a);
	um_relay_admission_tag(t4, k1, &a, &b);
	CHECK(memcmp(t1, t2, 32) != 0); /* keyed */
	CHECK(memcmp(t1, t3, 32) != 0); /* bound to the node and the relay */
	CHECK_MEM(t1, t4, 32);
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
	RUN(test_id);
	RUN(test_sealed);
	RUN(test_window);
	RUN(test_admission_tag);
	RUN(test_forward);
	RUN(test_error);
	return um_test_end();
}
