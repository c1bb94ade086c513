/* SPDX-License-Identifier: MIT */
/* Routes (route.h): the one writer of a peer's endpoint, relay choice and
 * direct-failure count, and the data plane's view of them. */
#include "node/route.h"

#include <string.h>

#include "node/internal.h"
#include "node/uplink.h" /* struct um_node_uplink */
#include "util/error.h"
#include "util/log.h"

enum { TAG_UPLINK_BITS = 4 };
_Static_assert((int)UM_CONFIG_RELAYS_MAX <= (1 << TAG_UPLINK_BITS), "an uplink index fits in the tag");

struct um_route um_peer_route(const struct um_node_peer *peer)
{
	const struct um_node *node = peer->node;
	struct um_route route = {.kind = UM_ROUTE_NONE, .endpoint = peer->endpoint};

	if (peer->via_relay && peer->relay >= 0 && (size_t)peer->relay < node->n_uplinks) {
		route.uplink = (unsigned)peer->relay;
		route.kind = node->uplinks[peer->relay].tls ? UM_ROUTE_RELAY_TCP : UM_ROUTE_RELAY;
	} else if (peer->endpoint.family) {
		route.kind = UM_ROUTE_DIRECT;
	}
	return route;
}

const char *um_route_kind_name(enum um_route_kind kind)
{
	switch (kind) {
	case UM_ROUTE_DIRECT:
		return "direct";
	case UM_ROUTE_RELAY:
		return "relay";
	case UM_ROUTE_RELAY_TCP:
		return "relay-tcp";
	case UM_ROUTE_NONE:
		break;
	}
	return NULL;
}

uint32_t um_route_tag(size_t peer, unsigned uplink)
{
	return (uint32_t)((peer + 1) << TAG_UPLINK_BITS) | uplink;
}

bool um_route_tag_decode(const struct um_node *node, uint32_t tag, size_t *peer, unsigned *uplink)
{
	uint32_t slot = tag >> TAG_UPLINK_BITS;
	unsigned u = tag & ((1u << TAG_UPLINK_BITS) - 1);

	if (slot == 0 || slot > node->n_peers || u >= node->n_uplinks)
		return false;
	*peer = slot - 1;
	*uplink = u;
	return true;
}

size_t um_route_forward_header(struct um_node_peer *peer, unsigned uplink, uint8_t *out, size_t cap)
{
	struct um_peer_id route;

	if (cap < UM_RELAY_FORWARD_HEADER_BYTES)
		return 0;
	/* Handle 0 (not known yet: being asked for) makes a header the relay
	 * drops; um_route_relay_refresh puts the real one in when it comes. */
	const struct um_node_uplink *u = uplink < peer->node->n_uplinks ? &peer->node->uplinks[uplink] : NULL;
	um_relay_route_set(&route, u && u->handle_of ? u->handle_of(peer->node, uplink, peer) : 0);
	out[0] = UM_MSG_RELAY_FORWARD;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, route.bytes, UM_PEER_ID_BYTES);
	return UM_RELAY_FORWARD_HEADER_BYTES;
}

/* The data plane sends to addr (unchanged endpoints are left alone unless
 * force). */
static int set_endpoint(struct um_node_peer *peer, const struct um_addr *addr, bool force)
{
	struct sockaddr_storage ss;
	int len, r;

	if (addr->family == 0 || (!force && um_addr_equal(&peer->endpoint, addr)))
		return 0;
	len = um_addr_to_sockaddr(addr, &ss);
	if (len < 0)
		return len;
	r = um_dataplane_peer_set_endpoint(peer->node->dataplane, peer->dp_peer, (struct sockaddr *)&ss,
					   (socklen_t)len);
	if (r == 0)
		peer->endpoint = *addr;
	return r;
}

/* The data plane wraps the peer's DATA in FORWARD to the uplink. */
static int set_relay(struct um_node_peer *peer, unsigned uplink)
{
	struct um_node *node = peer->node;
	uint8_t header[UM_DP_RELAY_HEADER_MAX];
	size_t header_len;
	struct sockaddr_storage ss;
	int r;

	if (uplink >= node->n_uplinks)
		return -UM_EINVAL;
	header_len = um_route_forward_header(peer, uplink, header, sizeof(header));
	r = um_addr_to_sockaddr(&node->uplinks[uplink].addr, &ss);
	if (r < 0)
		return r;
	r = um_dataplane_peer_set_relay(node->dataplane, peer->dp_peer, &ss, (socklen_t)r, header, header_len);
	if (r)
		return r;
	peer->via_relay = true;
	peer->relay = (int)uplink;
	return 0;
}

int um_route_relay_refresh(struct um_node_peer *peer)
{
	if (!peer->via_relay || peer->relay < 0)
		return 0;
	return set_relay(peer, (unsigned)peer->relay);
}

static int clear_relay(struct um_node_peer *peer)
{
	int r;

	if (!peer->via_relay)
		return 0;
	r = um_dataplane_peer_set_relay(peer->node->dataplane, peer->dp_peer, NULL, 0, NULL, 0);
	if (r == 0)
		peer->via_relay = false;
	return r;
}

int um_peer_route_set(struct um_node_peer *peer, const struct um_route *route, enum um_route_why why)
{
	bool relay = route->kind == UM_ROUTE_RELAY || route->kind == UM_ROUTE_RELAY_TCP;
	int r;

	switch (why) {
	case UM_ROUTE_WHY_CONFIG:
	case UM_ROUTE_WHY_ROAMED:
		return set_endpoint(peer, &route->endpoint, false);
	case UM_ROUTE_WHY_HANDSHAKE:
		/* The session's path follows where its handshake went. */
		if (relay) {
			r = set_relay(peer, route->uplink);
			if (r)
				um_log_error("peer \"%s\": relay path: %s", peer->config->name, um_strerror(r));
			return r;
		}
		/* Best effort, as before: the data plane's relay header goes even
		 * when the endpoint cannot be set. */
		if (peer->via_relay) {
			um_dataplane_peer_set_relay(peer->node->dataplane, peer->dp_peer, NULL, 0, NULL, 0);
			peer->via_relay = false;
		}
		peer->direct_failures = 0;
		set_endpoint(peer, &route->endpoint, false);
		return 0;
	case UM_ROUTE_WHY_DIRECT:
		r = set_endpoint(peer, &route->endpoint, true);
		if (r)
			return r;
		clear_relay(peer);
		peer->direct_failures = 0;
		return 0;
	case UM_ROUTE_WHY_FALLBACK:
		r = set_relay(peer, route->uplink);
		if (r)
			return r;
		peer->direct_failures = 1; /* handshakes go through the relay too */
		return 0;
	case UM_ROUTE_WHY_DIRECT_FAILED:
		peer->direct_failures++; /* relay next */
		return 0;
	case UM_ROUTE_WHY_RELAY_NEXT:
		peer->relay = (int)route->uplink;
		return 0;
	case UM_ROUTE_WHY_TRANSPORT:
		/* Only a relayed peer moves (UDP <-> wss:// relay); the session's
		 * keys stay, so no handshake: the data plane's header changes. */
		if (!peer->via_relay)
			return -UM_ESTATE;
		return set_relay(peer, route->uplink);
	}
	return -UM_EINVAL;
}
