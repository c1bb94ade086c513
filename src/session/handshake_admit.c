/* SPDX-License-Identifier: MIT */
/* Responder mode for initiators not added beforehand (handshake.h,
 * config.admit): a relay takes registrations from nodes it has never
 * heard of. Kept apart from handshake.c so the node's engine, which has no
 * admit callback, is unchanged: its unknown initiators are refused as
 * before. */
#include "session/handshake_internal.h"
#include "util/error.h"

#define DEFAULT_MAX_ADMITTED 1024

struct um_handshake_peer *um_hs_admit(struct um_handshake_engine *engine, const struct um_peer_id *id, int *err)
{
	struct um_handshake_peer *peer = NULL;
	unsigned cap = engine->config.max_admitted ? engine->config.max_admitted : DEFAULT_MAX_ADMITTED;
	void *user = NULL;
	int ret;

	ret = -UM_ENOTFOUND;
	if (!engine->config.admit)
		goto out;
	ret = -UM_ELIMIT;
	if (engine->n_peers >= cap)
		goto out;
	if ((ret = um_handshake_peer_add(engine, id, NULL, &peer)) < 0) {
		peer = NULL;
		goto out;
	}
	if ((ret = engine->config.admit(engine->config.admit_ctx, id, peer, &user)) < 0) {
		um_handshake_peer_remove(engine, peer);
		peer = NULL;
		goto out;
	}
	peer->user = user;
	ret = 0;
out:
	*err = ret;
	return peer;
}
