/* SPDX-License-Identifier: MIT */
#include "session/cookie.h"

#include <sodium.h>
#include <string.h>

#include "util/error.h"

static void derive_key(uint8_t out[32], const char *label, const struct um_peer_id *id)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, id->bytes, UM_PEER_ID_BYTES);
	crypto_generichash_final(&st, out, 32);
}

static void mac(uint8_t out[UM_HS_MAC_BYTES], const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len)
{
	crypto_generichash(out, UM_HS_MAC_BYTES, msg, len, key, key_len);
}

void um_cookie_checker_init(struct um_cookie_checker *checker, const struct um_peer_id *our_id)
{
	memset(checker, 0, sizeof(*checker));
	derive_key(checker->mac1_key, "umbra-hs-v1 mac1", our_id);
	derive_key(checker->seal_key, "umbra-hs-v1 cookie", our_id);
}

void um_cookie_checker_wipe(struct um_cookie_checker *checker)
{
	sodium_memzero(checker, sizeof(*checker));
}

static void make_cookie(struct um_cookie_checker *checker, uint8_t cookie[UM_HS_COOKIE_BYTES],
			const struct um_addr *source, uint64_t now_ns)
{
	if (!checker->secret_set || now_ns - checker->secret_birth_ns >= UM_COOKIE_SECRET_LIFE_NS) {
		randombytes_buf(checker->secret, sizeof(checker->secret));
		checker->secret_birth_ns = now_ns;
		checker->secret_set = true;
	}
	uint8_t addr[UM_ADDR_WIRE_BYTES];
	um_addr_encode(source, addr);
	mac(cookie, checker->secret, sizeof(checker->secret), addr, sizeof(addr));
}

enum um_cookie_mac_state um_cookie_validate(struct um_cookie_checker *checker, const uint8_t *msg, size_t len,
					    const struct um_addr *source, uint64_t now_ns)
{
	uint8_t computed[UM_HS_MAC_BYTES], cookie[UM_HS_COOKIE_BYTES];
	enum um_cookie_mac_state state = UM_COOKIE_MAC_INVALID;

	if (len < 2 * UM_HS_MAC_BYTES)
		goto out;
	mac(computed, checker->mac1_key, sizeof(checker->mac1_key), msg, len - 2 * UM_HS_MAC_BYTES);
	if (sodium_memcmp(computed, msg + len - 2 * UM_HS_MAC_BYTES, UM_HS_MAC_BYTES) != 0)
		goto out;
	state = UM_COOKIE_MAC_VALID_NO_COOKIE;
	make_cookie(checker, cookie, source, now_ns);
	mac(computed, cookie, sizeof(cookie), msg, len - UM_HS_MAC_BYTES);
	if (sodium_memcmp(computed, msg + len - UM_HS_MAC_BYTES, UM_HS_MAC_BYTES) == 0)
		state = UM_COOKIE_MAC_VALID_WITH_COOKIE;
out:
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(computed, sizeof(computed));
	return state;
}

int um_cookie_reply_create(struct um_cookie_checker *checker, uint8_t *out, size_t cap, uint32_t receiver_index,
			   const uint8_t mac1[UM_HS_MAC_BYTES], const struct um_addr *source, uint64_t now_ns)
{
	uint8_t cookie[UM_HS_COOKIE_BYTES];
	uint8_t nonce[UM_HS_COOKIE_NONCE_BYTES];
	uint8_t sealed[UM_HS_COOKIE_BYTES + UM_HS_TAG_BYTES];
	int ret;

	make_cookie(checker, cookie, source, now_ns);
	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, NULL, cookie, sizeof(cookie), mac1, UM_HS_MAC_BYTES, NULL,
						   nonce, checker->seal_key);
	struct um_hs_cookie_reply reply = {.receiver_index = receiver_index, .nonce = nonce, .sealed = sealed};
	ret = um_hs_cookie_reply_encode(out, cap, &reply);
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void um_cookie_maker_init(struct um_cookie_maker *maker, const struct um_peer_id *responder_id)
{
	memset(maker, 0, sizeof(*maker));
	derive_key(maker->mac1_key, "umbra-hs-v1 mac1", responder_id);
	derive_key(maker->seal_key, "umbra-hs-v1 cookie", responder_id);
}

void um_cookie_maker_wipe(struct um_cookie_maker *maker)
{
	sodium_memzero(maker, sizeof(*maker));
}

void um_cookie_add_macs(struct um_cookie_maker *maker, uint8_t *msg, size_t len, uint64_t now_ns)
{
	uint8_t *mac1 = msg + len - 2 * UM_HS_MAC_BYTES;
	uint8_t *mac2 = msg + len - UM_HS_MAC_BYTES;

	mac(mac1, maker->mac1_key, sizeof(maker->mac1_key), msg, len - 2 * UM_HS_MAC_BYTES);
	memcpy(maker->last_mac1, mac1, UM_HS_MAC_BYTES);
	maker->last_mac1_valid = true;
	if (maker->have_cookie && now_ns - maker->cookie_birth_ns < UM_COOKIE_USE_LIFE_NS)
		mac(mac2, maker->cookie, sizeof(maker->cookie), msg, len - UM_HS_MAC_BYTES);
	else
		memset(mac2, 0, UM_HS_MAC_BYTES);
}

int um_cookie_reply_consume(struct um_cookie_maker *maker, const struct um_hs_cookie_reply *reply, uint64_t now_ns)
{
	uint8_t cookie[UM_HS_COOKIE_BYTES];
	int ret = -UM_ESTATE;

	if (!maker->last_mac1_valid)
		goto out;
	ret = -UM_EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, reply->sealed,
						       UM_HS_COOKIE_BYTES + UM_HS_TAG_BYTES, maker->last_mac1,
						       UM_HS_MAC_BYTES, reply->nonce, maker->seal_key) != 0)
		goto out;
	memcpy(maker->cookie, cookie, sizeof(cookie));
	maker->cookie_birth_ns = now_ns;
	maker->have_cookie = true;
	maker->last_mac1_valid = false; /* one reply per message sent */
	ret = 0;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}
