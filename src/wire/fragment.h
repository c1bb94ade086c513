/* SPDX-License-Identifier: MIT */
/* FRAGMENT (0x06): carries one piece of a handshake message larger than a
 * datagram (CHALLENGE and RESPONSE, ~9 KB each).
 *
 *   u8 type=0x06 | u8 msg_type | u8 index | u8 count |
 *   u32 receiver_index | u32 message_id | u16 total_len | payload
 *
 * Pieces have a fixed size: every fragment but the last carries exactly
 * UM_FRAG_CHUNK_BYTES, the last carries the remainder, and count must be
 * ceil(total_len / chunk). Offsets follow from the index, so fragments can
 * never overlap; a decoder rejects any fragment whose length disagrees.
 * A message of count >= 2 pieces may also have a parity piece, index ==
 * count, whose payload is exactly UM_FRAG_CHUNK_BYTES: the XOR of all data
 * pieces, each zero-padded to a chunk. With it, any count of the count + 1
 * pieces rebuild the message. Senders send it once, after the last data
 * piece of the first round (docs/PROTOCOL.md section 7.2).
 * receiver_index names the handshake state the message is for, so the
 * engine can refuse fragments for state it does not hold before any
 * reassembly memory is spent.
 *
 * The reassembler keeps a fixed number of slots, each keyed by (source
 * address, msg_type, receiver_index). Memory is reserved for the whole
 * message (and its parity piece: um_reasm_reserve_bytes) when its first
 * fragment arrives and counted against a per-source
 * (per IP address, ports ignored) byte cap, a per-prefix (IPv4 /24, IPv6
 * /64: one host or site usually owns the whole prefix) slot cap and a
 * global cap; a slot that does not complete within the timeout is dropped.
 * The handshake engine also keys slots by (msg_type, receiver_index) alone
 * (one slot per handshake state, released with it); the relay reserves a
 * slot only for a first piece and, when full, evicts from the prefix that
 * holds the most slots, so a flood from many addresses cannot lock out one
 * legitimate sender. */
#ifndef UM_WIRE_FRAGMENT_H
#define UM_WIRE_FRAGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/handshake.h"

enum {
	UM_FRAG_HEADER_BYTES = 14,
	UM_FRAG_CHUNK_BYTES = UM_HS_MAX_DATAGRAM - UM_FRAG_HEADER_BYTES,
	UM_FRAG_MAX_MESSAGE = 16384,
	UM_FRAG_MAX_COUNT = (UM_FRAG_MAX_MESSAGE + UM_FRAG_CHUNK_BYTES - 1) / UM_FRAG_CHUNK_BYTES,
};

struct um_fragment {
	uint8_t msg_type;
	uint8_t index, count;
	uint32_t receiver_index;
	uint32_t message_id;
	uint16_t total_len;
	const uint8_t *payload; /* borrowed from the datagram */
	size_t payload_len;
};

/* Number of fragments for a message of msg_len bytes (0 if too large or empty). */
unsigned um_fragment_count(size_t msg_len);
/* Writes fragment `index` of msg into out (index == count: the parity
 * piece, count >= 2 only); returns the datagram length or a negative code. */
int um_fragment_encode(uint8_t *out, size_t cap, uint8_t msg_type, uint32_t receiver_index, uint32_t message_id,
		       const uint8_t *msg, size_t msg_len, unsigned index);
/* Parses and checks self-consistency (sizes, count, index, payload length;
 * a parity piece only for count >= 2, exactly one chunk long).
 * 0, -UM_ETRUNC or -UM_EINVAL. */
int um_fragment_decode(struct um_fragment *f, const uint8_t *in, size_t len);
/* The piece is the parity piece of its message. */
static inline bool um_fragment_is_parity(const struct um_fragment *f)
{
	return f->index == f->count;
}
/* Bytes a reassembly slot reserves for a message of total_len bytes (the
 * message, plus a chunk for the parity piece when it has >= 2 pieces);
 * this is what the caps count. */
size_t um_reasm_reserve_bytes(size_t total_len);

struct um_reasm_limits {
	size_t max_message;      /* <= UM_FRAG_MAX_MESSAGE */
	size_t per_source_bytes; /* per source IP address */
	size_t global_bytes;
	unsigned max_slots;
	unsigned per_prefix_slots; /* per IPv4 /24 or IPv6 /64; 0 = no cap */
	uint64_t timeout_ns;
	/* One slot per (msg_type, receiver_index) whatever the source: a
	 * fragment from another source or with another message id replaces it. */
	bool one_slot_per_index;
	/* Only an index-0 piece opens a slot (senders send pieces in order). */
	bool first_piece_only;
	/* When no slot or memory is free, evict the oldest slot of the prefix
	 * holding the most slots (if that is not the new piece's prefix). */
	bool evict_when_full;
};

/* Defaults: 16 KB messages, 64 KB per source, 2 MB global, 256 slots, 16
 * slots per prefix, 5 s, no per-index keying, any piece opens, no eviction. */
void um_reasm_default_limits(struct um_reasm_limits *limits);

struct um_reasm_slot;

