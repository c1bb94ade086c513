/* SPDX-License-Identifier: MIT */
/* Wire formats of the handshake messages (docs/PROTOCOL.md has the prose).
 * Pure encoders/decoders: no crypto and no state here. Decoders
 * check exact sizes and zero reserved fields and fill structs whose pointer
 * fields borrow from the input buffer (valid while the datagram is).
 * All multi-byte integers are big-endian. */
#ifndef UM_WIRE_HANDSHAKE_H
#define UM_WIRE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/hybrid.h"
#include "crypto/identity.h" /* UM_PEER_ID_BYTES */
#include "util/addr.h"       /* struct um_addr */
#include "wire/types.h"

/* Aliases of the registry (wire/types.h), kept for the code that uses them. */
enum um_msg_type {
	UM_MSG_HELLO = UM_TYPE_HELLO,
	UM_MSG_CHALLENGE = UM_TYPE_CHALLENGE,
	UM_MSG_RESPONSE = UM_TYPE_RESPONSE,
	UM_MSG_ESTABLISHED = UM_TYPE_ESTABLISHED,
	UM_MSG_COOKIE_REPLY = UM_TYPE_COOKIE_REPLY,
	UM_MSG_FRAGMENT = UM_TYPE_FRAGMENT,
	UM_MSG_DATA = UM_TYPE_DATA,
};

enum um_hs_wire_sizes {
	/* 2: whole-second HELLO timestamp, exact one sealed in RESPONSE.
	 * 3: repeat handshakes leave out the public keys the other side
	 *    already verified (HELLO flag, short CHALLENGE and RESPONSE,
	 *    key-cache epochs; docs/PROTOCOL.md section 4). */
	UM_HS_VERSION = 3,
	/* Largest UDP payload of any handshake datagram: a 1280-byte IPv6
	 * packet minus the 40-byte IPv6 and 8-byte UDP headers. */
	UM_HS_MAX_DATAGRAM = 1232,
	UM_HS_NONCE_BYTES = 16,
	UM_HS_MAC_BYTES = 16,
	UM_HS_TAG_BYTES = 16,
	UM_HS_X25519_BYTES = 32,
	UM_HS_SESSION_ID_BYTES = 16,
	UM_HS_COOKIE_BYTES = 16,
	UM_HS_COOKIE_NONCE_BYTES = 24,
	UM_HS_EPOCH_BYTES = 8, /* the sender's key-cache epoch (0: it keeps no keys) */
	UM_HS_TIMESTAMP_BYTES = 8,

	/* HELLO is padded to a full datagram so the reply (a CHALLENGE of
	 * ~9 KB) amplifies a spoofed HELLO at most ~8x, not ~100x. */
	UM_HS_HELLO_BYTES = UM_HS_MAX_DATAGRAM,
	UM_HS_HELLO_BODY_BYTES = 64, /* type..timestamp; rest is zero padding */
	UM_HS_HELLO_MAC1_OFFSET = UM_HS_HELLO_BYTES - 2 * UM_HS_MAC_BYTES,
	UM_HS_HELLO_MAC2_OFFSET = UM_HS_HELLO_BYTES - UM_HS_MAC_BYTES,

	/* Identity: hybrid public key || hybrid signature (the full form). */
	UM_HS_IDENTITY_PLAIN_BYTES = UM_HSIG_PK_BYTES + UM_HSIG_BYTES,

