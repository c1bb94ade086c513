/* SPDX-License-Identifier: MIT */
/* libFuzzer target: sealed envelopes and prekey bundles (wire/envelope.h,
 * msg/envelope.h, msg/prekey.h) from hostile peers and relays.
 * Input: byte 0 chooses the mode, the rest is data.
 *   0  the outer header parser on data: accepted only at a bucket's exact size
 *   1  um_prekey_bundle_verify on data with a fixed owner key and clock: codes
 *      in the documented set; an accepted bundle re-encodes to the same bytes
 *   2  the inner plaintext decoder on data: accepted fields lie inside data
 *   3  um_envelope_open on data with a fixed ring (arbitrary bytes)
 *   4  data is the payload: sealed and opened again, the same bytes out
 *   5  a valid envelope sealed at start (with the sender's key when bit 7 is
 *      set) damaged by (u16 offset, u8 xor) records from data: it never
 *      opens unless nothing changed
 * The recipient's ring is made once per process (its keys are random, so
 * inputs reach past the AEAD only in modes 4 and 5). */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/envelope.h"
#include "msg/prekey.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1800000000000ULL

static struct um_identity sender, recipient;
static struct um_prekey_ring *ring;
static struct um_prekey_public prekey;
static uint8_t env[UM_ENVELOPE_SIZE_MAX];
static uint8_t plain[UM_ENVELOPE_SIZE_MAX];
static uint8_t again[UM_ENVELOPE_SIZE_MAX];

/* Two envelopes sealed at start: without and with the sender's key. */
struct sealed {
	uint8_t env[16384];
	size_t len;
};
static struct sealed fixed[2];

static void init(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES], bundle[UM_PREKEY_BUNDLE_BYTES];
	size_t len;

	if (sodium_init() < 0)
		abort();
	memset(seed, 0x11, sizeof(seed));
	um_identity_from_seed(&sender, seed);
	memset(seed, 0x22, sizeof(seed));
	um_identity_from_seed(&recipient, seed);
	if (um_prekey_ring_new(&ring) != 0 ||
	    um_prekey_ring_rotate(ring, &recipient, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT) !=
		1 ||
	    um_prekey_ring_public(ring, bundle, sizeof(bundle), &len) != 0 ||
	    um_prekey_bundle_verify(bundle, len, recipient.public_key, NOW_MS, &prekey) != 0)
		abort();
	for (int i = 0; i < 2; i++) {
		uint8_t id[UM_ENVELOPE_ID_BYTES] = {9}, payload[300];
		memset(payload, 'x', sizeof(payload));
		if (um_envelope_seal(&sender, &prekey, id, NOW_MS, 1, payload, sizeof(payload), i == 1, fixed[i].env,
				     sizeof(fixed[i].env), &fixed[i].len) != 0)
			abort();
	}
}

static int lookup_find(void *ctx, const uint8_t id[UM_PEER_ID_BYTES], uint8_t pk[UM_HSIG_PK_BYTES])
{
	(void)ctx;
	if (memcmp(id, sender.id.bytes, UM_PEER_ID_BYTES) != 0)
		return -UM_ENOTFOUND;
	memcpy(pk, sender.public_key, UM_HSIG_PK_BYTES);
	return 0;
}

static const struct um_envelope_key_lookup lookup = {lookup_find, NULL};

static int open_env(const uint8_t *e, size_t len, struct um_envelope_opened *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->buf = plain;
	o->cap = sizeof(plain);
	rc = um_envelope_open(ring, recipient.id.bytes, e, len, &lookup, o);
	if (rc != 0 && rc != -UM_ETRUNC && rc != -UM_EVERSION && rc != -UM_EINVAL && rc != -UM_ENOTFOUND &&
	    rc != -UM_ENOKEY && rc != -UM_ECHECKSUM && rc != -UM_EAGAIN && rc != -UM_EBADMSG)
		abort();
	if (rc == 0 && (o->len > UM_ENVELOPE_PAYLOAD_MAX || o->payload < plain || o->payload + o->len > plain + len))
		abort();
	return rc;
}

