/* SPDX-License-Identifier: MIT */
/* The relay's offline queue API (docs/PROTOCOL.md, "21. Relay queue API"):
 * sealed envelopes (wire/envelope.h) for offline recipients, kept in a
 * durable queue (store/queue.h, reached through struct um_queue_backend so
 * this layer needs no SQLite) and served on the relay's one HTTP listener.
 *
 *   POST   /api/relay/challenge      -> {"challenge": b64, "expires_in": s}
 *   POST   /api/relay/queue          {envelopes: [b64, ...], challenge, admission?,
 *                                     public_key?, signature?}, or the same in the
 *                                     binary form (application/octet-stream, starts
 *                                     "UMQB": see um_queue_api_parse_put)
 *                                     -> {"queued": [id], "refused": [{id, error}],
 *                                         "challenge": b64 (for the next request)}
 *   GET|POST /api/relay/pending      {peer_id, public_key, challenge, signature, limit?}
 *                                     -> {"envelopes": [{id, envelope, arrival_ms}]}
 *   DELETE /api/relay/pending/ID     {peer_id, public_key, challenge, signature} -> {"deleted": 1}
 *   DELETE /api/relay/pending        the same body -> {"deleted": n}
 *
 * Group commit: handlers run on the HTTP thread (parse, rate limit,
 * challenge, signature) and hand their work to one committer thread, which
 * owns the backend (the queue is used by that thread only). The committer
 * takes every job that arrived while its previous commit ran, puts them in
 * one transaction and commits once (one fsync), then answers each request
 * (its connection was suspended meanwhile: um_http_response_defer). An
 * envelope is listed as queued only after that commit returned 0. */
#ifndef UM_HTTP_QUEUE_API_H
#define UM_HTTP_QUEUE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hybrid.h"
#include "crypto/identity.h"
#include "http/server.h"
#include "wire/envelope.h"

#define UM_QUEUE_API_SIGN_CONTEXT "umbra relay queue v1"
/* The first bytes of the binary form of an enqueue body (PROTOCOL §21). */
#define UM_QUEUE_API_BINARY_MAGIC "UMQB"

enum {
	UM_QUEUE_API_CHALLENGE_BYTES = 32,
	UM_QUEUE_API_MAC_BYTES = 32,
	UM_QUEUE_API_PUT_MAX = 256,      /* envelopes per request */
	UM_QUEUE_API_BINARY_HEADER = 40, /* magic, version, flags, count, challenge */
	UM_QUEUE_API_BODY_MAX = 2 << 20, /* default body cap of the queue's routes */
	UM_QUEUE_API_PENDING_MAX = 1000, /* envelopes per pending answer */
	UM_QUEUE_API_DELETE_MAX = 128,   /* IDs per batch delete (the body stays under 16 KiB) */
	UM_QUEUE_API_MESSAGE_MAX = 160,  /* the signed or MACed message */
};

/* The durable queue as the committer uses it (store/queue.h's calls with q
 * first; node/relay_queue.c fills it). Called from the committer thread
 * only. pending's cb gets the envelope's ID, arrival time and bytes (valid
 * during the call). */
struct um_queue_backend {
	void *q;
	int (*begin)(void *q);
	int (*commit)(void *q);
	int (*put)(void *q, const uint8_t recipient[32], const uint8_t id[16], const uint8_t *envelope, size_t len,
		   uint64_t now_ms);
	int (*pending)(void *q, const uint8_t recipient[32], size_t limit,
		       int (*cb)(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *envelope,
				 size_t len),
		       void *ctx);
	int (*delete_one)(void *q, const uint8_t recipient[32], const uint8_t id[16]);
	int (*delete_all)(void *q, const uint8_t recipient[32]);
	int (*purge)(void *q, uint64_t now_ms);
};

/* Who may enqueue (the relay's [relay] admission-key and allow): with a key,
 * a MAC proving it (the sender stays unknown); with an allow-list only, a
 * sender signature by a listed peer (the relay then learns the sender);
 * neither: anyone, rate-limited per source address. */
struct um_queue_api_config {
	uint8_t admission_key[32];
	bool has_admission_key;
	const struct um_peer_id *allow; /* borrowed until freed; n_allow entries */
	size_t n_allow;
	size_t max_body;            /* 0: UM_QUEUE_API_BODY_MAX */
	uint32_t requests_per_s;    /* per source; 0: 100 */
	uint32_t request_burst;     /* 0: 400 */
	uint64_t challenge_ttl_ms;  /* 0: 30 s */
	uint64_t purge_interval_ms; /* 0: 60 s */
	uint64_t (*wall_ms)(void);  /* NULL: um_wall_ms (tests move time) */
};

/* Refusals, counted (um_queue_api_stats). */
struct um_queue_api_stats {
	uint64_t queued, refused_envelopes, rate_limited, malformed, bad_challenge, bad_auth, batches, commits_failed,
	    purged, delivered, deleted;
};

