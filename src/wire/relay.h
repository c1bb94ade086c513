/* SPDX-License-Identifier: MIT */
/* Relay protocol wire formats, version 3 (docs/PROTOCOL.md section 12).
 * Type bytes come from the 0x20..0x25 range of wire/types.h. All integers
 * big-endian; reserved and padding bytes are zero and checked.
 *
 * Version 3 (issue 13, review #1): a passive observer of the node<->relay
 * link reads no node ID, public key or peer ID off it. Relays have an
 * identity; registration is an ordinary umbra handshake (session/
 * handshake.h: SIGMA-I, the node as initiator, the relay as responder, so
 * the node's identity travels only sealed to the pinned relay key), and
 * every control message after it is sealed with the handshake's keys.
 * Version 2 (signed REGISTER with ID and key in clear) is refused both
 * ways with ERROR VERSION.
 *
 * RELAY_ID 0x20, 64 bytes both ways: a node that has no pinned relay ID
 * asks for it (trust on first use; the handshake then proves it):
 *   0  u8 type | u8 version=3 | u8 flags (bit0: reply) | u8 0
 *   4  nonce[16]: random in the request, echoed in the reply
 *  20  relay_id[32]: zero in the request (padding: the reply is never
 *      larger than the request, so no amplification)
 *  52  zero[12]
 *
 * RELAY_HANDSHAKE 0x21 (both ways): u8 type | one handshake datagram
 *   (HELLO, CHALLENGE/RESPONSE fragments, ESTABLISHED, COOKIE_REPLY; at
 *   most UM_HS_MAX_DATAGRAM bytes). The one-byte wrapper tells the node's
 *   demultiplexer that the handshake is with the relay itself, not with a
 *   peer (a peer's handshake through the relay arrives in FORWARDED).
 *
 * RELAY_SEALED 0x22 (both ways), 96 bytes:
 *   0  u8 type | u8 version=3 | u16 0
 *   4  u32 receiver_index: the receiver's index from the handshake
 *   8  u64 counter: per direction from 0; a 64-wide replay window
 *  16  ciphertext[64] | tag[16]: ChaCha20-Poly1305 (IETF) under the
 *      sender's session key, nonce = 4 zero bytes || counter (big-endian),
 *      AD = bytes 0..15
 *   The 64-byte plaintext (um_relay_control), zero padded:
 *   REGISTER (node -> relay)         u8 kind=1 | u8 0 | u16 0 | admission_tag[32]
 *   ACK (relay -> node)              u8 kind=2 | u8 0 | u16 keepalive_interval_s |
 *                                    challenge[16] | endpoint[20] | u16 registration_timeout_s |
 *                                    u16 max_payload | u32 max_packets_per_s | u32 max_bytes_per_s
 *   KEEPALIVE (node -> relay)        u8 kind=3 | u8 flags | u16 0 | u64 sequence | challenge[16]
 *   KEEPALIVE_REPLY (relay -> node)  u8 kind=4 | u8 flags | u16 0 | u64 sequence | challenge[16] |
 *                                    endpoint[20]
 *   ERROR (relay -> node)            u8 kind=5 | u8 code | u16 retry_after_s | ref[32]
 *   LOOKUP (node -> relay)           u8 kind=6 | u8 0 | u16 0 | peer_id[32]
 *   HANDLE (relay -> node)           u8 kind=7 | u8 flags (bit0: found) | u16 0 | peer_id[32] | u64 handle
 *   ANNOUNCE (relay -> node)         u8 kind=8 | u8 0 | u16 0 | peer_id[32] | u64 handle
 *   RESOLVE (node -> relay)          u8 kind=9 | u8 0 | u16 0 | u64 handle
 *   flags bit1 (CHALLENGE): in a reply, a challenge for the new source
 *   endpoint; in a request, the echo of the last challenge. A
 *   registration binds or moves to an endpoint only when a fresh sealed
 *   KEEPALIVE from there echoes the challenge the relay sent there.
 *
 * Routing handles: a node asks (LOOKUP) for the handle of a peer; the
 * relay answers (HANDLE) with a 64-bit handle (random in its upper half,
 * the relay's table index below: opaque to the node), valid while the
 * node's registration lives, one per (registration, other peer), the same
 * in both directions: a node sends to its peer with it and receives from
 * it with it, and the same peer has another handle at every other node.
 * Before the first FORWARDED with a handle the node never asked for (and
 * every 10 s while the pair's traffic flows), the relay sends it ANNOUNCE
 * (handle -> peer ID); a node that missed it asks with RESOLVE. A FORWARD with a handle the relay does not know gets a
 * sealed ERROR UNKNOWN_HANDLE (ref: the handle, big-endian, zero padded).
 *
 * FORWARD 0x23 (node -> relay) and FORWARDED 0x24 (relay -> node):
 *   0  u8 type | u8 0 | u16 0
 *   4  route[32]: u64 handle | zero[24] (the handle of the other peer in
 *      this node's registration: destination in FORWARD, source in
 *      FORWARDED; the 32 bytes keep the version 2 layout, so FORWARD is
 *      rewritten into FORWARDED in place)
 *  36  payload (1..UM_RELAY_MAX_PAYLOAD bytes, opaque, end-to-end sealed)
 *
 * ERROR 0x25 (relay -> node), 36 bytes, unsealed: only a hint (the node
 *   never tears a registration down on one):
 *   0  u8 type | u8 code | u16 retry_after_s
 *   4  ref[32]: for NOT_REGISTERED, BLAKE2b-256 of the sealed datagram it
 *      answers (an off-path sender never saw it); else zero or the nonce
 *   Never larger than the datagram that caused it (no amplification). */
