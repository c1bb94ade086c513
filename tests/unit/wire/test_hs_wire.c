/* SPDX-License-Identifier: MIT */
/* Handshake message encoders/decoders: round trips, exact sizes, and
 * rejection of every malformed shape. */
#include <sodium.h>

#include "test.h"
#include "util/error.h"
#include "wire/handshake.h"

static uint8_t a32[32], n16[16], kem_pk[UM_HKEM_PK_BYTES], kem_ct[UM_HKEM_CT_BYTES];
static uint8_t sealed[UM_HS_RESPONSE_SEALED_BYTES];
static uint8_t buf[UM_HS_CHALLENGE_BYTES + 16];

static void test_sizes(void)
{
	CHECK_EQ(UM_HS_HELLO_BYTES, 1232);
	CHECK(UM_HS_CHALLENGE_BYTES > UM_HS_MAX_DATAGRAM);
	CHECK(UM_HS_RESPONSE_BYTES > UM_HS_MAX_DATAGRAM);
	CHECK(UM_HS_ESTABLISHED_BYTES <= UM_HS_MAX_DATAGRAM);
	CHECK(UM_HS_COOKIE_REPLY_BYTES < UM_HS_HELLO_BYTES);
	/* HELLO fits in a 1280-byte IPv6 packet with its headers. */
	CHECK(UM_HS_MAX_DATAGRAM + 40 + 8 <= 1280);
}

static void test_hello(void)
{
	struct um_hs_hello h = {.sender_index = 0xdeadbeef, .ephemeral = a32, .nonce = n16, .timestamp_ms = 1234567};
	CHECK_EQ(um_hs_hello_encode(buf, sizeof(buf), &h), UM_HS_HELLO_BYTES);
	CHECK_EQ(um_hs_hello_encode(buf, UM_HS_HELLO_BYTES - 1, &h), -UM_ERANGE);
	struct um_hs_hello d;
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), 0);
	CHECK_EQ(d.flags, 0);
	CHECK_EQ(d.sender_index, 0xdeadbeef);
	CHECK_EQ(d.timestamp_ms, 1234567);
	CHECK_MEM(d.ephemeral, a32, 32);
	CHECK_MEM(d.nonce, n16, 16);
	CHECK_EQ(buf[0], UM_MSG_HELLO);
	CHECK_EQ(buf[4], 0xde); /* big-endian */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES - 1), -UM_ETRUNC);
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES + 1), -UM_ETRUNC);
	buf[1] = 1; /* a version-1 node */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), -UM_EVERSION);
	buf[1] = 2; /* a version-2 node (no flags byte yet) */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), -UM_EVERSION);
	buf[1] = UM_HS_VERSION;
	CHECK_EQ(d.flags, 0);
	buf[2] = UM_HS_HELLO_HAVE_KEY; /* flags: the one known bit */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), 0);
	CHECK_EQ(d.flags, UM_HS_HELLO_HAVE_KEY);
	buf[2] = 2; /* an unknown flag */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), -UM_EINVAL);
	buf[2] = 0;
	buf[3] = 1; /* reserved */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), -UM_EINVAL);
	buf[3] = 0;
	buf[500] = 1; /* padding */
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), -UM_EINVAL);
	buf[500] = 0;
	buf[0] = UM_MSG_CHALLENGE;
	CHECK_EQ(um_hs_hello_decode(&d, buf, UM_HS_HELLO_BYTES), -UM_EINVAL);
}

static void test_challenge_response(void)
{
	struct um_hs_challenge c = {
	    .sender_index = 1, .receiver_index = 2, .nonce = n16, .kem_public = kem_pk, .sealed = sealed};
	CHECK_EQ(um_hs_challenge_encode(buf, sizeof(buf), &c), UM_HS_CHALLENGE_BYTES);
	struct um_hs_challenge cd;
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, UM_HS_CHALLENGE_BYTES), 0);
	CHECK_EQ(cd.sender_index, 1);
	CHECK_EQ(cd.receiver_index, 2);
	CHECK_MEM(cd.kem_public, kem_pk, sizeof(kem_pk));
	CHECK_MEM(cd.sealed, sealed, UM_HS_CHALLENGE_SEALED_BYTES);
	CHECK(!cd.short_form);
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, UM_HS_CHALLENGE_BYTES - 1), -UM_ETRUNC);
	/* The short form: the same header, the key left out. */
	c.short_form = true;
	CHECK_EQ(um_hs_challenge_encode(buf, sizeof(buf), &c), UM_HS_CHALLENGE_SHORT_BYTES);
	CHECK_EQ(UM_HS_CHALLENGE_BYTES - UM_HS_CHALLENGE_SHORT_BYTES, UM_HSIG_PK_BYTES);
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, UM_HS_CHALLENGE_SHORT_BYTES), 0);
	CHECK(cd.short_form);
	CHECK_MEM(cd.sealed, sealed, UM_HS_CHALLENGE_SHORT_SEALED_BYTES);
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, UM_HS_CHALLENGE_SHORT_BYTES + 1), -UM_ETRUNC);
	buf[1] = 2;
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, UM_HS_CHALLENGE_SHORT_BYTES), -UM_EVERSION);
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, 3), -UM_ETRUNC);

	struct um_hs_response r = {.sender_index = 3, .receiver_index = 4, .kem_ciphertext = kem_ct, .sealed = sealed};
	CHECK_EQ(um_hs_response_encode(buf, sizeof(buf), &r), UM_HS_RESPONSE_BYTES);
	struct um_hs_response rd;
	CHECK_EQ(um_hs_response_decode(&rd, buf, UM_HS_RESPONSE_BYTES), 0);
	CHECK_EQ(rd.sender_index, 3);
	CHECK_EQ(rd.receiver_index, 4);
	CHECK(!rd.short_form);
	CHECK_MEM(rd.kem_ciphertext, kem_ct, sizeof(kem_ct));
	r.short_form = true;
	CHECK_EQ(um_hs_response_encode(buf, sizeof(buf), &r), UM_HS_RESPONSE_SHORT_BYTES);
	/* The key (2624 bytes) gives way to the 32-byte peer ID. */
	CHECK_EQ(UM_HS_RESPONSE_BYTES - UM_HS_RESPONSE_SHORT_BYTES, UM_HSIG_PK_BYTES - UM_PEER_ID_BYTES);
	CHECK_EQ(um_hs_response_decode(&rd, buf, UM_HS_RESPONSE_SHORT_BYTES), 0);
	CHECK(rd.short_form);
	CHECK_MEM(rd.sealed, sealed, UM_HS_RESPONSE_SHORT_SEALED_BYTES);
	CHECK_EQ(um_hs_response_decode(&rd, buf, UM_HS_RESPONSE_SHORT_BYTES - 1), -UM_ETRUNC);
	r.short_form = false;
	CHECK_EQ(um_hs_response_encode(buf, sizeof(buf), &r), UM_HS_RESPONSE_BYTES);
	CHECK_EQ(um_hs_challenge_decode(&cd, buf, UM_HS_RESPONSE_BYTES), -UM_ETRUNC);
	CHECK_EQ(um_hs_response_encode(buf, 100, &r), -UM_ERANGE);
}

