/* SPDX-License-Identifier: MIT */
/* ChaCha20-Poly1305 (crypto/chacha20poly1305.h) against libsodium on
 * arbitrary input; any disagreement aborts.
 * Input (a short header is zero padded):
 *   key (32) | nonce (12) | ad_len (1) | flags (1) | counter (4, LE) | ad | rest
 * where ad takes min(ad_len, what is left) bytes and rest is the remainder.
 * Checks:
 *   - seal(rest) gives libsodium's ciphertext and tag; open of that succeeds
 *     and restores rest (and libsodium opens it too);
 *   - Poly1305 under the input key over ad | rest, and ChaCha20 from the
 *     input counter over rest, equal libsodium's;
 *   - rest read as ciphertext | tag (16): open's verdict equals libsodium's,
 *     the plaintext too on success, and buf is untouched on failure. With
 *     flags bit 0 the input tag is an XOR difference to the right tag, so
 *     valid and nearly valid tags on arbitrary ciphertexts are reachable. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/chacha20poly1305.h"
#include "util/bytes.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HEADER_LEN = 32 + 12 + 1 + 1 + 4, MAX_BODY = 8192 };

static uint8_t msg[MAX_BODY], buf[MAX_BODY], ref[MAX_BODY], back[MAX_BODY];

static void check(int ok)
{
	if (!ok)
		abort();
}

/* seal / open round trip against libsodium. */
static void check_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t ad_len, const uint8_t *body,
		       size_t len)
{
	uint8_t tag[16], ref_tag[16];
	unsigned long long ref_tag_len = 0;

	memcpy(buf, body, len);
	um_chacha20poly1305_seal(key, nonce, ad, ad_len, buf, len, tag);
	check(crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, ref_tag, &ref_tag_len, body, len, ad, ad_len,
								 NULL, nonce, key) == 0);
	check(memcmp(buf, ref, len) == 0 && memcmp(tag, ref_tag, 16) == 0);
	check(crypto_aead_chacha20poly1305_ietf_decrypt_detached(back, NULL, buf, len, tag, ad, ad_len, nonce, key) ==
	      0);
	check(um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag) == 0);
	check(memcmp(buf, body, len) == 0);
}

/* body as ciphertext | tag: the verdict and plaintext must match libsodium. */
static void check_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t ad_len, const uint8_t *body,
		       size_t len, int tag_is_delta)
{
	uint8_t tag[16];

	if (len < 16)
		return;
	len -= 16;
	memcpy(tag, body + len, 16);
	if (tag_is_delta) {
		/* The right tag for this ciphertext: Poly1305 under block 0's key
		 * computed by libsodium (encrypting the plaintext that gives it). */
		uint8_t right[16];
		unsigned long long right_len = 0;

		crypto_stream_chacha20_ietf_xor_ic(back, body, len, nonce, 1, key);
		check(crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, right, &right_len, back, len, ad, ad_len,
									 NULL, nonce, key) == 0);
		check(memcmp(ref, body, len) == 0);
		for (int i = 0; i < 16; i++)
			tag[i] ^= right[i];
	}
	memcpy(buf, body, len);
	int rc = um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag);
	int ref_rc =
	    crypto_aead_chacha20poly1305_ietf_decrypt_detached(ref, NULL, body, len, tag, ad, ad_len, nonce, key);
	check(rc == 0 || rc == -UM_EBADMSG);
	check((rc == 0) == (ref_rc == 0));
	check(memcmp(buf, rc == 0 ? ref : body, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t header[HEADER_LEN] = {0}, tag[16], ref_tag[16];

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	if (size > HEADER_LEN + MAX_BODY)
		return 0;
	memcpy(header, data, size < HEADER_LEN ? size : HEADER_LEN);
	const uint8_t *key = header, *nonce = header + 32;
	size_t ad_want = header[44];
	int flags = header[45];
	uint32_t counter = um_load32_le(header + 46);

	/* ad and rest point into a copy so that neither aliases the outputs. */
	size_t body_len = size > HEADER_LEN ? size - HEADER_LEN : 0;
	memcpy(msg, data + (size - body_len), body_len);
	size_t ad_len = ad_want < body_len ? ad_want : body_len;
	const uint8_t *ad = msg, *rest = msg + ad_len;
	size_t len = body_len - ad_len;

	check_seal(key, nonce, ad, ad_len, rest, len);
	check_open(key, nonce, ad, ad_len, rest, len, flags & 1);

	um_poly1305(key, msg, body_len, tag);
	crypto_onetimeauth_poly1305(ref_tag, msg, body_len, key);
	check(memcmp(tag, ref_tag, 16) == 0);

	/* Keep the block counter from wrapping (outside the API's contract). */
	uint64_t blocks = (len + 63) / 64;
	if (counter + blocks > (1ULL << 32))
		counter = (uint32_t)((1ULL << 32) - blocks);
	um_chacha20_xor(key, nonce, counter, rest, buf, len);
	crypto_stream_chacha20_ietf_xor_ic(ref, rest, len, nonce, counter, key);
	check(memcmp(buf, ref, len) == 0);
	return 0;
}
