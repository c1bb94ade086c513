/* SPDX-License-Identifier: MIT */
/* How datagrams reach a peer (route.c): straight to its endpoint, or inside
 * FORWARD through one of our relays (UDP, or a wss:// uplink: relay-tcp).
 * um_peer_route_set is the one writer of a peer's endpoint, via_relay,
 * relay and direct_failures; each reason for a change has its own rule.
 *
 * Handshakes through a relay carry the route as a tag next to the relay's
 * address (session/handshake.h: `route`), so the engine keeps handshakes
 * of different peers behind one relay apart; 0 = direct. Above peer.c,
 * below everything else in node/. */
#ifndef UM_NODE_ROUTE_H
#define UM_NODE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/peer.h"
#include "wire/handshake.h"

enum um_route_kind {
	UM_ROUTE_NONE,      /* no endpoint and no relay */
	UM_ROUTE_DIRECT,    /* to `endpoint` */
	UM_ROUTE_RELAY,     /* FORWARD through uplink `uplink` (UDP) */
	UM_ROUTE_RELAY_TCP, /* FORWARD through uplink `uplink` (wss://) */
};

struct um_route {
	enum um_route_kind kind;
	unsigned uplink;         /* relay kinds */
	struct um_addr endpoint; /* direct; family 0 = unknown */
};

/* Why a route changes; each has its rule in um_peer_route_set. */
enum um_route_why {
	UM_ROUTE_WHY_CONFIG,        /* the configured endpoint (route->endpoint) */
	UM_ROUTE_WHY_ROAMED,        /* the data plane saw the peer at route->endpoint */
	UM_ROUTE_WHY_HANDSHAKE,     /* a session came up over route: its data follows */
	UM_ROUTE_WHY_DIRECT,        /* the path engine proved route->endpoint */
	UM_ROUTE_WHY_FALLBACK,      /* the direct path went silent: back to relay route->uplink */
	UM_ROUTE_WHY_DIRECT_FAILED, /* an initiation to the endpoint timed out (route unused) */
	UM_ROUTE_WHY_RELAY_NEXT,    /* the relay to try the peer at next (route->uplink) */
	UM_ROUTE_WHY_TRANSPORT,     /* the transport policy: relayed data moves to uplink route->uplink */
};

/* The peer's current route for data. */
struct um_route um_peer_route(const struct um_node_peer *peer);
/* Applies the change; 0 or the data plane's error (the peer keeps its old
 * route then). Relay routes need route->uplink < node->n_uplinks. */
int um_peer_route_set(struct um_node_peer *peer, const struct um_route *route, enum um_route_why why);
/* "direct", "relay" or "relay-tcp" (NULL for none). */
const char *um_route_kind_name(enum um_route_kind kind);

/* The handshake engine's route tag of peer `peer` (index in node->peers)
 * through uplink `uplink`; never 0 (0 = direct). decode refuses tags that
 * name no configured peer or uplink. */
uint32_t um_route_tag(size_t peer, unsigned uplink);
bool um_route_tag_decode(const struct um_node *node, uint32_t tag, size_t *peer, unsigned *uplink);

/* The FORWARD header the data plane prepends for peer through uplink (36
 * bytes): the peer's routing handle there (asked for when not known yet). */
size_t um_route_forward_header(struct um_node_peer *peer, unsigned uplink, uint8_t *out, size_t cap);
/* Rewrites the data plane's relay header of a peer on a relay route (its
 * handle there changed). 0 or a negative code. */
int um_route_relay_refresh(struct um_node_peer *peer);

#endif
