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
#include <string.h>

#include "node/node.h"
#include "path/stun.h"

struct demux_datagram {
	const struct um_dp_control_msg *msg;
	struct um_wire_addr from; /* the sender; the relay when via_relay */
};

typedef void demux_handler(struct um_node *node, const struct demux_datagram *d);

/* Handshake: straight from the peer, or from a configured peer through one
 * of our relays (the relay's word for the source; the handshake
 * authenticates), then carried as the relay placeholder address. */
static void on_handshake(struct um_node *node, const struct demux_datagram *d)
{
	const struct um_dp_control_msg *msg = d->msg;
	struct um_wire_addr from = d->from;

	if (msg->via_relay) {
		struct um_peer_id id;
		struct um_node_peer *peer;
		int uplink = um_uplink_find(node, &d->from);

		memcpy(id.bytes, msg->relay_source, sizeof(id.bytes));
		peer = um_node_peer_find(node, &id);
		if (uplink < 0 || !peer)
			return;
		um_relay_addr_encode(&from, (size_t)(peer - node->peers), (unsigned)uplink);
	}
	um_node_handshake_input(node, &from, msg->data, msg->len);
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

static const struct {
	uint8_t first, last;
	demux_handler *handler;
	bool through_relay;
} demux_table[] = {
    {UM_TYPE_HELLO, UM_TYPE_FRAGMENT, on_handshake, true},
    {UM_TYPE_RELAY_FIRST, UM_TYPE_RELAY_LAST, on_relay, false},
    {UM_TYPE_PATH_FIRST, UM_TYPE_PATH_LAST, on_path, true},
};

void um_node_demux(struct um_node *node, const struct um_dp_control_msg *msg)
{
	struct demux_datagram d = {.msg = msg};

	if (um_wire_addr_from_sockaddr(&d.from, (const struct sockaddr *)&msg->from, msg->from_len))
		return;
	if (!msg->via_relay && um_stun_looks_like(msg->data, msg->len) &&
	    um_node_stun_receive(node, (const struct sockaddr *)&msg->from, msg->from_len, msg->data, msg->len))
		return;
	if (msg->len) {
		for (size_t i = 0; i < sizeof(demux_table) / sizeof(demux_table[0]); i++) {
			if (msg->data[0] < demux_table[i].first || msg->data[0] > demux_table[i].last)
				continue;
			if (msg->via_relay && !demux_table[i].through_relay)
				break;
			demux_table[i].handler(node, &d);
			return;
		}
	}
	node->demux_dropped++;
}
