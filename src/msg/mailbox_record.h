/* SPDX-License-Identifier: MIT */
/* The mailbox record (docs/PROTOCOL.md section 22): a peer's mailbox URLs
 * and its current signed prekey, published in the DHT under
 * SHA3-256("umbra mailbox" || peer ID), so a sender that has no
 * `[peer] mailbox` for it finds where to queue and what to seal to.
 *
 *   0  u8 version 1 | u8 type 0x10 | owner peer_id[32] | u64 sequence |
 *      u64 expires_ms | u8 n_urls (1..2) | n x (u8 len (1..255) | URL) |
 *      prekey[1,653] (the bundle's signed part: wire/envelope.h) |
 *      ed25519 pk[32] | hybrid signature[4,691] (context
 *      "umbra mailbox v1", over all before) | ed25519 signature[64]
 *      (over all before, hybrid signature included)
 *
 * At most 7,003 bytes: under the DHT's 8 KiB value limit. The owner's
 * hybrid public key (2,624 bytes) does not fit beside the signature and
 * the prekey, so a storer cannot check the hybrid signature; it checks the
 * shape, the key binding, the expiry and the Ed25519 signature under the
 * Ed25519 key in the record, and keeps records per (owner, Ed25519 key):
 * a forger can add a record under the key but not replace the owner's.
 * The sender checks everything with the owner's hybrid key
 * (um_mailbox_record_verify: the Ed25519 key must be that key's half).
 * Integers big-endian. I/O-free, no clock (callers pass wall-clock ms). */
#ifndef UM_MSG_MAILBOX_RECORD_H
#define UM_MSG_MAILBOX_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "msg/prekey.h"

#define UM_MAILBOX_RECORD_CONTEXT "umbra mailbox v1"
#define UM_MAILBOX_RECORD_LABEL   "umbra mailbox"

enum {
	UM_MAILBOX_RECORD_VERSION = 1,
	UM_MAILBOX_RECORD_TYPE = 0x10, /* beside the DHT's record types (dht/record.h: 1..4) */
	UM_MAILBOX_RECORD_URLS_MAX = 2,
	UM_MAILBOX_RECORD_URL_MAX = 255,
	UM_MAILBOX_RECORD_MIN = 2 + 32 + 8 + 8 + 1 + 2 + UM_PREKEY_SIGNED_BYTES + 32 + UM_HSIG_BYTES + 64,
	UM_MAILBOX_RECORD_MAX = UM_MAILBOX_RECORD_MIN - 2 + 2 * (1 + UM_MAILBOX_RECORD_URL_MAX),
};

/* A record's fields after a check; URLs NUL-terminated copies. */
struct um_mailbox_record {
	uint8_t owner[UM_PEER_ID_BYTES];
	uint64_t sequence;
	uint64_t expires_ms;
	unsigned n_urls;
	char urls[UM_MAILBOX_RECORD_URLS_MAX][UM_MAILBOX_RECORD_URL_MAX + 1];
	uint8_t ed25519_pk[32];
	struct um_prekey_public prekey; /* valid after um_mailbox_record_verify */
};

/* The DHT key of owner's record. */
void um_mailbox_record_key(const uint8_t owner[UM_PEER_ID_BYTES], uint8_t key[32]);

/* Builds identity's record into out (cap >= UM_MAILBOX_RECORD_MAX is
 * enough): bundle (borrowed) is identity's current signed prekey bundle
 * (its signed part is copied; the record expires with it); urls 1..2
 * (borrowed, 1..255 bytes each). 0, -UM_EINVAL (bad bundle or URLs, a
 * bundle of another owner), -UM_ERANGE (cap). */
int um_mailbox_record_build(uint8_t *out, size_t cap, size_t *len, const struct um_identity *identity,
			    const uint8_t *bundle, size_t bundle_len, const char *const *urls, size_t n_urls,
			    uint64_t sequence);

/* What a DHT storer can check: layout (-UM_ETRUNC, -UM_EVERSION,
 * -UM_EINVAL), key == um_mailbox_record_key(owner) (-UM_EBADMSG), not
 * expired (-UM_EREPLAY), the Ed25519 signature (-UM_EBADMSG). Fills out
 * (not prekey) on success. */
int um_mailbox_record_check(const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ms,
			    struct um_mailbox_record *out);

/* What a sender checks before using it: um_mailbox_record_check under
 * owner's key, then owner_pk hashes to the owner (-UM_EBADMSG), its
 * Ed25519 half is the record's, the prekey is the owner's with a lifetime
 * of at most UM_PREKEY_LIFETIME_MAX (-UM_EINVAL), created at most
 * UM_PREKEY_FUTURE_MAX ahead (-UM_ERANGE), and the hybrid signature
 * (-UM_EBADMSG). out fully filled on success. */
int um_mailbox_record_verify(const uint8_t *value, size_t len, const uint8_t owner_pk[UM_HSIG_PK_BYTES],
			     uint64_t now_ms, struct um_mailbox_record *out);

#endif