#ifndef UM_WIRE_RELAY_H
#define UM_WIRE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "util/addr.h"
#include "wire/handshake.h"

/* Aliases of the registry (wire/types.h). */
enum um_relay_msg_type {
	UM_MSG_RELAY_ID = UM_TYPE_RELAY_ID,
	UM_MSG_RELAY_HANDSHAKE = UM_TYPE_RELAY_HANDSHAKE,
	UM_MSG_RELAY_SEALED = UM_TYPE_RELAY_SEALED,
	UM_MSG_RELAY_FORWARD = UM_TYPE_RELAY_FORWARD,
	UM_MSG_RELAY_FORWARDED = UM_TYPE_RELAY_FORWARDED,
	UM_MSG_RELAY_ERROR = UM_TYPE_RELAY_ERROR,
};

enum um_relay_error_code {
	UM_RELAY_ERR_UNKNOWN_PEER = 1,     /* FORWARD to a peer not registered here */
	UM_RELAY_ERR_RATE_LIMITED = 2,     /* packet or byte budget exceeded */
	UM_RELAY_ERR_NOT_ADMITTED = 3,     /* not on the allow-list / bad admission tag */
	UM_RELAY_ERR_NOT_REGISTERED = 4,   /* unknown session or endpoint: register again */
	UM_RELAY_ERR_BAD_REGISTRATION = 5, /* (version 2; kept so its number stays taken) */
	UM_RELAY_ERR_FULL = 6,             /* node cap reached */
	UM_RELAY_ERR_NEED_KEY = 7,         /* (version 2) */
	UM_RELAY_ERR_VERSION = 8,          /* relay protocol version not supported */
	UM_RELAY_ERR_UNKNOWN_HANDLE = 9,   /* FORWARD with a handle this registration does not have */
};

enum um_relay_control_kind {
	UM_RELAY_CTL_REGISTER = 1,
	UM_RELAY_CTL_ACK = 2,
	UM_RELAY_CTL_KEEPALIVE = 3,
	UM_RELAY_CTL_KEEPALIVE_REPLY = 4,
	UM_RELAY_CTL_ERROR = 5,
	UM_RELAY_CTL_LOOKUP = 6,
	UM_RELAY_CTL_HANDLE = 7,
	UM_RELAY_CTL_ANNOUNCE = 8,
	UM_RELAY_CTL_RESOLVE = 9,
};

enum {
	UM_RELAY_VERSION = 3,
	UM_RELAY_V2 = 2, /* recognised only to refuse it */
	UM_RELAY_KEY_BYTES = 32,
	UM_RELAY_CHALLENGE_BYTES = 16,
	UM_RELAY_HASH_BYTES = 32,
	UM_RELAY_NONCE_BYTES = 16,
	UM_RELAY_TAG_BYTES = 32,
	UM_RELAY_ADMISSION_KEY_BYTES = 32,
	UM_RELAY_ENDPOINT_BYTES = 20,
	UM_RELAY_ID_FLAG_REPLY = 0x01,
	UM_RELAY_KEEPALIVE_FLAG_CHALLENGE = 0x02,
	UM_RELAY_HANDLE_FLAG_FOUND = 0x01,

	UM_RELAY_ID_BYTES = 64,
	UM_RELAY_HANDSHAKE_MAX_BYTES = 1 + UM_HS_MAX_DATAGRAM,
	UM_RELAY_SEALED_HEADER_BYTES = 16,
	UM_RELAY_CONTROL_BYTES = 64,
	UM_RELAY_AEAD_TAG_BYTES = 16,
	UM_RELAY_SEALED_BYTES = UM_RELAY_SEALED_HEADER_BYTES + UM_RELAY_CONTROL_BYTES + UM_RELAY_AEAD_TAG_BYTES,
	UM_RELAY_ERROR_BYTES = 36,
	/* Version 2 sizes, recognised to answer with ERROR VERSION. */
	UM_RELAY_V2_KEEPALIVE_BYTES = 96,

	/* FORWARD/FORWARDED: whole datagram <= 1280 bytes. */
	UM_RELAY_FORWARD_HEADER_BYTES = 36,
	UM_RELAY_MAX_DATAGRAM = 1280,
	UM_RELAY_MAX_PAYLOAD = UM_RELAY_MAX_DATAGRAM - UM_RELAY_FORWARD_HEADER_BYTES,
};

_Static_assert(UM_RELAY_HANDSHAKE_MAX_BYTES <= UM_RELAY_MAX_DATAGRAM, "a wrapped handshake datagram fits");

