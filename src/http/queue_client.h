/* SPDX-License-Identifier: MIT */
/* A node's client of a relay's queue API (queue_api.h), on libcurl. Every
 * call blocks for at most the client's timeout: run them on a worker
 * thread. A call fetches a fresh challenge first (one per request: they are
 * single use). Enqueueing proves the admission key when the client has one
 * and signs with sender when set (allow-list relays); the recipient calls
 * sign with the node's identity.
 *
 * Returns 0 or: -UM_EAGAIN (no answer, or 5xx other than 503/507),
 * -UM_EINVAL (400), -UM_EBADMSG (403), -UM_ENOTFOUND (404), -UM_ELIMIT
 * (409 queue full, 429 rate), -UM_ERANGE (413), -ENOSPC (507), -UM_ENOMEM
 * (503 or out of memory), -UM_ETRUNC (an answer it cannot parse). One
 * client per thread. */
#ifndef UM_HTTP_QUEUE_CLIENT_H
#define UM_HTTP_QUEUE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "http/client.h"
#include "http/prekey_api.h"
#include "http/queue_api.h"

enum {
	UM_QUEUE_CLIENT_URL_MAX = UM_HTTP_CLIENT_URL_MAX,
	UM_QUEUE_CLIENT_TIMEOUT_MS = 10000,
	UM_QUEUE_CLIENT_RESPONSE_MAX = 32 << 20, /* a pending answer of 1000 envelopes of 16 KiB */
};

struct um_queue_client {
	/* base URL, curl handle, timeout_ms, ca_file, insecure, last_status */
	struct um_http_client http;
	uint8_t admission_key[32];
	bool has_admission_key;
	const struct um_identity *sender; /* borrowed; signs puts when set */
	/* Set (by another thread) to abort a running call within about a
	 * second (-UM_EAGAIN); NULL: none. Borrowed. */
	const _Atomic bool *cancel;
	/* The challenge the last put's answer carried: the next put uses it
	 * instead of asking for one (single use; cleared when taken). */
	uint8_t next_challenge[32];
	bool has_next_challenge;
};

/* url as for the bootstrap client ("http://H:P", "https://H:P", "H:P"). 0
 * or -UM_EINVAL / -UM_ENOMEM. Release with um_queue_client_close (wipes the
 * key). */
int um_queue_client_init(struct um_queue_client *client, const char *url);
void um_queue_client_close(struct um_queue_client *client);

int um_queue_client_challenge(struct um_queue_client *client, uint8_t out[UM_QUEUE_API_CHALLENGE_BYTES]);
/* Offers n (1..UM_QUEUE_API_PUT_MAX) envelopes (borrowed) in the binary
 * form (UMQB), under the previous answer's challenge when there is one
 * (then, refused with 403, once more under a fresh one). On 0 every results[i] is 0
 * (queued: committed on the relay's disk) or the refusal's code
 * (-UM_ELIMIT full, -UM_ERANGE too large, -ENOSPC, -UM_EINVAL malformed,
 * -UM_EAGAIN storage failure). Another return: none was queued. */
int um_queue_client_put(struct um_queue_client *client, const uint8_t *const *envelope, const size_t *len, size_t n,
			int *results);
/* Called per envelope, in arrival order; bytes valid during the call.
 * Returning non-zero stops the walk (returned). */
typedef int (*um_queue_client_envelope_fn)(void *ctx, const uint8_t id[16], uint64_t arrival_ms,
					   const uint8_t *envelope, size_t len);
/* Up to limit (0: the relay's maximum) of me's envelopes. */
int um_queue_client_pending(struct um_queue_client *client, const struct um_identity *me, uint32_t limit,
			    um_queue_client_envelope_fn fn, void *ctx);
int um_queue_client_delete(struct um_queue_client *client, const struct um_identity *me, const uint8_t id[16]);
/* Deletes n (1..UM_QUEUE_API_DELETE_MAX) of me's envelopes with one
 * challenge and one signature (POST UM_QUEUE_API_DELETE_PATH); IDs the
 * relay does not hold are skipped. *deleted (may be NULL): how many it
 * held. A relay without the route: -UM_ENOTFOUND (404) or -UM_EINVAL. */
int um_queue_client_delete_many(struct um_queue_client *client, const struct um_identity *me, const uint8_t (*ids)[16],
				size_t n, uint64_t *deleted);
/* *deleted (may be NULL): how many. */
int um_queue_client_delete_all(struct um_queue_client *client, const struct um_identity *me, uint64_t *deleted);

/* Prekeys (http/prekey_api.h): publish our signed bundle with the public
 * key it verifies under; fetch owner's (not verified here: the caller runs
 * um_prekey_bundle_verify). -UM_ENOTFOUND: none published. */
int um_queue_client_prekey_put(struct um_queue_client *client, const uint8_t *bundle, const uint8_t *public_key);
int um_queue_client_prekey_get(struct um_queue_client *client, const uint8_t owner[32], uint8_t *bundle,
			       uint8_t *public_key);

/* Waits (http/mailbox_wait.h) up to wait_s seconds for an envelope for
 * me committed after after_ms (the relay's clock: *now_ms of the previous
 * answer, 0 at first); *arrived, *now_ms from the answer. Blocks up to
 * wait_s + the client's timeout. */
int um_queue_client_wait(struct um_queue_client *client, const struct um_identity *me, uint64_t after_ms,
			 uint32_t wait_s, bool *arrived, uint64_t *now_ms);

/* The answer parsers (network input: fuzzed). Bodies need not be NUL
 * terminated. put: ids[i] the offered envelopes' IDs; results as above. 0
 * or -UM_ETRUNC. */
int um_queue_client_parse_put(const char *body, size_t len, const uint8_t (*ids)[16], size_t n, int *results);
int um_queue_client_parse_pending(const char *body, size_t len, um_queue_client_envelope_fn fn, void *ctx);

#endif
