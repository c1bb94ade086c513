/* SPDX-License-Identifier: MIT */
/* Loss-tolerant CHALLENGE and RESPONSE on a fake clock (hs_lossy.h): a lost
 * piece is resent alone after a FRAGMENT_ACK, not with the whole message
 * after a timeout; forged or misdirected ACKs do nothing; ACK-triggered
 * resends stay within the message's size; and 200 seeded handshakes at 5%
 * loss per direction all complete (the datagram counts, with and without
 * ACKs, go to the test log). */
#include "hs_lossy.h"
#include "session/handshake_internal.h"
#include "test.h"
#include "util/error.h"
#include "wire/fragment_ack.h"

#define MS UM_NSEC_PER_MSEC

static struct hs_node A, B;
static struct lossy_net net;
static unsigned ch_frags, resp_frags;

static void fixture_up(void)
{
	hs_node_init(&A, 1);
	hs_node_init(&B, 2);
	hs_pair(&A, &B);
	ch_frags = um_fragment_count(UM_HS_CHALLENGE_BYTES);
	resp_frags = um_fragment_count(UM_HS_RESPONSE_BYTES);
}

static void fixture_down(void)
{
	hs_node_free(&A);
	hs_node_free(&B);
}

/* Drops the first transmission of one piece (or, with piece -1, of one
 * unfragmented type), sent by `from`. */
static struct {
	int from;
	uint8_t type, msg_type;
	int piece;
	unsigned times, dropped;
} rule[4];
static unsigned n_rules;

static void drop_first(int from, uint8_t type, uint8_t msg_type, int piece, unsigned times)
{
	rule[n_rules].from = from;
	rule[n_rules].type = type;
	rule[n_rules].msg_type = msg_type;
	rule[n_rules].piece = piece;
	rule[n_rules].times = times;
	rule[n_rules].dropped = 0;
	n_rules++;
}

static int drop_by_rule(struct lossy_net *n, int from, const uint8_t *d, uint16_t len)
{
	(void)n;
	(void)len;
	for (unsigned i = 0; i < n_rules; i++) {
		if (rule[i].from != from || rule[i].type != d[0] || rule[i].dropped >= rule[i].times)
			continue;
		if (d[0] == UM_TYPE_FRAGMENT && (d[1] != rule[i].msg_type || d[2] != rule[i].piece))
			continue;
		rule[i].dropped++;
		return 1;
	}
	return 0;
}

/* 20 ms round trip; a drops per the rules. */
static int run_with_rules(void)
{
	lossy_init(&net, &A, &B, 10 * MS, hs_time(10));
	net.drop = drop_by_rule;
	net.trace = getenv("LOSS_TRACE") != NULL;
	return lossy_run(&net, 10000 * MS);
}

static const struct um_handshake_stats *stats(const struct hs_node *n)
{
	return um_handshake_get_stats(n->engine);
}

static struct um_handshake_peer_timing timing(const struct hs_node *n)
{
	struct um_handshake_peer_timing t;
	um_handshake_peer_get_timing(n->peer, &t);
	return t;
}

static void test_clean_counts(void)
{
	n_rules = 0;
	CHECK_EQ(run_with_rules(), 0);
	/* HELLO, CHALLENGE in pieces, RESPONSE in pieces (each with its
	 * parity piece), ESTABLISHED. */
	CHECK_EQ(net.sent[0], 1 + resp_frags + 1);
	CHECK_EQ(net.sent[1], ch_frags + 1 + 1);
	CHECK_EQ(stats(&A)->fragments_sent, resp_frags + 1);
	CHECK_EQ(stats(&B)->fragments_sent, ch_frags + 1);
	/* Each parity piece came after its message completed: dropped
	 * quietly (B sent ESTABLISHED once). */
	CHECK_EQ(stats(&A)->parity_late, 1);
	CHECK_EQ(stats(&B)->parity_late, 1);
	CHECK_EQ(net.sent_type[1][UM_TYPE_ESTABLISHED], 1);
	CHECK_EQ(stats(&A)->acks_sent + stats(&B)->acks_sent, 0);
	CHECK_EQ(stats(&A)->fragments_retransmitted + stats(&B)->fragments_retransmitted, 0);
	CHECK_EQ(net.done_ns - net.base_ns, 40 * MS); /* two round trips */
}

