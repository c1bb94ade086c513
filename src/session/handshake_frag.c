/* SPDX-License-Identifier: MIT */
/* Loss-tolerant CHALLENGE and RESPONSE (docs/PROTOCOL.md section 7): the
 * receiver of an incomplete message says which pieces it holds
 * (FRAGMENT_ACK), the sender resends only the others. The reassembler
 * decides when an ACK is due (wire/fragment.h), struct um_frag_sender what
 * to resend (wire/fragment_ack.h); this file ties them to handshake state:
 * which state an ACK is for, that it came from where the message went, and
 * the same cost rules as the message it repairs. Also the output of whole
 * messages (um_hs_output_message: one datagram, or its FRAGMENTs; for the
 * first send of a CHALLENGE or RESPONSE, um_hs_output_first_round adds the
 * parity piece, docs/PROTOCOL.md section 7.3). */
#include <string.h>

#include "session/handshake_internal.h"
#include "util/error.h"

int um_hs_output_message(struct um_handshake_output *out, uint8_t type, uint32_t receiver_index, uint32_t message_id,
			 const uint8_t *msg, size_t len)
{
	if (len <= UM_HS_MAX_DATAGRAM) {
		if (out->n_datagrams >= UM_HS_MAX_OUT_DATAGRAMS)
			return -UM_ERANGE;
		memcpy(out->datagrams[out->n_datagrams], msg, len);
		out->lengths[out->n_datagrams++] = (uint16_t)len;
		return 0;
	}
	unsigned count = um_fragment_count(len);
	if (count == 0 || out->n_datagrams + count > UM_HS_MAX_OUT_DATAGRAMS)
		return -UM_ERANGE;
	for (unsigned i = 0; i < count; i++) {
		int n = um_fragment_encode(out->datagrams[out->n_datagrams], UM_HS_MAX_DATAGRAM, type, receiver_index,
					   message_id, msg, len, i);
		if (n < 0)
			return n;
		out->lengths[out->n_datagrams++] = (uint16_t)n;
	}
	return 0;
}

int um_hs_output_first_round(const struct um_handshake_engine *engine, struct um_handshake_output *out, uint8_t type,
			     uint32_t receiver_index, uint32_t message_id, const uint8_t *msg, size_t len)
{
	int ret = um_hs_output_message(out, type, receiver_index, message_id, msg, len);
	unsigned count = um_fragment_count(len);

	/* The data pieces, then the parity piece, so that one lost piece
	 * costs no repair round. Resends are data pieces only: the parity a
	 * receiver holds still covers one of them, and an ACK cannot name it. */
	if (ret < 0 || len <= UM_HS_MAX_DATAGRAM || count < 2 || engine->acks_disabled)
		return ret;
	if (out->n_datagrams >= UM_HS_MAX_OUT_DATAGRAMS)
		return -UM_ERANGE;
	int n = um_fragment_encode(out->datagrams[out->n_datagrams], UM_HS_MAX_DATAGRAM, type, receiver_index,
				   message_id, msg, len, count);
	if (n < 0)
		return n;
	out->lengths[out->n_datagrams++] = (uint16_t)n;
	return 0;
}

int um_hs_output_pieces(struct um_handshake_output *out, uint8_t type, uint32_t receiver_index, uint32_t message_id,
			const uint8_t *msg, size_t len, uint32_t pieces)
{
	unsigned count = um_fragment_count(len);

	if (count == 0)
		return -UM_ERANGE;
	for (unsigned i = 0; i < count; i++) {
		if (!(pieces & (UINT32_C(1) << i)))
			continue;
		if (out->n_datagrams >= UM_HS_MAX_OUT_DATAGRAMS)
			return -UM_ERANGE;
		int n = um_fragment_encode(out->datagrams[out->n_datagrams], UM_HS_MAX_DATAGRAM, type, receiver_index,
					   message_id, msg, len, i);
		if (n < 0)
			return n;
		out->lengths[out->n_datagrams++] = (uint16_t)n;
	}
	return 0;
}

int um_hs_output_ack(struct um_handshake_output *out, const struct um_fragment_ack *ack)
{
	if (out->n_datagrams >= UM_HS_MAX_OUT_DATAGRAMS)
		return -UM_ERANGE;
	int n = um_fragment_ack_encode(out->datagrams[out->n_datagrams], UM_HS_MAX_DATAGRAM, ack);
	if (n < 0)
		return n;
	out->lengths[out->n_datagrams++] = (uint16_t)n;
	return 0;
}

