/* SPDX-License-Identifier: MIT */
/* Sealed envelopes and signed prekeys on the wire (docs/PROTOCOL.md section
 * 20): the byte layouts only; the cryptography is msg/envelope.h and
 * msg/prekey.h. All integers big-endian; every decoder accepts exactly the
 * bytes the encoder writes (one encoding per value).
 *
 * Signed prekey bundle (UM_PREKEY_BUNDLE_BYTES = 6,344 bytes):
 *   u8 version (1) | owner peer_id[32] | u32 prekey_id | u64 created_ms |
 *   u64 expires_ms | hkem_pk[1,600] | hybrid signature[4,691] over all before
 *
 * Envelope (exactly one bucket size long):
 *   0    u8 version (1) | u8 bucket | recipient peer_id[32] | envelope_id[16]   outer header
 *   50   u32 prekey_id
 *   54   hybrid KEM ciphertext[1,600]
 *   1654 AEAD ciphertext of the inner plaintext (bucket size - 1,670 bytes) | tag[16]
 * Inner plaintext:
 *   u8 flags (bit 0: sender key present; other bits zero) | sender peer_id[32] |
 *   [sender hybrid signature public key[2,624]] | u64 sent_ms | u8 content_type |
 *   u32 payload_len | payload | hybrid signature[4,691] | zero padding
 * The padding fills the bucket, which is the smallest that holds the rest. */
#ifndef UM_WIRE_ENVELOPE_H
#define UM_WIRE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hybrid.h"

enum {
	UM_ENVELOPE_VERSION = 1,
	UM_ENVELOPE_ID_BYTES = 16,
	UM_ENVELOPE_HEADER_BYTES = 1 + 1 + 32 + UM_ENVELOPE_ID_BYTES,
	UM_ENVELOPE_PREKEY_ID_OFFSET = UM_ENVELOPE_HEADER_BYTES,
	UM_ENVELOPE_KEM_CT_OFFSET = UM_ENVELOPE_PREKEY_ID_OFFSET + 4,
	UM_ENVELOPE_BODY_OFFSET = UM_ENVELOPE_KEM_CT_OFFSET + UM_HKEM_CT_BYTES,
	UM_ENVELOPE_TAG_BYTES = 16,
	/* Everything outside the inner plaintext. */
	UM_ENVELOPE_OUTER_BYTES = UM_ENVELOPE_BODY_OFFSET + UM_ENVELOPE_TAG_BYTES,
	UM_ENVELOPE_INNER_FIXED_BYTES = 1 + 32 + 8 + 1 + 4,
	UM_ENVELOPE_FLAG_SENDER_PK = 0x01,
	/* The largest payload: any frame payload of wire/message.h. */
	UM_ENVELOPE_PAYLOAD_MAX = 65536 + 64,
	UM_ENVELOPE_BUCKETS = 5,
	UM_ENVELOPE_SIZE_MAX = 96 * 1024,
	/* The inner plaintext of the largest bucket: a buffer this big opens any envelope. */
	UM_ENVELOPE_PLAIN_MAX = UM_ENVELOPE_SIZE_MAX - UM_ENVELOPE_OUTER_BYTES,

	UM_PREKEY_VERSION = 1,
	UM_PREKEY_SIGNED_BYTES = 1 + 32 + 4 + 8 + 8 + UM_HKEM_PK_BYTES,
	UM_PREKEY_BUNDLE_BYTES = UM_PREKEY_SIGNED_BYTES + UM_HSIG_BYTES,
};

/* Overhead of an envelope beyond its payload: 6,407 bytes, 9,031 with the sender's key. */
#define UM_ENVELOPE_OVERHEAD(with_pk)                                                                                  \
	(UM_ENVELOPE_OUTER_BYTES + UM_ENVELOPE_INNER_FIXED_BYTES + ((with_pk) ? UM_HSIG_PK_BYTES : 0) + UM_HSIG_BYTES)

_Static_assert(UM_ENVELOPE_OVERHEAD(1) + UM_ENVELOPE_PAYLOAD_MAX <= UM_ENVELOPE_SIZE_MAX, "the largest fits");

/* Size in bytes of bucket b (0 .. UM_ENVELOPE_BUCKETS - 1): 8, 16, 32, 64
 * and 96 KiB; 0 for an unknown bucket. */
size_t um_envelope_bucket_size(uint8_t bucket);
/* The smallest bucket whose envelope holds an inner plaintext of
 * inner_len bytes (without padding): 0 and *bucket set, or -UM_ERANGE. */
int um_envelope_bucket_for(size_t inner_len, uint8_t *bucket);

/* The outer header: all a relay sees. */
struct um_envelope_header {
	uint8_t version;
	uint8_t bucket;
	uint8_t recipient[32];
	uint8_t id[UM_ENVELOPE_ID_BYTES];
};

void um_envelope_header_encode(uint8_t out[UM_ENVELOPE_HEADER_BYTES], const struct um_envelope_header *h);
/* Parses the header of a whole envelope and checks its length: 0;
 * -UM_ETRUNC (shorter than the header), -UM_EVERSION, -UM_EINVAL (unknown
 * bucket, or len is not exactly the bucket's size). */
int um_envelope_header_parse(const uint8_t *env, size_t len, struct um_envelope_header *h);

/* The inner plaintext's fields. Pointers are borrowed: into the decoded
 * buffer (decode) or the caller's data (encode). sender_pk is NULL when
 * the key is omitted. */
struct um_envelope_inner {
	uint8_t sender[32];
	const uint8_t *sender_pk;
	uint64_t sent_ms;
	uint8_t content_type;
	const uint8_t *payload;
	size_t len;
	const uint8_t *signature; /* UM_HSIG_BYTES */
};

/* Bytes of the inner fields before the signature (the part the signature
 * covers after the outer bytes). */
size_t um_envelope_inner_signed_len(bool with_pk, size_t payload_len);
/* Writes flags .. payload (um_envelope_inner_signed_len bytes) into out:
 * the length, or -UM_ERANGE (payload too long, cap too small). */
int um_envelope_inner_encode_signed(uint8_t *out, size_t cap, const struct um_envelope_inner *in);
/* Decodes a whole inner plaintext (fields, signature, zero padding);
 * *signed_len is the length of the signed fields at plain's start. 0, or
 * -UM_EINVAL (unknown flags, payload too long or past the end, non-zero
 * padding, or so much padding that a smaller bucket would have held it:
 * plain_len must be that of the smallest bucket). */
int um_envelope_inner_decode(const uint8_t *plain, size_t plain_len, struct um_envelope_inner *out, size_t *signed_len);

/* A prekey bundle's fields; pk and signature borrowed. */
struct um_prekey_bundle {
	uint8_t owner[32];
	uint32_t id;
	uint64_t created_ms;
	uint64_t expires_ms;
	const uint8_t *pk;        /* UM_HKEM_PK_BYTES */
	const uint8_t *signature; /* UM_HSIG_BYTES; ignored by the encoder */
};

/* The signed part (UM_PREKEY_SIGNED_BYTES) into out. */
void um_prekey_bundle_encode_signed(uint8_t out[UM_PREKEY_SIGNED_BYTES], const struct um_prekey_bundle *b);
/* 0, -UM_ETRUNC (shorter than a bundle), -UM_EVERSION, -UM_EINVAL (longer
 * than a bundle). Checks the layout only, not the signature (msg/prekey.h). */
int um_prekey_bundle_decode(const uint8_t *in, size_t len, struct um_prekey_bundle *out);

#endif