/* RELAY_ID request or reply. */
struct um_relay_id_msg {
	bool reply;
	uint8_t nonce[UM_RELAY_NONCE_BYTES];
	struct um_peer_id id; /* zero in a request */
};

/* The plaintext of a RELAY_SEALED (fields per kind, see above). */
struct um_relay_control {
	uint8_t kind;
	uint8_t flags; /* KEEPALIVE(_REPLY) */
	uint8_t code;  /* ERROR */
	uint16_t retry_after_s;
	uint64_t sequence;
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES];
	struct um_addr observed; /* ACK, KEEPALIVE_REPLY */
	uint16_t keepalive_interval_s, registration_timeout_s, max_payload;
	uint32_t max_packets_per_s, max_bytes_per_s;
	uint8_t tag[UM_RELAY_TAG_BYTES]; /* REGISTER: admission tag; ERROR: ref */
	struct um_peer_id peer;          /* LOOKUP, HANDLE, ANNOUNCE */
	uint64_t handle;                 /* HANDLE, ANNOUNCE, RESOLVE (never 0) */
};

/* FORWARD and FORWARDED share this form. */
struct um_relay_forward {
	struct um_peer_id peer; /* the route field: a handle (um_relay_route_*) */
	const uint8_t *payload;
	size_t payload_len;
};

struct um_relay_error {
	uint8_t code;
	uint16_t retry_after_s;
	uint8_t ref[32];
};

/* A 64-wide sliding replay window over sealed counters (relays keep one
 * per registration, so 16 bytes rather than session/replay.h's ring). */
struct um_relay_window {
	uint64_t top; /* highest accepted counter + 1; 0 = none yet */
	uint64_t bits;
};
/* 0 when counter is fresh, -UM_EREPLAY when seen or too old. */
int um_relay_window_check(const struct um_relay_window *w, uint64_t counter);
/* Records counter (after the AEAD opened). */
void um_relay_window_update(struct um_relay_window *w, uint64_t counter);

int um_relay_id_encode(uint8_t *out, size_t cap, const struct um_relay_id_msg *m);
/* Exact size, version (-UM_EVERSION), zero padding, zero ID in requests. */
int um_relay_id_decode(struct um_relay_id_msg *m, const uint8_t *in, size_t len);

/* The plaintext of a sealed message: encode fills UM_RELAY_CONTROL_BYTES
 * (zero padded); decode checks the kind, the padding and the endpoint. */
int um_relay_control_encode(uint8_t out[UM_RELAY_CONTROL_BYTES], const struct um_relay_control *m);
int um_relay_control_decode(struct um_relay_control *m, const uint8_t in[UM_RELAY_CONTROL_BYTES]);

/* RELAY_SEALED: seals m under key (UM_RELAY_KEY_BYTES, only read) with
 * counter. Returns UM_RELAY_SEALED_BYTES or a negative code. */
int um_relay_sealed_encode(uint8_t *out, size_t cap, uint32_t receiver_index, uint64_t counter,
			   const uint8_t key[UM_RELAY_KEY_BYTES], const struct um_relay_control *m);
/* Header only (no key needed): size, type, version (-UM_EVERSION for a
 * version 2 KEEPALIVE of the same type byte), reserved bytes. */
int um_relay_sealed_header(const uint8_t *in, size_t len, uint32_t *receiver_index, uint64_t *counter);
/* Opens and decodes; 0, -UM_EBADMSG (forged, wrong key) or a decode error.
 * The caller checks and then updates its replay window. */
int um_relay_sealed_open(struct um_relay_control *m, const uint8_t *in, size_t len,
			 const uint8_t key[UM_RELAY_KEY_BYTES]);

/* Admission tag of a REGISTER: BLAKE2b-256 keyed with the network
 * admission key over a label, the node's ID and the relay's. Only ever
 * sent sealed to the relay. */
void um_relay_admission_tag(uint8_t tag[UM_RELAY_TAG_BYTES], const uint8_t key[UM_RELAY_ADMISSION_KEY_BYTES],
			    const struct um_peer_id *node, const struct um_peer_id *relay);

/* BLAKE2b-256 of a datagram: the ref of a NOT_REGISTERED hint. */
void um_relay_datagram_hash(uint8_t hash[UM_RELAY_HASH_BYTES], const uint8_t *in, size_t len);

/* The route field of FORWARD(ED) for a handle, and back: -UM_EINVAL for a
 * zero handle or padding that is not zero. */
void um_relay_route_set(struct um_peer_id *route, uint64_t handle);
int um_relay_route_handle(const struct um_peer_id *route, uint64_t *handle);

/* type is UM_MSG_RELAY_FORWARD or UM_MSG_RELAY_FORWARDED. */
int um_relay_forward_encode(uint8_t *out, size_t cap, uint8_t type, const struct um_relay_forward *m);
int um_relay_forward_decode(struct um_relay_forward *m, uint8_t type, const uint8_t *in, size_t len);

int um_relay_error_encode(uint8_t *out, size_t cap, const struct um_relay_error *m);
int um_relay_error_decode(struct um_relay_error *m, const uint8_t *in, size_t len);

#endif
