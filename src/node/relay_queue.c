/* SPDX-License-Identifier: MIT */
/* The relay queue service (relay_queue.h): store/queue.h's calls as the
 * API's backend (the HTTP layer sees no SQLite). */
#include "node/relay_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http/mailbox_wait.h"
#include "http/prekey_api.h"
#include "store/prekeys.h"
#include "store/queue.h"
#include "util/error.h"
#include "util/log.h"

struct um_relay_queue {
	struct um_queue *queue;   /* owned; the committer thread's */
	struct um_queue_api *api; /* owned */
	/* Published prekeys (http/prekey_api.h), beside the queue: PATH-prekeys. */
	struct um_prekeys *prekeys;       /* owned; the HTTP thread's */
	struct um_prekey_api *prekey_api; /* owned */
	/* Push (http/mailbox_wait.h): recipients put in the running batch
	 * (the committer thread's), woken after its commit. */
	struct um_mailbox_wait *wait; /* owned */
	uint8_t (*batch)[32];
	size_t n_batch, cap_batch;
};

static int pk_put(void *p, const uint8_t owner[32], uint64_t created_ms, uint64_t expires_ms, const uint8_t *bundle,
		  size_t len, const uint8_t *pk, size_t pk_len, uint64_t now_ms)
{
	return um_prekeys_put(p, owner, created_ms, expires_ms, bundle, len, pk, pk_len, now_ms);
}

static int pk_get(void *p, const uint8_t owner[32], uint64_t now_ms, uint8_t *bundle, size_t cap, size_t *len,
		  uint8_t *pk, size_t pk_cap, size_t *pk_len)
{
	return um_prekeys_get(p, owner, now_ms, bundle, cap, len, pk, pk_cap, pk_len);
}

/* The prekey store and its API (issue 17, node side). */
static int prekeys_open(struct um_relay_queue *rq, const char *queue_path, uint64_t (*wall_ms)(void))
{
	char path[UM_CONFIG_PATH_MAX + 16];
	int r;

	snprintf(path, sizeof(path), "%s-prekeys", queue_path);
	r = um_prekeys_open(path, 0, &rq->prekeys);
	if (r) {
		um_log_error("relay prekeys %s: %s", path, um_strerror(r));
		return r;
	}
	struct um_prekey_backend backend = {.p = rq->prekeys, .put = pk_put, .get = pk_get};
	return um_prekey_api_create(&rq->prekey_api, &backend, wall_ms);
}

static int q_begin(void *q)
{
	struct um_relay_queue *rq = q;

	rq->n_batch = 0;
	return um_queue_begin(rq->queue);
}

static int q_commit(void *q)
{
	struct um_relay_queue *rq = q;
	int r = um_queue_commit(rq->queue);

	for (size_t i = 0; r == 0 && i < rq->n_batch; i++)
		um_mailbox_wait_arrived(rq->wait, rq->batch[i]);
	rq->n_batch = 0;
	return r;
}

static int q_put(void *q, const uint8_t recipient[32], const uint8_t id[16], const uint8_t *envelope, size_t len,
		 uint64_t now_ms)
{
	struct um_relay_queue *rq = q;
	int r = um_queue_put(rq->queue, recipient, id, envelope, len, now_ms);

	if (r == 0 && !(rq->n_batch && !memcmp(rq->batch[rq->n_batch - 1], recipient, 32))) {
		if (rq->n_batch == rq->cap_batch) {
			size_t cap = rq->cap_batch ? rq->cap_batch * 2 : 64;
			uint8_t(*grown)[32] = realloc(rq->batch, cap * 32);
			if (!grown)
				return 0; /* stored: only the push is lost (the next poll finds it) */
			rq->batch = grown;
			rq->cap_batch = cap;
		}
		memcpy(rq->batch[rq->n_batch++], recipient, 32);
	}
	return r;
}

struct walk {
	int (*cb)(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *envelope, size_t len);
	void *ctx;
};

static int walk_one(void *ctx, const struct um_queue_entry *e)
{
	struct walk *w = ctx;

	return w->cb(w->ctx, e->id, e->arrival_ms, e->envelope, e->len);
}

