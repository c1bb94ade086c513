/* SPDX-License-Identifier: MIT */
/* Shared by queue_api.c (the HTTP thread: parsing, admission, challenges,
 * rate limits) and queue_commit.c (the committer thread: the backend). */
#ifndef UM_HTTP_QUEUE_INTERNAL_H
#define UM_HTTP_QUEUE_INTERNAL_H

#include <pthread.h>

#include "http/queue_api.h"
#include "util/addr.h"

enum {
	QUEUE_CHALLENGES = 4096, /* outstanding; the oldest is overwritten */
	QUEUE_RATE_SLOTS = 1024, /* per-source buckets (hashed addresses) */
};

enum queue_job_kind { JOB_PUT, JOB_PENDING, JOB_DELETE, JOB_DELETE_ALL, JOB_DELETE_MANY };

/* One request's work for the committer; answered there, then freed. */
struct queue_job {
	struct queue_job *next;
	enum queue_job_kind kind;
	struct um_http_deferred *deferred;
	uint8_t recipient[32], id[16];
	uint32_t limit;
	uint8_t (*ids)[16]; /* JOB_DELETE_MANY (owned) */
	size_t n_ids;
	struct um_queue_put_request put;
	struct um_envelope_header header[UM_QUEUE_API_PUT_MAX];
	int result[UM_QUEUE_API_PUT_MAX]; /* per envelope; 1: malformed (not put) */
	/* A put's answer carries a fresh challenge for the sender's next
	 * request (one round trip less each): issued on the HTTP thread. */
	uint8_t next_challenge[UM_QUEUE_API_CHALLENGE_BYTES];
	bool has_next_challenge;
};

struct queue_challenge {
	uint8_t bytes[UM_QUEUE_API_CHALLENGE_BYTES];
	struct um_addr source;
	uint64_t expires_ms;
	bool live;
};

struct queue_rate {
	uint64_t last_ms;
	uint64_t milli_tokens;
};

struct um_queue_api {
	struct um_queue_api_config config;
	struct um_queue_backend backend;
	/* Guards the job list, stopping and stats. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queue_job *head, **tail;
	bool stopping, thread_started;
	pthread_t thread;
	struct um_queue_api_stats stats;
	/* The HTTP thread's alone. */
	struct queue_challenge challenges[QUEUE_CHALLENGES];
	uint32_t next_challenge;
	struct queue_rate rates[QUEUE_RATE_SLOTS];
	uint8_t rate_key[16];
};

/* Hands job (owned, taken) to the committer; false when stopping (the
 * caller answers and frees it). */
bool um_queue_commit_submit(struct um_queue_api *api, struct queue_job *job);
int um_queue_commit_start(struct um_queue_api *api);
void um_queue_commit_stop(struct um_queue_api *api);
void um_queue_job_free(struct queue_job *job);
/* The JSON enqueue body's fast path (queue_json.c): 0 with *q filled as
 * um_queue_api_parse_put would, or -UM_EAGAIN: not the plain shape, ask the
 * full parser (which then gives the answer and its error). */
int um_queue_api_parse_put_fast(const uint8_t *body, size_t len, struct um_queue_put_request *q);
/* The full JSON parser alone (jansson): the reference the fast path must
 * agree with (fuzz_queue_api checks it does). */
int um_queue_api_parse_put_json(const uint8_t *body, size_t len, struct um_queue_put_request *q, const char **error);
/* 16 bytes as 32 lower-case hex digits and a NUL. */
void um_queue_id_hex(const uint8_t id[16], char out[33]);

#endif