static void test_established_params(void)
{
	uint8_t plain[UM_HS_ESTABLISHED_PLAIN_BYTES];
	struct um_hs_params p = {.mtu = 1420,
				 .heartbeat_s = 10,
				 .rotation_s = 120,
				 .flags = UM_HS_FLAG_DIRECT_P2P,
				 .observed = {.family = 6, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 7}, .port = 51820}};
	memset(p.session_id, 0xab, sizeof(p.session_id));
	um_hs_params_encode(plain, &p);
	struct um_hs_params q;
	CHECK_EQ(um_hs_params_decode(&q, plain), 0);
	CHECK_EQ(q.mtu, 1420);
	CHECK_EQ(q.heartbeat_s, 10);
	CHECK_EQ(q.rotation_s, 120);
	CHECK_EQ(q.flags, UM_HS_FLAG_DIRECT_P2P);
	CHECK(um_addr_equal(&q.observed, &p.observed));
	CHECK_MEM(q.session_id, p.session_id, 16);
	plain[24] = 0x80; /* unknown flag */
	CHECK_EQ(um_hs_params_decode(&q, plain), -UM_EINVAL);
	plain[24] = 0;
	plain[25] = 5; /* bad family */
	CHECK_EQ(um_hs_params_decode(&q, plain), -UM_EINVAL);

	uint8_t s[UM_HS_ESTABLISHED_PLAIN_BYTES + UM_HS_TAG_BYTES] = {0};
	struct um_hs_established e = {.receiver_index = 9, .sender_index = 8, .sealed = s};
	CHECK_EQ(um_hs_established_encode(buf, sizeof(buf), &e), UM_HS_ESTABLISHED_BYTES);
	struct um_hs_established ed;
	CHECK_EQ(um_hs_established_decode(&ed, buf, UM_HS_ESTABLISHED_BYTES), 0);
	CHECK_EQ(ed.receiver_index, 9);
	CHECK_EQ(ed.sender_index, 8);
	CHECK_EQ(um_hs_established_decode(&ed, buf, UM_HS_ESTABLISHED_BYTES + 1), -UM_ETRUNC);
}

static void test_cookie_reply(void)
{
	uint8_t nonce[24] = {1}, s[32] = {2};
	struct um_hs_cookie_reply c = {.receiver_index = 77, .nonce = nonce, .sealed = s};
	CHECK_EQ(um_hs_cookie_reply_encode(buf, sizeof(buf), &c), UM_HS_COOKIE_REPLY_BYTES);
	struct um_hs_cookie_reply d;
	CHECK_EQ(um_hs_cookie_reply_decode(&d, buf, UM_HS_COOKIE_REPLY_BYTES), 0);
	CHECK_EQ(d.receiver_index, 77);
	CHECK_MEM(d.nonce, nonce, 24);
	buf[1] = 1;
	CHECK_EQ(um_hs_cookie_reply_decode(&d, buf, UM_HS_COOKIE_REPLY_BYTES), -UM_EINVAL);
	CHECK_EQ(um_hs_cookie_reply_decode(&d, buf, UM_HS_COOKIE_REPLY_BYTES - 1), -UM_ETRUNC);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(a32, sizeof(a32));
	randombytes_buf(n16, sizeof(n16));
	randombytes_buf(kem_pk, sizeof(kem_pk));
	randombytes_buf(kem_ct, sizeof(kem_ct));
	randombytes_buf(sealed, sizeof(sealed));
	RUN(test_sizes);
	RUN(test_hello);
	RUN(test_challenge_response);
	RUN(test_established_params);
	RUN(test_cookie_reply);
	return um_test_end();
}
