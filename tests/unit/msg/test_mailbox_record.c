/* SPDX-License-Identifier: MIT */
/* The mailbox record (msg/mailbox_record.h): a round trip, the size
 * against the DHT's value limit, a storer's check (key binding, expiry,
 * the Ed25519 signature, a forger's own Ed25519 key accepted by a storer
 * but refused by a sender), the sender's verification (wrong owner key,
 * every byte region flipped), malformed layouts. */
#include <sodium.h>
#include <string.h>

#include "dht/dht.h"
#include "msg/mailbox_record.h"
#include "test.h"
#include "util/error.h"

#define NOW_MS 1800000000000ULL

static struct um_identity owner, other;
static struct um_prekey_ring *ring;
static uint8_t bundle[UM_PREKEY_BUNDLE_BYTES];
static uint8_t rec[UM_MAILBOX_RECORD_MAX + 16];
static size_t rec_len;
static uint8_t key[32];
static const char *urls[2] = {"http://10.0.0.1:8080", "https://relay.example:443"};

static void setup(void)
{
	size_t len;

	CHECK_EQ(um_identity_generate(&owner), 0);
	CHECK_EQ(um_identity_generate(&other), 0);
	CHECK_EQ(um_prekey_ring_new(&ring), 0);
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &len), 0);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &rec_len, &owner, bundle, len, urls, 2, 7), 0);
	um_mailbox_record_key(owner.id.bytes, key);
}

static void teardown(void)
{
	um_prekey_ring_free(ring);
	ring = NULL;
	um_identity_wipe(&owner);
	um_identity_wipe(&other);
}

static void test_round_trip(void)
{
	struct um_mailbox_record m;
	struct um_prekey_public pub;
	size_t len;

	setup();
	CHECK(rec_len <= (size_t)UM_MAILBOX_RECORD_MAX);
	CHECK(rec_len <= (size_t)UM_DHT_VALUE_MAX);
	CHECK((size_t)UM_MAILBOX_RECORD_MAX <= (size_t)UM_DHT_VALUE_MAX);
	CHECK_EQ(um_mailbox_record_check(key, rec, rec_len, NOW_MS, &m), 0);
	CHECK_EQ(m.sequence, 7u);
	CHECK_EQ(m.n_urls, 2u);
	CHECK(strcmp(m.urls[0], urls[0]) == 0);
	CHECK(strcmp(m.urls[1], urls[1]) == 0);
	CHECK_EQ(um_mailbox_record_verify(rec, rec_len, owner.public_key, NOW_MS, &m), 0);
	CHECK_EQ(um_prekey_bundle_verify(bundle, sizeof(bundle), owner.public_key, NOW_MS, &pub), 0);
	CHECK_EQ(m.prekey.id, pub.id);
	CHECK_EQ(m.prekey.expires_ms, pub.expires_ms);
	CHECK_EQ(m.expires_ms, pub.expires_ms);
	CHECK_MEM(m.prekey.pk, pub.pk, UM_HKEM_PK_BYTES);
	CHECK_MEM(m.prekey.owner, owner.id.bytes, 32);
	/* One URL; a maximal one. */
	char longest[UM_MAILBOX_RECORD_URL_MAX + 2];
	memset(longest, 'a', sizeof(longest));
	longest[UM_MAILBOX_RECORD_URL_MAX] = '\0';
	const char *two[2] = {longest, longest};
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle), two, 2, 8), 0);
	CHECK_EQ(len, (size_t)UM_MAILBOX_RECORD_MAX);
	CHECK_EQ(um_mailbox_record_verify(rec, len, owner.public_key, NOW_MS, &m), 0);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle), urls, 1, 9), 0);
	CHECK_EQ(um_mailbox_record_verify(rec, len, owner.public_key, NOW_MS, &m), 0);
	CHECK_EQ(m.n_urls, 1u);
	teardown();
}

static void test_build_refusals(void)
{
	size_t len;
	char longer[UM_MAILBOX_RECORD_URL_MAX + 2];
	const char *bad[2] = {longer, ""};

	setup();
	memset(longer, 'a', sizeof(longer));
	longer[UM_MAILBOX_RECORD_URL_MAX + 1] = '\0';
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle), bad, 1, 1),
		 -UM_EINVAL);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle), bad + 1, 1, 1),
		 -UM_EINVAL);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle), urls, 0, 1),
		 -UM_EINVAL);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle), urls, 3, 1),
		 -UM_EINVAL);
	/* Another owner's bundle; a short one; a short buffer. */
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &other, bundle, sizeof(bundle), urls, 1, 1),
		 -UM_EINVAL);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &len, &owner, bundle, sizeof(bundle) - 1, urls, 1, 1),
		 -UM_EINVAL);
	CHECK_EQ(um_mailbox_record_build(rec, 1000, &len, &owner, bundle, sizeof(bundle), urls, 1, 1), -UM_ERANGE);
	teardown();
}

