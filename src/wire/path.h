/* SPDX-License-Identifier: MIT */
/* Path messages (issue 5): candidate exchange and path validation between
 * two peers that share a session. Pure codecs; the node derives the path
 * key from the session keys (um_path_key_derive) and keeps only that.
 *
 * Every message: type | flags | version (2) | 0 | sender peer ID (32) |
 * counter u64 | body | mac (16) where mac = BLAKE2b-128 keyed with the
 * 32-byte path key over everything before it. counter grows by one with
 * every path message the sender sends (any type, for the life of its
 * engine); the receiver keeps a replay window per path key and drops a
 * counter it has seen or that is too old (review #4: a probe cannot be
 * replayed). Integers are big-endian (network order), encoded with
 * util/buf.h like every other message. Versions 0 and 1 (no counter) are
 * refused with -UM_EVERSION, and a version-1 node refuses version 2:
 * docs/PROTOCOL.md §13.
 *
 * CANDIDATES 0x26: body = generation u64 | count u8 | 0 0 0 |
 *   count x candidate (kind u8 | family u8 (4/6) | port u16 | addr 16,
 *   IPv4 zero-padded).
 *   At most UM_PATH_MAX_CANDIDATES. generation only grows (replay guard).
 *   flags: NEED (the sender wants the receiver's candidates in return).
 * PROBE 0x27: body = nonce (16). flags: PING (measure only, never migrate).
 * PROBE_REPLY 0x28: body = echoed nonce (16) | observed endpoint (the
 *   probe's source as the replier saw it; 20 bytes as a candidate, kind 0). */
#ifndef UM_WIRE_PATH_H
#define UM_WIRE_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
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
	UM_PATH_VERSION = 2,
	UM_PATH_KEY_BYTES = 32,
	UM_PATH_MAC_BYTES = 16,
	UM_PATH_NONCE_BYTES = 16,
	UM_PATH_HEADER_BYTES = 44,
	UM_PATH_CANDIDATE_BYTES = 20,
	UM_PATH_MAX_CANDIDATES = 8,
	UM_PATH_FLAG_PING = 0x01, /* PROBE/PROBE_REPLY: measure only */
	UM_PATH_FLAG_NEED = 0x02, /* CANDIDATES: answer with yours */
	UM_PATH_FLAGS = UM_PATH_FLAG_PING | UM_PATH_FLAG_NEED,
	UM_PATH_PROBE_BYTES = UM_PATH_HEADER_BYTES + UM_PATH_NONCE_BYTES + UM_PATH_MAC_BYTES,
	UM_PATH_PROBE_REPLY_BYTES = UM_PATH_PROBE_BYTES + UM_PATH_CANDIDATE_BYTES,
	UM_PATH_CANDIDATES_MIN_BYTES = UM_PATH_HEADER_BYTES + 12 + UM_PATH_MAC_BYTES,
	UM_PATH_CANDIDATES_MAX_BYTES = UM_PATH_CANDIDATES_MIN_BYTES + UM_PATH_MAX_CANDIDATES * UM_PATH_CANDIDATE_BYTES,
};

struct um_path_candidate {
	uint8_t kind;
	struct um_addr addr;
};

/* One decoded path message (any of the three types). */
struct um_path_msg {
	uint8_t type, flags;
	struct um_peer_id sender;
	uint64_t counter;    /* the sender's message counter (freshness) */
	uint64_t generation; /* CANDIDATES */
	uint8_t count;       /* CANDIDATES */
	struct um_path_candidate candidates[UM_PATH_MAX_CANDIDATES];
	uint8_t nonce[UM_PATH_NONCE_BYTES]; /* PROBE, PROBE_REPLY */
	struct um_addr observed;            /* PROBE_REPLY */
};

/* path_key = BLAKE2b-256(key = send_key XOR recv_key, "umbra path key v1"):
 * both ends of a session get the same key (their send and receive keys are
 * swapped) and it reveals nothing about either DATA key. */
void um_path_key_derive(uint8_t out[UM_PATH_KEY_BYTES], const uint8_t send_key[32], const uint8_t recv_key[32]);

/* Encodes m (m->type selects the layout) and appends the MAC under key.
 * Returns the length, -UM_ETRUNC when cap is too small, or
 * -UM_EINVAL for a bad type, count or address family. */
int um_path_encode(uint8_t *out, size_t cap, const struct um_path_msg *m, const uint8_t key[UM_PATH_KEY_BYTES]);
/* Structure only (no MAC check): 0, -UM_ETRUNC, -UM_EVERSION (another
 * version: the peer runs an incompatible release) or -UM_EINVAL. */
int um_path_decode(struct um_path_msg *m, const uint8_t *in, size_t len);
/* The sender peer ID of a path message (header only, no MAC check), to
 * find whose path key verifies it: 0 or -UM_ETRUNC. */
int um_path_peek_sender(const uint8_t *in, size_t len, struct um_peer_id *sender);
/* MAC check in constant time: 0 or -UM_EBADMSG. */
int um_path_verify(const uint8_t *in, size_t len, const uint8_t key[UM_PATH_KEY_BYTES]);

#endif
