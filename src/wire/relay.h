/* SPDX-License-Identifier: MIT */
/* Relay protocol wire formats (issue 5). Pure codecs; the only crypto here
 * is building and checking the registration's signature and admission tag.
 * Type bytes come from the 0x20..0x2f range of wire/types.h shared with
 * path messages (0x26..0x28); 0x29..0x2f stay free for either.
 * All integers big-endian; reserved bytes are zero and checked.
 *
 * Version 2 (review #5, #6, #8): no bearer token. The signed REGISTER
 * carries an ephemeral X25519 key, the ACK the relay's; both derive a
 * registration MAC key (um_relay_registration_key) that never travels.
 * KEEPALIVEs carry a monotonic sequence and a MAC under it. Version 1
 * messages are refused (the relay answers a v1 REGISTER with ERROR VERSION).
 *
 * REGISTER 0x20 (node -> relay; larger than a datagram, so it travels in
 * FRAGMENT 0x06 pieces with msg_type 0x20 and receiver_index 0):
 *   0  u8 type | u8 version=2 | u8 flags (bit0: public key included) | u8 0
 *   4  u64 timestamp_ms (wall clock, Unix epoch)
 *  12  nonce[16] (random; the relay refuses a nonce it has seen)
 *  28  peer_id[32]
 *  60  ephemeral[32]: the node's X25519 key for this registration
 *  92  [hybrid public key, UM_HSIG_PK_BYTES, if flag bit0]
 *   .. admission_tag[32]: BLAKE2b-256 keyed with the network admission key
 *      over all bytes before it; zeros when the network has no key
 *   .. hybrid signature (UM_HSIG_BYTES) over all bytes before it, context
 *      "umbra relay register v2"
 *   Without the public key, the relay must already know it (allow-list
 *   with keys); relays do not store keys per node (memory goal <= 2 KB).
 *
 * REGISTER_ACK 0x21 (relay -> node), 116 bytes:
 *   0  u8 type | u8 version=2 | u16 keepalive_interval_s
 *   4  nonce[16] (the registration's, so the node can match it)
 *  20  ephemeral[32]: the relay's X25519 key for this registration
 *  52  challenge[16]: random; the node's first KEEPALIVE echoes it, which
 *      proves the node receives at the endpoint (return routability)
 *  68  endpoint[20]: u8 family (4/6) | u8 0 | u16 port | addr[16] (IPv4 in
 *      the first 4 bytes, rest zero): the node's address as the relay saw it
 *  88  u16 registration_timeout_s | u16 max_payload
 *  92  u32 max_packets_per_s | u32 max_bytes_per_s
 * 100  mac[16]: keyed BLAKE2b-128 under the registration key over 0..99
 *
 * KEEPALIVE 0x22 (both ways; the relay answers each one), 96 bytes:
 *   0  u8 type | u8 flags (bit0: reply, bit1: challenge) | u8 version=2 | u8 0
 *   4  peer_id[32] | 36 u64 sequence (requests: strictly increasing per
 *      registration; replies echo it)
 *  44  challenge[16]: in a reply with bit1, a challenge for the new source
 *      endpoint; in a request with bit1, the echo of the last challenge;
 *      zero without bit1
 *  60  endpoint[20]: zero in requests; in replies the observed endpoint
 *  80  mac[16]: keyed BLAKE2b-128 under the registration key over 0..79
 *   A registration moves to a new endpoint only when a fresh, MACed
 *   KEEPALIVE from there echoes the challenge the relay sent there.
 *
 * FORWARD 0x23 (node -> relay) and FORWARDED 0x24 (relay -> node):
 *   0  u8 type | u8 0 | u16 0
 *   4  peer_id[32]: destination in FORWARD, source in FORWARDED
 *  36  payload (1..UM_RELAY_MAX_PAYLOAD bytes, opaque, end-to-end sealed)
 *   The two have the same size, so a relay rewrites FORWARD into FORWARDED
 *   in place. The source is the registration bound to the sender's endpoint.
 *
 * ERROR 0x25 (relay -> node), 36 bytes (unchanged from version 1):
 *   0  u8 type | u8 code | u16 retry_after_s
 *   4  ref[32]: the peer ID concerned (unknown peer), the registration
 *      nonce followed by zeros (registration errors), or for NOT_REGISTERED
 *      answering a KEEPALIVE: BLAKE2b-256 of that KEEPALIVE (only the relay
 *      and the path saw it, so an off-path sender cannot forge it)
 *   Never larger than the datagram that caused it (no amplification). */
#ifndef UM_WIRE_RELAY_H
#define UM_WIRE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/handshake.h"

