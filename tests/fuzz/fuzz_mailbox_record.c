/* SPDX-License-Identifier: MIT */
/* The mailbox record's parsers (msg/mailbox_record.h): a DHT storer's check
 * and a sender's verification of arbitrary bytes, under the key of the
 * owner the bytes name and under a fixed key, and a valid record under
 * arbitrary damage (the input XORed over it): it verifies only when
 * nothing changed. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/mailbox_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1800000000000ULL

static struct um_identity owner;
static uint8_t valid[UM_MAILBOX_RECORD_MAX];
static size_t valid_len;

static void init(void)
{
	static struct um_prekey_ring *ring;
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES];
	const char *urls[2] = {"http://10.0.0.1:8080", "http://10.0.0.2:8080"};
	size_t len;
	uint8_t seed[UM_HSIG_SEED_BYTES] = {7};

	if (sodium_init() < 0 || um_identity_from_seed(&owner, seed) || um_prekey_ring_new(&ring) ||
	    um_prekey_ring_rotate(ring, &owner, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT) < 0 ||
	    um_prekey_ring_public(ring, bundle, sizeof(bundle), &len) ||
	    um_mailbox_record_build(valid, sizeof(valid), &valid_len, &owner, bundle, len, urls, 2, 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t copy[UM_MAILBOX_RECORD_MAX];
	struct um_mailbox_record m;
	uint8_t key[32];

	if (!ready) {
		init();
		ready = true;
	}
	um_mailbox_record_key(owner.id.bytes, key);
	if (um_mailbox_record_check(key, data, size, NOW_MS, &m) == 0 && memcmp(m.owner, owner.id.bytes, 32))
		__builtin_trap();
	if (size >= 34) {
		um_mailbox_record_key(data + 2, key);
		(void)um_mailbox_record_check(key, data, size, NOW_MS, &m);
	}
	(void)um_mailbox_record_verify(data, size, owner.public_key, NOW_MS, &m);
	/* Damage: XOR the input over the valid record. */
	memcpy(copy, valid, valid_len);
	bool changed = false;
	for (size_t i = 0; i < size && i < valid_len; i++) {
		copy[i] ^= data[i];
		changed |= data[i] != 0;
	}
	int rc = um_mailbox_record_verify(copy, valid_len, owner.public_key, NOW_MS, &m);
	if ((rc == 0) == changed)
		__builtin_trap();
	return 0;
}
