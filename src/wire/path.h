/* SPDX-License-Identifier: MIT */
/* Path messages (issue 5): candidate exchange and path validation between
 * two peers that share a session. Pure codecs; the node derives the path
 * keys from the session keys (um_path_keys_derive) and keeps only those.
 *
 * Version 3 (issue 13): sealed inside the session, like DATA, so a passive
 * observer reads no peer ID, public key or address. Every message:
 *
 *   header (16, in clear, the AEAD's associated data):
 *     type u8 | version u8 (3) | 0 u16 | receiver_index u32 | counter u64
 *   ciphertext of: flags u8 | body
 *   tag (16)
 *
 * receiver_index is the receiver's local session index of the keypair the
 * path keys come from (the index DATA to that peer carries), so the
 * receiver finds the peer and the key without trial decryption. counter
 * grows by one with every path message the sender sends (any type, for the
 * life of its engine): unique per key, so it is the nonce (4 zero bytes |
 * counter little-endian, as DATA), and the receiver keeps a replay window
 * per key (review #4). AEAD: ChaCha20-Poly1305 (IETF, crypto/
 * chacha20poly1305.h, the code DATA uses for small packets). Integers in
 * header and body are big-endian, encoded with util/buf.h.
 *
 * Versions 0..2 put flags in byte 1, the version in byte 2 and the
 * sender's peer ID in clear at bytes 4..35; they are refused with
 * -UM_EVERSION (byte 1 is not 3), and a version-2 node refuses version 3
 * (its byte 2 is 0): docs/PROTOCOL.md §13.
 *
 * Bodies:
 * CANDIDATES 0x26: generation u64 | count u8 | 0 0 0 | count x candidate
 *   (kind u8 | family u8 (4/6) | port u16 | addr 16, IPv4 zero-padded).
 *   At most UM_PATH_MAX_CANDIDATES. generation only grows (replay guard).
 *   flags: NEED (the sender wants the receiver's candidates in return).
 * PROBE 0x27: nonce (16). flags: PING (measure only, never migrate).
 * PROBE_REPLY 0x28: echoed nonce (16) | observed endpoint (the probe's
 *   source as the replier saw it; 20 bytes as a candidate, kind 0). */
#ifndef UM_WIRE_PATH_H
#define UM_WIRE_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "util/addr.h"
#include "wire/handshake.h"

/* Aliases of the registry (wire/types.h). */
enum um_path_msg_type {
	UM_MSG_PATH_CANDIDATES = UM_TYPE_PATH_CANDIDATES,
	UM_MSG_PATH_PROBE = UM_TYPE_PATH_PROBE,
	UM_MSG_PATH_PROBE_REPLY = UM_TYPE_PATH_PROBE_REPLY,
};

enum um_path_candidate_kind {
	UM_PATH_CAND_LOCAL = 1,     /* an address of one of our interfaces */
	UM_PATH_CAND_REFLEXIVE = 2, /* as a relay (or STUN server) sees us */
};

enum {
	UM_PATH_VERSION = 3,
	UM_PATH_KEY_BYTES = 32,
	UM_PATH_TAG_BYTES = 16,
	UM_PATH_NONCE_BYTES = 16, /* a probe's nonce (the AEAD nonce is the counter) */
	UM_PATH_HEADER_BYTES = 16,
	UM_PATH_CANDIDATE_BYTES = 20,
	UM_PATH_MAX_CANDIDATES = 8,
	UM_PATH_FLAG_PING = 0x01, /* PROBE/PROBE_REPLY: measure only */
	UM_PATH_FLAG_NEED = 0x02, /* CANDIDATES: answer with yours */
	UM_PATH_FLAGS = UM_PATH_FLAG_PING | UM_PATH_FLAG_NEED,
	/* header + sealed flags byte + tag */
	UM_PATH_OVERHEAD = UM_PATH_HEADER_BYTES + 1 + UM_PATH_TAG_BYTES,
	UM_PATH_PROBE_BYTES = UM_PATH_OVERHEAD + UM_PATH_NONCE_BYTES,
	UM_PATH_PROBE_REPLY_BYTES = UM_PATH_PROBE_BYTES + UM_PATH_CANDIDATE_BYTES,
	UM_PATH_CANDIDATES_MIN_BYTES = UM_PATH_OVERHEAD + 12,
	UM_PATH_CANDIDATES_MAX_BYTES = UM_PATH_CANDIDATES_MIN_BYTES + UM_PATH_MAX_CANDIDATES * UM_PATH_CANDIDATE_BYTES,
	/* Versions 0..2: the sender's peer ID sat in clear at bytes 4..35. */
	UM_PATH_LEGACY_SENDER_OFFSET = 4,
};

struct um_path_candidate {
	uint8_t kind;
	struct um_addr addr;
};

/* The clear header: all a receiver (and an observer) reads before opening. */
struct um_path_header {
	uint8_t type;
	uint32_t receiver_index;
	uint64_t counter;
};

/* One path message (any of the three types). */
struct um_path_msg {
	uint8_t type, flags;
	uint32_t receiver_index; /* the receiver's local session index */
	uint64_t counter;        /* the sender's message counter (nonce, freshness) */
	uint64_t generation;     /* CANDIDATES */
	uint8_t count;           /* CANDIDATES */
	struct um_path_candidate candidates[UM_PATH_MAX_CANDIDATES];
	uint8_t nonce[UM_PATH_NONCE_BYTES]; /* PROBE, PROBE_REPLY */
	struct um_addr observed;            /* PROBE_REPLY */
};

/* One key per direction, so the two senders' counters (both start at 0)
 * never meet under one key: send_out = BLAKE2b-256(key = send_key,
 * "umbra path key v3"), recv_out the same over recv_key. The peer derives
 * our recv_out as its send_out (its keys are ours swapped); neither reveals
 * anything about the DATA keys, and no DATA nonce is ever used under them. */
void um_path_keys_derive(uint8_t send_out[UM_PATH_KEY_BYTES], uint8_t recv_out[UM_PATH_KEY_BYTES],
			 const uint8_t send_key[32], const uint8_t recv_key[32]);

/* Encodes m (m->type selects the layout; m->receiver_index and m->counter
 * go into the header) and seals it under key (the sender's send path key).
 * Returns the length, -UM_ETRUNC when cap is too small, or -UM_EINVAL for
 * a bad type, flags, count or address family. */
int um_path_seal(uint8_t *out, size_t cap, const struct um_path_msg *m, const uint8_t key[UM_PATH_KEY_BYTES]);

/* The clear header only, no authentication: 0, -UM_ETRUNC, -UM_EVERSION
 * (another version: the peer runs an incompatible release), or -UM_EINVAL
 * (unknown type, reserved bits, or a length no message of the type has). */
int um_path_header_decode(struct um_path_header *h, const uint8_t *in, size_t len);

/* Header, then the AEAD under key (the receiver's recv path key), then the
 * body: 0, the errors of um_path_header_decode, -UM_EBADMSG (wrong key or
 * tampered: nothing decoded), or -UM_EINVAL (authentic but malformed). m is
 * filled only on 0. */
int um_path_open(struct um_path_msg *m, const uint8_t *in, size_t len, const uint8_t key[UM_PATH_KEY_BYTES]);

/* The sender's peer ID that versions 0..2 carried in clear, only to name
 * an outdated peer in a log: 0, or -UM_EINVAL when in is not such a
 * message (version 3, or too short). */
int um_path_legacy_sender(const uint8_t *in, size_t len, struct um_peer_id *sender);

#endif