/* Fails on a tree without parity pieces: there the lost piece costs a
 * FRAGMENT_ACK and a resend, one more round trip (60 ms). Any one piece,
 * the short last one included: no ACK, no resend, two round trips. */
static void test_lost_challenge_piece(void)
{
	for (unsigned piece = 0; piece < ch_frags; piece++) {
		fixture_down();
		fixture_up();
		n_rules = 0;
		drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, (int)piece, 1);
		CHECK_EQ(run_with_rules(), 0);
		CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT_ACK], 0);
		CHECK_EQ(net.sent_type[0][UM_TYPE_HELLO], 1); /* no retransmission */
		CHECK_EQ(net.sent_piece[1][UM_MSG_CHALLENGE][piece], 1);
		CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT], ch_frags + 1);
		CHECK_EQ(net.sent[0] + net.sent[1], 1 + ch_frags + 1 + resp_frags + 1 + 1);
		CHECK_EQ(stats(&B)->fragments_retransmitted, 0);
		CHECK_EQ(A.engine->reasm.stats.rebuilt, 1);
		CHECK_EQ(timing(&A).retransmissions, 0);
		CHECK_EQ(net.done_ns - net.base_ns, 40 * MS);
	}
}

/* Two pieces lost: the ACK comes on the parity piece, B resends both
 * (data pieces only) and the first to arrive completes the CHALLENGE. */
static void test_lost_two_challenge_pieces(void)
{
	n_rules = 0;
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, 3, 1);
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, 6, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT_ACK], 1);
	CHECK_EQ(net.sent_type[0][UM_TYPE_HELLO], 1); /* no retransmission */
	CHECK_EQ(net.sent_piece[1][UM_MSG_CHALLENGE][3], 2);
	CHECK_EQ(net.sent_piece[1][UM_MSG_CHALLENGE][6], 2);
	CHECK_EQ(net.sent_piece[1][UM_MSG_CHALLENGE][ch_frags], 1); /* the parity piece: once */
	CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT], ch_frags + 1 + 2);
	CHECK_EQ(stats(&B)->fragments_retransmitted, 2);
	CHECK_EQ(stats(&B)->acks_received, 1);
	CHECK_EQ(stats(&A)->acks_sent, 1);
	CHECK_EQ(timing(&A).retransmissions, 0);
	/* One extra round trip, far below the 1 s initial timeout. */
	CHECK_EQ(net.done_ns - net.base_ns, 60 * MS);
	/* The repaired exchange gave no RTT sample (Karn); the clean one did. */
	CHECK_EQ(timing(&A).samples, 1);
}

static void test_lost_challenge_pieces_and_ack(void)
{
	/* Pieces 2 and 5 lost, the ACK too: A's timer (400 ms, no estimate yet)
	 * asks with an ACK instead of the HELLO, B resends the two. */
	n_rules = 0;
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, 2, 1);
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, 5, 1);
	drop_first(0, UM_TYPE_FRAGMENT_ACK, 0, -1, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[0][UM_TYPE_HELLO], 1);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT_ACK], 2);
	CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT], ch_frags + 1 + 2);
	CHECK_EQ(stats(&B)->fragments_retransmitted, 2);
	CHECK_EQ(timing(&A).retransmissions, 1);
	CHECK(net.done_ns - net.base_ns >= 400 * MS);
	CHECK(net.done_ns - net.base_ns < 600 * MS);
}

