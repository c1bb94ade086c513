/* SPDX-License-Identifier: MIT */
/* Signed prekeys (docs/PROTOCOL.md section 20): the hybrid KEM keys a peer
 * publishes so others can seal envelopes to it while it is offline
 * (msg/envelope.h). The bundle layout is wire/envelope.h.
 *
 * The ring is the recipient's side: the current prekey plus the older ones
 * whose secrets are still kept. A prekey is current from its creation
 * until a new one replaces it, UM_PREKEY_REFRESH_MS before it expires (so
 * senders holding the old bundle and fetching the new one overlap); its
 * secret is kept until retention_ms after its expiry and then wiped, so a
 * later compromise of the ring file or of the identity opens no envelope
 * sealed to it. Forward secrecy window of an envelope: at most lifetime +
 * retention after it was sealed.
 *
 * Engine rules: no clock (callers pass now_ms, wall-clock milliseconds),
 * no I/O except the ring's own file (um_prekey_ring_save/load). */
#ifndef UM_MSG_PREKEY_H
#define UM_MSG_PREKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/envelope.h"

#define UM_PREKEY_CONTEXT "umbra prekey v1"

enum {
	UM_PREKEY_RING_MAX = 64, /* prekeys a ring holds (retention <= 30 lifetimes keeps it below) */
};

#define UM_PREKEY_HOUR_MS           (3600ULL * 1000)
#define UM_PREKEY_DAY_MS            (24 * UM_PREKEY_HOUR_MS)
#define UM_PREKEY_LIFETIME_DEFAULT  (7 * UM_PREKEY_DAY_MS)
#define UM_PREKEY_RETENTION_DEFAULT (30 * UM_PREKEY_DAY_MS)
#define UM_PREKEY_LIFETIME_MIN      UM_PREKEY_HOUR_MS
#define UM_PREKEY_LIFETIME_MAX      (31 * UM_PREKEY_DAY_MS)
/* A verifier accepts a bundle created at most this far in its future (clock skew). */
#define UM_PREKEY_FUTURE_MAX UM_PREKEY_HOUR_MS
/* The next prekey is made this long before the current one expires (half
 * the lifetime when that is shorter than 2 days). */
#define UM_PREKEY_REFRESH_MS UM_PREKEY_DAY_MS

/* A verified bundle: what a sender seals to. */
struct um_prekey_public {
	uint8_t owner[UM_PEER_ID_BYTES];
	uint32_t id;
	uint64_t created_ms;
	uint64_t expires_ms;
	uint8_t pk[UM_HKEM_PK_BYTES];
};

/* Checks a bundle as the sender must before sealing: layout
 * (-UM_ETRUNC/-UM_EVERSION/-UM_EINVAL), created <= expires and a lifetime
 * of at most UM_PREKEY_LIFETIME_MAX (-UM_EINVAL), owner_pk hashes to the
 * owner peer ID (-UM_EBADMSG), not expired: expires > now (-UM_EREPLAY),
 * created <= now + UM_PREKEY_FUTURE_MAX (-UM_ERANGE), and last the hybrid
 * signature, context UM_PREKEY_CONTEXT (-UM_EBADMSG). out is written only
 * on success. */
int um_prekey_bundle_verify(const uint8_t *bundle, size_t len, const uint8_t owner_pk[UM_HSIG_PK_BYTES],
			    uint64_t now_ms, struct um_prekey_public *out);

/* The recipient's ring. Opaque; holds secrets in locked memory. */
struct um_prekey_ring;

/* A kept prekey (read-only view for the envelope code and tests). sk is a
 * secret: never copy it out. */
struct um_prekey_entry {
	struct um_prekey_public pub;
	uint8_t sk[UM_HKEM_SK_BYTES];
};

/* An empty ring (no owner until the first rotate or load). The caller owns
 * *out and releases it with um_prekey_ring_free. 0 or -UM_ENOMEM. */
int um_prekey_ring_new(struct um_prekey_ring **out);
/* Wipes every secret and frees; NULL is a no-op. */
void um_prekey_ring_free(struct um_prekey_ring *ring);

/* Brings the ring up to date at now_ms: wipes and drops the prekeys whose
 * expiry + retention_ms has passed, and makes and signs a new current
 * prekey (lifetime_ms) when there is none or the current one expires
 * within the refresh lead. Returns 1 if the current bundle changed (publish
 * it), 0 if not, or -UM_EINVAL (lifetime outside
 * UM_PREKEY_LIFETIME_MIN..MAX, retention above 30 lifetimes), -UM_ESTATE
 * (the ring belongs to another identity), or a crypto error. identity is
 * borrowed for the call. */
int um_prekey_ring_rotate(struct um_prekey_ring *ring, const struct um_identity *identity, uint64_t now_ms,
			  uint64_t lifetime_ms, uint64_t retention_ms);
/* The current signed bundle (UM_PREKEY_BUNDLE_BYTES) into buf: 0,
 * -UM_ENOTFOUND (no current prekey yet), -UM_ERANGE (cap too small). */
int um_prekey_ring_public(const struct um_prekey_ring *ring, uint8_t *buf, size_t cap, size_t *len);
/* The kept prekey with this ID (borrowed from the ring: valid until the
 * next rotate, load or free), or NULL when unknown or wiped. */
const struct um_prekey_entry *um_prekey_ring_find(const struct um_prekey_ring *ring, uint32_t prekey_id);
/* How many prekeys the ring keeps; the owner's peer ID (NULL while none). */
size_t um_prekey_ring_count(const struct um_prekey_ring *ring);
const uint8_t *um_prekey_ring_owner(const struct um_prekey_ring *ring);

/* True when prekeys were added or wiped since the last save or load: the
 * node saves then, so a wiped secret leaves the file at once too. */
bool um_prekey_ring_unsaved(const struct um_prekey_ring *ring);

/* The ring's file: written mode 0600 through a temporary file, fsync and
 * an atomic rename over the old one (crypto/secret_file.h). Format
 * (binary, big-endian):
 *   "umbra-prekeys-1\n" | owner[32] | u32 count | u32 current_id |
 *   current bundle signature[4,691] |
 *   count x (u32 id | u64 created_ms | u64 expires_ms | hkem_pk | hkem_sk) |
 *   SHA3-256 of everything before[32]
 * Save: 0, -UM_ESTATE (an empty ring), or -errno. */
int um_prekey_ring_save(struct um_prekey_ring *ring, const char *path);
/* Replaces the ring's contents with the file's (the old secrets wiped):
 * 0; -UM_EPERM if the file is readable by group or others (refused before
 * reading), -UM_EVERSION, -UM_ECHECKSUM (damaged), -UM_EINVAL (malformed),
 * or -errno. On failure the ring is unchanged. */
int um_prekey_ring_load(struct um_prekey_ring *ring, const char *path);

#endif
