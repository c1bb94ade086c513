/* SPDX-License-Identifier: MIT */
/* Deferred CHALLENGE (handshake.h, config.defer_challenge): the responder's
 * ML-KEM keygen and hybrid signature (~1 ms) leave the engine's thread.
 * handle_hello claims the pending state and lends a work item; the caller
 * runs it anywhere and hands it back; finish installs the result if the
 * state is still the one it was made for. The engine stays I/O and thread
 * free: it never waits, and touches a lent item only when it comes back. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secmem.h"
#include "session/handshake_internal.h"
#include "util/error.h"

int um_hs_work_pool_init(struct um_handshake_engine *engine)
{
	/* One item per pending slot: lent items never outnumber the states
	 * that asked for them, except ones whose state expired meanwhile. */
	engine->work_pool = um_secmem_alloc((size_t)engine->config.max_pending * sizeof(*engine->work_pool));
	return engine->work_pool ? 0 : -UM_ENOMEM;
}

void um_hs_work_pool_free(struct um_handshake_engine *engine)
{
	if (engine->work_pool)
		um_secmem_free(engine->work_pool); /* zeroes */
	engine->work_pool = NULL;
}

static struct um_handshake_work *free_item(const struct um_handshake_engine *engine)
{
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		if (!engine->work_pool[i].in_flight)
			return &engine->work_pool[i];
	return NULL;
}

bool um_hs_work_can_start(const struct um_handshake_engine *engine)
{
	if (!free_item(engine))
		return false;
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		if (engine->pending[i].state != UM_HS_STATE_CHALLENGE_PREPARING)
			return true;
	return false;
}

int um_hs_work_start(struct um_handshake_engine *engine, struct um_hs_pending *pending, const uint8_t *hello_bytes,
		     bool urgent, struct um_handshake_output *out)
{
	struct um_handshake_work *work = free_item(engine);

	if (!work)
		return -UM_ELIMIT; /* um_hs_work_can_start said otherwise: not reached */
	memset(work, 0, sizeof(*work));
	work->in_flight = true;
	work->urgent = urgent;
	work->slot = (unsigned)(pending - engine->pending);
	work->generation = ++engine->work_generation;
	work->identity = engine->identity;
	work->local_index = pending->local_index;
	work->remote_index = pending->remote_index;
	memcpy(work->hello_ephemeral, pending->hello_ephemeral, sizeof(work->hello_ephemeral));
	memcpy(work->hello_body, hello_bytes, sizeof(work->hello_body));
	work->key_epoch = engine->key_epoch;
	work->result = -UM_ESTATE; /* until run */
	pending->generation = work->generation;
	pending->state = UM_HS_STATE_CHALLENGE_PREPARING;
	engine->stats.challenges_deferred++;
	out->work = work;
	out->to = pending->source;
	out->route = pending->source_route;
	return 0;
}

bool um_handshake_work_urgent(const struct um_handshake_work *work)
{
	return work->urgent;
}

int um_handshake_work_run(struct um_handshake_work *work)
{
	return um_handshake_work_run_pooled(work, NULL);
}

/* ---- precomputed KEM key pairs ---- */

struct kem_pair {
	uint8_t public_key[UM_HKEM_PK_BYTES];
	uint8_t secret_key[UM_HKEM_SK_BYTES];
};

struct um_handshake_kem_pool {
	unsigned size, count;
	struct kem_pair *pairs; /* secmem, size entries; [0, count) filled */
};

int um_handshake_kem_pool_new(struct um_handshake_kem_pool **out, unsigned size)
{
	struct um_handshake_kem_pool *pool;

	*out = NULL;
	if (!size)
		return -UM_EINVAL;
	if (!(pool = calloc(1, sizeof(*pool))))
		return -UM_ENOMEM;
	if (!(pool->pairs = um_secmem_alloc((size_t)size * sizeof(*pool->pairs)))) {
		free(pool);
		return -UM_ENOMEM;
	}
	pool->size = size;
	*out = pool;
	return 0;
}

