/* SPDX-License-Identifier: MIT */
/* node/peer.c: the peer state transition table and setter, and the peer
 * table's lookups by ID and by data-plane slot. */
#include <sodium.h>
#include <stdlib.h>

#include "node/internal.h"
#include "test.h"
#include "util/error.h"

#define I UM_PEER_IDLE
#define H UM_PEER_HANDSHAKING
#define E UM_PEER_ESTABLISHED
#define X UM_PEER_EXPIRED

/* The specification, written out: who may move a peer where (peer.c). */
static const bool expected[UM_PEER_STATES][UM_PEER_STATES] = {
    /*            to: I      H      E      X */
    [I] = {true, true, true, false},
    [H] = {true, true, true, true},
    [E] = {true, true, true, true},
    [X] = {true, true, true, true},
};

static struct um_config_peer config_peer;
static struct um_node_peer peer;

static void reset_peer(enum um_peer_state state)
{
	memset(&config_peer, 0, sizeof(config_peer));
	snprintf(config_peer.name, sizeof(config_peer.name), "test");
	memset(&peer, 0, sizeof(peer));
	peer.config = &config_peer;
	peer.state = state;
}

static void test_table_matches_the_specification(void)
{
	for (int from = 0; from < UM_PEER_STATES; from++)
		for (int to = 0; to < UM_PEER_STATES; to++) {
			if (um_peer_state_legal(from, to) != expected[from][to])
				fprintf(stderr, "  %s -> %s\n", um_peer_state_name(from), um_peer_state_name(to));
			CHECK_EQ(um_peer_state_legal(from, to), expected[from][to]);
		}
	CHECK(!um_peer_state_legal(UM_PEER_STATES, I));
	CHECK(!um_peer_state_legal(I, UM_PEER_STATES));
}

static void test_setter_applies_and_counts(void)
{
	for (int from = 0; from < UM_PEER_STATES; from++)
		for (int to = 0; to < UM_PEER_STATES; to++) {
			reset_peer(from);
			int r = um_peer_set_state(&peer, to, "test");
			if (!expected[from][to]) {
				CHECK_EQ(r, -UM_ESTATE);
				CHECK_EQ(peer.state, from); /* refused: unchanged */
				CHECK_EQ(peer.state_changes, 0);
			} else {
				CHECK_EQ(r, 0);
				CHECK_EQ(peer.state, to);
				CHECK_EQ(peer.state_changes, from == to ? 0 : 1); /* same state: no change */
			}
		}
}

/* A peer's life as node.c and session.c drive it. */
static void test_lifecycle(void)
{
	static const enum um_peer_state steps[] = {H, E, H, E, X, H, E, I, E, X, E, I};

	reset_peer(I);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		CHECK_EQ(um_peer_set_state(&peer, steps[i], "test"), 0);
	CHECK_EQ(peer.state_changes, sizeof(steps) / sizeof(steps[0]));
	CHECK_EQ(um_peer_set_state(&peer, X, "test"), -UM_ESTATE);
	CHECK_EQ(peer.state, I);
}

static void test_names(void)
{
	for (int s = 0; s < UM_PEER_STATES; s++) {
		CHECK(strcmp(um_peer_state_name(s), "?") != 0);
		for (int t = 0; t < s; t++)
			CHECK(strcmp(um_peer_state_name(s), um_peer_state_name(t)) != 0);
	}
	CHECK(strcmp(um_peer_state_name(UM_PEER_STATES), "?") == 0);
}

static void test_table_lookups(void)
{
	enum { N = 40 };
	static struct um_node node;
	struct um_config_peer *peers = calloc(N, sizeof(*peers));
	struct um_peer_id unknown;

	CHECK(peers != NULL);
	if (!peers)
		return;
	memset(&node, 0, sizeof(node));
	for (size_t i = 0; i < N; i++)
		randombytes_buf(peers[i].id.bytes, sizeof(peers[i].id.bytes));
	node.config.peers = peers;
	node.config.n_peers = N;
	CHECK_EQ(um_node_peers_create(&node), 0);
	CHECK_EQ(node.n_peers, N);
	for (size_t i = 0; i < N; i++) /* slots in another order than the table */
		CHECK_EQ(um_node_peer_set_slot(&node.peers[i], (uint32_t)(1000 + (i * 7) % N)), 0);
	for (size_t i = 0; i < N; i++) {
		CHECK(um_node_peer_find(&node, &peers[i].id) == &node.peers[i]);
		CHECK(um_node_peer_by_slot(&node, (uint32_t)(1000 + (i * 7) % N)) == &node.peers[i]);
		CHECK_EQ(node.peers[i].dp_peer, 1000 + (i * 7) % N);
	}
	memset(&unknown, 0xee, sizeof(unknown));
	CHECK(um_node_peer_find(&node, &unknown) == NULL);
	CHECK(um_node_peer_by_slot(&node, 999) == NULL);
	um_node_peers_free(&node);
	CHECK(um_node_peer_find(&node, &peers[0].id) == NULL);
	free(peers);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_table_matches_the_specification);
	RUN(test_setter_applies_and_counts);
	RUN(test_lifecycle);
	RUN(test_names);
	RUN(test_table_lookups);
	return um_test_end();
}
