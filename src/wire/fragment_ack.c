/* SPDX-License-Identifier: MIT */
#include "wire/fragment_ack.h"

#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "wire/types.h"

static bool ack_fields_valid(uint8_t msg_type, unsigned count, uint32_t received)
{
	if (msg_type == 0 || msg_type == UM_TYPE_FRAGMENT || msg_type == UM_TYPE_FRAGMENT_ACK)
		return false;
	if (count == 0 || count > UM_FRAG_MAX_COUNT)
		return false;
	return (received & ~um_frag_all(count)) == 0 && received != um_frag_all(count);
}

int um_fragment_ack_encode(uint8_t *out, size_t cap, const struct um_fragment_ack *ack)
{
	struct um_writer w;

	if (!ack_fields_valid(ack->msg_type, ack->count, ack->received))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_TYPE_FRAGMENT_ACK);
	um_write_u8(&w, ack->msg_type);
	um_write_u8(&w, 0);
	um_write_u8(&w, ack->count);
	um_write_u32(&w, ack->receiver_index);
	um_write_u32(&w, ack->message_id);
	um_write_u32(&w, ack->received);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	return (int)w.pos;
}

int um_fragment_ack_decode(struct um_fragment_ack *ack, const uint8_t *in, size_t len)
{
	struct um_reader r;

	memset(ack, 0, sizeof(*ack));
	if (len < UM_FRAG_ACK_BYTES)
		return -UM_ETRUNC;
	if (len > UM_FRAG_ACK_BYTES)
		return -UM_EINVAL;
	um_reader_init(&r, in, len);
	uint8_t type = um_read_u8(&r);
	ack->msg_type = um_read_u8(&r);
	uint8_t flags = um_read_u8(&r);
	ack->count = um_read_u8(&r);
	ack->receiver_index = um_read_u32(&r);
	ack->message_id = um_read_u32(&r);
	ack->received = um_read_u32(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (type != UM_TYPE_FRAGMENT_ACK || flags != 0 || !ack_fields_valid(ack->msg_type, ack->count, ack->received))
		return -UM_EINVAL;
	return 0;
}

void um_frag_sender_start(struct um_frag_sender *s, uint8_t msg_type, uint32_t receiver_index, uint32_t message_id,
			  size_t msg_len, uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	s->window_start_ns = now_ns;
	s->count = (uint8_t)um_fragment_count(msg_len);
	s->active = s->count > 0;
	s->msg_type = msg_type;
	s->receiver_index = receiver_index;
	s->message_id = message_id;
}

bool um_frag_sender_matches(const struct um_frag_sender *s, const struct um_fragment_ack *ack)
{
	return s->active && ack->msg_type == s->msg_type && ack->receiver_index == s->receiver_index &&
	       ack->message_id == s->message_id && ack->count == s->count;
}

static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

static void window_open(struct um_frag_sender *s, uint64_t now_ns)
{
	s->window_rounds = 0;
	s->window_pieces = 0;
	s->last_answer = 0;
	s->window_start_ns = now_ns;
}

int um_frag_sender_on_ack(struct um_frag_sender *s, const struct um_fragment_ack *ack, uint64_t now_ns,
			  uint64_t window_ns, uint32_t *resend)
{
	*resend = 0;
	if (!um_frag_sender_matches(s, ack))
		return -UM_ENOTFOUND;
	s->acks++;
	if (now_ns - s->window_start_ns >= window_ns)
		window_open(s, now_ns);
	s->acked = ack->received;
	uint32_t missing = um_frag_all(s->count) & ~ack->received;
	/* The receiver repeats an ACK when a retransmitted piece reaches it;
	 * what we already resent for the same picture is still on its way. */
	if (s->window_rounds && missing == s->last_answer)
		return 0;
	if (s->window_rounds >= UM_FRAG_ACK_ROUNDS)
		return 0;
	/* Never more pieces per window on ACKs than the message itself has:
	 * an ACK is no amplifier, whoever sent it. */
	unsigned budget = s->count - s->window_pieces;
	uint32_t pick = 0;
	for (unsigned i = 0; i < s->count && budget; i++)
		if (missing & (UINT32_C(1) << i)) {
			pick |= UINT32_C(1) << i;
			budget--;
		}
	if (!pick)
		return 0;
	s->window_rounds++;
	s->window_pieces = (uint8_t)(s->window_pieces + popcount32(pick));
	s->last_answer = missing;
	s->ack_resent_pieces += popcount32(pick);
	*resend = pick;
	return 0;
}

uint32_t um_frag_sender_on_timer(struct um_frag_sender *s, uint64_t now_ns)
{
	window_open(s, now_ns);
	/* acked is never complete (the decoder refuses that), so this is
	 * never empty: the timer always sends something. */
	uint32_t pieces = um_frag_all(s->count) & ~s->acked;
	return pieces ? pieces : um_frag_all(s->count);
}
