/* SPDX-License-Identifier: MIT */
/* FRAGMENT_ACK: the format, when the reassembler asks for one, and what
 * the sender resends for it (wire/fragment_ack.h). */
#include <sodium.h>

#include "test.h"
#include "util/error.h"
#include "wire/fragment_ack.h"
#include "wire/types.h"

#define MS 1000000ULL

static uint8_t msg[UM_FRAG_MAX_MESSAGE];
static uint8_t out[UM_FRAG_MAX_MESSAGE];
static uint8_t frags[UM_FRAG_MAX_COUNT + 1][UM_HS_MAX_DATAGRAM]; /* [count]: the parity piece */
static int frag_len[UM_FRAG_MAX_COUNT + 1];
static const struct um_addr src1 = {.family = 4, .addr = {192, 0, 2, 1}, .port = 1000};
static const struct um_addr src2 = {.family = 4, .addr = {192, 0, 2, 2}, .port = 1000};
static struct um_reassembler r;
static unsigned count;

static void setup(void)
{
	struct um_reasm_limits lim;
	um_reasm_default_limits(&lim);
	lim.one_slot_per_index = true;
	CHECK_EQ(um_reasm_init(&r, &lim), 0);
	randombytes_buf(msg, UM_HS_RESPONSE_BYTES);
	count = um_fragment_count(UM_HS_RESPONSE_BYTES);
	for (unsigned i = 0; i <= count; i++)
		frag_len[i] = um_fragment_encode(frags[i], sizeof(frags[i]), UM_MSG_RESPONSE, 7, 99, msg,
						 UM_HS_RESPONSE_BYTES, i);
}

/* Adds piece i from src at now; *acked gets the ACK's bitmap or -1. */
static int add(const struct um_addr *src, unsigned i, uint64_t now, int64_t *acked)
{
	struct um_fragment f;
	struct um_fragment_ack ack;
	int ret = um_fragment_decode(&f, frags[i], (size_t)frag_len[i]);
	*acked = -1;
	if (ret < 0)
		return ret;
	ret = um_reasm_add_ack(&r, src, &f, now, out, sizeof(out), &ack);
	*acked = ack.count ? (int64_t)ack.received : -1;
	if (ack.count) {
		CHECK_EQ(ack.msg_type, UM_MSG_RESPONSE);
		CHECK_EQ(ack.count, count);
		CHECK_EQ(ack.receiver_index, 7);
		CHECK_EQ(ack.message_id, 99);
	}
	return ret;
}

static uint32_t all_but(unsigned a, unsigned b)
{
	return um_frag_all(count) & ~(UINT32_C(1) << a) & ~(UINT32_C(1) << b);
}