static void test_lost_last_challenge_piece(void)
{
	/* The last piece and the parity piece after it lost: nothing tells
	 * A the CHALLENGE is over: after UM_HS_ACK_QUIET_NS without a piece
	 * its timers ask for the rest (not the 1 s RTO). */
	n_rules = 0;
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, (int)ch_frags - 1, 1);
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, (int)ch_frags, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[0][UM_TYPE_HELLO], 1);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT_ACK], 1);
	CHECK_EQ(stats(&B)->fragments_retransmitted, 1);
	CHECK_EQ(net.sent_piece[1][UM_MSG_CHALLENGE][ch_frags - 1], 2);
	CHECK_EQ(net.done_ns - net.base_ns, 20 * MS + UM_HS_ACK_QUIET_NS + 40 * MS);
	CHECK_EQ(timing(&A).retransmissions, 0);
}

static void test_lost_last_response_piece(void)
{
	n_rules = 0;
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, (int)resp_frags - 1, 1);
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, (int)resp_frags, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT_ACK], 1);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT], resp_frags + 1 + 1);
	CHECK_EQ(timing(&A).retransmissions, 0);
	CHECK_EQ(timing(&A).ack_resent_datagrams, 1);
	CHECK_EQ(net.done_ns - net.base_ns, 30 * MS + UM_HS_ACK_QUIET_NS + 30 * MS);
}

/* Fails without parity pieces like test_lost_challenge_piece. */
static void test_lost_response_piece(void)
{
	for (unsigned piece = 0; piece < resp_frags; piece++) {
		fixture_down();
		fixture_up();
		n_rules = 0;
		drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, (int)piece, 1);
		CHECK_EQ(run_with_rules(), 0);
		CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT_ACK], 0);
		CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT], resp_frags + 1);
		CHECK_EQ(net.sent_piece[0][UM_MSG_RESPONSE][piece], 1);
		CHECK_EQ(net.sent[0] + net.sent[1], 1 + ch_frags + 1 + resp_frags + 1 + 1);
		CHECK_EQ(timing(&A).retransmissions, 0);
		CHECK_EQ(timing(&A).ack_resent_datagrams, 0);
		CHECK_EQ(stats(&A)->fragments_retransmitted, 0);
		CHECK_EQ(B.engine->reasm.stats.rebuilt, 1);
		CHECK_EQ(net.done_ns - net.base_ns, 40 * MS);
	}
}

static void test_lost_response_piece_twice(void)
{
	/* A piece and the parity piece lost, then the resent piece as well:
	 * the timer sends only that piece. */
	n_rules = 0;
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, 4, 2);
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, (int)resp_frags, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_piece[0][UM_MSG_RESPONSE][4], 3);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT], resp_frags + 1 + 2);
	CHECK_EQ(timing(&A).retransmissions, 1);
	CHECK_EQ(timing(&A).retransmitted_datagrams, 1);
}

static void test_lost_established(void)
{
	/* Nothing was acknowledged, so the timer resends every piece; B
	 * answered that RESPONSE already and sends ESTABLISHED once, not per
	 * piece, without reassembling it again. */
	n_rules = 0;
	drop_first(1, UM_TYPE_ESTABLISHED, 0, -1, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT], 2 * resp_frags + 1); /* parity: first round only */
	CHECK_EQ(net.sent_type[1][UM_TYPE_ESTABLISHED], 2);
	CHECK_EQ(B.established, 1);
	CHECK_EQ(A.established, 1);
}

static void test_lost_established_after_repair(void)
{
	/* RESPONSE repaired by an ACK, then ESTABLISHED lost: the timer sends
	 * the piece not acknowledged, which B answers with ESTABLISHED (the
	 * whole RESPONSE never comes again). */
	n_rules = 0;
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, 6, 1);
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, (int)resp_frags, 1);
	drop_first(1, UM_TYPE_ESTABLISHED, 0, -1, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_piece[0][UM_MSG_RESPONSE][6], 3);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT], resp_frags + 1 + 2);
	CHECK_EQ(net.sent_type[1][UM_TYPE_ESTABLISHED], 2);
}

/* ---- forged and misdirected ACKs ---- */

static int send_ack(struct hs_node *to, const struct um_addr *from, const struct um_fragment_ack *ack)
{
	uint8_t buf[UM_FRAG_ACK_BYTES];
	int n = um_fragment_ack_encode(buf, sizeof(buf), ack);
	if (n < 0)
		return n;
	return um_handshake_receive(to->engine, from, buf, (size_t)n, lossy_time(&net), &hs_out);
}

