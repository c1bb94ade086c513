/* SPDX-License-Identifier: MIT */
/* The registry of umbra datagram types: the first byte of every datagram a
 * node or relay sends over UDP (or inside a relay's FORWARD, or a FRAGMENT's
 * msg_type). One list, so a new protocol takes a free range here instead of
 * a byte someone else already uses; docs/PROTOCOL.md section 3 mirrors it.
 * wire/handshake.h, wire/relay.h and wire/path.h keep their enum names as
 * aliases of these values.
 *
 * STUN (RFC 8489) shares the data plane's socket and has no type byte of
 * ours: its first two bits are 00, so a Binding success response (0x0101)
 * starts with 0x01 like HELLO. Receivers recognise STUN by its magic cookie
 * 0x2112A442 at bytes 4..7 (path/stun.h um_stun_looks_like) BEFORE looking
 * the first byte up here. */
#ifndef UM_WIRE_TYPES_H
#define UM_WIRE_TYPES_H

enum um_wire_type {
	/* 0x00: never a type (a zeroed buffer is not a message). */

	/* Handshake (wire/handshake.h), 0x01..0x0f. */
	UM_TYPE_HELLO = 0x01,
	UM_TYPE_CHALLENGE = 0x02,
	UM_TYPE_RESPONSE = 0x03,
	UM_TYPE_ESTABLISHED = 0x04,
	UM_TYPE_COOKIE_REPLY = 0x05,
	UM_TYPE_FRAGMENT = 0x06,     /* pieces of a larger message of any type */
	UM_TYPE_FRAGMENT_ACK = 0x07, /* which pieces arrived (wire/fragment_ack.h) */
	UM_TYPE_HANDSHAKE_FIRST = 0x01,
	UM_TYPE_HANDSHAKE_LAST = 0x0f, /* 0x08..0x0f reserved for the handshake */

	/* Data plane (wire/data.h), 0x10..0x1f. */
	UM_TYPE_DATA = 0x10,
	UM_TYPE_DATA_FIRST = 0x10,
	UM_TYPE_DATA_LAST = 0x1f, /* 0x11..0x1f reserved */

	/* Relay registration and forwarding (wire/relay.h, version 3),
	 * 0x20..0x25. Version 2 used 0x20 REGISTER, 0x21 REGISTER_ACK and
	 * 0x22 KEEPALIVE; the bytes were reused, the version fields tell them
	 * apart. */
	UM_TYPE_RELAY_ID = 0x20,        /* the relay's peer ID, for nodes without a pinned one */
	UM_TYPE_RELAY_HANDSHAKE = 0x21, /* a handshake datagram between a node and the relay itself */
	UM_TYPE_RELAY_SEALED = 0x22,    /* control messages sealed with that handshake's keys */
	UM_TYPE_RELAY_FORWARD = 0x23,
	UM_TYPE_RELAY_FORWARDED = 0x24,
	UM_TYPE_RELAY_ERROR = 0x25,
	UM_TYPE_RELAY_FIRST = 0x20,
	UM_TYPE_RELAY_LAST = 0x25,

	/* Direct paths between peers (wire/path.h), 0x26..0x2f. */
	UM_TYPE_PATH_CANDIDATES = 0x26,
	UM_TYPE_PATH_PROBE = 0x27,
	UM_TYPE_PATH_PROBE_REPLY = 0x28,
	UM_TYPE_PATH_FIRST = 0x26,
	UM_TYPE_PATH_LAST = 0x28, /* 0x29..0x2f reserved for relay and path */

	/* Kademlia DHT (wire/dht.h), 0x30..0x3f: 0x30 PING, 0x31 PONG,
	 * 0x32 FIND_NODE, 0x33 NODES, 0x34 FIND_VALUE, 0x35 STORE,
	 * 0x36 STORE_ACK, 0x37 PIECE; 0x38..0x3f reserved. */
	UM_TYPE_DHT_FIRST = 0x30,
	UM_TYPE_DHT_LAST = 0x3f,

	/* The message channel (wire/channel.h), 0x40..0x4f: segments inside
	 * a DATA packet flagged MESSAGE (the first plaintext byte), never
	 * sent bare over UDP. 0x43..0x4f reserved. */
	UM_TYPE_CHANNEL_DATA = 0x40,
	UM_TYPE_CHANNEL_ACK = 0x41,
	UM_TYPE_CHANNEL_RESET = 0x42,
	UM_TYPE_MESSAGE_FIRST = 0x40,
	UM_TYPE_MESSAGE_LAST = 0x4f,

	/* Reserved for the coming protocols (nothing sends these yet). */
	UM_TYPE_ONION_FIRST = 0x50,
	UM_TYPE_ONION_LAST = 0x5f,
	UM_TYPE_SIGNALING_FIRST = 0x60,
	UM_TYPE_SIGNALING_LAST = 0x6f,
	/* 0x70..0xff: unassigned. */
};

#endif