static void test_storer_and_sender(void)
{
	struct um_mailbox_record m;
	uint8_t wrong_key[32], copy[sizeof(rec)];

	setup();
	/* Key binding, expiry. */
	um_mailbox_record_key(other.id.bytes, wrong_key);
	CHECK_EQ(um_mailbox_record_check(wrong_key, rec, rec_len, NOW_MS, &m), -UM_EBADMSG);
	CHECK_EQ(um_mailbox_record_check(key, rec, rec_len, NOW_MS + UM_PREKEY_LIFETIME_DEFAULT, &m), -UM_EREPLAY);
	CHECK_EQ(um_mailbox_record_verify(rec, rec_len, owner.public_key, NOW_MS + UM_PREKEY_LIFETIME_DEFAULT, &m),
		 -UM_EREPLAY);
	CHECK_EQ(um_mailbox_record_verify(rec, rec_len, owner.public_key, NOW_MS - 2 * UM_PREKEY_HOUR_MS, &m),
		 -UM_ERANGE);
	/* The sender with another peer's key: another DHT key. */
	CHECK_EQ(um_mailbox_record_verify(rec, rec_len, other.public_key, NOW_MS, &m), -UM_EBADMSG);
	/* A forger: the owner's record re-signed (Ed25519) with its own key. A
	 * storer accepts it (it cannot tell), the sender does not. */
	memcpy(copy, rec, rec_len);
	size_t ed_pk_at = rec_len - 64 - UM_HSIG_BYTES - 32;
	memcpy(copy + ed_pk_at, other.public_key, 32);
	crypto_sign_detached(copy + rec_len - 64, NULL, copy, rec_len - 64, other.secret_key);
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), 0);
	CHECK_EQ(um_mailbox_record_verify(copy, rec_len, owner.public_key, NOW_MS, &m), -UM_EBADMSG);
	/* A URL changed and the Ed25519 signature redone by someone holding
	 * only the Ed25519 key: the hybrid signature still refuses it. */
	memcpy(copy, rec, rec_len);
	copy[2 + 32 + 8 + 8 + 1 + 1] ^= 1;
	crypto_sign_detached(copy + rec_len - 64, NULL, copy, rec_len - 64, owner.secret_key);
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), 0);
	CHECK_EQ(um_mailbox_record_verify(copy, rec_len, owner.public_key, NOW_MS, &m), -UM_EBADMSG);
	/* Every byte region flipped: nothing verifies. */
	for (size_t at = 0; at < rec_len; at += 97) {
		memcpy(copy, rec, rec_len);
		copy[at] ^= 0x40;
		CHECK(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m) != 0 ||
		      um_mailbox_record_verify(copy, rec_len, owner.public_key, NOW_MS, &m) != 0);
		CHECK(um_mailbox_record_verify(copy, rec_len, owner.public_key, NOW_MS, &m) != 0);
	}
	teardown();
}

static void test_malformed(void)
{
	struct um_mailbox_record m;
	uint8_t copy[sizeof(rec)];

	setup();
	CHECK_EQ(um_mailbox_record_check(key, rec, 1, NOW_MS, &m), -UM_ETRUNC);
	CHECK_EQ(um_mailbox_record_check(key, rec, rec_len - 1, NOW_MS, &m), -UM_ETRUNC);
	memcpy(copy, rec, rec_len);
	copy[rec_len] = 0;
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len + 1, NOW_MS, &m), -UM_EINVAL);
	copy[0] = 2;
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), -UM_EVERSION);
	copy[0] = 1;
	copy[1] = 1; /* a peer record's type */
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), -UM_EINVAL);
	copy[1] = UM_MAILBOX_RECORD_TYPE;
	copy[2 + 32 + 16] = 0; /* no URL */
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), -UM_EINVAL);
	copy[2 + 32 + 16] = 3;
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), -UM_EINVAL);
	copy[2 + 32 + 16] = 2;
	copy[2 + 32 + 16 + 1] = 0; /* an empty URL */
	CHECK_EQ(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m), -UM_EINVAL);
	copy[2 + 32 + 16 + 1] = 255; /* past the end */
	CHECK(um_mailbox_record_check(key, copy, rec_len, NOW_MS, &m) != 0);
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_round_trip);
	RUN(test_build_refusals);
	RUN(test_storer_and_sender);
	RUN(test_malformed);
	return um_test_end();
}
