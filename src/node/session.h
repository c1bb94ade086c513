/* SPDX-License-Identifier: MIT */
/* Sessions (session.c): handshake I/O (the engine's datagrams to the peer,
 * directly or FORWARDed through a relay), key installation, and the glue of
 * the per-peer timer policy (session/timers.h: one um_timer per peer at the
 * policy's next deadline; the UM_SESSION_DO_* answers are acted on here).
 * Above path.c, uplink.c and route.c; below demux.c and node.c.
 *
 * RTT (`rtt_us` in status): measured at each key rotation, so refreshed
 * every rekey-interval. As responder: from sending ESTABLISHED to the
 * initiator's first packet under the new keys (the data plane's
 * NEXT_KEY_USED event, um_node_promote_next): one round trip plus a
 * symmetric decryption and a key install on the initiator, i.e. close to the
 * true RTT (slightly above). As initiator we only have the handshake itself:
 * half the time from HELLO to ESTABLISHED (two round trips plus both sides'
 * public-key computation, about 1 ms in a release build), a coarse upper
 * bound used only until a responder-side sample exists, and reported apart
 * (`rtt_bound_us`, shown as "<N ms"). Samples over 1 s (a retransmission)
 * are discarded. Since the designated side always initiates, its peer shows
 * the precise value and it shows the bound until it answers a handshake. */
#ifndef UM_NODE_SESSION_H
#define UM_NODE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/peer.h"
#include "wire/handshake.h"

struct um_node;

/* Start a handshake to peer now, even if one is in flight (-UM_ESTATE when
 * down or with neither endpoint nor relay). */
int um_node_initiate(struct um_node_peer *peer);
/* The responder's `next` keys become current (confirmed: the initiator
 * used them, an RTT sample). */
void um_node_promote_next(struct um_node_peer *peer, bool confirmed);
/* Wipe the peer's keys in the data plane (session over). */
void um_node_clear_session(struct um_node_peer *peer);
/* A handshake datagram (types 0x01..0x06) into the engine. from: the
 * sender; route: 0, or um_route_tag() of the peer and uplink it came
 * through (from is then the relay). */
void um_node_handshake_input(struct um_node *node, const struct um_addr *from, uint32_t route, const uint8_t *data,
			     size_t len);
/* The handshake worker (handshake_worker.h) that signs deferred
 * CHALLENGEs: started after the engine (capacity: its max_pending),
 * stopped before the engine is freed. */
int um_session_worker_start(struct um_node *node, unsigned capacity);
void um_session_worker_stop(struct um_node *node);
/* The handshake engine's timer (node->hs_timer) and its re-arming. */
void um_session_engine_timer(struct um_loop *loop, struct um_timer *timer);
void um_session_engine_rearm(struct um_node *node);

/* The timer policy's events. peer_init needs peer->designated set. */
void um_session_peer_init(struct um_node_peer *peer);
/* Node down (or stop): nothing armed, backoff reset. */
void um_session_peer_down(struct um_node_peer *peer);
void um_session_up(struct um_node_peer *peer);
void um_session_need_key(struct um_node_peer *peer);
/* Hooks node.c installs for uplink.c: a relay became usable (peers
 * without a session that can use it start again); the relay does not know
 * the peer yet (call again soon, backing off). */
void um_session_relay_ready(struct um_node_peer *peer);
void um_session_relay_unknown_peer(struct um_node_peer *peer);

#endif
