/* SPDX-License-Identifier: MIT */
/* The node's DHT value check (node/dht_publish.c): a mailbox record is
 * accepted under its owner's key and filed under H(owner || Ed25519 key)
 * with its sequence and expiry; under another key, expired, or damaged it
 * is refused; a forger's record (its own Ed25519 key) gets another slot;
 * the DHT's own types still go to um_dht_record_check. */
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "crypto/sha3.h"
#include "msg/mailbox_record.h"
#include "node/dht_internal.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"

static void test_value_check(void)
{
	struct um_identity owner, forger;
	struct um_prekey_ring *ring;
	struct um_dht_record_clock clock;
	struct um_dht_value_info info, forged_info;
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], rec[UM_MAILBOX_RECORD_MAX], key[32], other_key[32], slot[64], want[32];
	const char *urls[1] = {"http://192.0.2.1:8080"};
	struct timespec ts;
	size_t len, rec_len;
	uint64_t now_ns = 5 * UM_NSEC_PER_SEC, now_ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000;
	um_dht_record_clock_set(&clock, (uint64_t)ts.tv_sec * UM_NSEC_PER_SEC, now_ns);
	CHECK_EQ(um_identity_generate(&owner), 0);
	CHECK_EQ(um_identity_generate(&forger), 0);
	CHECK_EQ(um_prekey_ring_new(&ring), 0);
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, now_ms, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &len), 0);
	CHECK_EQ(um_mailbox_record_build(rec, sizeof(rec), &rec_len, &owner, bundle, len, urls, 1, 42), 0);
	um_mailbox_record_key(owner.id.bytes, key);

	memset(&info, 0, sizeof(info));
	CHECK_EQ(um_node_dht_value_check(&clock, key, rec, rec_len, now_ns, &info), 0);
	memcpy(slot, owner.id.bytes, 32);
	memcpy(slot + 32, owner.public_key, 32);
	um_sha3_256(want, slot, sizeof(slot));
	CHECK_MEM(info.owner, want, 32);
	CHECK_EQ(info.sequence, 42u);
	/* Expires with the prekey: about 7 days after now on the monotonic clock. */
	uint64_t lifetime_ns = UM_PREKEY_LIFETIME_DEFAULT * UM_NSEC_PER_MSEC;
	CHECK(info.expires_ns > now_ns + lifetime_ns - 2 * UM_NSEC_PER_SEC);
	CHECK(info.expires_ns <= now_ns + lifetime_ns + 2 * UM_NSEC_PER_SEC);

	/* Another key, expired, damaged. */
	um_mailbox_record_key(forger.id.bytes, other_key);
	CHECK_EQ(um_node_dht_value_check(&clock, other_key, rec, rec_len, now_ns, &info), -UM_EBADMSG);
	CHECK_EQ(um_node_dht_value_check(&clock, key, rec, rec_len, now_ns + lifetime_ns + UM_NSEC_PER_SEC, &info),
		 -UM_EREPLAY);
	rec[rec_len / 2] ^= 1;
	CHECK_EQ(um_node_dht_value_check(&clock, key, rec, rec_len, now_ns, &info), -UM_EBADMSG);
	rec[rec_len / 2] ^= 1;

	/* A forger's Ed25519 key: accepted by a storer, in another slot. */
	memcpy(rec + rec_len - 64 - UM_HSIG_BYTES - 32, forger.public_key, 32);
	crypto_sign_detached(rec + rec_len - 64, NULL, rec, rec_len - 64, forger.secret_key);
	CHECK_EQ(um_node_dht_value_check(&clock, key, rec, rec_len, now_ns, &forged_info), 0);
	CHECK(memcmp(forged_info.owner, want, 32) != 0);

	/* Not a mailbox record: the DHT's own check answers. */
	rec[1] = 1; /* a peer record's type */
	CHECK(um_node_dht_value_check(&clock, key, rec, rec_len, now_ns, &info) != 0);
	rec[1] = 0x7f;
	CHECK_EQ(um_node_dht_value_check(&clock, key, rec, rec_len, now_ns, &info), -UM_EINVAL);

	um_prekey_ring_free(ring);
	um_identity_wipe(&owner);
	um_identity_wipe(&forger);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_value_check);
	return um_test_end();
}