void um_hs_count_output(struct um_handshake_engine *engine, const struct um_handshake_output *out)
{
	for (unsigned i = 0; i < out->n_datagrams; i++) {
		if (out->datagrams[i][0] == UM_TYPE_FRAGMENT)
			engine->stats.fragments_sent++;
		else if (out->datagrams[i][0] == UM_TYPE_FRAGMENT_ACK)
			engine->stats.acks_sent++;
	}
}

/* Our initiation whose RESPONSE the ACK names, sent to where it came from. */
static struct um_handshake_peer *find_response_in_flight(struct um_handshake_engine *engine,
							 const struct um_fragment_ack *ack, const struct um_addr *from)
{
	for (size_t i = 0; i < engine->n_peers; i++) {
		struct um_handshake_peer *p = engine->peers[i];
		if (p->state == UM_HS_STATE_RESPONSE_SENT && um_frag_sender_matches(&p->response_sender, ack) &&
		    um_addr_equal(&p->to, from) && p->to_route == engine->from_route)
			return p;
	}
	return NULL;
}

/* The responder state whose CHALLENGE the ACK names, for the HELLO's source. */
static struct um_hs_pending *find_challenge_in_flight(struct um_handshake_engine *engine,
						      const struct um_fragment_ack *ack, const struct um_addr *from)
{
	for (unsigned i = 0; i < engine->config.max_pending; i++) {
		struct um_hs_pending *p = &engine->pending[i];
		if (p->state == UM_HS_STATE_CHALLENGE_SENT && um_frag_sender_matches(&p->challenge_sender, ack) &&
		    um_addr_equal(&p->source, from) && p->source_route == engine->from_route)
			return p;
	}
	return NULL;
}

static int ack_for_response(struct um_handshake_engine *engine, const struct um_fragment_ack *ack,
			    const struct um_addr *from, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_handshake_peer *peer = find_response_in_flight(engine, ack, from);
	uint32_t pieces;
	int ret;

	if (!peer) {
		engine->stats.acks_dropped++;
		return -UM_ENOTFOUND;
	}
	if ((ret = um_frag_sender_on_ack(&peer->response_sender, ack, now.mono_ns, um_hs_rto(peer), &pieces)) < 0)
		return ret;
	engine->stats.acks_received++;
	if (!pieces)
		return 0;
	um_hs_exchange_repaired(peer, now.mono_ns);
	out->to = peer->to;
	out->route = peer->to_route;
	out->peer = peer;
	out->peer_user = peer->user;
	size_t response_len;
	const uint8_t *response = um_hs_response_in_flight(peer, &response_len);
	ret = um_hs_output_pieces(out, UM_MSG_RESPONSE, peer->remote_index, peer->response_message_id, response,
				  response_len, pieces);
	engine->stats.fragments_retransmitted += out->n_datagrams;
	peer->ack_resent_datagrams += out->n_datagrams;
	return ret;
}

static int ack_for_challenge(struct um_handshake_engine *engine, const struct um_fragment_ack *ack,
			     const struct um_addr *from, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_pending *pending = find_challenge_in_flight(engine, ack, from);
	uint32_t pieces;
	int ret;

	if (!pending) {
		engine->stats.acks_dropped++;
		return -UM_ENOTFOUND;
	}
	/* It repairs what a retransmitted HELLO would resend, so it costs what
	 * that HELLO costs: a token of the source's bucket. The state is
	 * anonymous until RESPONSE, its source maybe spoofed. */
	struct um_addr limited = um_hs_rate_limit_source(from, engine->from_route);
	if (!um_ratelimit_allow(&engine->ratelimit, &limited, now.mono_ns)) {
		engine->stats.rate_limited++;
		engine->stats.acks_dropped++;
		return -UM_ELIMIT;
	}
	/* The responder has no timer: a window of the shortest timeout the
	 * initiator's timer (whose ACKs end a stall) could have. */
	if ((ret = um_frag_sender_on_ack(&pending->challenge_sender, ack, now.mono_ns, UM_HS_RTO_MIN_NS, &pieces)) < 0)
		return ret;
	engine->stats.acks_received++;
	if (!pieces)
		return 0;
	pending->challenge_resent = true; /* Karn: CHALLENGE -> RESPONSE took an extra round */
	out->to = *from;
	out->route = engine->from_route;
	ret = um_hs_output_pieces(out, UM_MSG_CHALLENGE, pending->remote_index, pending->challenge_message_id,
				  pending->challenge, pending->challenge_len, pieces);
	engine->stats.fragments_retransmitted += out->n_datagrams;
	return ret;
}

