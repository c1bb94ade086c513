/* SPDX-License-Identifier: MIT */
/* The peer table: the peers of the config in one array, found by peer ID or
 * by data-plane slot through hash indexes (util/idmap.h), and the one place
 * a peer's state changes (um_peer_set_state).
 *
 * Peer states and who moves them:
 *
 *   IDLE --initiate--> HANDSHAKING --keys installed--> ESTABLISHED
 *   IDLE --keys installed (we answered)--------------> ESTABLISHED
 *   ESTABLISHED --nothing received (dead peer)--> HANDSHAKING
 *   ESTABLISHED or HANDSHAKING --session aged out--> EXPIRED
 *   EXPIRED --initiate--> HANDSHAKING, --keys installed--> ESTABLISHED
 *   any --node down--> IDLE
 *
 * IDLE -> EXPIRED is the one move refused: an IDLE peer has no session
 * that could age out. Setting the state a peer is already in is no change
 * (a rekey installs keys into an ESTABLISHED peer). */
#include "node/peer.h"

#include <stdlib.h>
#include <string.h>

#include "node/internal.h"
#include "util/error.h"
#include "util/log.h"

static const char *const state_names[UM_PEER_STATES] = {
    [UM_PEER_IDLE] = "idle",
    [UM_PEER_HANDSHAKING] = "handshaking",
    [UM_PEER_ESTABLISHED] = "established",
    [UM_PEER_EXPIRED] = "expired",
};

/* legal[from] has bit `to` set when from -> to is allowed. */
#define TO(state) (1u << (state))
static const unsigned legal[UM_PEER_STATES] = {
    [UM_PEER_IDLE] = TO(UM_PEER_HANDSHAKING) | TO(UM_PEER_ESTABLISHED),
    [UM_PEER_HANDSHAKING] = TO(UM_PEER_ESTABLISHED) | TO(UM_PEER_EXPIRED) | TO(UM_PEER_IDLE),
    [UM_PEER_ESTABLISHED] = TO(UM_PEER_HANDSHAKING) | TO(UM_PEER_EXPIRED) | TO(UM_PEER_IDLE),
    [UM_PEER_EXPIRED] = TO(UM_PEER_HANDSHAKING) | TO(UM_PEER_ESTABLISHED) | TO(UM_PEER_IDLE),
};
#undef TO

const char *um_peer_state_name(enum um_peer_state state)
{
	return (unsigned)state < UM_PEER_STATES ? state_names[state] : "?";
}

bool um_peer_state_legal(enum um_peer_state from, enum um_peer_state to)
{
	if ((unsigned)from >= UM_PEER_STATES || (unsigned)to >= UM_PEER_STATES)
		return false;
	return from == to || (legal[from] & (1u << to)) != 0;
}

int um_peer_set_state(struct um_node_peer *peer, enum um_peer_state state, const char *why)
{
	enum um_peer_state old = peer->state;

	if (!um_peer_state_legal(old, state)) {
		um_log_warn("peer \"%s\": refused state change %s -> %s (%s)", peer->config->name,
			    um_peer_state_name(old), um_peer_state_name(state), why);
		return -UM_ESTATE;
	}
	if (old == state)
		return 0;
	peer->state = state;
	peer->state_changes++;
	um_log_debug("peer \"%s\": %s -> %s (%s)", peer->config->name, um_peer_state_name(old),
		     um_peer_state_name(state), why);
	return 0;
}

/* ---- the table ---- */

int um_node_peers_create(struct um_node *node)
{
	const struct um_config *c = &node->config;
	int r;

	node->peers = calloc(c->n_peers ? c->n_peers : 1, sizeof(*node->peers));
	if (!node->peers)
		return -UM_ENOMEM;
	r = um_idmap_init(&node->peer_ids, (uint32_t)c->n_peers, UM_PEER_ID_BYTES);
	if (r)
		return r;
	r = um_idmap_init(&node->peer_slots, (uint32_t)c->n_peers, sizeof(uint32_t));
	if (r)
		return r;
	for (size_t i = 0; i < c->n_peers; i++) {
		struct um_node_peer *peer = &node->peers[i];
		peer->node = node;
		peer->config = &c->peers[i];
		peer->relay = -1; /* the home relay, until one is chosen */
		/* Duplicate IDs: the config refuses them; the last one would win. */
		r = um_idmap_put(&node->peer_ids, peer->config->id.bytes, (uint32_t)i);
		if (r)
			return r;
	}
	/* Only now: teardown walks n_peers, and these are initialised. */
	node->n_peers = c->n_peers;
	return 0;
}

int um_node_peer_set_slot(struct um_node_peer *peer, uint32_t slot)
{
	struct um_node *node = peer->node;

	peer->dp_peer = slot;
	return um_idmap_put(&node->peer_slots, &slot, (uint32_t)(peer - node->peers));
}

void um_node_peers_free(struct um_node *node)
{
	um_idmap_free(&node->peer_ids);
	um_idmap_free(&node->peer_slots);
	free(node->peers);
	node->peers = NULL;
	node->n_peers = 0;
}

struct um_node_peer *um_node_peer_find(struct um_node *node, const struct um_peer_id *id)
{
	uint32_t i;

	return um_idmap_get(&node->peer_ids, id->bytes, &i) ? &node->peers[i] : NULL;
}

struct um_node_peer *um_node_peer_by_slot(struct um_node *node, uint32_t slot)
{
	uint32_t i;

	return um_idmap_get(&node->peer_slots, &slot, &i) ? &node->peers[i] : NULL;
}
