/* SPDX-License-Identifier: MIT */
/* Sealed envelopes (docs/PROTOCOL.md section 20; layout wire/envelope.h):
 * a message for a peer with no live session, sealed end to end to one of
 * its signed prekeys (msg/prekey.h), signed by the sender inside the
 * encryption and padded to a size bucket. A relay parses only the outer
 * header (um_envelope_header_parse, wire/envelope.h): the recipient, the
 * envelope ID and the bucket.
 *
 * Key schedule (SHA3/SHAKE256 of crypto/sha3.h; L(x) = u8 length of x || x):
 *   ss          = hybrid KEM shared secret (crypto/hybrid.h) to the prekey
 *   prefix      = envelope bytes 0 .. 1654 (outer header | prekey_id | KEM ciphertext)
 *   transcript  = SHA3-256(L("umbra envelope transcript v1") || prefix || prekey hkem_pk)
 *   key | nonce = SHAKE256(L("umbra envelope key v1") || ss || transcript)[0 .. 56]
 *   sealed body = XChaCha20-Poly1305-IETF(key (32), nonce (24), AD = prefix, inner plaintext)
 * The sender signs (hybrid, context UM_ENVELOPE_CONTEXT) prefix || the
 * inner fields from flags to the end of the payload.
 *
 * Engine rules: no I/O, no clock (sent_ms comes from the caller), no
 * allocation; randomness only from the KEM's encapsulation. */
#ifndef UM_MSG_ENVELOPE_H
#define UM_MSG_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "msg/prekey.h"
#include "wire/envelope.h"

#define UM_ENVELOPE_CONTEXT "umbra envelope v1"

/* Content types: the frame type (wire/message.h) whose payload the
 * envelope carries, so a queued message is handled like a live one. The
 * envelope carries the byte as it is; the node refuses types it does not
 * handle. */
enum {
	UM_ENVELOPE_CONTENT_DATA = 0x01, /* UM_FRAME_DATA */
	UM_ENVELOPE_CONTENT_ACK = 0x05,  /* UM_FRAME_ACK: receipts to an offline sender */
};

/* Seals payload[0..len) from sender to the prekey `to` (verified with
 * um_prekey_bundle_verify) into out: the envelope's length in *out_len,
 * one bucket size, the smallest that holds it. include_sender_pk adds the
 * sender's hybrid public key (2,624 bytes) for a recipient that may not
 * know it. envelope_id: 16 random bytes, the same on every relay the
 * envelope goes to (the recipient drops duplicates by it). Returns 0;
 * -UM_EINVAL (NULL arguments), -UM_ERANGE (payload above
 * UM_ENVELOPE_PAYLOAD_MAX, or cap below the bucket size),
 * -UM_EREPLAY (the prekey has expired at sent_ms: fetch a fresh bundle),
 * or a crypto error. sender is the caller's own identity, borrowed; out is
 * the caller's (wiped on failure). */
int um_envelope_seal(const struct um_identity *sender, const struct um_prekey_public *to,
		     const uint8_t envelope_id[UM_ENVELOPE_ID_BYTES], uint64_t sent_ms, uint8_t content_type,
		     const uint8_t *payload, size_t len, bool include_sender_pk, uint8_t *out, size_t cap,
		     size_t *out_len);

/* The sender's public key by peer ID, for envelopes that omit it: copies
 * it into pk and returns 0, or returns -UM_ENOTFOUND. */
struct um_envelope_key_lookup {
	int (*find)(void *ctx, const uint8_t peer_id[UM_PEER_ID_BYTES], uint8_t pk[UM_HSIG_PK_BYTES]);
	void *ctx;
};

/* An opened envelope. The caller sets buf/cap (cap >= the envelope's
 * length; UM_ENVELOPE_SIZE_MAX opens any) before um_envelope_open; the
 * other fields are filled on success and point into buf, which then holds
 * the plaintext: the caller wipes it (sodium_memzero) when done. */
struct um_envelope_opened {
	uint8_t *buf;
	size_t cap;
	uint8_t envelope_id[UM_ENVELOPE_ID_BYTES];
	uint32_t prekey_id;
	uint8_t sender[UM_PEER_ID_BYTES];
	const uint8_t *sender_pk; /* in buf, or NULL when the envelope omitted it */
	uint64_t sent_ms;
	uint8_t content_type;
	const uint8_t *payload; /* in buf */
	size_t len;
};

/* Opens env[0..len) addressed to my_id with the ring's secrets. Returns 0
 * or, each failure its own code:
 *   -UM_ETRUNC, -UM_EVERSION, -UM_EINVAL  outer header malformed (as um_envelope_header_parse)
 *   -UM_ENOTFOUND  addressed to another peer
 *   -UM_ENOKEY     the prekey is unknown, or expired and wiped
 *   -UM_ERANGE     out->cap too small
 *   -UM_ECHECKSUM  the sealed part does not decrypt (AEAD tag, or a damaged KEM ciphertext)
 *   -UM_EINVAL     the inner plaintext is malformed (flags, lengths, padding)
 *   -UM_EAGAIN     the sender's key was omitted and lookup does not know it (fetch it, retry)
 *   -UM_EBADMSG    forged sender: the key does not hash to the sender ID or the signature fails
 * ring and lookup (may be NULL: keys omitted are then unknown) are
 * borrowed; on failure buf holds nothing of the envelope (what the call
 * wrote there is wiped) and the other fields are undefined. */
int um_envelope_open(const struct um_prekey_ring *ring, const uint8_t my_id[UM_PEER_ID_BYTES], const uint8_t *env,
		     size_t len, const struct um_envelope_key_lookup *lookup, struct um_envelope_opened *out);

#endif