/* Aliases of the registry (wire/types.h). */
enum um_relay_msg_type {
	UM_MSG_RELAY_REGISTER = UM_TYPE_RELAY_REGISTER,
	UM_MSG_RELAY_REGISTER_ACK = UM_TYPE_RELAY_REGISTER_ACK,
	UM_MSG_RELAY_KEEPALIVE = UM_TYPE_RELAY_KEEPALIVE,
	UM_MSG_RELAY_FORWARD = UM_TYPE_RELAY_FORWARD,
	UM_MSG_RELAY_FORWARDED = UM_TYPE_RELAY_FORWARDED,
	UM_MSG_RELAY_ERROR = UM_TYPE_RELAY_ERROR,
};

enum um_relay_error_code {
	UM_RELAY_ERR_UNKNOWN_PEER = 1,     /* FORWARD to a peer not registered here */
	UM_RELAY_ERR_RATE_LIMITED = 2,     /* packet or byte budget exceeded */
	UM_RELAY_ERR_NOT_ADMITTED = 3,     /* not on the allow-list / bad admission tag */
	UM_RELAY_ERR_NOT_REGISTERED = 4,   /* sender endpoint unknown: register again */
	UM_RELAY_ERR_BAD_REGISTRATION = 5, /* signature, timestamp or replay */
	UM_RELAY_ERR_FULL = 6,             /* node cap reached */
	UM_RELAY_ERR_NEED_KEY = 7,         /* send the registration with the public key */
	UM_RELAY_ERR_VERSION = 8,          /* relay protocol version not supported */
};

enum {
	UM_RELAY_VERSION = 2,
	UM_RELAY_X25519_BYTES = 32,
	UM_RELAY_KEY_BYTES = 32,
	UM_RELAY_MAC_BYTES = 16,
	UM_RELAY_CHALLENGE_BYTES = 16,
	UM_RELAY_HASH_BYTES = 32,
	UM_RELAY_NONCE_BYTES = 16,
	UM_RELAY_TAG_BYTES = 32,
	UM_RELAY_ADMISSION_KEY_BYTES = 32,
	UM_RELAY_ENDPOINT_BYTES = 20,
	UM_RELAY_REGISTER_FLAG_PUBLIC_KEY = 0x01,
	UM_RELAY_KEEPALIVE_FLAG_REPLY = 0x01,
	UM_RELAY_KEEPALIVE_FLAG_CHALLENGE = 0x02,

	UM_RELAY_REGISTER_HEADER_BYTES = 92,
	UM_RELAY_REGISTER_MIN_BYTES = UM_RELAY_REGISTER_HEADER_BYTES + UM_RELAY_TAG_BYTES + UM_HSIG_BYTES,
	UM_RELAY_REGISTER_MAX_BYTES = UM_RELAY_REGISTER_MIN_BYTES + UM_HSIG_PK_BYTES,
	UM_RELAY_REGISTER_ACK_BYTES = 116,
	UM_RELAY_KEEPALIVE_BYTES = 96,
	/* Version 1 REGISTER sizes, still reassembled so the relay can answer
	 * them with ERROR VERSION. */
	UM_RELAY_V1_REGISTER_MIN_BYTES = 60 + UM_RELAY_TAG_BYTES + UM_HSIG_BYTES,
	UM_RELAY_V1_REGISTER_MAX_BYTES = UM_RELAY_V1_REGISTER_MIN_BYTES + UM_HSIG_PK_BYTES,
	UM_RELAY_V1_KEEPALIVE_BYTES = 72,
	UM_RELAY_ERROR_BYTES = 36,

	/* FORWARD/FORWARDED: whole datagram <= 1280 bytes. */
	UM_RELAY_FORWARD_HEADER_BYTES = 36,
	UM_RELAY_MAX_DATAGRAM = 1280,
	UM_RELAY_MAX_PAYLOAD = UM_RELAY_MAX_DATAGRAM - UM_RELAY_FORWARD_HEADER_BYTES,
};

#define UM_RELAY_REGISTER_CONTEXT "umbra relay register v2"

/* Decoded REGISTER; pointers borrow from the input. */
struct um_relay_register {
	uint8_t flags;
	uint64_t timestamp_ms;
	uint8_t nonce[UM_RELAY_NONCE_BYTES];
	struct um_peer_id id;
	uint8_t ephemeral[UM_RELAY_X25519_BYTES];
	const uint8_t *public_key; /* UM_HSIG_PK_BYTES, or NULL */
	const uint8_t *admission_tag;
	const uint8_t *signature;
	size_t tagged_len; /* bytes covered by the admission tag */
	size_t signed_len; /* bytes covered by the signature */
};

struct um_relay_register_ack {
	uint16_t keepalive_interval_s;
	uint8_t nonce[UM_RELAY_NONCE_BYTES];
	uint8_t ephemeral[UM_RELAY_X25519_BYTES];
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES];
	struct um_addr observed;
	uint16_t registration_timeout_s;
	uint16_t max_payload;
	uint32_t max_packets_per_s;
	uint32_t max_bytes_per_s;
	uint8_t mac[UM_RELAY_MAC_BYTES]; /* as decoded; written as is when encoding without a key */
};

