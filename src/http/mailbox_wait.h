/* SPDX-License-Identifier: MIT */
/* Push for mailbox relays (docs/PROTOCOL.md section 22): a recipient that is
 * online waits on its mailbox relay and is woken as soon as an envelope for
 * it has been committed, then fetches it with the queue API (section 21).
 *
 *   POST /api/relay/wait  {"peer_id": 64 hex, "public_key": b64, "time_ms": n,
 *                          "after_ms": n, "wait": s (1..60), "signature": b64}
 *                         -> {"arrived": true|false, "now_ms": n}
 *
 * The answer comes when an envelope for peer_id is committed, at once when
 * one was committed after after_ms (relay clock: the now_ms of the caller's
 * previous answer; 0 at first), else after `wait` seconds with false. It
 * carries no envelope: the recipient then fetches with a signed pending
 * request as always.
 *
 * Who may wait: the recipient only (what an answer tells is when envelopes
 * for it arrive): a hybrid signature (context UM_MAILBOX_WAIT_CONTEXT) by
 * the key hashing to peer_id over peer_id || u64 time_ms || u64 after_ms ||
 * u32 wait, with time_ms within 60 s of the relay's clock (no challenge
 * round trip per wait; a replay inside that minute learns only what the
 * original request learns, and TLS hides requests from observers).
 *
 * Threads: handlers run on the HTTP thread and defer their answer (libmicro-
 * httpd suspend/resume: um_http_response_defer); um_mailbox_wait_arrived
 * is called from the queue's committer thread after a commit; a small timer
 * thread answers waits whose time ran out. One mutex guards the waiters. */
#ifndef UM_HTTP_MAILBOX_WAIT_H
#define UM_HTTP_MAILBOX_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hybrid.h"
#include "http/server.h"

#define UM_MAILBOX_WAIT_PATH    "/api/relay/wait"
#define UM_MAILBOX_WAIT_CONTEXT "umbra mailbox wait v1"

enum {
	UM_MAILBOX_WAIT_MAX_S = 60,
	UM_MAILBOX_WAIT_SKEW_MS = 60000,
	UM_MAILBOX_WAITERS_MAX = 4096,
	UM_MAILBOX_WAIT_SIGNED_BYTES = 32 + 8 + 8 + 4,
};

struct um_mailbox_wait_request {
	uint8_t peer_id[32];
	uint8_t public_key[UM_HSIG_PK_BYTES];
	uint8_t signature[UM_HSIG_BYTES];
	uint64_t time_ms, after_ms;
	uint32_t wait_s;
};

/* The signed message of r (UM_MAILBOX_WAIT_SIGNED_BYTES) into out. */
void um_mailbox_wait_message(uint8_t out[UM_MAILBOX_WAIT_SIGNED_BYTES], const struct um_mailbox_wait_request *r);
/* A request body (network input: fuzzed; len bytes, no NUL needed): 0 or
 * -UM_EINVAL with *error (static text). Unknown members refused. */
int um_mailbox_wait_parse(const char *body, size_t len, struct um_mailbox_wait_request *out, const char **error);
/* The request's body (malloc'd, NUL terminated; the caller frees), NULL
 * when out of memory. */
char *um_mailbox_wait_format(const struct um_mailbox_wait_request *r);
/* An answer (network input: fuzzed): 0 or -UM_ETRUNC. */
int um_mailbox_wait_parse_answer(const char *body, size_t len, bool *arrived, uint64_t *now_ms);

struct um_mailbox_wait;

/* wall_ms NULL: um_wall_ms. *out owned by the caller (um_mailbox_wait_free).
 * 0, -UM_ENOMEM or -errno (the timer thread). */
int um_mailbox_wait_create(struct um_mailbox_wait **out, uint64_t (*wall_ms)(void));
int um_mailbox_wait_attach(struct um_http_server *server, struct um_mailbox_wait *w);
/* Envelopes for recipient were committed (any thread). */
void um_mailbox_wait_arrived(struct um_mailbox_wait *w, const uint8_t recipient[32]);
/* Answers every waiter (false) and refuses new ones (503): before the
 * server is freed. */
void um_mailbox_wait_stop(struct um_mailbox_wait *w);
/* Stops (if not yet), joins the thread, frees. NULL is fine. */
void um_mailbox_wait_free(struct um_mailbox_wait *w);

#endif
