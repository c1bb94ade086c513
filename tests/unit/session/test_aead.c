/* SPDX-License-Identifier: MIT */
/* ChaCha20-Poly1305 (EVP, and libsodium for small messages): cross-checked
 * against libsodium's IETF construction with the documented nonce layout,
 * key caching, tampering on both paths. */
#include <sodium.h>
#include <stdint.h>

#include "session/aead.h"
#include "test.h"
#include "util/error.h"

static void nonce_for(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void test_matches_libsodium(void)
{
	struct um_aead a;
	uint8_t key[32], ad[16], msg[1500], buf[1500], tag[16];
	uint8_t ref[1500 + 16];
	CHECK_EQ(um_aead_init(&a), 0);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(ad, sizeof(ad));
	randombytes_buf(msg, sizeof(msg));
	size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 65, UM_AEAD_SMALL_MAX, UM_AEAD_SMALL_MAX + 1, 1420, 1500};
	uint64_t counters[] = {0, 1, 255, 1ull << 32, UINT64_MAX};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t j = 0; j < sizeof(counters) / sizeof(counters[0]); j++) {
			size_t len = lens[i];
			uint8_t nonce[12];
			unsigned long long ref_len;
			nonce_for(nonce, counters[j]);
			crypto_aead_chacha20poly1305_ietf_encrypt(ref, &ref_len, msg, len, ad, 16, NULL, nonce, key);
			memcpy(buf, msg, len);
			CHECK_EQ(um_aead_seal(&a, 7, key, counters[j], ad, 16, buf, len, tag), 0);
			CHECK_MEM(buf, ref, len);
			CHECK_MEM(tag, ref + len, 16);
			CHECK_EQ(um_aead_open(&a, 7, key, counters[j], ad, 16, buf, len, tag), 0);
			CHECK_MEM(buf, msg, len);
		}
	}
	um_aead_free(&a);
}

/* len: 200 takes the EVP path, 100 the small-message path. */
static void tamper_rejected(size_t len)
{
	struct um_aead a;
	uint8_t key[32] = {1}, ad[16] = {0x10}, msg[200], buf[200], tag[16], t2[16];
	CHECK_EQ(um_aead_init(&a), 0);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	memcpy(buf, msg, len);
	CHECK_EQ(um_aead_seal(&a, 1, key, 42, ad, 16, buf, len, tag), 0);
	uint8_t sealed[200];
	memcpy(sealed, buf, len);
	/* Flip each bit position class: ciphertext, tag, associated data, counter. */
	for (size_t bit = 0; bit < len * 8; bit += 37) {
		memcpy(buf, sealed, len);
		buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		CHECK_EQ(um_aead_open(&a, 1, key, 42, ad, 16, buf, len, tag), -UM_EBADMSG);
	}
	memcpy(t2, tag, 16);
	t2[15] ^= 0x80;
	memcpy(buf, sealed, len);
	CHECK_EQ(um_aead_open(&a, 1, key, 42, ad, 16, buf, len, t2), -UM_EBADMSG);
	uint8_t ad2[16];
	memcpy(ad2, ad, 16);
	ad2[3] ^= 1;
	memcpy(buf, sealed, len);
	CHECK_EQ(um_aead_open(&a, 1, key, 42, ad2, 16, buf, len, tag), -UM_EBADMSG);
	memcpy(buf, sealed, len);
	CHECK_EQ(um_aead_open(&a, 1, key, 43, ad, 16, buf, len, tag), -UM_EBADMSG);
	/* After failures the context still works. */
	memcpy(buf, sealed, len);
	CHECK_EQ(um_aead_open(&a, 1, key, 42, ad, 16, buf, len, tag), 0);
	CHECK_MEM(buf, msg, len);
	um_aead_free(&a);
}

static void test_tamper_rejected(void)
{
	tamper_rejected(200);
	tamper_rejected(100);
}

static void test_key_cache(void)
{
	struct um_aead a, b;
	uint8_t k1[32], k2[32], buf[64] = {0}, tag[16];
	memset(k1, 1, 32);
	memset(k2, 2, 32);
	CHECK_EQ(um_aead_init(&a), 0);
	CHECK_EQ(um_aead_init(&b), 0);
	/* Alternate keys with ids: each seal must use its own key. */
	for (int i = 0; i < 4; i++) {
		const uint8_t *k = (i & 1) ? k2 : k1;
		uint64_t id = (i & 1) ? 2 : 1;
		memset(buf, i, sizeof(buf));
		CHECK_EQ(um_aead_seal(&a, id, k, (uint64_t)i, NULL, 0, buf, sizeof(buf), tag), 0);
		CHECK_EQ(um_aead_open(&b, 0, k, (uint64_t)i, NULL, 0, buf, sizeof(buf), tag), 0);
		CHECK_EQ(buf[10], i);
	}
	um_aead_free(&a);
	um_aead_free(&b);
}

static void test_seal_parts(void)
{
	struct um_aead a;
	uint8_t key[32] = {5}, msg[300], one[300], parts_out[300], t1[16], t2[16];
	CHECK_EQ(um_aead_init(&a), 0);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 11);
	memcpy(one, msg, sizeof(one));
	CHECK_EQ(um_aead_seal(&a, 3, key, 9, NULL, 0, one, sizeof(one), t1), 0);
	/* Head in place, body elsewhere, odd split points. */
	memcpy(parts_out, msg, 52);
	struct iovec parts[3] = {{parts_out, 52}, {msg + 52, 100}, {msg + 152, 148}};
	CHECK_EQ(um_aead_seal_parts(&a, 3, key, 9, NULL, 0, parts, 3, parts_out, t2), 0);
	CHECK_MEM(parts_out, one, sizeof(one));
	CHECK_MEM(t1, t2, 16);
	um_aead_free(&a);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_matches_libsodium);
	RUN(test_tamper_rejected);
	RUN(test_key_cache);
	RUN(test_seal_parts);
	return um_test_end();
}
