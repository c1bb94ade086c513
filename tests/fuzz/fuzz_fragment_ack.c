/* SPDX-License-Identifier: MIT */
/* libFuzzer target: FRAGMENT_ACK decoding, the reassembler's ACK decisions
 * and the sender's answers.
 * Input: the first 16 bytes are decoded as an ACK (re-encoding an accepted
 * one must give the same bytes); the rest is a sequence of records
 * [u8 op][u8 time step][u32 bitmap or piece]: op & 1 feeds a piece of a
 * fixed message (index = value % count, from one of two sources) to a
 * reassembler with ACKs, else an ACK with that bitmap to a sender.
 * Invariants: every ACK the reassembler asks for decodes, names the
 * message, is never complete and includes the piece just stored; pieces
 * resent on ACKs stay
 * within the message's count per window and UM_FRAG_ACK_ROUNDS rounds;
 * the timer always resends something, and only pieces of the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "wire/fragment_ack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t msg[UM_HS_RESPONSE_BYTES];
static uint8_t out[UM_FRAG_MAX_MESSAGE];
static uint8_t dgram[UM_HS_MAX_DATAGRAM];

static void check_decode(const uint8_t *data, size_t size)
{
	struct um_fragment_ack ack;
	uint8_t again[UM_FRAG_ACK_BYTES];
	if (um_fragment_ack_decode(&ack, data, size) != 0)
		return;
	if (size != UM_FRAG_ACK_BYTES || um_fragment_ack_encode(again, sizeof(again), &ack) != UM_FRAG_ACK_BYTES ||
	    memcmp(again, data, UM_FRAG_ACK_BYTES) != 0)
		abort();
	if (ack.received == um_frag_all(ack.count) || (ack.received & ~um_frag_all(ack.count)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_reassembler r;
	struct um_frag_sender s;
	struct um_reader rd;
	uint64_t now = 0;
	unsigned window_pieces = 0, window_rounds = 0;

	check_decode(data, size < UM_FRAG_ACK_BYTES + 1 ? size : UM_FRAG_ACK_BYTES + 1);
	if (um_reasm_init(&r, NULL) != 0)
		return 0;
	unsigned count = um_fragment_count(sizeof(msg));
	um_frag_sender_start(&s, UM_MSG_RESPONSE, 7, 9, sizeof(msg), 0);
	um_reader_init(&rd, data, size);
	while (um_reader_left(&rd) >= 6) {
		uint8_t op = um_read_u8(&rd);
		uint8_t step = um_read_u8(&rd);
		uint32_t value = um_read_u32(&rd);
		now += (uint64_t)step * 10000000ULL; /* 10 ms units */
		if (op & 1) {
			struct um_addr src = {.family = 4, .addr = {10, 0, 0, (uint8_t)(1 + (op >> 7))}, .port = 1};
			unsigned index = value % count;
			struct um_fragment f;
			struct um_fragment_ack ack;
			int n =
			    um_fragment_encode(dgram, sizeof(dgram), UM_MSG_RESPONSE, 7, 9, msg, sizeof(msg), index);
			if (n < 0 || um_fragment_decode(&f, dgram, (size_t)n) != 0)
				abort();
			if (op & 2) { /* the owner's timer asks instead */
				if (um_reasm_ack_now(&r, UM_MSG_RESPONSE, 7, &src, now, &ack) == 0 &&
				    (ack.received == 0 || ack.received == um_frag_all(count)))
					abort();
				continue;
			}
			if (op & 4) { /* the owner's timers: a quiet sender */
				struct um_addr from;
				uint64_t due = um_reasm_quiet_deadline(&r, 100000000ULL);
				int q = um_reasm_ack_quiet(&r, now, 100000000ULL, &from, &ack);
				if ((q == 0) != (due <= now) ||
				    (q == 0 && (ack.received == 0 || ack.received == um_frag_all(count))))
					abort();
				continue;
			}
			int ret = um_reasm_add_ack(&r, &src, &f, now, out, sizeof(out), &ack);
			if (ret != 0 && ack.count)
				abort(); /* complete, refused or conflicting: nothing to acknowledge */
			if (ack.count) {
				uint8_t buf[UM_FRAG_ACK_BYTES];
				struct um_fragment_ack back;
				if (um_fragment_ack_encode(buf, sizeof(buf), &ack) != UM_FRAG_ACK_BYTES ||
				    um_fragment_ack_decode(&back, buf, sizeof(buf)) != 0 || back.message_id != 9 ||
				    back.receiver_index != 7 || back.count != count ||
				    !(back.received & (UINT32_C(1) << index)))
					abort();
			}
		} else if (op & 2) {
			uint32_t pieces = um_frag_sender_on_timer(&s, now);
			if (pieces == 0 || (pieces & ~um_frag_all(count)))
				abort();
			window_pieces = window_rounds = 0;
		} else {
			struct um_fragment_ack ack = {.msg_type = UM_MSG_RESPONSE,
						      .count = (uint8_t)count,
						      .receiver_index = 7,
						      .message_id = (op & 4) ? 8 : 9,
						      .received = value & um_frag_all(count)};
			uint32_t resend;
			uint64_t started = s.window_start_ns;
			if (ack.received == um_frag_all(count))
				continue; /* the decoder refuses it */
			int ret = um_frag_sender_on_ack(&s, &ack, now, 200000000ULL, &resend);
			if ((ret != 0) != (ack.message_id != 9) || (resend & ack.received))
				abort();
			if (s.window_start_ns != started)
				window_pieces = window_rounds = 0;
			window_pieces += (unsigned)__builtin_popcount(resend);
			window_rounds += resend != 0;
			if (window_pieces > count || window_rounds > UM_FRAG_ACK_ROUNDS)
				abort();
		}
	}
	um_reasm_destroy(&r);
	return 0;
}
