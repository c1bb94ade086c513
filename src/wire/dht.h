/* SPDX-License-Identifier: MIT */
/* DHT messages (docs/PROTOCOL.md section "DHT"), type bytes 0x30..0x37.
 * Every message starts with one header (big-endian, util/buf.h):
 *
 *   0      1         2       3          4         12            44
 *   type | version=1 | flags | reserved=0 | txid (8) | sender ID (32) |
 *
 * then, by type:
 *   PING        [nonce (32) if flags & WANT_PROOF] padding
 *   PONG        observed endpoint (20) | cookie (16)   (the proof follows in PIECEs)
 *   FIND_NODE   target (32) | cookie (16) | padding
 *   NODES       cookie (16) | n_values u8 | sent u16 | n_summaries u8 |
 *               n_summaries x (owner 32 | sequence u64) | n_contacts u8 |
 *               n_contacts x (ID 32 | endpoint 20)
 *   FIND_VALUE  key (32) | cookie (16) | value_index u8 | want u16 | padding
 *   STORE       key (32) | cookie (16) | total_len u16 | piece u8 | n_pieces u8 | data
 *   STORE_ACK   status u8
 *   PIECE       kind u8 | value_index u8 | piece u8 | n_pieces u8 | total_len u16 | data
 *
 * Padding is zero bytes up to the datagram's end: requests without a
 * cookie are padded so that no answer exceeds 3x the request. A cookie of
 * 16 zero bytes means none. Pieces: 1 <= n_pieces <= 16, piece < n_pieces,
 * total_len <= 8192, each piece but the last carries exactly
 * UM_DHT_PIECE_DATA bytes (so an offset is piece * UM_DHT_PIECE_DATA). */
#ifndef UM_WIRE_DHT_H
#define UM_WIRE_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "wire/types.h"

enum {
	UM_DHT_VERSION = 1,
	UM_DHT_TYPE_PING = UM_TYPE_DHT_FIRST, /* 0x30 */
	UM_DHT_TYPE_PONG = 0x31,
	UM_DHT_TYPE_FIND_NODE = 0x32,
	UM_DHT_TYPE_NODES = 0x33,
	UM_DHT_TYPE_FIND_VALUE = 0x34,
	UM_DHT_TYPE_STORE = 0x35,
	UM_DHT_TYPE_STORE_ACK = 0x36,
	UM_DHT_TYPE_PIECE = 0x37,

	UM_DHT_FLAG_WANT_PROOF = 0x01, /* PING: answer with the proof of possession */
	UM_DHT_FLAG_PROOF = 0x02,      /* PONG: proof PIECEs follow */
	UM_DHT_FLAGS_ALL = 0x03,

	UM_DHT_PIECE_VALUE = 1, /* PIECE kinds */
	UM_DHT_PIECE_PROOF = 2,

	UM_DHT_STORE_OK = 0, /* STORE_ACK status */
	UM_DHT_STORE_STALE = 1,
	UM_DHT_STORE_INVALID = 2,
	UM_DHT_STORE_FULL = 3,
	UM_DHT_STORE_LIMITED = 4,
	UM_DHT_STORE_NO_COOKIE = 5,
	UM_DHT_STORE_STATUS_MAX = 5,

	UM_DHT_WIRE_MAX = 1280,
	UM_DHT_HEADER_BYTES = 44,
	UM_DHT_COOKIE_BYTES = 16,
	UM_DHT_NONCE_BYTES = 32,
	UM_DHT_MAX_CONTACTS = 20,
	UM_DHT_MAX_SUMMARIES = 4,
	UM_DHT_MAX_PIECES = 16,
	UM_DHT_PIECE_HEADER = 6,
	UM_DHT_STORE_HEADER = 32 + 16 + 4,
	/* Data per piece, so that STORE (the larger header) fits 1,280 bytes. */
	UM_DHT_PIECE_DATA = UM_DHT_WIRE_MAX - UM_DHT_HEADER_BYTES - UM_DHT_STORE_HEADER,
	UM_DHT_TOTAL_MAX = 8192,
};

struct um_dht_wire_contact {
	uint8_t id[32];
	struct um_addr addr;
};

struct um_dht_summary {
	uint8_t owner[32];
	uint64_t sequence;
};

/* One decoded message. Pointers (data) borrow the decoded datagram. */
struct um_dht_msg {
	uint8_t type, flags;
	uint64_t txid;
	uint8_t sender[32];
	uint8_t target[32]; /* FIND_NODE target; FIND_VALUE, STORE key */
	uint8_t cookie[UM_DHT_COOKIE_BYTES];
	uint8_t nonce[UM_DHT_NONCE_BYTES]; /* PING with WANT_PROOF */
	struct um_addr observed;           /* PONG */
	uint8_t n_values;                  /* NODES */
	uint16_t sent;                     /* NODES: pieces of value_index 0 that follow */
	unsigned n_summaries;
	struct um_dht_summary summaries[UM_DHT_MAX_SUMMARIES];
	unsigned n_contacts;
	struct um_dht_wire_contact contacts[UM_DHT_MAX_CONTACTS];
	uint8_t value_index; /* FIND_VALUE, PIECE */
	uint16_t want;       /* FIND_VALUE: bitmap of pieces wanted (0 = none) */
	uint8_t kind;        /* PIECE */
	uint8_t piece, n_pieces;
	uint16_t total_len;
	const uint8_t *data; /* STORE, PIECE */
	size_t data_len;
	uint8_t status; /* STORE_ACK */
	size_t padding; /* zero bytes after the body */
};

/* Encode m into out (cap bytes), padded with zeros to at least pad_to bytes
 * (capped at cap). Returns the length or -UM_EINVAL (bad field: count,
 * piece geometry, type) / -UM_ERANGE (cap too small). */
int um_dht_msg_encode(const struct um_dht_msg *m, uint8_t *out, size_t cap, size_t pad_to);
/* Decode a datagram: 0, -UM_ETRUNC, -UM_EVERSION, or -UM_EINVAL (unknown
 * type or flag, reserved byte set, counts or piece geometry out of range,
 * nonzero padding, trailing bytes where none are allowed). m->data borrows
 * data. */
int um_dht_msg_decode(struct um_dht_msg *m, const uint8_t *data, size_t len);
/* Is this a request (PING, FIND_NODE, FIND_VALUE, STORE)? */
bool um_dht_msg_is_request(uint8_t type);
/* Bytes of data a piece at index `piece` of total_len carries. */
size_t um_dht_piece_len(unsigned total_len, unsigned piece);
unsigned um_dht_piece_count(size_t total_len);

#endif