struct um_reasm_stats {
	uint64_t completed, duplicates, conflicts, cap_rejected, expired, evicted, released;
	uint64_t rebuilt;        /* messages completed with a piece rebuilt from the parity piece */
	uint64_t parity_ignored; /* parity pieces without a slot of their message (none opens one) */
};

struct um_reassembler {
	struct um_reasm_limits limits;
	struct um_reasm_slot *slots; /* owned: limits.max_slots entries */
	size_t bytes_in_use;
	struct um_reasm_stats stats;
};

/* limits NULL = defaults. Release with um_reasm_destroy(). */
int um_reasm_init(struct um_reassembler *r, const struct um_reasm_limits *limits);
void um_reasm_destroy(struct um_reassembler *r);

/* Adds one decoded fragment from source. With the parity piece and all
 * data pieces but one held, the missing one is rebuilt (an XOR of at most
 * one message's bytes) and the message completes. A parity piece is only
 * stored in a slot its message's data pieces opened (else ignored, 0).
 * Returns:
 *   0            stored (or an identical duplicate ignored), more needed;
 *   n > 0        the message is complete: its n bytes were copied to out
 *                (out_cap must be >= n) and the slot freed;
 *   -UM_ELIMIT   a per-source/global/slot cap refused a new message;
 *   -UM_EBADMSG  the fragment conflicts with what was stored (different
 *                bytes for the same index, parity piece included, a
 *                parity that rebuilds a short last piece with nonzero
 *                padding, or a different length/count for the same
 *                message): the whole slot is discarded;
 *   -UM_ERANGE   message larger than limits.max_message or out_cap. */
int um_reasm_add(struct um_reassembler *r, const struct um_addr *source, const struct um_fragment *frag,
		 uint64_t now_ns, uint8_t *out, size_t out_cap);
/* Acknowledgements (FRAGMENT_ACK, wire/fragment_ack.h). The receiver of a
 * message that stays incomplete says which pieces it holds, so the sender
 * resends only the others. um_reasm_add_ack() is um_reasm_add() that also
 * decides whether this piece calls for an ACK: ack->count is 0 when not,
 * else *ack is the ACK to send back to the source. It does when the slot
 * is incomplete after the piece and either
 *   - the piece has the highest index the sender is expected to send in
 *     its current round (the parity piece until an ACK was sent, or the
 *     last piece for a message of one piece; then the highest piece that
 *     ACK did not cover: senders send in ascending order and resend data
 *     pieces only; a parity piece after an ACK calls for none), or
 *   - the piece was already held and is the highest held (a repeated
 *     round: our ACK went astray, or the slot was lost and reopened);
 * but never the same bitmap again within UM_REASM_ACK_GAP_NS, and at most
 * UM_REASM_ACKS_PER_SLOT times per slot. ACKs name data pieces only. A
 * sender that sends no parity piece ends its first round short of it: the
 * quiet timer below answers it. An ACK is smaller than the piece
 * that caused it. When the piece that ends a round is lost, nothing of the
 * above fires: the owner's timer asks for the slots whose sender has been
 * quiet for a while since a piece that called for no ACK
 * (um_reasm_quiet_deadline, um_reasm_ack_quiet). */
#define UM_REASM_ACK_GAP_NS (100ULL * 1000000ULL)
enum { UM_REASM_ACKS_PER_SLOT = 16 };
struct um_fragment_ack;
int um_reasm_add_ack(struct um_reassembler *r, const struct um_addr *source, const struct um_fragment *frag,
		     uint64_t now_ns, uint8_t *out, size_t out_cap, struct um_fragment_ack *ack);
/* The earliest time a slot filled by um_reasm_add_ack has been quiet for
 * quiet_ns since a piece that called for no ACK (UINT64_MAX: none). */
uint64_t um_reasm_quiet_deadline(const struct um_reassembler *r, uint64_t quiet_ns);
/* One such slot whose time has come: fills *ack (recorded as sent, counted
 * against the per-slot cap) and *source (where to send it); 0, or
 * -UM_ENOTFOUND when none is due. Call until it returns nonzero. */
int um_reasm_ack_quiet(struct um_reassembler *r, uint64_t now_ns, uint64_t quiet_ns, struct um_addr *source,
		       struct um_fragment_ack *ack);
/* For the owner's retransmission timer: when an incomplete slot of
 * (msg_type, receiver_index) from exactly `source` exists, fills *ack with
 * what it holds, records it as sent and returns 0; else -UM_ENOTFOUND. */
int um_reasm_ack_now(struct um_reassembler *r, uint8_t msg_type, uint32_t receiver_index, const struct um_addr *source,
		     uint64_t now_ns, struct um_fragment_ack *ack);

/* Frees the slot(s) of (msg_type, receiver_index) from any source: the
 * owner calls it when the handshake state the slot was for goes away. */
void um_reasm_release(struct um_reassembler *r, uint8_t msg_type, uint32_t receiver_index);
/* Drops slots older than the timeout. um_reasm_add() also does this. */
void um_reasm_expire(struct um_reassembler *r, uint64_t now_ns);
/* Number of slots in use (for tests and status). */
unsigned um_reasm_pending(const struct um_reassembler *r);

#endif