/* repeat_single: HELLO and ESTABLISHED leave twice. Clean, the copies
 * cost two datagrams and nothing else (B answers the repeated HELLO with
 * nothing: one CHALLENGE); with the first copy of each lost the handshake
 * takes the same two round trips, no retransmission. Without the option
 * those two losses cost two RTOs. */
static void test_repeat_single(void)
{
	uint64_t clean_ns = 0;
	for (int repeat = 1; repeat >= 0; repeat--) {
		for (int lose = 0; lose <= 1; lose++) {
			fixture_down();
			hs_repeat_single = repeat;
			fixture_up();
			n_rules = 0;
			if (lose) {
				drop_first(0, UM_TYPE_HELLO, 0, -1, 1);
				drop_first(1, UM_TYPE_ESTABLISHED, 0, -1, 1);
			}
			CHECK_EQ(run_with_rules(), 0);
			CHECK_EQ(A.established, 1);
			CHECK_EQ(B.established, 1);
			uint64_t took = net.done_ns - net.base_ns;
			if (!repeat) {
				if (lose) /* each loss waited for its RTO (>= 200 ms) */
					CHECK(took >= clean_ns + 400 * MS);
				continue;
			}
			CHECK_EQ(net.sent_type[0][UM_TYPE_HELLO], 2);
			CHECK_EQ(net.sent_type[1][UM_TYPE_ESTABLISHED], 2);
			CHECK_EQ(stats(&B)->fragments_sent, ch_frags + 1); /* one CHALLENGE */
			CHECK_EQ(stats(&A)->fragments_retransmitted + stats(&B)->fragments_retransmitted, 0);
			CHECK_EQ(stats(&B)->repeats_ignored, (uint64_t)(lose ? 0 : 1));
			if (!lose) { /* the copy of ESTABLISHED, still in flight: no state for it */
				CHECK_EQ(net.n_packets, 1);
				CHECK_EQ(um_handshake_receive(A.engine, &B.addr, net.packets[0].data,
							      net.packets[0].len, lossy_time(&net), &hs_out),
					 -UM_ENOTFOUND);
				CHECK_EQ(hs_out.n_datagrams, 0);
			}
			if (!lose)
				clean_ns = took;
			CHECK_EQ(took, clean_ns);
		}
	}
	hs_repeat_single = false;
}