void um_handshake_kem_pool_free(struct um_handshake_kem_pool *pool)
{
	if (!pool)
		return;
	um_secmem_free(pool->pairs); /* zeroes */
	free(pool);
}

int um_handshake_kem_pool_fill(struct um_handshake_kem_pool *pool)
{
	if (pool->count >= pool->size)
		return 0;
	struct kem_pair *pair = &pool->pairs[pool->count];
	int ret = um_hkem_keygen(pair->public_key, pair->secret_key);
	if (ret < 0) {
		sodium_memzero(pair, sizeof(*pair));
		return ret;
	}
	pool->count++;
	return 1;
}

unsigned um_handshake_kem_pool_count(const struct um_handshake_kem_pool *pool)
{
	return pool->count;
}

int um_handshake_work_run_pooled(struct um_handshake_work *work, struct um_handshake_kem_pool *pool)
{
	uint8_t public_key[UM_HKEM_PK_BYTES];
	const uint8_t *ready = NULL;

	if (pool && pool->count) {
		struct kem_pair *pair = &pool->pairs[--pool->count];
		memcpy(public_key, pair->public_key, sizeof(public_key));
		memcpy(work->kem_secret, pair->secret_key, sizeof(work->kem_secret));
		sodium_memzero(pair, sizeof(*pair)); /* one handshake only */
		ready = public_key;
	}
	work->result = um_hs_challenge_compute(work->identity, work->local_index, work->remote_index,
					       work->hello_ephemeral, work->hello_body, ready, work->kem_secret,
					       work->key_epoch, &work->sym, work->challenge, &work->challenge_len);
	work->done = true;
	return work->result;
}

static bool lent_by(const struct um_handshake_engine *engine, const struct um_handshake_work *work)
{
	if (!engine->work_pool || !work)
		return false;
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		if (&engine->work_pool[i] == work)
			return work->in_flight;
	return false;
}

int um_handshake_work_finish(struct um_handshake_engine *engine, struct um_handshake_work *work,
			     struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_pending *pending;
	int ret;

	um_hs_output_reset(out);
	if (!lent_by(engine, work))
		return -UM_EINVAL;
	pending = &engine->pending[work->slot];
	if (!work->done || pending->state != UM_HS_STATE_CHALLENGE_PREPARING ||
	    pending->generation != work->generation) {
		/* Its state expired (and maybe was claimed again): the key
		 * pair and transcript are for nobody now. */
		engine->stats.deferred_stale++;
		ret = -UM_ESTATE;
		goto out;
	}
	if ((ret = work->result) < 0) {
		um_hs_pending_release(engine, pending);
		goto out;
	}
	memcpy(pending->kem_secret, work->kem_secret, sizeof(pending->kem_secret));
	pending->sym = work->sym;
	memcpy(pending->challenge, work->challenge, work->challenge_len);
	pending->challenge_len = work->challenge_len;
	/* The CHALLENGE leaves now: its life and the CHALLENGE -> RESPONSE
	 * RTT sample start here, not at the HELLO (the queue is ours). */
	pending->created_ns = now.mono_ns;
	um_hs_challenge_commit(pending);
	engine->stats.hellos++;
	engine->stats.challenges++;
	engine->stats.short_challenges += pending->challenge_len == UM_HS_CHALLENGE_SHORT_BYTES;
	out->to = pending->source;
	out->route = pending->source_route;
	ret = um_hs_output_first_round(engine, out, UM_MSG_CHALLENGE, pending->remote_index,
				       pending->challenge_message_id, pending->challenge, pending->challenge_len);
	if (ret < 0)
		um_hs_output_reset(out);
	um_hs_count_output(engine, out);
out:
	sodium_memzero(work, sizeof(*work)); /* in_flight = false: free again */
	return ret;
}