struct um_queue_api;

/* A parsed enqueue body. The envelopes point into data (owned: free with
 * um_queue_put_request_clear). */
struct um_queue_put_request {
	size_t n;
	const uint8_t *envelope[UM_QUEUE_API_PUT_MAX];
	size_t len[UM_QUEUE_API_PUT_MAX];
	uint8_t challenge[UM_QUEUE_API_CHALLENGE_BYTES];
	bool has_admission, has_signature;
	uint8_t admission[UM_QUEUE_API_MAC_BYTES];
	uint8_t *public_key; /* UM_HSIG_PK_BYTES, in data */
	uint8_t *signature;  /* UM_HSIG_BYTES, in data */
	uint8_t *data;
};

#define UM_QUEUE_API_DELETE_PATH "/api/relay/pending/delete"

/* A parsed recipient request (pending, delete). */
struct um_queue_auth_request {
	struct um_peer_id id;
	uint8_t public_key[UM_HSIG_PK_BYTES];
	uint8_t signature[UM_HSIG_BYTES];
	uint8_t challenge[UM_QUEUE_API_CHALLENGE_BYTES];
	uint32_t limit; /* pending: 0 = UM_QUEUE_API_PENDING_MAX */
};

/* Parsers of the request bodies (len bytes, not NUL terminated): 0, or
 * -UM_EINVAL with *error (static text). Unknown members refused. An enqueue
 * body starting with UM_QUEUE_API_BINARY_MAGIC is the binary form:
 *   "UMQB" | u8 version (1) | u8 flags (1: admission, 2: public key and
 *   signature; others 0) | u16 count (1..UM_QUEUE_API_PUT_MAX) |
 *   challenge[32] | admission[32] if flag 1 | public_key[UM_HSIG_PK_BYTES]
 *   signature[UM_HSIG_BYTES] if flag 2 | count x (u32 length (> 0) | bytes)
 * integers big-endian, nothing after the last envelope; it means what the
 * JSON form means (the same MAC and signature over the same message). */
int um_queue_api_parse_put(const uint8_t *body, size_t len, struct um_queue_put_request *out, const char **error);
void um_queue_put_request_clear(struct um_queue_put_request *q);
int um_queue_api_parse_auth(const uint8_t *body, size_t len, bool with_limit, struct um_queue_auth_request *out,
			    const char **error);
/* A batch delete (POST UM_QUEUE_API_DELETE_PATH): the recipient request's
 * members and "ids": 1..UM_QUEUE_API_DELETE_MAX envelope IDs (32 hex
 * digits each) into ids (UM_QUEUE_API_DELETE_MAX slots), *n_ids. */
int um_queue_api_parse_delete(const uint8_t *body, size_t len, struct um_queue_auth_request *out, uint8_t (*ids)[16],
			      size_t *n_ids, const char **error);
/* What a batch delete's signature binds in place of the peer ID:
 * BLAKE2b-256(peer ID || u16 count || the IDs in order), so a signature
 * deletes exactly these envelopes of this recipient. */
void um_queue_api_ids_hash(const uint8_t peer[32], const uint8_t (*ids)[16], size_t n, uint8_t out[32]);

/* The hash binding an enqueue's envelopes: BLAKE2b-256 over each envelope as
 * u32 length (big-endian) || bytes, in order. */
void um_queue_api_body_hash(const uint8_t *const *envelope, const size_t *len, size_t n, uint8_t out[32]);
/* The message a signature or admission MAC covers, into out
 * (UM_QUEUE_API_MESSAGE_MAX bytes): challenge || u8 len || method || u8 len
 * || path || binding[32] (the caller's peer ID, or the body hash) || u32
 * limit. Returns its length. */
size_t um_queue_api_message(uint8_t *out, const uint8_t challenge[32], const char *method, const char *path,
			    const uint8_t binding[32], uint32_t limit);
/* The admission MAC: keyed BLAKE2b-256 of message under key. */
void um_queue_api_mac(uint8_t out[32], const uint8_t key[32], const uint8_t *message, size_t len);

/* Creates the API over backend (copied; its q borrowed until freed) and
 * starts the committer thread. *out owned by the caller
 * (um_queue_api_free). 0, -UM_ENOMEM or -errno. */
int um_queue_api_create(struct um_queue_api **out, const struct um_queue_api_config *config,
			const struct um_queue_backend *backend);
/* Routes the API's paths on server (before it starts). */
int um_queue_api_attach(struct um_http_server *server, struct um_queue_api *api);
/* Answers every waiting request and stops the committer; later requests get
 * 503 at once. Call before freeing the server (no response stays
 * deferred), then um_queue_api_free. */
void um_queue_api_stop(struct um_queue_api *api);
/* Stops (if not yet) and frees. NULL is fine. */
void um_queue_api_free(struct um_queue_api *api);
void um_queue_api_stats(struct um_queue_api *api, struct um_queue_api_stats *out);

#endif