static int q_pending(void *q, const uint8_t recipient[32], size_t limit,
		     int (*cb)(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *envelope,
			       size_t len),
		     void *ctx)
{
	struct walk w = {cb, ctx};

	return um_queue_pending(((struct um_relay_queue *)q)->queue, recipient, limit, walk_one, &w);
}

static int q_delete(void *q, const uint8_t recipient[32], const uint8_t id[16])
{
	return um_queue_delete(((struct um_relay_queue *)q)->queue, recipient, id);
}

static int q_delete_all(void *q, const uint8_t recipient[32])
{
	return um_queue_delete_all(((struct um_relay_queue *)q)->queue, recipient);
}

static int q_purge(void *q, uint64_t now_ms)
{
	return um_queue_purge(((struct um_relay_queue *)q)->queue, now_ms);
}

int um_relay_queue_open(struct um_relay_queue **out, const struct um_config_relay_server *rc,
			const struct um_queue_api_config *api)
{
	struct um_relay_queue *rq = calloc(1, sizeof(*rq));
	struct um_queue_limits limits = {
	    .ttl_ms = rc->queue_ttl_ms, .max_messages = rc->queue_max_messages, .max_bytes = rc->queue_max_bytes};
	struct um_queue_api_config config = {0};
	int r;

	*out = NULL;
	if (!rq)
		return -UM_ENOMEM;
	r = um_queue_open(rc->queue_path, &limits, &rq->queue);
	if (r) {
		um_log_error("relay queue %s: %s", rc->queue_path, um_strerror(r));
		goto out;
	}
	r = prekeys_open(rq, rc->queue_path, api ? api->wall_ms : NULL);
	if (r == 0)
		r = um_mailbox_wait_create(&rq->wait, api ? api->wall_ms : NULL);
	if (r)
		goto out;
	if (api)
		config = *api;
	memcpy(config.admission_key, rc->admission_key, sizeof(config.admission_key));
	config.has_admission_key = rc->has_admission_key;
	config.allow = rc->allow;
	config.n_allow = rc->n_allow;
	if (!api && rc->queue_rate) {
		config.requests_per_s = rc->queue_rate;
		config.request_burst = rc->queue_rate * 4;
	}
	struct um_queue_backend backend = {
	    .q = rq,
	    .begin = q_begin,
	    .commit = q_commit,
	    .put = q_put,
	    .pending = q_pending,
	    .delete_one = q_delete,
	    .delete_all = q_delete_all,
	    .purge = q_purge,
	};
	r = um_queue_api_create(&rq->api, &config, &backend);
	sodium_memzero(config.admission_key, sizeof(config.admission_key));
	if (r)
		goto out;
	um_log_info("relay queue %s: at most %u envelopes and %llu bytes per recipient, kept %llu s", rc->queue_path,
		    limits.max_messages ? limits.max_messages : 100,
		    (unsigned long long)(limits.max_bytes ? limits.max_bytes : 1048576),
		    (unsigned long long)((limits.ttl_ms ? limits.ttl_ms : 72ULL * 3600000) / 1000));
	*out = rq;
	return 0;
out:
	um_relay_queue_free(rq);
	return r;
}

int um_relay_queue_attach(void *relay_queue, struct um_http_server *server)
{
	struct um_relay_queue *rq = relay_queue;

	int r = um_queue_api_attach(server, rq->api);

	if (r == 0)
		r = um_prekey_api_attach(server, rq->prekey_api);
	return r ? r : um_mailbox_wait_attach(server, rq->wait);
}

void um_relay_queue_stop(struct um_relay_queue *rq)
{
	if (rq) {
		um_queue_api_stop(rq->api);
		um_mailbox_wait_stop(rq->wait);
	}
}

void um_relay_queue_free(struct um_relay_queue *rq)
{
	if (!rq)
		return;
	um_queue_api_free(rq->api); /* joins the committer: the queue's user */
	um_mailbox_wait_free(rq->wait);
	free(rq->batch);
	um_queue_close(rq->queue);
	um_prekey_api_free(rq->prekey_api);
	um_prekeys_close(rq->prekeys);
	free(rq);
}

struct um_queue_api *um_relay_queue_api(struct um_relay_queue *rq)
{
	return rq->api;
}