static void test_format(void)
{
	struct um_fragment_ack a = {.msg_type = UM_MSG_CHALLENGE,
				    .count = 8,
				    .receiver_index = 0x01020304,
				    .message_id = 0xa0b0c0d0,
				    .received = 0x5a};
	struct um_fragment_ack b;
	uint8_t buf[32];
	CHECK_EQ(um_fragment_ack_encode(buf, sizeof(buf), &a), UM_FRAG_ACK_BYTES);
	CHECK(UM_FRAG_ACK_BYTES <= UM_FRAG_HEADER_BYTES + 8);
	CHECK_EQ(buf[0], UM_TYPE_FRAGMENT_ACK);
	CHECK_EQ(buf[0], 0x07);
	CHECK_EQ(um_fragment_ack_decode(&b, buf, UM_FRAG_ACK_BYTES), 0);
	CHECK_EQ(b.msg_type, a.msg_type);
	CHECK_EQ(b.count, a.count);
	CHECK_EQ(b.receiver_index, a.receiver_index);
	CHECK_EQ(b.message_id, a.message_id);
	CHECK_EQ(b.received, a.received);
	CHECK_EQ(um_fragment_ack_encode(buf, UM_FRAG_ACK_BYTES - 1, &a), -UM_ERANGE);

	/* Every field a decoder refuses. */
	uint8_t good[UM_FRAG_ACK_BYTES], bad[UM_FRAG_ACK_BYTES + 1];
	um_fragment_ack_encode(good, sizeof(good), &a);
	CHECK_EQ(um_fragment_ack_decode(&b, good, UM_FRAG_ACK_BYTES - 1), -UM_ETRUNC);
	memcpy(bad, good, sizeof(good));
	CHECK_EQ(um_fragment_ack_decode(&b, bad, UM_FRAG_ACK_BYTES + 1), -UM_EINVAL);
	static const struct {
		unsigned pos;
		uint8_t value;
	} flips[] = {
	    {0, UM_TYPE_FRAGMENT},
	    {1, 0},
	    {1, UM_TYPE_FRAGMENT},
	    {1, UM_TYPE_FRAGMENT_ACK},
	    {2, 1},
	    {2, 0x80},
	    {3, 0},
	    {3, 15},
	    {3, 6},     /* bit 6 of 0x5a is set */
	    {14, 1},    /* bit 8 >= count */
	    {15, 0xff}, /* complete */
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, good, sizeof(good));
		bad[flips[i].pos] = flips[i].value;
		CHECK_EQ(um_fragment_ack_decode(&b, bad, UM_FRAG_ACK_BYTES), -UM_EINVAL);
	}
	/* The encoder refuses what the decoder would. */
	b = a;
	b.received = 0xff;
	CHECK_EQ(um_fragment_ack_encode(buf, sizeof(buf), &b), -UM_EINVAL);
	b.received = 0x100;
	CHECK_EQ(um_fragment_ack_encode(buf, sizeof(buf), &b), -UM_EINVAL);
	b = a;
	b.count = UM_FRAG_MAX_COUNT + 1;
	CHECK_EQ(um_fragment_ack_encode(buf, sizeof(buf), &b), -UM_EINVAL);
	/* An empty bitmap is valid (a slot lost and reopened holds something,
	 * but a receiver may say "nothing" too). */
	b = a;
	b.received = 0;
	CHECK_EQ(um_fragment_ack_encode(buf, sizeof(buf), &b), UM_FRAG_ACK_BYTES);
}

static void test_ack_on_last_piece(void)
{
	int64_t acked;
	setup();
	/* Two pieces lost: the first round ends with the parity piece, not
	 * the last data piece; the ACK names data pieces only. */
	for (unsigned i = 0; i < count; i++) {
		if (i == 3 || i == 5)
			continue;
		CHECK_EQ(add(&src1, i, 0, &acked), 0);
		CHECK_EQ(acked, -1);
	}
	CHECK_EQ(add(&src1, count, 0, &acked), 0);
	CHECK_EQ(acked, (int64_t)all_but(3, 5));
	/* Either missing piece completes the message (the other is rebuilt);
	 * nothing more to say. */
	CHECK_EQ(add(&src1, 3, 20 * MS, &acked), UM_HS_RESPONSE_BYTES);
	CHECK_EQ(acked, -1);
	CHECK(memcmp(out, msg, UM_HS_RESPONSE_BYTES) == 0);
	CHECK_EQ(r.stats.rebuilt, 1);
	/* One piece lost: the parity piece completes the first round. */
	for (unsigned i = 0; i <= count; i++)
		if (i != 6)
			CHECK_EQ(add(&src1, i, 100 * MS, &acked), i < count ? 0 : UM_HS_RESPONSE_BYTES);
	CHECK_EQ(acked, -1);
	CHECK(memcmp(out, msg, UM_HS_RESPONSE_BYTES) == 0);
	/* A sender without parity pieces: its last piece ends no round (the
	 * owner's quiet timer speaks instead, test_quiet). */
	for (unsigned i = 0; i < count; i++) {
		if (i == 3 || i == 5)
			continue;
		CHECK_EQ(add(&src1, i, 200 * MS, &acked), 0);
		CHECK_EQ(acked, -1);
	}
	CHECK_EQ(um_reasm_quiet_deadline(&r, 100 * MS), 300 * MS);
	um_reasm_destroy(&r);
}

