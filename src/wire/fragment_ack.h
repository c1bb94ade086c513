/* SPDX-License-Identifier: MIT */
/* FRAGMENT_ACK (0x07): selective acknowledgement of a message sent in
 * FRAGMENTs (wire/fragment.h), so that a lost piece costs one piece, not
 * the whole message (docs/PROTOCOL.md section 7).
 *
 *   u8 type=0x07 | u8 msg_type | u8 flags=0 | u8 count |
 *   u32 receiver_index | u32 message_id | u32 received
 *
 * 16 bytes, laid out like a FRAGMENT header with the index byte reserved.
 * (msg_type, receiver_index, message_id, count) repeat the header of the
 * pieces acknowledged, so the ACK names exactly one message; bit i of
 * `received` says piece i is held. A decoder rejects a nonzero flags byte,
 * bits at or above count and a complete bitmap (a complete message is
 * consumed, never acknowledged: an ACK can never tell a sender to stop).
 *
 * The receiver side lives in the reassembler (um_reasm_add_ack, um_reasm_ack_now
 * in wire/fragment.h). The sender side is struct um_frag_sender below: it
 * remembers the latest ACK of the message in flight and answers an ACK
 * with the missing pieces, within a budget per retransmission window, and
 * its timer with the pieces not acknowledged. The owner checks that an ACK
 * comes from the address the message was sent to before handing it over. */
#ifndef UM_WIRE_FRAGMENT_ACK_H
#define UM_WIRE_FRAGMENT_ACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/fragment.h"

enum {
	UM_FRAG_ACK_BYTES = 16,
	/* ACK-triggered resend rounds per message per retransmission window;
	 * together they never resend more pieces than the message has. */
	UM_FRAG_ACK_ROUNDS = 3,
};

_Static_assert(UM_FRAG_ACK_BYTES <= UM_FRAG_HEADER_BYTES + 8, "an ACK stays smaller than any fragment");

struct um_fragment_ack {
	uint8_t msg_type;
	uint8_t count;
	uint32_t receiver_index;
	uint32_t message_id;
	uint32_t received; /* bit i: piece i is held */
};

/* All pieces of a count-piece message as a bitmap (count <= 32). */
static inline uint32_t um_frag_all(unsigned count)
{
	return count >= 32 ? UINT32_MAX : (UINT32_C(1) << count) - 1;
}

/* Writes the ACK into out (cap >= UM_FRAG_ACK_BYTES); returns its length
 * or -UM_ERANGE / -UM_EINVAL (fields a decoder would refuse). */
int um_fragment_ack_encode(uint8_t *out, size_t cap, const struct um_fragment_ack *ack);
/* Parses and checks an ACK: exact length, type, flags, msg_type (not 0,
 * FRAGMENT or FRAGMENT_ACK), 1 <= count <= UM_FRAG_MAX_COUNT, no bit at or
 * above count, not complete. 0, -UM_ETRUNC or -UM_EINVAL. */
int um_fragment_ack_decode(struct um_fragment_ack *ack, const uint8_t *in, size_t len);

/* The sending side of one message in fragments. Plain data, no pointers:
 * embed it in the state that owns the message and zero it to stop. */
struct um_frag_sender {
	bool active;
	uint8_t msg_type, count;
	uint32_t receiver_index, message_id;
	uint32_t acked;       /* the latest ACK's bitmap (replaced, not merged: a receiver that
			       * lost its slot says so) */
	uint32_t last_answer; /* pieces resent for the last ACK answered in this window */
	uint8_t window_rounds, window_pieces;
	uint64_t window_start_ns;
	uint64_t acks, ack_resent_pieces; /* ACKs accepted, pieces resent on them */
};

/* A message of msg_len bytes went out in full: remember it. */
void um_frag_sender_start(struct um_frag_sender *s, uint8_t msg_type, uint32_t receiver_index, uint32_t message_id,
			  size_t msg_len, uint64_t now_ns);
/* The ACK is for this message (type, index, id and count agree)? */
bool um_frag_sender_matches(const struct um_frag_sender *s, const struct um_fragment_ack *ack);
/* Takes an ACK for this message (the caller checked its source) and sets
 * *resend to the pieces to send again now: the missing ones, unless the
 * window's budget (UM_FRAG_ACK_ROUNDS rounds, count pieces, lowest indices
 * first) is spent or the same pieces were already resent for an identical
 * ACK in this window (0 then). A window lasts from the timer's last
 * resend, or the first ACK answered after window_ns had passed, for
 * window_ns (the owner's retransmission timeout; an owner without a timer
 * passes the shortest one it would use). -UM_ENOTFOUND if the ACK is not
 * for this message. */
int um_frag_sender_on_ack(struct um_frag_sender *s, const struct um_fragment_ack *ack, uint64_t now_ns,
			  uint64_t window_ns, uint32_t *resend);
/* The retransmission timer fired: a new window; returns the pieces to
 * resend (those not acknowledged: all when no ACK came; never none). */
uint32_t um_frag_sender_on_timer(struct um_frag_sender *s, uint64_t now_ns);

#endif
