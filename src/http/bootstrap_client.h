/* SPDX-License-Identifier: MIT */
/* A node's client of a relay's bootstrap API (bootstrap_api.h), on libcurl.
 * Every call blocks for at most the client's timeout: run them off the
 * node's event loop (a worker thread). A write (register, heartbeat,
 * unregister) first fetches a challenge, then signs it with the node's
 * identity (um_bootstrap_sign) and sends it; the signature binds the
 * challenge, the operation and the fields.
 *
 * Returns 0 or: -UM_EAGAIN (no answer: connection refused, timeout, TLS),
 * -UM_EINVAL (400), -UM_EBADMSG (403), -UM_ENOTFOUND (404), -UM_ELIMIT
 * (429), -UM_ENOMEM (503 or out of memory), -UM_ETRUNC (an answer the
 * client cannot parse). Not thread safe per client; one client per thread. */
#ifndef UM_HTTP_BOOTSTRAP_CLIENT_H
#define UM_HTTP_BOOTSTRAP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "dht/bootstrap.h"
#include "http/client.h"

enum {
	UM_BOOTSTRAP_URL_MAX = UM_HTTP_CLIENT_URL_MAX,
	UM_BOOTSTRAP_TIMEOUT_MS = 3000, /* default per request */
	UM_BOOTSTRAP_RESPONSE_MAX = 65536,
};

struct um_bootstrap_client {
	/* base URL, curl handle, timeout_ms, ca_file, insecure, last_status */
	struct um_http_client http;
};

/* url: "http://HOST:PORT", "https://HOST:PORT" or "HOST:PORT" (http). 0 or
 * -UM_EINVAL. Release with um_bootstrap_client_close. */
int um_bootstrap_client_init(struct um_bootstrap_client *client, const char *url);
void um_bootstrap_client_close(struct um_bootstrap_client *client);

/* Registers identity's peer ID with endpoints (1 to 8); *ttl_s (may be
 * NULL) is how long it lasts without a heartbeat. */
int um_bootstrap_client_register(struct um_bootstrap_client *client, const struct um_identity *identity,
				 const struct um_addr *endpoints, size_t n_endpoints, bool is_public, uint64_t *ttl_s);
int um_bootstrap_client_heartbeat(struct um_bootstrap_client *client, const struct um_identity *identity,
				  uint64_t *ttl_s);
int um_bootstrap_client_unregister(struct um_bootstrap_client *client, const struct um_identity *identity);
/* Up to max live nodes into out; *count set. */
int um_bootstrap_client_peers(struct um_bootstrap_client *client, struct um_bootstrap_peer *out, size_t max,
			      size_t *count);
/* One node by ID (public_path: through GET /peer/ID, public registrations
 * only). */
int um_bootstrap_client_peer(struct um_bootstrap_client *client, const struct um_peer_id *id, bool public_path,
			     struct um_bootstrap_peer *out);

/* The response parsers (network input: fuzzed). Bodies need not be NUL
 * terminated. 0 or -UM_ETRUNC. */
int um_bootstrap_client_parse_challenge(const char *body, size_t len, uint8_t out[UM_BOOTSTRAP_CHALLENGE_BYTES]);
int um_bootstrap_client_parse_ttl(const char *body, size_t len, uint64_t *ttl_s);
int um_bootstrap_client_parse_peer(const char *body, size_t len, struct um_bootstrap_peer *out);
int um_bootstrap_client_parse_peers(const char *body, size_t len, struct um_bootstrap_peer *out, size_t max,
				    size_t *count);

#endif
