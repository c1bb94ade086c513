/* SPDX-License-Identifier: MIT */
/* The bootstrap API (docs/PROTOCOL.md, "Bootstrap API"): JSON handlers
 * over the registry (dht/bootstrap.h), on the HTTP listener (server.h).
 *
 *   POST   /api/bootstrap/challenge   -> {"challenge": b64, "expires_in": s}
 *   POST   /api/bootstrap/register    {peer_id, public_key, endpoints, public,
 *                                      challenge, signature} -> {"registered": true, "ttl": s}
 *   POST   /api/bootstrap/heartbeat   {peer_id, challenge, signature} -> {"ttl": s}
 *   DELETE /api/bootstrap/unregister  {peer_id, challenge, signature} -> {"unregistered": true}
 *   GET    /api/bootstrap/peers       -> {"peers": [{peer_id, endpoints, observed}, ...]}
 *   GET    /api/bootstrap/peer/ID     -> {peer_id, endpoints, observed} or 404
 *   GET    /peer/ID                   -> the same, only for public registrations
 *
 * Every request is first charged to its source address's rate bucket;
 * errors are {"error": "..."} with 400 (malformed), 403 (challenge or
 * signature refused), 404, 405, 413 (body), 429 (rate, per-source cap or
 * verification budget) or 503 (registry full), and change no registration. */
#ifndef UM_HTTP_BOOTSTRAP_API_H
#define UM_HTTP_BOOTSTRAP_API_H

#include <stddef.h>
#include <stdint.h>

#include "dht/bootstrap.h"
#include "http/server.h"

/* Where a parsed write request's key and signature live (q's pointers
 * point here). */
struct um_bootstrap_api_buffers {
	uint8_t public_key[UM_HSIG_PK_BYTES];
	uint8_t signature[UM_HSIG_BYTES];
};

/* Parses a write request's JSON body (len bytes, need not be NUL
 * terminated) for op into *q, whose key and signature pointers are set into
 * bufs. Unknown members are refused. 0, or -UM_EINVAL with *error (static
 * text) saying which field. */
int um_bootstrap_api_parse_write(enum um_bootstrap_op op, const uint8_t *body, size_t len,
				 struct um_bootstrap_request *q, struct um_bootstrap_api_buffers *bufs,
				 const char **error);

/* Routes the API's paths on server to handlers over registry (both
 * borrowed; the registry is then touched only on the server's thread). */
int um_bootstrap_api_attach(struct um_http_server *server, struct um_bootstrap *registry);

/* The API as a relay runs it: a registry and a listener serving it. */
struct um_bootstrap_service {
	struct um_http_server *server; /* owned */
	struct um_bootstrap *registry; /* owned */
};

/* Creates the registry (registry_config NULL: defaults) and starts the
 * listener. *out owned by the caller (um_bootstrap_service_stop). */
int um_bootstrap_service_start(struct um_bootstrap_service **out, const struct um_http_server_config *http,
			       const struct um_bootstrap_config *registry_config);
/* The same; extra(extra_ctx, server), when not NULL, routes more APIs on the
 * listener before it starts (the relay queue API shares the port). */
int um_bootstrap_service_start_extra(struct um_bootstrap_service **out, const struct um_http_server_config *http,
				     const struct um_bootstrap_config *registry_config,
				     int (*extra)(void *extra_ctx, struct um_http_server *server), void *extra_ctx);
/* Stops the listener, then frees the registry. NULL is fine. */
void um_bootstrap_service_stop(struct um_bootstrap_service *service);

#endif
