/* SPDX-License-Identifier: MIT */
/* Handshake timers: the retransmission timeout of each peer (an RTT
 * estimate after RFC 6298, exponential backoff with jitter), the initiation
 * timeout, and expiry of responder state and reassembly slots. Only the
 * initiator retransmits; the responder answers a retransmitted HELLO or
 * RESPONSE from its cache (handshake.c). */
#include <sodium.h>
#include <stdlib.h>

#include "session/handshake_internal.h"

/* Backoff stops doubling here (and a peer's RTO never exceeds it). */
#define UM_HS_BACKOFF_MAX_NS UM_HS_RTO_MAX_NS

static uint64_t clamp_rto(uint64_t rto)
{
	if (rto < UM_HS_RTO_MIN_NS)
		return UM_HS_RTO_MIN_NS;
	return rto > UM_HS_RTO_MAX_NS ? UM_HS_RTO_MAX_NS : rto;
}

static uint64_t estimate_rto(const struct um_handshake_peer *peer)
{
	if (peer->rtt_samples)
		return clamp_rto(peer->srtt_ns + 4 * peer->rttvar_ns);
	/* As a first sample would: SRTT = R, RTTVAR = R/2, so RTO = 3R. */
	if (peer->rtt_hint_ns)
		return clamp_rto(3 * peer->rtt_hint_ns);
	return peer->state == UM_HS_STATE_HELLO_SENT ? UM_HS_RTO_HELLO_INITIAL_NS : UM_HS_RTO_INITIAL_NS;
}

uint64_t um_hs_rto(const struct um_handshake_peer *peer)
{
	/* A stale estimate (the route changed: the peer is now reached through
	 * a relay) yields no samples under Karn's rule, so the backoff that
	 * got an answer is kept until a clean sample arrives. */
	uint64_t rto = estimate_rto(peer);
	for (unsigned i = 0; i < peer->rto_backoff && rto < UM_HS_RTO_MAX_NS; i++)
		rto *= 2;
	return rto < UM_HS_RTO_MAX_NS ? rto : UM_HS_RTO_MAX_NS;
}

/* The wait before retransmission number n + 1 of the message in flight:
 * the RTO doubled n times (at most UM_HS_BACKOFF_MAX_NS), plus a random
 * 0..25% so that initiations started together (a relay restart, a network
 * change) do not stay in step. Never shorter than the RTO. */
static uint64_t retransmit_interval(const struct um_handshake_peer *peer, unsigned n)
{
	uint64_t interval = um_hs_rto(peer);
	for (unsigned i = 0; i < n && interval < UM_HS_BACKOFF_MAX_NS; i++)
		interval *= 2;
	if (interval > UM_HS_BACKOFF_MAX_NS)
		interval = UM_HS_BACKOFF_MAX_NS;
	uint32_t quarter_us = (uint32_t)(interval / 4 / 1000ULL);
	return interval + (uint64_t)randombytes_uniform(quarter_us) * 1000ULL;
}

void um_hs_exchange_start(struct um_handshake_peer *peer, uint64_t now_ns)
{
	peer->exchange_sent_ns = now_ns;
	peer->retransmits = 0;
	peer->exchange_repaired = false;
	peer->timer_sent_ack = false;
	peer->next_retransmit_ns = now_ns + retransmit_interval(peer, 0);
}

void um_hs_exchange_answered(struct um_handshake_peer *peer, uint64_t now_ns)
{
	if (peer->retransmits == 0 && !peer->exchange_repaired && now_ns >= peer->exchange_sent_ns)
		um_hs_rtt_sample(peer, now_ns - peer->exchange_sent_ns);
	else if (peer->retransmits > 0)
		peer->rto_backoff = peer->retransmits < 4 ? peer->retransmits : 4;
}

void um_hs_exchange_repaired(struct um_handshake_peer *peer, uint64_t now_ns)
{
	peer->exchange_repaired = true;
	uint64_t next = now_ns + retransmit_interval(peer, peer->retransmits);
	if (next > peer->next_retransmit_ns)
		peer->next_retransmit_ns = next;
}

void um_hs_rtt_sample(struct um_handshake_peer *peer, uint64_t sample_ns)
{
	if (!peer->rtt_samples) {
		peer->srtt_ns = sample_ns;
		peer->rttvar_ns = sample_ns / 2;
	} else {
		uint64_t diff = peer->srtt_ns > sample_ns ? peer->srtt_ns - sample_ns : sample_ns - peer->srtt_ns;
		peer->rttvar_ns = (3 * peer->rttvar_ns + diff) / 4;
		peer->srtt_ns = (7 * peer->srtt_ns + sample_ns) / 8;
	}
	peer->rtt_samples++;
	peer->rto_backoff = 0;
}

void um_handshake_peer_set_rtt_hint(struct um_handshake_peer *peer, uint64_t rtt_ns)
{
	peer->rtt_hint_ns = rtt_ns;
}

