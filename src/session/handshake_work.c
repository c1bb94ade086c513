/* SPDX-License-Identifier: MIT */
/* Deferred CHALLENGE (handshake.h, config.defer_challenge): the responder's
 * ML-KEM keygen and hybrid signature (~1 ms) leave the engine's thread.
 * handle_hello claims the pending state and lends a work item; the caller
 * runs it anywhere and hands it back; finish installs the result if the
 * state is still the one it was made for. The engine stays I/O and thread
 * free: it never waits, and touches a lent item only when it comes back. */
#include <sodium.h>
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
	work->result =
	    um_hs_challenge_compute(work->identity, work->local_index, work->remote_index, work->hello_ephemeral,
				    work->hello_body, NULL, work->kem_secret, &work->sym, work->challenge);
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
	memcpy(pending->challenge, work->challenge, sizeof(pending->challenge));
	/* The CHALLENGE leaves now: its life and the CHALLENGE -> RESPONSE
	 * RTT sample start here, not at the HELLO (the queue is ours). */
	pending->created_ns = now.mono_ns;
	um_hs_challenge_commit(pending);
	engine->stats.hellos++;
	engine->stats.challenges++;
	out->to = pending->source;
	out->route = pending->source_route;
	ret = um_hs_output_message(out, UM_MSG_CHALLENGE, pending->remote_index, pending->challenge_message_id,
				   pending->challenge, sizeof(pending->challenge));
	if (ret < 0)
		um_hs_output_reset(out);
	um_hs_count_output(engine, out);
out:
	sodium_memzero(work, sizeof(*work)); /* in_flight = false: free again */
	return ret;
}