static void check_header(const uint8_t *in, size_t len)
{
	struct um_envelope_header h;
	uint8_t out[UM_ENVELOPE_HEADER_BYTES];

	if (um_envelope_header_parse(in, len, &h) != 0)
		return;
	if (um_envelope_bucket_size(h.bucket) != len)
		abort();
	um_envelope_header_encode(out, &h);
	if (memcmp(out, in, sizeof(out)) != 0)
		abort();
}

static void check_bundle(const uint8_t *in, size_t len)
{
	struct um_prekey_public pub;
	struct um_prekey_bundle b;
	int rc = um_prekey_bundle_verify(in, len, recipient.public_key, NOW_MS, &pub);

	if (rc != 0 && rc != -UM_ETRUNC && rc != -UM_EVERSION && rc != -UM_EINVAL && rc != -UM_EBADMSG &&
	    rc != -UM_EREPLAY && rc != -UM_ERANGE)
		abort();
	if (um_prekey_bundle_decode(in, len, &b) == 0) {
		uint8_t out[UM_PREKEY_SIGNED_BYTES];

		um_prekey_bundle_encode_signed(out, &b);
		if (len != UM_PREKEY_BUNDLE_BYTES || memcmp(out, in, sizeof(out)) != 0)
			abort();
	} else if (rc == 0) {
		abort();
	}
}

static void check_inner(const uint8_t *in, size_t len)
{
	struct um_envelope_inner got;
	size_t signed_len = 0;

	if (um_envelope_inner_decode(in, len, &got, &signed_len) != 0)
		return;
	if (got.len > UM_ENVELOPE_PAYLOAD_MAX || got.payload + got.len > in + len ||
	    got.signature + UM_HSIG_BYTES > in + len || signed_len != (size_t)(got.signature - in) ||
	    signed_len != um_envelope_inner_signed_len(got.sender_pk != NULL, got.len))
		abort();
	int n = um_envelope_inner_encode_signed(again, sizeof(again), &got);
	if (n != (int)signed_len || memcmp(again, in, signed_len) != 0)
		abort();
}

static size_t seal(const uint8_t *payload, size_t len, bool with_pk)
{
	uint8_t id[UM_ENVELOPE_ID_BYTES] = {7};
	size_t out_len = 0;

	if (len > UM_ENVELOPE_PAYLOAD_MAX)
		len = UM_ENVELOPE_PAYLOAD_MAX;
	if (um_envelope_seal(&sender, &prekey, id, NOW_MS, 1, payload, len, with_pk, env, sizeof(env), &out_len) != 0)
		abort();
	return out_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct um_envelope_opened o;
	size_t len;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	switch (mode % 6) {
	case 0:
		check_header(data, size);
		break;
	case 1:
		check_bundle(data, size);
		break;
	case 2:
		check_inner(data, size);
		break;
	case 3:
		open_env(data, size, &o);
		break;
	case 4:
		len = seal(data, size, mode & 0x80);
		if (open_env(env, len, &o) != 0 ||
		    o.len != (size > UM_ENVELOPE_PAYLOAD_MAX ? UM_ENVELOPE_PAYLOAD_MAX : size) ||
		    memcmp(o.payload, data, o.len) != 0 || memcmp(o.sender, sender.id.bytes, UM_PEER_ID_BYTES) != 0)
			abort();
		break;
	case 5: {
		/* Up to 64 damage records on an envelope sealed once (opening is
		 * the cost here, not sealing). */
		const struct sealed *v = &fixed[mode >> 7];
		size_t n_damage = size / 3 < 64 ? size / 3 : 64;
		int rc;

		memcpy(again, v->env, v->len);
		for (size_t i = 0; i < n_damage; i++) {
			size_t off = ((size_t)data[3 * i] << 8 | data[3 * i + 1]) * 2 % v->len;
			again[off] ^= data[3 * i + 2];
		}
		rc = open_env(again, v->len, &o);
		/* Damage that cancels out (the same bit twice) leaves it intact. */
		if ((rc == 0) != (memcmp(again, v->env, v->len) == 0))
			abort();
		break;
	}
	}
	return 0;
}