static void test_forged_acks(void)
{
	n_rules = 0;
	lossy_init(&net, &A, &B, 10 * MS, hs_time(30));
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, lossy_time(&net), &hs_out), 0);
	struct hs_queue q, reply;
	hs_take_output(&A, &q);
	CHECK_EQ(um_handshake_receive(B.engine, &A.addr, q.data[0], q.len[0], lossy_time(&net), &hs_out), 0);
	hs_take_output(&B, &reply);
	CHECK_EQ(reply.n, ch_frags + 1);
	for (unsigned i = 0; i < ch_frags; i++) {
		CHECK_EQ(
		    um_handshake_receive(A.engine, &B.addr, reply.data[i], reply.len[i], lossy_time(&net), &hs_out), 0);
		if (i + 1 < ch_frags)
			CHECK_EQ(hs_out.n_datagrams, 0);
	}
	hs_take_output(&A, &q); /* the RESPONSE, not delivered */
	CHECK_EQ(q.n, resp_frags + 1);
	/* The parity piece after it: nothing. */
	CHECK_EQ(um_handshake_receive(A.engine, &B.addr, reply.data[ch_frags], reply.len[ch_frags], lossy_time(&net),
				      &hs_out),
		 0);
	CHECK_EQ(hs_out.n_datagrams, 0);
	CHECK_EQ(stats(&A)->parity_late, 1);
	CHECK(A.peer->state == UM_HS_STATE_RESPONSE_SENT);
	struct um_fragment_ack good = {.msg_type = UM_MSG_RESPONSE,
				       .count = (uint8_t)resp_frags,
				       .receiver_index = A.peer->remote_index,
				       .message_id = A.peer->response_message_id,
				       .received = 0x0f};
	uint64_t dropped = stats(&A)->acks_dropped, next = A.peer->next_retransmit_ns;
	struct um_fragment_ack bad = good;
	bad.message_id ^= 1;
	CHECK_EQ(send_ack(&A, &B.addr, &bad), -UM_ENOTFOUND);
	CHECK_EQ(hs_out.n_datagrams, 0);
	bad = good;
	bad.receiver_index ^= 1;
	CHECK_EQ(send_ack(&A, &B.addr, &bad), -UM_ENOTFOUND);
	bad = good;
	bad.msg_type = UM_MSG_CHALLENGE; /* A holds no CHALLENGE of its own */
	CHECK_EQ(send_ack(&A, &B.addr, &bad), -UM_ENOTFOUND);
	bad = good;
	bad.msg_type = UM_MSG_HELLO;
	CHECK_EQ(send_ack(&A, &B.addr, &bad), -UM_ENOTFOUND);
	bad = good;
	bad.count = (uint8_t)(resp_frags - 1);
	CHECK_EQ(send_ack(&A, &B.addr, &bad), -UM_ENOTFOUND);
	struct um_addr elsewhere = B.addr;
	elsewhere.port++;
	CHECK_EQ(send_ack(&A, &elsewhere, &good), -UM_ENOTFOUND);
	elsewhere = B.addr;
	elsewhere.addr[3]++;
	CHECK_EQ(send_ack(&A, &elsewhere, &good), -UM_ENOTFOUND);
	CHECK_EQ(stats(&A)->acks_dropped, dropped + 7);
	/* Forged bitmaps: past the count, complete, or a nonzero flags byte. */
	uint8_t raw[UM_FRAG_ACK_BYTES];
	CHECK_EQ(um_fragment_ack_encode(raw, sizeof(raw), &good), UM_FRAG_ACK_BYTES);
	raw[15] = 0xff;
	raw[14] = 0xff; /* bits 8..15 */
	CHECK(um_handshake_receive(A.engine, &B.addr, raw, sizeof(raw), lossy_time(&net), &hs_out) == -UM_EINVAL);
	raw[14] = 0;
	raw[15] = 0xff; /* all eight: complete */
	CHECK(um_handshake_receive(A.engine, &B.addr, raw, sizeof(raw), lossy_time(&net), &hs_out) == -UM_EINVAL);
	raw[15] = 0x0f;
	raw[2] = 1;
	CHECK(um_handshake_receive(A.engine, &B.addr, raw, sizeof(raw), lossy_time(&net), &hs_out) == -UM_EINVAL);
	CHECK(um_handshake_receive(A.engine, &B.addr, raw, sizeof(raw) - 1, lossy_time(&net), &hs_out) == -UM_ETRUNC);
	CHECK_EQ(hs_out.n_datagrams, 0);
	CHECK_EQ(stats(&A)->acks_dropped, dropped + 11);
	CHECK_EQ(stats(&A)->acks_received, 0);
	CHECK_EQ(stats(&A)->fragments_retransmitted, 0);
	CHECK_EQ(A.peer->next_retransmit_ns, next); /* nor did they move the timer */
	CHECK(A.peer->state == UM_HS_STATE_RESPONSE_SENT);

	/* The real one resends the four missing pieces. */
	CHECK_EQ(send_ack(&A, &B.addr, &good), 0);
	CHECK_EQ(hs_out.n_datagrams, resp_frags - 4);
	CHECK_EQ(stats(&A)->acks_received, 1);
}

