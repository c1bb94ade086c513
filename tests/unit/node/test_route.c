/* SPDX-License-Identifier: MIT */
/* node/route.c: the handshake route tag and the peer's route as a value.
 * The changes that reach the data plane are covered by the netns tests
 * (relay, punch, roaming); here the ones that do not. Fresh node per case. */
#include <string.h>

#include "node/internal.h"
#include "test.h"

static struct um_node node;
static struct um_node_uplink uplinks[3];
static struct um_node_peer peers[5];

static void setup(void)
{
	memset(&node, 0, sizeof(node));
	memset(uplinks, 0, sizeof(uplinks));
	memset(peers, 0, sizeof(peers));
	node.uplinks = uplinks;
	node.n_uplinks = 3;
	node.peers = peers;
	node.n_peers = 5;
	for (size_t i = 0; i < 5; i++) {
		peers[i].node = &node;
		peers[i].relay = -1;
	}
	uplinks[2].tls = true;
}

static void test_tag_round_trip(void)
{
	size_t peer;
	unsigned uplink;

	setup();
	for (size_t p = 0; p < 5; p++) {
		for (unsigned u = 0; u < 3; u++) {
			uint32_t tag = um_route_tag(p, u);
			CHECK(tag != 0);
			peer = 99;
			uplink = 99;
			CHECK(um_route_tag_decode(&node, tag, &peer, &uplink));
			CHECK_EQ(peer, p);
			CHECK_EQ(uplink, u);
		}
	}
	/* Distinct per (peer, uplink). */
	CHECK(um_route_tag(0, 1) != um_route_tag(1, 0));
	CHECK(um_route_tag(1, 2) != um_route_tag(2, 1));
}

static void test_tag_refused(void)
{
	size_t peer;
	unsigned uplink;

	setup();
	CHECK(!um_route_tag_decode(&node, 0, &peer, &uplink));                  /* direct */
	CHECK(!um_route_tag_decode(&node, um_route_tag(5, 0), &peer, &uplink)); /* no such peer */
	CHECK(!um_route_tag_decode(&node, um_route_tag(0, 3), &peer, &uplink)); /* no such uplink */
	node.n_uplinks = 0;
	CHECK(!um_route_tag_decode(&node, um_route_tag(0, 0), &peer, &uplink));
}

static void test_route_value(void)
{
	struct um_route r;

	setup();
	r = um_peer_route(&peers[0]);
	CHECK_EQ(r.kind, UM_ROUTE_NONE);
	CHECK(um_route_kind_name(r.kind) == NULL);
	peers[0].endpoint.family = 4;
	peers[0].endpoint.port = 51820;
	r = um_peer_route(&peers[0]);
	CHECK_EQ(r.kind, UM_ROUTE_DIRECT);
	CHECK_EQ(r.endpoint.port, 51820);
	CHECK(strcmp(um_route_kind_name(r.kind), "direct") == 0);
	peers[0].via_relay = true;
	peers[0].relay = 1;
	r = um_peer_route(&peers[0]);
	CHECK_EQ(r.kind, UM_ROUTE_RELAY);
	CHECK_EQ(r.uplink, 1);
	peers[0].relay = 2;
	r = um_peer_route(&peers[0]);
	CHECK_EQ(r.kind, UM_ROUTE_RELAY_TCP);
	CHECK(strcmp(um_route_kind_name(r.kind), "relay-tcp") == 0);
}

/* The changes that stay in node state. */
static void test_set_without_data_plane(void)
{
	struct um_route next = {.kind = UM_ROUTE_RELAY, .uplink = 2};

	setup();
	CHECK_EQ(um_peer_route_set(&peers[1], &(struct um_route){0}, UM_ROUTE_WHY_DIRECT_FAILED), 0);
	CHECK_EQ(um_peer_route_set(&peers[1], &(struct um_route){0}, UM_ROUTE_WHY_DIRECT_FAILED), 0);
	CHECK_EQ(peers[1].direct_failures, 2);
	CHECK_EQ(um_peer_route_set(&peers[1], &next, UM_ROUTE_WHY_RELAY_NEXT), 0);
	CHECK_EQ(peers[1].relay, 2);
	CHECK(!peers[1].via_relay); /* only the choice, not the data path */
	/* An endpoint of family 0 is no change. */
	CHECK_EQ(um_peer_route_set(&peers[1], &(struct um_route){.kind = UM_ROUTE_DIRECT}, UM_ROUTE_WHY_ROAMED), 0);
	CHECK_EQ(peers[1].endpoint.family, 0);
	/* A relay route through an uplink we do not have is refused. */
	CHECK(um_peer_route_set(&peers[1], &(struct um_route){.kind = UM_ROUTE_RELAY, .uplink = 7},
				UM_ROUTE_WHY_FALLBACK) < 0);
	CHECK_EQ(peers[1].direct_failures, 2);
	CHECK(!peers[1].via_relay);
}

int main(void)
{
	RUN(test_tag_round_trip);
	RUN(test_tag_refused);
	RUN(test_route_value);
	RUN(test_set_without_data_plane);
	return um_test_end();
}