int um_hs_receive_fragment_ack(struct um_handshake_engine *engine, const struct um_addr *from, const uint8_t *dgram,
			       size_t len, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_fragment_ack ack;
	int ret;

	if (engine->acks_disabled) { /* as a node that predates FRAGMENT_ACK */
		engine->stats.malformed++;
		return -UM_EINVAL;
	}
	if ((ret = um_fragment_ack_decode(&ack, dgram, len)) < 0) {
		engine->stats.malformed++;
		engine->stats.acks_dropped++;
		return ret;
	}
	if (ack.msg_type == UM_MSG_RESPONSE)
		return ack_for_response(engine, &ack, from, now, out);
	if (ack.msg_type == UM_MSG_CHALLENGE)
		return ack_for_challenge(engine, &ack, from, now, out);
	engine->stats.acks_dropped++;
	return -UM_ENOTFOUND;
}

int um_hs_resend_established(struct um_handshake_engine *engine, struct um_hs_pending *pending,
			     const struct um_addr *from, uint64_t now_ns, struct um_handshake_output *out)
{
	/* The sender resends only what we had not acknowledged, so the whole
	 * RESPONSE may never come again: its message id is enough (it comes
	 * from the HELLO's source, for this state). Once per gap: a burst of
	 * pieces gets one ESTABLISHED, never more bytes than it carried. */
	if (now_ns - pending->established_resent_ns < UM_REASM_ACK_GAP_NS)
		return 0;
	pending->established_resent_ns = now_ns;
	out->to = *from;
	out->route = engine->from_route;
	return um_hs_output_message(out, UM_MSG_ESTABLISHED, 0, 0, pending->established, sizeof(pending->established));
}

int um_hs_timer_ack_challenge(struct um_handshake_engine *engine, struct um_handshake_peer *peer, uint64_t now_ns,
			      struct um_handshake_output *out)
{
	struct um_fragment_ack ack;

	/* Every other round the HELLO goes instead: a responder that predates
	 * FRAGMENT_ACK answers only that (with the whole CHALLENGE, whose
	 * pieces merge into the same slot). */
	if (engine->acks_disabled || peer->timer_sent_ack) {
		peer->timer_sent_ack = false;
		return 0;
	}
	if (peer->challenge_attempts >= UM_HS_MAX_CHALLENGE_ATTEMPTS ||
	    um_reasm_ack_now(&engine->reasm, UM_MSG_CHALLENGE, peer->local_index, &peer->to, now_ns, &ack) < 0)
		return 0;
	if (um_hs_output_ack(out, &ack) < 0)
		return 0;
	peer->timer_sent_ack = true;
	return 1;
}

int um_hs_tick_acks(struct um_handshake_engine *engine, uint64_t now_ns, struct um_handshake_output *out)
{
	struct um_fragment_ack ack;
	struct um_addr source;

	while (!engine->acks_disabled &&
	       um_reasm_ack_quiet(&engine->reasm, now_ns, UM_HS_ACK_QUIET_NS, &source, &ack) == 0) {
		/* The route tag the pieces came with is the state's. */
		uint32_t route = 0;
		bool found = false;
		for (size_t i = 0; i < engine->n_peers && !found && ack.msg_type == UM_MSG_CHALLENGE; i++) {
			struct um_handshake_peer *p = engine->peers[i];
			if (p->state == UM_HS_STATE_HELLO_SENT && p->local_index == ack.receiver_index) {
				route = p->to_route;
				um_hs_exchange_repaired(p, now_ns);
				found = true;
			}
		}
		for (unsigned i = 0; i < engine->config.max_pending && !found && ack.msg_type == UM_MSG_RESPONSE; i++) {
			struct um_hs_pending *p = &engine->pending[i];
			if (p->state == UM_HS_STATE_CHALLENGE_SENT && p->local_index == ack.receiver_index &&
			    um_addr_equal(&p->source, &source)) {
				route = p->source_route;
				p->challenge_resent = true;
				found = true;
			}
		}
		if (!found)
			continue;
		out->to = source;
		out->route = route;
		if (um_hs_output_ack(out, &ack) < 0)
			return 0;
		return 1;
	}
	return 0;
}