struct um_relay_keepalive {
	uint8_t flags;
	struct um_peer_id id;
	uint64_t sequence;
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES]; /* zero without the flag */
	struct um_addr observed;                     /* family 0 in requests */
	uint8_t mac[UM_RELAY_MAC_BYTES];             /* as decoded, see the ACK */
};

/* FORWARD and FORWARDED share this form. */
struct um_relay_forward {
	struct um_peer_id peer; /* destination (FORWARD) or source (FORWARDED) */
	const uint8_t *payload;
	size_t payload_len;
};

struct um_relay_error {
	uint8_t code;
	uint16_t retry_after_s;
	uint8_t ref[32];
};

/* Builds and signs a REGISTER with identity (secret: only read). nonce is
 * 16 random bytes from the caller, ephemeral the node's X25519 public key
 * for this registration; admission_key NULL = no key (zero tag).
 * Returns the length or a negative code. */
int um_relay_register_build(uint8_t *out, size_t cap, const struct um_identity *identity, uint64_t timestamp_ms,
			    const uint8_t nonce[UM_RELAY_NONCE_BYTES], const uint8_t ephemeral[UM_RELAY_X25519_BYTES],
			    bool include_public_key, const uint8_t *admission_key);
/* Structure only: sizes, version, flags, reserved bytes. 0, -UM_ETRUNC or
 * -UM_EINVAL. No crypto. */
int um_relay_register_decode(struct um_relay_register *m, const uint8_t *in, size_t len);
/* Signature check with public_key (the included one or a known one): the
 * peer ID must be the key's and the signature must verify. 0 or -UM_EBADMSG. */
int um_relay_register_verify(const struct um_relay_register *m, const uint8_t *in,
			     const uint8_t public_key[UM_HSIG_PK_BYTES]);
/* Admission tag check (constant time). 0 or -UM_EBADMSG. */
int um_relay_register_check_admission(const struct um_relay_register *m, const uint8_t *in,
				      const uint8_t admission_key[UM_RELAY_ADMISSION_KEY_BYTES]);

/* The registration MAC key, derived by both sides and never sent:
 * BLAKE2b-256 keyed with X25519(secret, peer_public) over a label, the
 * REGISTER nonce, the node's peer ID and both ephemeral keys (node's
 * first). secret is only read; key is the caller's (wipe it after use).
 * 0, or -UM_EBADMSG for a low-order peer key. */
int um_relay_registration_key(uint8_t key[UM_RELAY_KEY_BYTES], const uint8_t secret[UM_RELAY_X25519_BYTES],
			      const uint8_t peer_public[UM_RELAY_X25519_BYTES],
			      const uint8_t node_ephemeral[UM_RELAY_X25519_BYTES],
			      const uint8_t relay_ephemeral[UM_RELAY_X25519_BYTES],
			      const uint8_t nonce[UM_RELAY_NONCE_BYTES], const struct um_peer_id *id);

/* Encoders append the MAC under key (UM_RELAY_KEY_BYTES; NULL: m->mac as
 * is, for tests and round trips). Decoders check
 * structure only; um_relay_mac_check then checks the trailing MAC of a
 * decoded ACK or KEEPALIVE (constant time): 0 or -UM_EBADMSG. */
int um_relay_register_ack_encode(uint8_t *out, size_t cap, const struct um_relay_register_ack *m, const uint8_t *key);
int um_relay_register_ack_decode(struct um_relay_register_ack *m, const uint8_t *in, size_t len);

int um_relay_keepalive_encode(uint8_t *out, size_t cap, const struct um_relay_keepalive *m, const uint8_t *key);
int um_relay_keepalive_decode(struct um_relay_keepalive *m, const uint8_t *in, size_t len);

int um_relay_mac_check(const uint8_t *in, size_t len, const uint8_t key[UM_RELAY_KEY_BYTES]);
/* BLAKE2b-256 of a datagram: the ref of an authenticated NOT_REGISTERED. */
void um_relay_datagram_hash(uint8_t hash[UM_RELAY_HASH_BYTES], const uint8_t *in, size_t len);

/* type is UM_MSG_RELAY_FORWARD or UM_MSG_RELAY_FORWARDED. */
int um_relay_forward_encode(uint8_t *out, size_t cap, uint8_t type, const struct um_relay_forward *m);
int um_relay_forward_decode(struct um_relay_forward *m, uint8_t type, const uint8_t *in, size_t len);

int um_relay_error_encode(uint8_t *out, size_t cap, const struct um_relay_error *m);
int um_relay_error_decode(struct um_relay_error *m, const uint8_t *in, size_t len);

#endif
