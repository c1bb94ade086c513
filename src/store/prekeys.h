/* SPDX-License-Identifier: MIT */
/* The relay's published prekey bundles (docs/PROTOCOL.md section 22): one
 * signed bundle (wire/envelope.h) per peer, with the owner's hybrid public
 * key it was verified against, so a sender that never met the peer can
 * seal to it. A database of its own beside the queue ([relay] queue PATH:
 * PATH-prekeys), opened by db.c like the queue (0600, WAL, FULL). One
 * connection, used by one thread (the HTTP thread: http/prekey_api.c).
 * The caller verifies bundles; this file only keeps the newest per owner. */
#ifndef UM_STORE_PREKEYS_H
#define UM_STORE_PREKEYS_H

#include <stddef.h>
#include <stdint.h>

#define UM_PREKEYS_SCHEMA_VERSION 1

struct um_prekeys;

/* Opens (creates) the database at path; at most max_owners bundles kept
 * (0: 100,000). *out owned by the caller (um_prekeys_close). 0 or -errno /
 * -UM_E* as db.h. */
int um_prekeys_open(const char *path, size_t max_owners, struct um_prekeys **out);
void um_prekeys_close(struct um_prekeys *p);
/* Keeps bundle (copied) as owner's unless the stored one was created at or
 * after created_ms (-UM_EREPLAY: an old bundle replayed; an equal one is
 * -UM_EEXIST). Bundles expired at now_ms are purged first; -UM_ELIMIT when
 * max_owners others are kept. 0 once committed (fsync). */
int um_prekeys_put(struct um_prekeys *p, const uint8_t owner[32], uint64_t created_ms, uint64_t expires_ms,
		   const uint8_t *bundle, size_t bundle_len, const uint8_t *public_key, size_t public_key_len,
		   uint64_t now_ms);
/* owner's bundle and key, copied into the caller's buffers: 0, -UM_ENOTFOUND
 * (none, or expired at now_ms), -UM_ERANGE (a buffer too small). */
int um_prekeys_get(struct um_prekeys *p, const uint8_t owner[32], uint64_t now_ms, uint8_t *bundle, size_t cap,
		   size_t *bundle_len, uint8_t *public_key, size_t pk_cap, size_t *public_key_len);

#endif
