/* SPDX-License-Identifier: MIT */
/* bench-envelope: sealed envelopes (msg/envelope.h) sealed and opened per
 * second in each size bucket, with and without the sender's public key,
 * and the cost of a prekey bundle (make + sign, verify).
 *   bench-envelope [SECONDS]   (default 1 s per figure) */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/envelope.h"
#include "msg/prekey.h"
#include "util/clock.h"
#include "util/error.h"

#define NOW_MS 1800000000000ULL

static uint8_t env[UM_ENVELOPE_SIZE_MAX];
static uint8_t plain[UM_ENVELOPE_SIZE_MAX];
static uint8_t payload[UM_ENVELOPE_PAYLOAD_MAX];

static struct um_identity alice, bob;
static struct um_prekey_ring *ring;
static struct um_prekey_public prekey;

static int lookup_find(void *ctx, const uint8_t id[UM_PEER_ID_BYTES], uint8_t pk[UM_HSIG_PK_BYTES])
{
	(void)ctx;
	if (memcmp(id, alice.id.bytes, UM_PEER_ID_BYTES) != 0)
		return -UM_ENOTFOUND;
	memcpy(pk, alice.public_key, UM_HSIG_PK_BYTES);
	return 0;
}

/* Seals (open false) or opens (open true) for `seconds`: operations/s. */
static double rate(size_t len, bool with_pk, bool open, double seconds)
{
	struct um_envelope_key_lookup lookup = {lookup_find, NULL};
	uint8_t id[UM_ENVELOPE_ID_BYTES] = {0};
	uint64_t start = um_now_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
	size_t env_len = 0, n = 0;

	if (um_envelope_seal(&alice, &prekey, id, NOW_MS, 1, payload, len, with_pk, env, sizeof(env), &env_len) != 0)
		return -1;
	while (now < end) {
		int rc;

		if (open) {
			struct um_envelope_opened o = {.buf = plain, .cap = sizeof(plain)};
			rc = um_envelope_open(ring, bob.id.bytes, env, env_len, &lookup, &o);
		} else {
			id[0]++;
			rc = um_envelope_seal(&alice, &prekey, id, NOW_MS, 1, payload, len, with_pk, env, sizeof(env),
					      &env_len);
		}
		if (rc != 0)
			return -1;
		n++;
		now = um_now_ns();
	}
	return (double)n / ((double)(now - start) / 1e9);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES];
	size_t bundle_len = 0;
	uint64_t t0;
	int n;

	if (sodium_init() < 0 || seconds <= 0)
		return 1;
	randombytes_buf(payload, sizeof(payload));
	if (um_identity_generate(&alice) || um_identity_generate(&bob) || um_prekey_ring_new(&ring))
		return 1;

	/* Prekey bundles: a fresh one per rotation (keygen + sign), and the sender's verification. */
	t0 = um_now_ns();
	for (n = 0; n < 20; n++)
		if (um_prekey_ring_rotate(ring, &bob, NOW_MS + (uint64_t)n * UM_PREKEY_LIFETIME_DEFAULT,
					  UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT) != 1)
			return 1;
	printf("prekey rotate (keygen + sign): %.2f ms\n", (double)(um_now_ns() - t0) / 1e6 / n);
	uint64_t now_ms = NOW_MS + 19 * UM_PREKEY_LIFETIME_DEFAULT;
	if (um_prekey_ring_public(ring, bundle, sizeof(bundle), &bundle_len))
		return 1;
	t0 = um_now_ns();
	for (n = 0; n < 20; n++)
		if (um_prekey_bundle_verify(bundle, bundle_len, bob.public_key, now_ms, &prekey) != 0)
			return 1;
	printf("prekey bundle verify: %.2f ms (bundle %d bytes)\n", (double)(um_now_ns() - t0) / 1e6 / n,
	       UM_PREKEY_BUNDLE_BYTES);

	printf("%-7s %-9s %9s %12s %12s %12s %12s\n", "bucket", "size", "payload", "seal/s", "open/s", "seal/s+pk",
	       "open/s+pk");
	for (uint8_t b = 0; b < UM_ENVELOPE_BUCKETS; b++) {
		size_t size = um_envelope_bucket_size(b);
		size_t room = size - UM_ENVELOPE_OVERHEAD(false);
		size_t room_pk = size > UM_ENVELOPE_OVERHEAD(true) ? size - UM_ENVELOPE_OVERHEAD(true) : 0;

		if (room > UM_ENVELOPE_PAYLOAD_MAX)
			room = UM_ENVELOPE_PAYLOAD_MAX;
		if (room_pk > UM_ENVELOPE_PAYLOAD_MAX)
			room_pk = UM_ENVELOPE_PAYLOAD_MAX;
		double seal = rate(room, false, false, seconds), open = rate(room, false, true, seconds);
		double seal_pk = room_pk ? rate(room_pk, true, false, seconds) : 0;
		double open_pk = room_pk ? rate(room_pk, true, true, seconds) : 0;
		if (seal < 0 || open < 0 || seal_pk < 0 || open_pk < 0) {
			fprintf(stderr, "bench-envelope: seal/open failed\n");
			return 1;
		}
		printf("%-7u %-9zu %9zu %12.0f %12.0f %12.0f %12.0f\n", b, size, room, seal, open, seal_pk, open_pk);
	}
	um_prekey_ring_free(ring);
	um_identity_wipe(&alice);
	um_identity_wipe(&bob);
	return 0;
}