static void test_ack_rounds(void)
{
	int64_t acked = -1; /* -O3 without LTO cannot see every path set it */
	setup();
	/* Three pieces lost (the parity piece covers one). */
	for (unsigned i = 0; i <= count; i++)
		if (i != 2 && i != 5 && i != 6)
			add(&src1, i, 0, &acked);
	CHECK_EQ(acked, (int64_t)(all_but(2, 5) & ~(UINT32_C(1) << 6)));
	/* The sender's next round is {2, 5, 6}: piece 2 alone is no reason to
	 * speak (5 and 6 may follow). */
	CHECK_EQ(add(&src1, 2, 20 * MS, &acked), 0);
	CHECK_EQ(acked, -1);
	/* Lower duplicates neither (a repeated round's end will be answered). */
	CHECK_EQ(add(&src1, 0, 21 * MS, &acked), 0);
	CHECK_EQ(acked, -1);
	/* The highest data piece held, repeated: our ACK was lost. */
	CHECK_EQ(add(&src1, count - 1, 22 * MS, &acked), 0);
	CHECK_EQ(acked, (int64_t)all_but(5, 6));
	/* The same picture again only after the gap. */
	CHECK_EQ(add(&src1, count - 1, 22 * MS + UM_REASM_ACK_GAP_NS - 1, &acked), 0);
	CHECK_EQ(acked, -1);
	CHECK_EQ(add(&src1, count - 1, 22 * MS + UM_REASM_ACK_GAP_NS, &acked), 0);
	CHECK_EQ(acked, (int64_t)all_but(5, 6));
	/* A parity piece repeated after an ACK ends no round. */
	CHECK_EQ(add(&src1, count, 22 * MS + 2 * UM_REASM_ACK_GAP_NS, &acked), 0);
	CHECK_EQ(acked, -1);
	/* And at most UM_REASM_ACKS_PER_SLOT per slot. */
	unsigned acks = 0;
	for (unsigned i = 1; i < 40; i++) {
		add(&src1, count - 1, 22 * MS + UM_REASM_ACK_GAP_NS * (i + 1), &acked);
		acks += acked >= 0;
	}
	CHECK_EQ(acks, UM_REASM_ACKS_PER_SLOT - 3);
	/* 5 and the parity rebuild 6. */
	CHECK_EQ(add(&src1, 5, 5000 * MS - 1, &acked), UM_HS_RESPONSE_BYTES);
	CHECK(memcmp(out, msg, UM_HS_RESPONSE_BYTES) == 0);
	um_reasm_destroy(&r);
}

static void test_slot_reopened(void)
{
	/* The receiver lost its slot; the sender, told earlier that all but
	 * piece 4 arrived, resends only piece 4. The first time that opens a
	 * slot (nothing to say: piece 4 is no round's end); the timer's next
	 * resend of it is a duplicate and the highest piece held: the ACK
	 * tells the sender to resend the rest. */
	int64_t acked;
	setup();
	CHECK_EQ(add(&src1, 4, 0, &acked), 0);
	CHECK_EQ(acked, -1);
	CHECK_EQ(add(&src1, 4, 300 * MS, &acked), 0);
	CHECK_EQ(acked, (int64_t)(UINT32_C(1) << 4));
	um_reasm_destroy(&r);
}