	/* CHALLENGE, sealed: [responder public key] || signature || epoch.
	 * The short form leaves the key out (the initiator said it holds it). */
	UM_HS_CHALLENGE_HEADER_BYTES = 12 + UM_HS_NONCE_BYTES + UM_HKEM_PK_BYTES,
	UM_HS_CHALLENGE_PLAIN_BYTES = UM_HS_IDENTITY_PLAIN_BYTES + UM_HS_EPOCH_BYTES,
	UM_HS_CHALLENGE_SHORT_PLAIN_BYTES = UM_HSIG_BYTES + UM_HS_EPOCH_BYTES,
	UM_HS_CHALLENGE_SEALED_BYTES = UM_HS_CHALLENGE_PLAIN_BYTES + UM_HS_TAG_BYTES,
	UM_HS_CHALLENGE_SHORT_SEALED_BYTES = UM_HS_CHALLENGE_SHORT_PLAIN_BYTES + UM_HS_TAG_BYTES,
	UM_HS_CHALLENGE_BYTES = UM_HS_CHALLENGE_HEADER_BYTES + UM_HS_CHALLENGE_SEALED_BYTES,
	UM_HS_CHALLENGE_SHORT_BYTES = UM_HS_CHALLENGE_HEADER_BYTES + UM_HS_CHALLENGE_SHORT_SEALED_BYTES,

	/* RESPONSE, sealed: initiator public key (full) or peer ID (short) ||
	 * signature || exact HELLO timestamp (u64 ms: the clear one in HELLO
	 * is whole seconds) || epoch. */
	UM_HS_RESPONSE_HEADER_BYTES = 12 + UM_HKEM_CT_BYTES,
	UM_HS_RESPONSE_PLAIN_BYTES = UM_HS_IDENTITY_PLAIN_BYTES + UM_HS_TIMESTAMP_BYTES + UM_HS_EPOCH_BYTES,
	UM_HS_RESPONSE_SHORT_PLAIN_BYTES = UM_PEER_ID_BYTES + UM_HSIG_BYTES + UM_HS_TIMESTAMP_BYTES + UM_HS_EPOCH_BYTES,
	UM_HS_RESPONSE_SEALED_BYTES = UM_HS_RESPONSE_PLAIN_BYTES + UM_HS_TAG_BYTES,
	UM_HS_RESPONSE_SHORT_SEALED_BYTES = UM_HS_RESPONSE_SHORT_PLAIN_BYTES + UM_HS_TAG_BYTES,
	UM_HS_RESPONSE_BYTES = UM_HS_RESPONSE_HEADER_BYTES + UM_HS_RESPONSE_SEALED_BYTES,
	UM_HS_RESPONSE_SHORT_BYTES = UM_HS_RESPONSE_HEADER_BYTES + UM_HS_RESPONSE_SHORT_SEALED_BYTES,

	UM_HS_ESTABLISHED_PLAIN_BYTES = UM_HS_SESSION_ID_BYTES + 2 + 2 + 4 + 1 + 1 + 2 + 16,
	UM_HS_ESTABLISHED_HEADER_BYTES = 12,
	UM_HS_ESTABLISHED_BYTES = UM_HS_ESTABLISHED_HEADER_BYTES + UM_HS_ESTABLISHED_PLAIN_BYTES + UM_HS_TAG_BYTES,

	UM_HS_COOKIE_REPLY_BYTES = 8 + UM_HS_COOKIE_NONCE_BYTES + UM_HS_COOKIE_BYTES + UM_HS_TAG_BYTES,
};

/* HELLO flags (byte 2 since version 3). */
enum { UM_HS_HELLO_HAVE_KEY = 0x01 }; /* the initiator holds the responder's verified public key */

/* ESTABLISHED flags. */
enum { UM_HS_FLAG_DIRECT_P2P = 0x01 };

/* HELLO: type | version | flags | 0 | sender_index | ephemeral X25519 | nonce |
 * timestamp_ms | zero padding | mac1 | mac2. Since version 2 the sender
 * puts whole seconds in timestamp_ms (a multiple of 1000): it is in clear,
 * and exact milliseconds would let an observer fingerprint the sender's
 * clock; the exact value travels sealed in RESPONSE. */
struct um_hs_hello {
	uint8_t flags; /* UM_HS_HELLO_* */
	uint32_t sender_index;
	const uint8_t *ephemeral; /* 32 bytes */
	const uint8_t *nonce;     /* 16 bytes */
	uint64_t timestamp_ms;
	const uint8_t *mac1, *mac2;
};