static void test_ack_budget(void)
{
	/* ACKs saying nothing arrived, again and again, within one window:
	 * at most UM_FRAG_ACK_ROUNDS rounds and never more pieces than the
	 * message has; the timer opens a new window. */
	test_forged_acks(); /* leaves A in RESPONSE_SENT, 4 pieces resent */
	struct um_fragment_ack ack = {.msg_type = UM_MSG_RESPONSE,
				      .count = (uint8_t)resp_frags,
				      .receiver_index = A.peer->remote_index,
				      .message_id = A.peer->response_message_id};
	unsigned resent = resp_frags - 4;
	for (unsigned i = 0; i < 50; i++) {
		ack.received = (uint32_t)(i % 7) << 1; /* different pictures */
		CHECK_EQ(send_ack(&A, &B.addr, &ack), 0);
		resent += hs_out.n_datagrams;
	}
	CHECK(resent <= resp_frags);
	CHECK(A.peer->response_sender.window_rounds <= UM_FRAG_ACK_ROUNDS);
	CHECK_EQ(stats(&A)->acks_received, 51);
	/* The timer: only the pieces the latest ACK lacks. */
	net.now_ns = A.peer->next_retransmit_ns;
	CHECK_EQ(um_handshake_tick(A.engine, lossy_time(&net), &hs_out), 1);
	uint32_t latest = (uint32_t)(49 % 7) << 1;
	CHECK_EQ(hs_out.n_datagrams, resp_frags - (unsigned)__builtin_popcount(latest));
	CHECK_EQ(send_ack(&A, &B.addr, &ack), 0);
	CHECK(hs_out.n_datagrams > 0); /* a new window */
}

static void test_challenge_ack_rate_limited(void)
{
	/* B's CHALLENGE in flight: an ACK repairs it like a retransmitted
	 * HELLO would, and costs a token of the same bucket (10/s burst 10,
	 * one taken by the HELLO). */
	n_rules = 0;
	lossy_init(&net, &A, &B, 10 * MS, hs_time(50));
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, lossy_time(&net), &hs_out), 0);
	struct hs_queue q;
	hs_take_output(&A, &q);
	CHECK_EQ(um_handshake_receive(B.engine, &A.addr, q.data[0], q.len[0], lossy_time(&net), &hs_out), 0);
	struct um_fragment_ack ack = {.msg_type = UM_MSG_CHALLENGE,
				      .count = (uint8_t)ch_frags,
				      .receiver_index = A.peer->local_index,
				      .received = 1};
	for (unsigned i = 0; i < B.engine->config.max_pending; i++)
		if (B.engine->pending[i].state == UM_HS_STATE_CHALLENGE_SENT)
			ack.message_id = B.engine->pending[i].challenge_message_id;
	struct um_addr other = A.addr;
	other.addr[3] = 77;
	CHECK_EQ(send_ack(&B, &other, &ack), -UM_ENOTFOUND); /* not the HELLO's source */
	unsigned ok = 0, limited = 0, pieces = 0;
	for (unsigned i = 0; i < 20; i++) {
		int r = send_ack(&B, &A.addr, &ack);
		ok += r == 0;
		limited += r == -UM_ELIMIT;
		pieces += hs_out.n_datagrams;
	}
	CHECK_EQ(ok, 9);
	CHECK_EQ(limited, 11);
	CHECK(pieces <= ch_frags);
	CHECK_EQ(stats(&B)->acks_received, 9);
	CHECK_EQ(stats(&B)->acks_dropped, 12);
}

static void test_interop_without_acks(void)
{
	/* A responder that predates FRAGMENT_ACK (drops it as malformed): the
	 * initiator's timer alternates ACK and HELLO, so the HELLO brings the
	 * whole CHALLENGE again and the pieces merge. */
	B.engine->acks_disabled = true;
	n_rules = 0;
	drop_first(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, 3, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT_ACK], 2); /* on the last piece, then the timer's */
	CHECK_EQ(net.sent_type[0][UM_TYPE_HELLO], 2);
	CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT], 2 * ch_frags);
	/* and an old initiator against a new responder */
	fixture_down();
	fixture_up();
	A.engine->acks_disabled = true;
	n_rules = 0;
	drop_first(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, 3, 1);
	CHECK_EQ(run_with_rules(), 0);
	CHECK_EQ(net.sent_type[1][UM_TYPE_FRAGMENT_ACK], 1); /* dropped by A */
	CHECK_EQ(net.sent_type[0][UM_TYPE_FRAGMENT], 2 * resp_frags);
}