static void test_ack_now(void)
{
	struct um_fragment_ack ack;
	int64_t acked;
	setup();
	CHECK_EQ(um_reasm_ack_now(&r, UM_MSG_RESPONSE, 7, &src1, 0, &ack), -UM_ENOTFOUND);
	add(&src1, 0, 0, &acked);
	add(&src1, 1, 0, &acked);
	add(&src1, 6, 0, &acked);
	CHECK_EQ(acked, -1);
	CHECK_EQ(um_reasm_ack_now(&r, UM_MSG_RESPONSE, 7, &src2, 0, &ack), -UM_ENOTFOUND);
	CHECK_EQ(um_reasm_ack_now(&r, UM_MSG_CHALLENGE, 7, &src1, 0, &ack), -UM_ENOTFOUND);
	CHECK_EQ(um_reasm_ack_now(&r, UM_MSG_RESPONSE, 8, &src1, 0, &ack), -UM_ENOTFOUND);
	CHECK_EQ(um_reasm_ack_now(&r, UM_MSG_RESPONSE, 7, &src1, 1000 * MS, &ack), 0);
	CHECK_EQ(ack.received, 0x43u);
	CHECK_EQ(ack.message_id, 99);
	/* That ACK set the sender's next round: {2..5, 7}; 7 ends it. */
	add(&src1, 2, 1020 * MS, &acked);
	add(&src1, 3, 1020 * MS, &acked);
	add(&src1, 4, 1020 * MS, &acked);
	CHECK_EQ(acked, -1);
	CHECK_EQ(add(&src1, 7, 1020 * MS, &acked), 0);
	CHECK_EQ(acked, (int64_t)all_but(5, 5));
	um_reasm_destroy(&r);
}

static void test_quiet(void)
{
	/* The last piece of the round is lost: nothing arrives that calls for
	 * an ACK, so the owner asks once the sender has been quiet. */
	struct um_fragment_ack ack;
	struct um_addr from;
	int64_t acked;
	const uint64_t quiet = 100 * MS;
	setup();
	CHECK_EQ(um_reasm_quiet_deadline(&r, quiet), UINT64_MAX);
	for (unsigned i = 0; i + 1 < count; i++)
		add(&src1, i, i * MS, &acked);
	CHECK_EQ(acked, -1);
	CHECK_EQ(um_reasm_quiet_deadline(&r, quiet), (count - 2) * MS + quiet);
	CHECK_EQ(um_reasm_ack_quiet(&r, (count - 2) * MS + quiet - 1, quiet, &from, &ack), -UM_ENOTFOUND);
	CHECK_EQ(um_reasm_ack_quiet(&r, (count - 2) * MS + quiet, quiet, &from, &ack), 0);
	CHECK(um_addr_equal(&from, &src1));
	CHECK_EQ(ack.received, um_frag_all(count) >> 1);
	CHECK_EQ(ack.message_id, 99);
	/* Once: until another piece comes. */
	CHECK_EQ(um_reasm_quiet_deadline(&r, quiet), UINT64_MAX);
	CHECK_EQ(um_reasm_ack_quiet(&r, 10000 * MS, quiet, &from, &ack), -UM_ENOTFOUND);
	/* A piece that calls for an ACK itself leaves nothing to the timer. */
	CHECK_EQ(add(&src1, count - 2, 500 * MS, &acked), 0); /* the highest held, again */
	CHECK(acked >= 0);
	CHECK_EQ(um_reasm_quiet_deadline(&r, quiet), UINT64_MAX);
	CHECK_EQ(add(&src1, count - 1, 600 * MS, &acked), UM_HS_RESPONSE_BYTES);
	CHECK_EQ(um_reasm_pending(&r), 0);
	um_reasm_destroy(&r);

	/* um_reasm_add (no ACKs) never arms it. */
	struct um_fragment f;
	setup();
	um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
	CHECK_EQ(um_reasm_add(&r, &src1, &f, 0, out, sizeof(out)), 0);
	CHECK_EQ(um_reasm_quiet_deadline(&r, quiet), UINT64_MAX);
	um_reasm_destroy(&r);
}

static void test_plain_add_sends_nothing(void)
{
	/* um_reasm_add (the relay's) keeps no ACK state and behaves as before. */
	struct um_fragment f;
	setup();
	for (unsigned i = 1; i < count; i++) {
		um_fragment_decode(&f, frags[i], (size_t)frag_len[i]);
		CHECK_EQ(um_reasm_add(&r, &src1, &f, 0, out, sizeof(out)), 0);
	}
	um_fragment_decode(&f, frags[0], (size_t)frag_len[0]);
	CHECK_EQ(um_reasm_add(&r, &src1, &f, 0, out, sizeof(out)), UM_HS_RESPONSE_BYTES);
	um_reasm_destroy(&r);
}

static unsigned bits(uint32_t v)
{
	return (unsigned)__builtin_popcount(v);
}