/* CHALLENGE: type | version | 0 0 | sender_index | receiver_index | nonce |
 * hybrid KEM public key (ephemeral) | sealed responder identity. Two sizes:
 * the full form and the short one (no public key); the size says which. */
struct um_hs_challenge {
	uint32_t sender_index, receiver_index;
	const uint8_t *nonce;      /* 16 */
	const uint8_t *kem_public; /* UM_HKEM_PK_BYTES */
	bool short_form;           /* sealed is UM_HS_CHALLENGE_SHORT_SEALED_BYTES */
	const uint8_t *sealed;     /* UM_HS_CHALLENGE_[SHORT_]SEALED_BYTES */
};

/* RESPONSE: type | version | 0 0 | sender_index | receiver_index |
 * hybrid KEM ciphertext | sealed (initiator key or ID | signature | exact
 * timestamp_ms | epoch). Two sizes, as CHALLENGE. */
struct um_hs_response {
	uint32_t sender_index, receiver_index;
	const uint8_t *kem_ciphertext; /* UM_HKEM_CT_BYTES */
	bool short_form;               /* sealed is UM_HS_RESPONSE_SHORT_SEALED_BYTES */
	const uint8_t *sealed;         /* UM_HS_RESPONSE_[SHORT_]SEALED_BYTES */
};

/* ESTABLISHED: type | version | 0 0 | receiver_index | sender_index | sealed params. */
struct um_hs_established {
	uint32_t receiver_index, sender_index;
	const uint8_t *sealed; /* UM_HS_ESTABLISHED_PLAIN_BYTES + tag */
};

/* The session parameters inside ESTABLISHED (plaintext form). */
struct um_hs_params {
	uint8_t session_id[UM_HS_SESSION_ID_BYTES];
	uint16_t mtu;
	uint16_t heartbeat_s;
	uint32_t rotation_s;
	uint8_t flags;
	struct um_addr observed; /* the initiator's address as the responder saw it */
};

/* COOKIE_REPLY: type | 0 0 0 | receiver_index | nonce(24) | sealed cookie(16+16). */
struct um_hs_cookie_reply {
	uint32_t receiver_index;
	const uint8_t *nonce;  /* 24 */
	const uint8_t *sealed; /* 32 */
};

/* Encoders write exactly the message size (for CHALLENGE and RESPONSE the
 * one short_form selects) into out (cap >= size) and return the size, or a
 * negative code. Pointer fields must be non-NULL
 * except mac1/mac2 in HELLO (NULL = zeros; the engine fills them after). */
int um_hs_hello_encode(uint8_t *out, size_t cap, const struct um_hs_hello *m);
int um_hs_challenge_encode(uint8_t *out, size_t cap, const struct um_hs_challenge *m);
int um_hs_response_encode(uint8_t *out, size_t cap, const struct um_hs_response *m);
int um_hs_established_encode(uint8_t *out, size_t cap, const struct um_hs_established *m);
int um_hs_cookie_reply_encode(uint8_t *out, size_t cap, const struct um_hs_cookie_reply *m);

/* Decoders: 0, -UM_ETRUNC (wrong size), -UM_EINVAL (bad type, reserved or
 * padding bytes, unknown HELLO flags), -UM_EVERSION (another version). */
int um_hs_hello_decode(struct um_hs_hello *m, const uint8_t *in, size_t len);
int um_hs_challenge_decode(struct um_hs_challenge *m, const uint8_t *in, size_t len);
int um_hs_response_decode(struct um_hs_response *m, const uint8_t *in, size_t len);
int um_hs_established_decode(struct um_hs_established *m, const uint8_t *in, size_t len);
int um_hs_cookie_reply_decode(struct um_hs_cookie_reply *m, const uint8_t *in, size_t len);

/* Session parameters, plaintext form. */
void um_hs_params_encode(uint8_t out[UM_HS_ESTABLISHED_PLAIN_BYTES], const struct um_hs_params *p);
int um_hs_params_decode(struct um_hs_params *p, const uint8_t in[UM_HS_ESTABLISHED_PLAIN_BYTES]);

#endif
