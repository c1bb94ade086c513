/* SPDX-License-Identifier: MIT */
/* Prekey publication on a mailbox relay (docs/PROTOCOL.md section 22): a
 * peer publishes its signed prekey bundle (wire/envelope.h, msg/prekey.h)
 * at its mailbox relays, and a sender that has no live session fetches it
 * there to seal envelopes (msg/envelope.h) to the peer.
 *
 *   PUT /api/relay/prekey         {"bundle": b64, "public_key": b64} -> {"stored": true}
 *   GET /api/relay/prekey/ID      (ID: 64 hex digits) -> {"bundle": b64, "public_key": b64}
 *
 * No challenge: the bundle is self-authenticating. The relay checks it as a
 * sender would (um_prekey_bundle_verify: the public key hashes to the
 * bundle's owner, the owner's hybrid signature, not expired), and keeps
 * only the newest per owner (a replayed older bundle is refused, 409), so
 * nobody but the owner can publish or roll back its prekey. A sender
 * verifies again: the relay is not trusted with the bundle either.
 * The store (store/prekeys.h) is reached through struct um_prekey_backend
 * (no SQLite here); handlers run on the HTTP thread, its only user. */
#ifndef UM_HTTP_PREKEY_API_H
#define UM_HTTP_PREKEY_API_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hybrid.h"
#include "http/server.h"
#include "wire/envelope.h"

#define UM_PREKEY_API_PATH "/api/relay/prekey"

struct um_prekey_backend {
	void *p;
	int (*put)(void *p, const uint8_t owner[32], uint64_t created_ms, uint64_t expires_ms, const uint8_t *bundle,
		   size_t len, const uint8_t *public_key, size_t pk_len, uint64_t now_ms);
	int (*get)(void *p, const uint8_t owner[32], uint64_t now_ms, uint8_t *bundle, size_t cap, size_t *len,
		   uint8_t *public_key, size_t pk_cap, size_t *pk_len);
};

struct um_prekey_api;

/* backend copied (its p borrowed until freed); wall_ms NULL: um_wall_ms.
 * *out owned by the caller (um_prekey_api_free). 0 or -UM_ENOMEM. */
int um_prekey_api_create(struct um_prekey_api **out, const struct um_prekey_backend *backend,
			 uint64_t (*wall_ms)(void));
/* Routes the two paths on server (before it starts). */
int um_prekey_api_attach(struct um_http_server *server, struct um_prekey_api *api);
void um_prekey_api_free(struct um_prekey_api *api);

/* The body of a PUT and of a GET's answer (network input: fuzzed; len
 * bytes, no NUL needed): exactly one bundle and one public key, unknown
 * members refused. 0 or -UM_EINVAL with *error (static text). */
int um_prekey_api_parse(const char *body, size_t len, uint8_t bundle[UM_PREKEY_BUNDLE_BYTES],
			uint8_t public_key[UM_HSIG_PK_BYTES], const char **error);
/* The same JSON text (malloc'd, NUL terminated; the caller frees), or NULL
 * when out of memory. */
char *um_prekey_api_format(const uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], const uint8_t public_key[UM_HSIG_PK_BYTES]);

#endif