static void test_sender(void)
{
	struct um_frag_sender s;
	struct um_fragment_ack ack = {.msg_type = UM_MSG_RESPONSE, .count = 8, .receiver_index = 7, .message_id = 99};
	uint32_t resend;
	const uint64_t window = 200 * MS;

	um_frag_sender_start(&s, UM_MSG_RESPONSE, 7, 99, UM_HS_RESPONSE_BYTES, 0);
	CHECK_EQ(s.count, 8);
	/* Not for this message. */
	struct um_fragment_ack other = ack;
	other.message_id = 98;
	CHECK_EQ(um_frag_sender_on_ack(&s, &other, 0, window, &resend), -UM_ENOTFOUND);
	other = ack;
	other.count = 7;
	CHECK_EQ(um_frag_sender_on_ack(&s, &other, 0, window, &resend), -UM_ENOTFOUND);
	other = ack;
	other.msg_type = UM_MSG_CHALLENGE;
	CHECK_EQ(um_frag_sender_on_ack(&s, &other, 0, window, &resend), -UM_ENOTFOUND);
	CHECK_EQ(s.acks, 0);

	/* Missing pieces go out; the same picture again in the window does
	 * not (it is on its way). */
	ack.received = 0xf7;
	CHECK_EQ(um_frag_sender_on_ack(&s, &ack, 1000 * MS, window, &resend), 0);
	CHECK_EQ(resend, 0x08u);
	CHECK_EQ(um_frag_sender_on_ack(&s, &ack, 1010 * MS, window, &resend), 0);
	CHECK_EQ(resend, 0u);
	/* A different picture: its missing pieces, within the budget. */
	ack.received = 0x01;
	CHECK_EQ(um_frag_sender_on_ack(&s, &ack, 1020 * MS, window, &resend), 0);
	CHECK_EQ(resend, 0xfeu);
	ack.received = 0x00;
	CHECK_EQ(um_frag_sender_on_ack(&s, &ack, 1030 * MS, window, &resend), 0);
	CHECK_EQ(resend, 0u); /* 1 + 7 pieces: the budget of one message is spent */
	CHECK_EQ(s.ack_resent_pieces, 8);
	/* A new window after window_ns. */
	CHECK_EQ(um_frag_sender_on_ack(&s, &ack, 1200 * MS, window, &resend), 0);
	CHECK_EQ(resend, 0xffu);
	/* Rounds are capped too. */
	CHECK_EQ(um_frag_sender_on_timer(&s, 1300 * MS), 0xffu); /* the latest ACK said nothing arrived */
	unsigned rounds = 0, pieces = 0;
	for (unsigned i = 0; i < 8; i++) {
		ack.received = 0xff & ~(UINT32_C(1) << i);
		um_frag_sender_on_ack(&s, &ack, 1300 * MS, window, &resend);
		rounds += resend != 0;
		pieces += bits(resend);
	}
	CHECK_EQ(rounds, UM_FRAG_ACK_ROUNDS);
	CHECK_EQ(pieces, UM_FRAG_ACK_ROUNDS);
	/* The timer: what the latest ACK lacks; it replaces what earlier ones
	 * said (a receiver that lost its slot says so). */
	CHECK_EQ(um_frag_sender_on_timer(&s, 1600 * MS), 0x80u);
	ack.received = 0x03;
	um_frag_sender_on_ack(&s, &ack, 1610 * MS, window, &resend);
	CHECK_EQ(um_frag_sender_on_timer(&s, 1900 * MS), 0xfcu);
	/* Stopped (zeroed): nothing matches. */
	memset(&s, 0, sizeof(s));
	CHECK_EQ(um_frag_sender_on_ack(&s, &ack, 0, window, &resend), -UM_ENOTFOUND);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_format);
	RUN(test_ack_on_last_piece);
	RUN(test_ack_rounds);
	RUN(test_slot_reopened);
	RUN(test_ack_now);
	RUN(test_quiet);
	RUN(test_plain_add_sends_nothing);
	RUN(test_sender);
	return um_test_end();
}