/* ---- random loss ---- */

static uint64_t rng_state;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static unsigned loss_permille;
static int drop_random(struct lossy_net *n, int from, const uint8_t *d, uint16_t len)
{
	(void)n;
	(void)from;
	(void)d;
	(void)len;
	return rng() % 1000 < loss_permille;
}

struct loss_result {
	unsigned completed, runs;
	double datagrams, fragments, ms;
	uint64_t worst_ms;
};

static struct loss_result random_loss(unsigned permille, bool acks, unsigned runs)
{
	struct loss_result res = {0};
	loss_permille = permille;
	for (unsigned seed = 1; seed <= runs; seed++) {
		fixture_up();
		A.engine->acks_disabled = B.engine->acks_disabled = !acks;
		rng_state = 0x9e3779b97f4a7c15ULL * seed;
		lossy_init(&net, &A, &B, 10 * MS, hs_time(100));
		net.drop = drop_random;
		net.trace = getenv("LOSS_TRACE_SEED") && (unsigned)atoi(getenv("LOSS_TRACE_SEED")) == seed;
		int r = lossy_run(&net, 10000 * MS);
		if (r != 0)
			fprintf(stderr, "seed %u did not complete (%s)\n", seed, acks ? "acks" : "no acks");
		res.runs++;
		if (r == 0) {
			uint64_t ms = (net.done_ns - net.base_ns) / MS;
			res.completed++;
			res.ms += (double)ms;
			res.worst_ms = ms > res.worst_ms ? ms : res.worst_ms;
			res.datagrams += net.sent[0] + net.sent[1];
			res.fragments += (double)(stats(&A)->fragments_sent + stats(&B)->fragments_sent);
		}
		fixture_down();
	}
	if (res.completed) {
		res.datagrams /= res.completed;
		res.fragments /= res.completed;
		res.ms /= res.completed;
	}
	fprintf(stderr,
		"loss %u.%u%% per direction, %s: %u/%u completed; mean %.2f datagrams (%.2f fragments), "
		"mean %.0f ms, worst %llu ms (20 ms RTT; %u fragments without loss)\n",
		permille / 10, permille % 10, acks ? "FRAGMENT_ACK + parity" : "whole-message resend", res.completed,
		res.runs, res.datagrams, res.fragments, res.ms, (unsigned long long)res.worst_ms,
		ch_frags + resp_frags + (acks ? 2 : 0));
	return res;
}

static void test_random_loss(void)
{
	fixture_down(); /* random_loss() makes fresh nodes per run */
	struct loss_result with = random_loss(50, true, 200);
	struct loss_result without = random_loss(50, false, 200);
	random_loss(20, true, 100);
	random_loss(20, false, 100);
	CHECK_EQ(with.completed, with.runs);
	/* Not a tight bound: resending pieces instead of messages must at
	 * least not cost more datagrams, nor more time. */
	CHECK(with.fragments <= without.fragments);
	CHECK(with.ms <= without.ms);
	fixture_up();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN_FRESH(test_clean_counts);
	RUN_FRESH(test_lost_challenge_piece);
	RUN_FRESH(test_lost_two_challenge_pieces);
	RUN_FRESH(test_lost_challenge_pieces_and_ack);
	RUN_FRESH(test_lost_last_challenge_piece);
	RUN_FRESH(test_lost_last_response_piece);
	RUN_FRESH(test_lost_response_piece);
	RUN_FRESH(test_lost_response_piece_twice);
	RUN_FRESH(test_lost_established);
	RUN_FRESH(test_lost_established_after_repair);
	RUN_FRESH(test_repeat_single);
	RUN_FRESH(test_forged_acks);
	RUN_FRESH(test_ack_budget);
	RUN_FRESH(test_challenge_ack_rate_limited);
	RUN_FRESH(test_interop_without_acks);
	RUN_FRESH(test_random_loss);
	return um_test_end();
}
