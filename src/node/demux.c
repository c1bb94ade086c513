/* SPDX-License-Identifier: MIT */
/* Incoming control datagrams (everything the data plane does not handle
 * itself: all but DATA) to their handler, by first byte (wire/types.h).
 *
 * STUN comes first: it has no type byte of ours and a Binding success
 * response starts with 0x01 like HELLO, so stun.c is asked before the table
 * (by magic cookie; it claims only answers to its own transactions, and a
 * lookalike it does not claim goes on to the table as before). Then one
 * table {first, last, handler, through_relay}: through_relay says whether
 * the type may arrive inside a relay's FORWARDED from a peer. A type with no
 * row, or a row that refuses the route it came by, is counted
 * (node->demux_dropped) and dropped. */
#include "node/demux.h"

#include <string.h>

#include "node/dht.h"
#include "node/internal.h"
#include "node/path.h"
#include "node/route.h"
#include "node/session.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "path/stun.h"

struct demux_datagram {
	const struct um_dp_control_msg *msg;
	struct um_addr from; /* the sender; the relay when via_relay */
};

typedef void demux_handler(struct um_node *node, const struct demux_datagram *d);

/* Handshake: straight from the peer, or from a configured peer through one
 * of our relays (the relay's word for the source; the handshake
 * authenticates), then carried with the route tag of (peer, uplink). */
static void on_handshake(struct um_node *node, const struct demux_datagram *d)
{
	const struct um_dp_control_msg *msg = d->msg;
	uint32_t route = 0;

	if (msg->via_relay) {
		int uplink = um_uplink_find(node, &d->from);
		/* The relay names the source by its routing handle. */
		struct um_node_peer *peer =
		    uplink < 0 ? NULL : um_uplink_peer_by_route(node, (unsigned)uplink, msg->relay_source);
		if (!peer)
			return;
		route = um_route_tag((size_t)(peer - node->peers), um_uplink_answer_via(node, (unsigned)uplink, peer));
	}
	um_node_handshake_input(node, &d->from, route, msg->data, msg->len);
}

/* Relay messages to us (REGISTER_ACK, KEEPALIVE, ERROR): uplink.c drops
 * those not from one of our relays. */
static void on_relay(struct um_node *node, const struct demux_datagram *d)
{
	um_uplinks_receive(node, &d->from, d->msg->data, d->msg->len);
}

/* Path messages: authenticated by the path key, not by the relay's word,
 * but only through relays of ours. */
static void on_path(struct um_node *node, const struct demux_datagram *d)
{
	const struct um_dp_control_msg *msg = d->msg;
	int uplink = msg->via_relay ? um_uplink_find(node, &d->from) : -1;

	if (!msg->via_relay || uplink >= 0)
		um_path_receive(node, &d->from, msg->via_relay, uplink, msg->data, msg->len);
}

/* DHT messages (0x30..0x3f): straight from the network only (a relay
 * never carries them); the engine checks everything else. */
static void on_dht(struct um_node *node, const struct demux_datagram *d)
{
	um_node_dht_receive(node, &d->from, d->msg->data, d->msg->len);
}

struct demux_row {
	uint8_t first, last;
	demux_handler *handler;
	bool through_relay;
	const char *name;
};

static const struct demux_row demux_table[] = {
    {UM_TYPE_HELLO, UM_TYPE_FRAGMENT_ACK, on_handshake, true, "handshake"},
    {UM_TYPE_RELAY_FIRST, UM_TYPE_RELAY_LAST, on_relay, false, "relay"},
    {UM_TYPE_PATH_FIRST, UM_TYPE_PATH_LAST, on_path, true, "path"},
    {UM_TYPE_DHT_FIRST, UM_TYPE_DHT_LAST, on_dht, false, "dht"},
};

/* The row for a datagram of this type that came this route, or NULL. */
static const struct demux_row *demux_lookup(uint8_t type, bool via_relay)
{
	for (size_t i = 0; i < sizeof(demux_table) / sizeof(demux_table[0]); i++) {
		const struct demux_row *row = &demux_table[i];
		if (type >= row->first && type <= row->last)
			return via_relay && !row->through_relay ? NULL : row;
	}
	return NULL;
}

const char *um_node_demux_route(uint8_t type, bool via_relay)
{
	const struct demux_row *row = demux_lookup(type, via_relay);

	return row ? row->name : NULL;
}

void um_node_demux(struct um_node *node, const struct um_dp_control_msg *msg)
{
	struct demux_datagram d = {.msg = msg};

	if (um_addr_from_sockaddr(&d.from, (const struct sockaddr *)&msg->from, msg->from_len))
		return;
	if (!msg->via_relay && um_stun_looks_like(msg->data, msg->len) &&
	    um_node_stun_receive(node, (const struct sockaddr *)&msg->from, msg->from_len, msg->data, msg->len))
		return;
	const struct demux_row *row = msg->len ? demux_lookup(msg->data[0], msg->via_relay) : NULL;
	if (!row) {
		node->demux_dropped++;
		return;
	}
	row->handler(node, &d);
}