void um_handshake_peer_get_timing(const struct um_handshake_peer *peer, struct um_handshake_peer_timing *out)
{
	out->srtt_ns = peer->srtt_ns;
	out->rttvar_ns = peer->rttvar_ns;
	out->samples = peer->rtt_samples;
	out->rto_ns = um_hs_rto(peer);
	out->retransmissions = peer->retransmissions;
	out->retransmitted_datagrams = peer->retransmitted_datagrams;
	out->ack_resent_datagrams = peer->ack_resent_datagrams;
}

int um_handshake_tick(struct um_handshake_engine *engine, struct um_handshake_time now, struct um_handshake_output *out)
{
	um_hs_output_reset(out);
	for (size_t i = 0; i < engine->n_peers; i++) {
		struct um_handshake_peer *p = engine->peers[i];
		if (p->state == UM_HS_STATE_ZEROED)
			continue;
		/* The give-up time does not depend on the RTO: the node's timer
		 * policy (session/timers.c) counts on it. */
		if (now.mono_ns - p->started_ns >= UM_HS_INITIATE_TIMEOUT_NS) {
			um_hs_peer_reset(engine, p);
			engine->stats.timeouts++;
			out->event = UM_HS_EVENT_FAILED;
			out->peer = p;
			out->peer_user = p->user;
			out->peer_id = p->id;
			return 1;
		}
		if (now.mono_ns < p->next_retransmit_ns)
			continue;
		p->retransmits++;
		p->next_retransmit_ns = now.mono_ns + retransmit_interval(p, p->retransmits);
		out->to = p->to;
		out->route = p->to_route;
		out->peer = p;
		out->peer_user = p->user;
		if (p->state == UM_HS_STATE_HELLO_SENT && p->hello_renew) {
			/* Our cached key of the responder failed: a new HELLO
			 * without the flag (the full CHALLENGE), same index. */
			um_reasm_release(&engine->reasm, UM_MSG_CHALLENGE, p->local_index);
			free(p->responder_key);
			p->responder_key = NULL;
			p->hello_renew = false;
			p->challenge_attempts = 0;
			if (um_hs_create_hello(engine, p, now) == 0)
				um_hs_output_message(out, UM_MSG_HELLO, 0, 0, p->hello, sizeof(p->hello));
		} else if (p->state == UM_HS_STATE_HELLO_SENT) {
			/* Part of the CHALLENGE is here: ask for the rest. */
			if (!um_hs_timer_ack_challenge(engine, p, now.mono_ns, out))
				um_hs_output_message(out, UM_MSG_HELLO, 0, 0, p->hello, sizeof(p->hello));
		} else {
			/* A short RESPONSE still unanswered at the second round:
			 * the responder may not hold our key (it drops the short
			 * form then); the full one. */
			if (p->response_is_short && p->retransmits >= UM_HS_SHORT_RESPONSE_ROUNDS)
				um_hs_response_use_full(p);
			/* Only the pieces not acknowledged (all without an ACK). */
			size_t response_len;
			const uint8_t *response = um_hs_response_in_flight(p, &response_len);
			um_hs_output_pieces(out, UM_MSG_RESPONSE, p->remote_index, p->response_message_id, response,
					    response_len, um_frag_sender_on_timer(&p->response_sender, now.mono_ns));
			engine->stats.fragments_retransmitted += out->n_datagrams;
		}
		p->retransmissions++;
		p->retransmitted_datagrams += out->n_datagrams;
		um_hs_count_output(engine, out);
		return 1;
	}
	if (um_hs_tick_acks(engine, now.mono_ns, out)) {
		um_hs_count_output(engine, out);
		return 1;
	}
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		if (um_hs_pending_expired(&engine->pending[i], now.mono_ns))
			um_hs_pending_release(engine, &engine->pending[i]);
	um_reasm_expire(&engine->reasm, now.mono_ns);
	return 0;
}

uint64_t um_handshake_next_deadline(const struct um_handshake_engine *engine)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < engine->n_peers; i++) {
		const struct um_handshake_peer *p = engine->peers[i];
		if (p->state == UM_HS_STATE_ZEROED)
			continue;
		uint64_t timeout = p->started_ns + UM_HS_INITIATE_TIMEOUT_NS;
		next = p->next_retransmit_ns < next ? p->next_retransmit_ns : next;
		next = timeout < next ? timeout : next;
	}
	for (unsigned i = 0; i < engine->config.max_pending; i++) {
		const struct um_hs_pending *p = &engine->pending[i];
		if (p->state == UM_HS_STATE_ZEROED)
			continue;
		uint64_t t = p->created_ns + UM_HS_PENDING_LIFE_NS;
		next = t < next ? t : next;
	}
	if (!engine->acks_disabled) {
		uint64_t quiet = um_reasm_quiet_deadline(&engine->reasm, UM_HS_ACK_QUIET_NS);
		next = quiet < next ? quiet : next;
	}
	return next;
}
