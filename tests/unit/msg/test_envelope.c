/* SPDX-License-Identifier: MIT */
/* Sealed envelopes (msg/envelope.h, wire/envelope.h): a round trip in every
 * bucket (a 64 KiB message included), tampering with every region refused,
 * wrong recipient, unknown prekey, the sender's key omitted and looked up,
 * forged senders, the inner layout's strictness, and the sizes. */
#include <sodium.h>
#include <stdlib.h>

#include "msg/envelope.h"
#include "msg/prekey.h"
#include "test.h"
#include "util/error.h"
#include "wire/message.h"

#define NOW_MS 1800000000000ULL

static struct um_identity alice, bob, carol;
static struct um_prekey_ring *bob_ring, *carol_ring;
static struct um_prekey_public bob_prekey;
static uint8_t env[UM_ENVELOPE_SIZE_MAX + 64];
static uint8_t env2[UM_ENVELOPE_SIZE_MAX + 64];
static uint8_t plain[UM_ENVELOPE_SIZE_MAX];
static uint8_t payload[UM_ENVELOPE_PAYLOAD_MAX + 1];
static const uint8_t env_id[UM_ENVELOPE_ID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Fresh identities and rings per case. */
static void setup(void)
{
	uint8_t bundle[UM_PREKEY_BUNDLE_BYTES];
	size_t len = 0;

	CHECK_EQ(um_identity_generate(&alice), 0);
	CHECK_EQ(um_identity_generate(&bob), 0);
	CHECK_EQ(um_identity_generate(&carol), 0);
	CHECK_EQ(um_prekey_ring_new(&bob_ring), 0);
	CHECK_EQ(um_prekey_ring_new(&carol_ring), 0);
	CHECK_EQ(um_prekey_ring_rotate(bob_ring, &bob, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK_EQ(
	    um_prekey_ring_rotate(carol_ring, &carol, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
	    1);
	CHECK_EQ(um_prekey_ring_public(bob_ring, bundle, sizeof(bundle), &len), 0);
	CHECK_EQ(um_prekey_bundle_verify(bundle, len, bob.public_key, NOW_MS, &bob_prekey), 0);
	randombytes_buf(payload, sizeof(payload));
}

static void teardown(void)
{
	um_prekey_ring_free(bob_ring);
	um_prekey_ring_free(carol_ring);
	bob_ring = carol_ring = NULL;
	um_identity_wipe(&alice);
	um_identity_wipe(&bob);
	um_identity_wipe(&carol);
}

static int lookup_find(void *ctx, const uint8_t id[UM_PEER_ID_BYTES], uint8_t pk[UM_HSIG_PK_BYTES])
{
	const struct um_identity *const *known = ctx;

	for (; *known; known++) {
		if (memcmp((*known)->id.bytes, id, UM_PEER_ID_BYTES) == 0) {
			memcpy(pk, (*known)->public_key, UM_HSIG_PK_BYTES);
			return 0;
		}
	}
	return -UM_ENOTFOUND;
}

static const struct um_identity *knows_alice[] = {&alice, NULL};

static size_t seal(const struct um_identity *from, size_t len, bool with_pk, int expect)
{
	size_t out_len = 0;
	int rc = um_envelope_seal(from, &bob_prekey, env_id, NOW_MS + 5, UM_ENVELOPE_CONTENT_DATA, payload, len,
				  with_pk, env, sizeof(env), &out_len);

	CHECK_EQ(rc, expect);
	return out_len;
}

static int open_as_bob(const uint8_t *e, size_t len, const struct um_envelope_key_lookup *lookup,
		       struct um_envelope_opened *o)
{
	memset(o, 0, sizeof(*o));
	o->buf = plain;
	o->cap = sizeof(plain);
	return um_envelope_open(bob_ring, bob.id.bytes, e, len, lookup, o);
}

static void test_round_trip_buckets(void)
{
	/* For each bucket, the largest payload that fits it, with and without
	 * the sender's key, and one byte more lands in the next bucket. */
	setup();
	for (int with_pk = 0; with_pk <= 1; with_pk++) {
		for (uint8_t b = 0; b < UM_ENVELOPE_BUCKETS; b++) {
			if (um_envelope_bucket_size(b) <= UM_ENVELOPE_OVERHEAD(with_pk))
				continue; /* the sender's key alone needs more than 8 KiB */
			size_t room = um_envelope_bucket_size(b) - UM_ENVELOPE_OVERHEAD(with_pk);
			size_t sizes[3] = {room > 100 ? room - 100 : 0, room, room + 1};

			for (int k = 0; k < 3; k++) {
				struct um_envelope_opened o;
				struct um_envelope_header h;
				size_t n = sizes[k] > UM_ENVELOPE_PAYLOAD_MAX ? UM_ENVELOPE_PAYLOAD_MAX : sizes[k];
				size_t len = seal(&alice, n, with_pk, 0);

				CHECK_EQ(um_envelope_header_parse(env, len, &h), 0);
				if (sizes[k] <= room)
					CHECK_EQ(h.bucket, b);
				else if (n == sizes[k])
					CHECK_EQ(h.bucket, b + 1);
				CHECK_EQ(len, um_envelope_bucket_size(h.bucket));
				CHECK_MEM(h.recipient, bob.id.bytes, UM_PEER_ID_BYTES);
				CHECK_MEM(h.id, env_id, UM_ENVELOPE_ID_BYTES);
				CHECK_EQ(open_as_bob(env, len, NULL, &o), with_pk ? 0 : -UM_EAGAIN);
				if (!with_pk) {
					struct um_envelope_key_lookup lk = {lookup_find, knows_alice};
					CHECK_EQ(open_as_bob(env, len, &lk, &o), 0);
				}
				CHECK_EQ(o.len, n);
				CHECK(o.payload && memcmp(o.payload, payload, n) == 0);
				CHECK_MEM(o.sender, alice.id.bytes, UM_PEER_ID_BYTES);
				CHECK_EQ(o.sent_ms, NOW_MS + 5);
				CHECK_EQ(o.content_type, UM_ENVELOPE_CONTENT_DATA);
				CHECK_EQ(o.prekey_id, bob_prekey.id);
				CHECK_MEM(o.envelope_id, env_id, UM_ENVELOPE_ID_BYTES);
				CHECK(with_pk ? o.sender_pk && !memcmp(o.sender_pk, alice.public_key, UM_HSIG_PK_BYTES)
					      : o.sender_pk == NULL);
			}
		}
	}
	teardown();
}

static void test_message_64k(void)
{
	static uint8_t body[UM_MESSAGE_BODY_MAX];
	struct um_message_data d = {.sent_ms = NOW_MS, .kind = UM_MESSAGE_BINARY, .body = body, .len = sizeof(body)};
	struct um_message_data got;
	struct um_envelope_opened o;
	struct um_envelope_header h;
	int n;
	size_t len;

	setup();
	randombytes_buf(body, sizeof(body));
	randombytes_buf(d.id, sizeof(d.id));
	n = um_message_data_encode(payload, sizeof(payload), &d);
	CHECK_EQ(n, UM_MESSAGE_DATA_HEAD_BYTES + UM_MESSAGE_BODY_MAX);
	len = seal(&alice, (size_t)n, true, 0);
	CHECK_EQ(um_envelope_header_parse(env, len, &h), 0);
	CHECK_EQ(h.bucket, UM_ENVELOPE_BUCKETS - 1);
	CHECK_EQ(open_as_bob(env, len, NULL, &o), 0);
	CHECK_EQ(um_message_data_decode(&got, o.payload, o.len), 0);
	CHECK_EQ(got.len, UM_MESSAGE_BODY_MAX);
	CHECK_MEM(got.id, d.id, sizeof(d.id));
	CHECK(memcmp(got.body, body, sizeof(body)) == 0);
	/* Limits: one byte above the payload maximum, a short buffer. */
	seal(&alice, UM_ENVELOPE_PAYLOAD_MAX + 1, true, -UM_ERANGE);
	CHECK_EQ(um_envelope_seal(&alice, &bob_prekey, env_id, NOW_MS, 1, payload, 10, false, env, 8191, &len),
		 -UM_ERANGE);
	len = seal(&alice, 10, false, 0);
	memset(&o, 0, sizeof(o));
	o.buf = plain;
	o.cap = len - 1;
	CHECK_EQ(um_envelope_open(bob_ring, bob.id.bytes, env, len, NULL, &o), -UM_ERANGE);
	/* A prekey expired at sent_ms is refused by the sender. */
	CHECK_EQ(um_envelope_seal(&alice, &bob_prekey, env_id, bob_prekey.expires_ms, 1, payload, 10, false, env,
				  sizeof(env), &len),
		 -UM_EREPLAY);
	teardown();
}

/* Flips one bit at off and expects code; the original opens again after. */
static void tamper(size_t len, size_t off, int expect, const char *what)
{
	struct um_envelope_opened o;
	int rc;

	memcpy(env2, env, len);
	env2[off] ^= 0x04;
	memset(plain, 0, sizeof(plain));
	rc = open_as_bob(env2, len, NULL, &o);
	if (rc != expect)
		fprintf(stderr, "tamper %s at %zu: %d\n", what, off, rc);
	CHECK_EQ(rc, expect);
	CHECK(sodium_is_zero(plain, len)); /* nothing of the plaintext left behind */
}

static void test_tamper_every_region(void)
{
	struct um_envelope_opened o;
	size_t len, pad_start;

	setup();
	len = seal(&alice, 300, true, 0);
	CHECK_EQ(len, 16384u);
	CHECK_EQ(open_as_bob(env, len, NULL, &o), 0);
	pad_start = UM_ENVELOPE_BODY_OFFSET + UM_ENVELOPE_OVERHEAD(true) - UM_ENVELOPE_OUTER_BYTES + 300;

	tamper(len, 0, -UM_EVERSION, "version");
	tamper(len, 1, -UM_EINVAL, "bucket");
	tamper(len, 2, -UM_ENOTFOUND, "recipient");
	tamper(len, 33, -UM_ENOTFOUND, "recipient end");
	for (size_t off = 34; off < 50; off += 5)
		tamper(len, off, -UM_ECHECKSUM, "envelope id");
	for (size_t off = UM_ENVELOPE_PREKEY_ID_OFFSET; off < UM_ENVELOPE_KEM_CT_OFFSET; off++)
		tamper(len, off, -UM_ENOKEY, "prekey id");
	/* ML-KEM part, then the X25519 ephemeral key at the end. */
	for (size_t off = UM_ENVELOPE_KEM_CT_OFFSET; off < UM_ENVELOPE_BODY_OFFSET; off += 97)
		tamper(len, off, -UM_ECHECKSUM, "kem ciphertext");
	tamper(len, UM_ENVELOPE_BODY_OFFSET - 1, -UM_ECHECKSUM, "kem x25519");
	/* AEAD body: flags, sender, key, payload, signature, padding, tag. */
	for (size_t off = UM_ENVELOPE_BODY_OFFSET; off < pad_start; off += 211)
		tamper(len, off, -UM_ECHECKSUM, "aead body");
	for (size_t off = pad_start; off < len - UM_ENVELOPE_TAG_BYTES; off += 401)
		tamper(len, off, -UM_ECHECKSUM, "padding");
	tamper(len, len - UM_ENVELOPE_TAG_BYTES - 1, -UM_ECHECKSUM, "last padding byte");
	for (size_t off = len - UM_ENVELOPE_TAG_BYTES; off < len; off += 3)
		tamper(len, off, -UM_ECHECKSUM, "tag");
	/* Cut, stretched, empty. */
	CHECK_EQ(open_as_bob(env, len - 1, NULL, &o), -UM_EINVAL);
	CHECK_EQ(open_as_bob(env, len + 1, NULL, &o), -UM_EINVAL);
	CHECK_EQ(open_as_bob(env, 49, NULL, &o), -UM_ETRUNC);
	CHECK_EQ(open_as_bob(env, 0, NULL, &o), -UM_ETRUNC);
	/* The bucket byte changed to another valid bucket: the length is wrong. */
	memcpy(env2, env, len);
	env2[1] = 0;
	CHECK_EQ(open_as_bob(env2, len, NULL, &o), -UM_EINVAL);
	CHECK_EQ(open_as_bob(env, len, NULL, &o), 0);
	teardown();
}

static void test_wrong_recipient_unknown_prekey(void)
{
	struct um_envelope_opened o = {.buf = plain, .cap = sizeof(plain)};
	struct um_prekey_ring *fresh;
	size_t len;

	setup();
	len = seal(&alice, 100, true, 0);
	/* Carol with her own ID: not hers. Carol claiming Bob's ID: her ring
	 * has no such prekey. */
	CHECK_EQ(um_envelope_open(carol_ring, carol.id.bytes, env, len, NULL, &o), -UM_ENOTFOUND);
	CHECK_EQ(um_envelope_open(carol_ring, bob.id.bytes, env, len, NULL, &o), -UM_ENOKEY);
	/* Bob's identity with a new ring (his old prekey secrets lost). */
	CHECK_EQ(um_prekey_ring_new(&fresh), 0);
	CHECK_EQ(um_prekey_ring_rotate(fresh, &bob, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, 0), 1);
	CHECK_EQ(um_envelope_open(fresh, bob.id.bytes, env, len, NULL, &o), -UM_ENOKEY);
	um_prekey_ring_free(fresh);
	/* Expired and wiped: past expiry + retention Bob's own ring drops it. */
	CHECK_EQ(um_envelope_open(bob_ring, bob.id.bytes, env, len, NULL, &o), 0);
	CHECK_EQ(um_prekey_ring_rotate(bob_ring, &bob, bob_prekey.expires_ms + UM_PREKEY_RETENTION_DEFAULT,
				       UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK(um_prekey_ring_find(bob_ring, bob_prekey.id) == NULL);
	CHECK_EQ(um_envelope_open(bob_ring, bob.id.bytes, env, len, NULL, &o), -UM_ENOKEY);
	teardown();
}

static void test_sender_key_lookup(void)
{
	const struct um_identity *knows_carol_as_alice[] = {&carol, NULL};
	struct um_envelope_key_lookup none = {lookup_find, (void *)(const struct um_identity *[]){NULL}};
	struct um_envelope_key_lookup good = {lookup_find, knows_alice};
	struct um_envelope_opened o;
	size_t len_without, len_with;

	setup();
	len_with = seal(&alice, 500, true, 0);
	len_without = seal(&alice, 500, false, 0);
	CHECK(len_without <= len_with);
	CHECK_EQ(open_as_bob(env, len_without, NULL, &o), -UM_EAGAIN);
	CHECK_EQ(open_as_bob(env, len_without, &none, &o), -UM_EAGAIN);
	CHECK_EQ(open_as_bob(env, len_without, &good, &o), 0);
	CHECK(o.sender_pk == NULL);
	CHECK_MEM(o.sender, alice.id.bytes, UM_PEER_ID_BYTES);
	/* A lookup that returns someone else's key for Alice's ID. */
	struct um_envelope_key_lookup liar = {lookup_find, knows_carol_as_alice};
	memcpy(carol.id.bytes, alice.id.bytes, UM_PEER_ID_BYTES); /* carol's table entry claims Alice's ID */
	CHECK_EQ(open_as_bob(env, len_without, &liar, &o), -UM_EBADMSG);
	teardown();
}

static void test_forged_sender(void)
{
	struct um_envelope_key_lookup good = {lookup_find, knows_alice};
	struct um_identity forged;
	struct um_envelope_opened o;
	size_t len;

	setup();
	/* Carol signs with her key and claims Alice's ID, key included:
	 * the key does not hash to the ID. */
	forged = carol;
	memcpy(forged.id.bytes, alice.id.bytes, UM_PEER_ID_BYTES);
	len = seal(&forged, 200, true, 0);
	CHECK_EQ(open_as_bob(env, len, &good, &o), -UM_EBADMSG);
	CHECK(sodium_is_zero(plain, len));
	/* Same, key omitted: Bob looks up Alice's real key; Carol's signature fails. */
	len = seal(&forged, 200, false, 0);
	CHECK_EQ(open_as_bob(env, len, &good, &o), -UM_EBADMSG);
	/* Alice's ID and public key, re-signed by Carol. */
	memcpy(forged.public_key, alice.public_key, UM_HSIG_PK_BYTES);
	len = seal(&forged, 200, true, 0);
	CHECK_EQ(open_as_bob(env, len, &good, &o), -UM_EBADMSG);
	len = seal(&forged, 200, false, 0);
	CHECK_EQ(open_as_bob(env, len, &good, &o), -UM_EBADMSG);
	/* Carol as herself is fine (she may write to Bob). */
	len = seal(&carol, 200, true, 0);
	CHECK_EQ(open_as_bob(env, len, NULL, &o), 0);
	CHECK_MEM(o.sender, carol.id.bytes, UM_PEER_ID_BYTES);
	sodium_memzero(&forged, sizeof(forged));
	teardown();
}

/* The inner plaintext decoder alone (what the AEAD protects). */
static void test_inner_strict(void)
{
	static uint8_t pl[UM_ENVELOPE_PLAIN_MAX];
	struct um_envelope_inner in = {.sent_ms = 7, .content_type = 1, .payload = payload, .len = 100}, out;
	size_t plain_len = um_envelope_bucket_size(0) - UM_ENVELOPE_OUTER_BYTES, signed_len = 0;
	int n;

	memset(pl, 0, sizeof(pl));
	n = um_envelope_inner_encode_signed(pl, sizeof(pl), &in);
	CHECK_EQ(n, (int)um_envelope_inner_signed_len(false, 100));
	CHECK_EQ(um_envelope_inner_decode(pl, plain_len, &out, &signed_len), 0);
	CHECK_EQ(signed_len, (size_t)n);
	CHECK_EQ(out.len, 100u);
	CHECK(out.sender_pk == NULL);
	pl[0] = 0x02; /* unknown flag */
	CHECK_EQ(um_envelope_inner_decode(pl, plain_len, &out, &signed_len), -UM_EINVAL);
	pl[0] = 0;
	pl[plain_len - 1] = 1; /* padding not zero */
	CHECK_EQ(um_envelope_inner_decode(pl, plain_len, &out, &signed_len), -UM_EINVAL);
	pl[plain_len - 1] = 0;
	/* Padded to a bigger bucket than needed. */
	CHECK_EQ(um_envelope_inner_decode(pl, um_envelope_bucket_size(1) - UM_ENVELOPE_OUTER_BYTES, &out, &signed_len),
		 -UM_EINVAL);
	/* A payload length past the end, and above the maximum. */
	pl[1 + 32 + 8 + 1] = 0x00, pl[1 + 32 + 8 + 2] = 0x00, pl[1 + 32 + 8 + 3] = 0x1f, pl[1 + 32 + 8 + 4] = 0xff;
	CHECK_EQ(um_envelope_inner_decode(pl, plain_len, &out, &signed_len), -UM_EINVAL);
	pl[1 + 32 + 8 + 2] = 0x02;
	CHECK_EQ(um_envelope_inner_decode(pl, plain_len, &out, &signed_len), -UM_EINVAL);
	CHECK_EQ(um_envelope_inner_decode(pl, 10, &out, &signed_len), -UM_EINVAL);
	/* Headers: every bucket's length, and nothing else. */
	struct um_envelope_header h = {.version = 1, .bucket = 2}, got;
	memset(env, 0, sizeof(env));
	um_envelope_header_encode(env, &h);
	CHECK_EQ(um_envelope_header_parse(env, 32768, &got), 0);
	CHECK_EQ(um_envelope_header_parse(env, 32767, &got), -UM_EINVAL);
	env[1] = UM_ENVELOPE_BUCKETS;
	CHECK_EQ(um_envelope_header_parse(env, 32768, &got), -UM_EINVAL);
	CHECK_EQ(um_envelope_bucket_size(UM_ENVELOPE_BUCKETS), 0u);
}

static void test_sizes(void)
{
	size_t room0 = um_envelope_bucket_size(0) - UM_ENVELOPE_OVERHEAD(false);

	fprintf(stderr, "prekey bundle %d bytes; envelope overhead %d bytes (%d with the sender's key)\n",
		UM_PREKEY_BUNDLE_BYTES, (int)UM_ENVELOPE_OVERHEAD(false), (int)UM_ENVELOPE_OVERHEAD(true));
	for (uint8_t b = 0; b < UM_ENVELOPE_BUCKETS; b++) {
		size_t size = um_envelope_bucket_size(b);
		size_t room = size - UM_ENVELOPE_OVERHEAD(false);
		size_t room_pk = size > UM_ENVELOPE_OVERHEAD(true) ? size - UM_ENVELOPE_OVERHEAD(true) : 0;

		room = room < UM_ENVELOPE_PAYLOAD_MAX ? room : UM_ENVELOPE_PAYLOAD_MAX;
		room_pk = room_pk < UM_ENVELOPE_PAYLOAD_MAX ? room_pk : UM_ENVELOPE_PAYLOAD_MAX;
		fprintf(stderr, "bucket %u: %zu bytes, payload up to %zu (%zu with the sender's key)\n", b, size, room,
			room_pk);
	}
	CHECK_EQ(UM_PREKEY_BUNDLE_BYTES, 6344);
	CHECK_EQ(UM_ENVELOPE_OVERHEAD(false), 6407);
	CHECK_EQ(UM_ENVELOPE_OVERHEAD(true), 9031);
	CHECK(room0 >= 1024); /* a short text fits the smallest bucket */
	CHECK(UM_ENVELOPE_OVERHEAD(true) + UM_MESSAGE_DATA_HEAD_BYTES + UM_MESSAGE_BODY_MAX <= UM_ENVELOPE_SIZE_MAX);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_round_trip_buckets);
	RUN(test_message_64k);
	RUN(test_tamper_every_region);
	RUN(test_wrong_recipient_unknown_prekey);
	RUN(test_sender_key_lookup);
	RUN(test_forged_sender);
	RUN(test_inner_strict);
	RUN(test_sizes);
	return um_test_end();
}
