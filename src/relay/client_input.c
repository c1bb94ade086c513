/* SPDX-License-Identifier: MIT */
#include <sodium.h>
#include <string.h>

#include "relay/client.h"
#include "relay/client_internal.h"
#include "util/error.h"

#define KEEPALIVE_DEFAULT_S 25

/* Input from the relays: the engine's other half (client.c has the state
 * machine and the timers). */

static int on_id_reply(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_id_msg m;

	int r = um_relay_id_decode(&m, data, len);
	if (r)
		return r;
	if (!m.reply)
		return -UM_EINVAL;
	if (!u->id_outstanding || sodium_memcmp(m.nonce, u->id_nonce, sizeof(m.nonce)))
		return -UM_EBADMSG;
	u->id_outstanding = false;
	if (u->has_relay_id) {
		if (memcmp(m.id.bytes, u->relay_id.bytes, UM_PEER_ID_BYTES) == 0) {
			/* Still the one we hold: the handshake follows at once (the
			 * relay answers again, e.g. UDP that came back; waiting for
			 * the backoff would keep a node on TLS for seconds). */
			if (u->state == UM_RELAY_CLIENT_REGISTERING && !u->hs_running && !u->next.valid) {
				u->registered_before = false;
				u->due_ns = now;
			}
			return 0;
		}
		/* Pinned, or learned on first contact: never replaced. */
		u->id_refused++;
		um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_ID_REFUSED, i)->relay_id = m.id;
		return 0;
	}
	if (um_handshake_peer_add(u->hs, &m.id, NULL, &u->hs_peer) < 0)
		return -UM_ENOMEM;
	u->relay_id = m.id;
	u->has_relay_id = true;
	um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_ID_LEARNED, i)->relay_id = m.id;
	if (u->state == UM_RELAY_CLIENT_REGISTERING) {
		u->registered_before = false; /* the handshake follows at once */
		u->due_ns = now;
	}
	return 0;
}

/* What an initiator takes: CHALLENGE pieces, ESTABLISHED, COOKIE_REPLY. */
/* What a responder sends: CHALLENGE pieces, ESTABLISHED, a cookie reply, and
 * FRAGMENT_ACKs naming the RESPONSE pieces it holds (docs/PROTOCOL.md §7.1). */
static bool initiator_message(const uint8_t *in, size_t len)
{
	return len >= 2 &&
	       ((in[0] == UM_MSG_FRAGMENT && in[1] == UM_MSG_CHALLENGE) || in[0] == UM_MSG_ESTABLISHED ||
		in[0] == UM_MSG_COOKIE_REPLY || (in[0] == UM_TYPE_FRAGMENT_ACK && in[1] == UM_MSG_RESPONSE));
}

static int on_handshake(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now,
			uint64_t wall_ms)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_handshake_time t = {.mono_ns = now, .wall_ms = wall_ms};
	struct um_addr from;

	if (len < 2 || len > UM_RELAY_HANDSHAKE_MAX_BYTES || !initiator_message(data + 1, len - 1))
		return -UM_EINVAL;
	if (!u->hs_peer || !u->hs_running)
		return -UM_ESTATE;
	um_relay_client_uplink_addr(i, &from);
	int r = um_handshake_receive(u->hs, &from, data + 1, len - 1, t, c->hs_out);
	if (r < 0)
		return r;
	if (c->hs_out->n_datagrams) {
		/* The RESPONSE: out at the next tick. */
		c->queue->uplink = i;
		c->queue->n = um_relay_client_wrap(c->hs_out, c->queue->datagrams, c->queue->lengths);
	}
	um_relay_client_hs_event(c, i, now);
	um_handshake_output_wipe(c->hs_out);
	return 0;
}

static int on_ack(struct um_relay_client *c, unsigned i, const struct um_relay_control *ack, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	bool refresh = u->state == UM_RELAY_CLIENT_REGISTERED && u->refreshing;

	if (u->state != UM_RELAY_CLIENT_REGISTERING && !refresh)
		return -UM_ESTATE;
	/* The new session is registered: it replaces the old one. The ACK,
	 * sealed under the new keys, confirms them as ESTABLISHED would: a
	 * handshake still waiting for a lost ESTABLISHED no longer holds up a
	 * refresh (refresh_due), which had waited out the engine's 10 s when
	 * the relay dropped its state meanwhile (a racing wss:// handshake of
	 * ours replaced it: NAT lab, a 12 s first reply). */
	u->hs_running = false;
	um_relay_client_session_wipe(&u->cur);
	u->cur = u->next;
	um_relay_client_session_wipe(&u->next);
	u->refreshing = false;
	memcpy(u->echo, ack->challenge, sizeof(u->echo));
	u->echo_due = true;
	u->echo_unconfirmed = false;
	u->echo_resends = 0;
	u->ka_sequence = 0;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	uint64_t keepalive =
	    (ack->keepalive_interval_s ? ack->keepalive_interval_s : KEEPALIVE_DEFAULT_S) * UM_NSEC_PER_SEC;
	if (c->keepalive_max_ns && c->keepalive_max_ns < keepalive)
		keepalive = c->keepalive_max_ns;
	/* REGISTER -> ACK is a clean round trip (no signature at either end). */
	if (u->register_sends == 1) {
		uint64_t sample = now - u->register_sent_ns;
		u->rtt_ns = u->rtt_ns ? (u->rtt_ns * 7 + sample) / 8 : sample;
	} else if (!u->rtt_ns && u->hs_peer) {
		/* REGISTER resent (which send this ACK answers is unknown): the
		 * handshake's round trips, not "unknown", which made peers'
		 * handshakes through this relay start from a 1 s timeout. */
		struct um_handshake_peer_timing timing;
		um_handshake_peer_get_timing(u->hs_peer, &timing);
		if (timing.samples)
			u->rtt_ns = timing.srtt_ns;
	}
	u->keepalive_ns = keepalive;
	u->last_reply_ns = now;
	u->registrations++;
	u->due_ns = now + keepalive;
	if (refresh) {
		/* The relay may have forgotten our handles with our session. */
		struct um_relay_client_event_entry *e =
		    um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_REGISTERED, i);
		e->observed = ack->observed;
		e->keepalive_ns = keepalive;
		e->refreshed = true;
		return 0;
	}
	/* Over TLS the relay sees a name for the connection, not an endpoint
	 * anyone could punch to: no reflexive candidate from it. */
	if (!u->stream)
		u->observed = ack->observed;
	um_relay_client_set_state(c, i, UM_RELAY_CLIENT_REGISTERED);
	u->registered_ns = now;
	struct um_relay_client_event_entry *e = um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_REGISTERED, i);
	e->observed = ack->observed;
	e->keepalive_ns = keepalive;
	/* The echo goes out at the next tick, before the events (so the
	 * relay binds us before we forward anything). */
	um_relay_client_choose_home(c, now);
	return 0;
}

static int on_keepalive(struct um_relay_client *c, unsigned i, const struct um_relay_control *k, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];

	if (u->state != UM_RELAY_CLIENT_REGISTERED || !u->ka_outstanding)
		return -UM_ESTATE;
	if (k->sequence != u->ka_sequence)
		return -UM_EBADMSG;
	if (k->flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) {
		/* The relay saw us at a new endpoint: echo from there. */
		memcpy(u->echo, k->challenge, sizeof(u->echo));
		u->echo_due = true;
	}
	uint64_t sample = now - u->ka_sent_ns;
	u->rtt_ns = u->rtt_ns ? (u->rtt_ns * 7 + sample) / 8 : sample;
	/* A reply to our latest keepalive, which carried the echo while it
	 * was unconfirmed: the relay bound us (or asks again, above). */
	if (u->echo_unconfirmed)
		u->due_ns = now + u->keepalive_ns; /* the echo's quick retry is not needed */
	u->echo_unconfirmed = false;
	u->echo_resends = 0;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->last_reply_ns = now;
	if (!u->stream && !um_addr_equal(&u->observed, &k->observed)) {
		u->observed = k->observed;
		um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_OBSERVED, i)->observed = k->observed;
	}
	um_relay_client_choose_home(c, now);
	return 0;
}

/* An ERROR sealed by the relay: authenticated. */
static int on_sealed_error(struct um_relay_client *c, unsigned i, const struct um_relay_control *m, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_client_event_entry *e;

	u->errors++;
	switch (m->code) {
	case UM_RELAY_ERR_NOT_REGISTERED:
		/* While registering this answers a LOOKUP sent behind a REGISTER
		 * the relay did not get: the REGISTER's own timer resends it. */
		if (u->state == UM_RELAY_CLIENT_REGISTERING) {
			u->early_refused++;
			return 0;
		}
		um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, i);
		um_relay_client_restart(c, i, now); /* uplink_due spaces handshakes by 1 s */
		return 0;
	case UM_RELAY_ERR_UNKNOWN_PEER:
		u->unknown_peer++;
		e = um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_UNKNOWN_PEER, i);
		memcpy(e->peer.bytes, m->tag, UM_PEER_ID_BYTES);
		return 0;
	case UM_RELAY_ERR_UNKNOWN_HANDLE: {
		struct um_peer_id route;
		uint64_t handle;
		memcpy(route.bytes, m->tag, UM_PEER_ID_BYTES);
		if (um_relay_route_handle(&route, &handle) < 0)
			return -UM_EINVAL;
		u->unknown_handles++;
		um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_UNKNOWN_HANDLE, i)->handle = handle;
		return 0;
	}
	default:
		e = um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_RELAY_ERROR, i);
		e->code = m->code;
		e->retry_after_s = m->retry_after_s;
		return 0;
	}
}

static int on_sealed(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_client_session *s = NULL;
	struct um_relay_control m;
	uint32_t index;
	uint64_t counter;

	int r = um_relay_sealed_header(data, len, &index, &counter);
	if (r)
		return r;
	if (u->cur.valid && u->cur.local_index == index)
		s = &u->cur;
	else if (u->next.valid && u->next.local_index == index)
		s = &u->next;
	if (!s)
		return -UM_EBADMSG;
	if ((r = um_relay_window_check(&s->window, counter)) < 0)
		return r;
	if ((r = um_relay_sealed_open(&m, data, len, s->recv_key)) < 0)
		return r == -UM_EBADMSG ? r : -UM_EBADMSG;
	um_relay_window_update(&s->window, counter);
	switch (m.kind) {
	case UM_RELAY_CTL_ACK:
		r = s == &u->next ? on_ack(c, i, &m, now) : -UM_ESTATE;
		break;
	case UM_RELAY_CTL_KEEPALIVE_REPLY:
		r = s == &u->cur ? on_keepalive(c, i, &m, now) : -UM_ESTATE;
		break;
	case UM_RELAY_CTL_ERROR:
		r = on_sealed_error(c, i, &m, now);
		break;
	case UM_RELAY_CTL_HANDLE:
	case UM_RELAY_CTL_ANNOUNCE: {
		/* Under `next` too: the relay announces under the newest session,
		 * which may be one whose ACK has not reached us yet. */
		bool announce = m.kind == UM_RELAY_CTL_ANNOUNCE;
		struct um_relay_client_event_entry *e = um_relay_client_push_event(
		    c, announce ? UM_RELAY_CLIENT_EVENT_ANNOUNCE : UM_RELAY_CLIENT_EVENT_HANDLE, i);
		e->peer = m.peer;
		e->handle = m.handle;
		if (announce)
			u->announces++;
		r = 0;
		break;
	}
	default:
		r = -UM_EINVAL; /* node-to-relay kinds */
		break;
	}
	sodium_memzero(&m, sizeof(m));
	return r;
}

/* An unsealed ERROR: anyone on the path (or spoofing the relay's address)
 * could have sent it, so it is a hint and never ends a registration. */
static int on_error(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_error err;
	struct um_relay_client_event_entry *e;

	int r = um_relay_error_decode(&err, data, len);
	if (r)
		return r;
	u->hints++;
	switch (err.code) {
	case UM_RELAY_ERR_VERSION:
		/* It changes no state, only tells the user. */
		u->version_errors++;
		e = um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_RELAY_ERROR, i);
		e->code = err.code;
		return 0;
	case UM_RELAY_ERR_NOT_REGISTERED:
		/* The relay does not know our session (restarted?). Only an
		 * answer to our last sealed datagram counts (its ref is that
		 * datagram's hash); then a new handshake runs beside the
		 * registration, which stays up until it succeeds. */
		if (u->state != UM_RELAY_CLIENT_REGISTERED || u->refreshing)
			return -UM_ESTATE;
		if (sodium_memcmp(err.ref, u->last_hash, sizeof(u->last_hash)) != 0)
			return -UM_EBADMSG;
		u->refreshing = true;
		um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_REFRESH, i);
		(void)now;
		return 0;
	default:
		return -UM_ESTATE; /* other codes come sealed */
	}
}

int um_relay_client_input(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now,
			  uint64_t wall_ms)
{
	int r;

	if (i >= c->n_uplinks || len == 0)
		return -UM_EINVAL;
	switch (data[0]) {
	case UM_MSG_RELAY_ID:
		r = on_id_reply(c, i, data, len, now);
		break;
	case UM_MSG_RELAY_HANDSHAKE:
		r = on_handshake(c, i, data, len, now, wall_ms);
		break;
	case UM_MSG_RELAY_SEALED:
		r = on_sealed(c, i, data, len, now);
		break;
	case UM_MSG_RELAY_ERROR:
		r = on_error(c, i, data, len, now);
		break;
	default:
		r = -UM_EINVAL; /* FORWARD(ED): not ours to handle */
		break;
	}
	if (r == -UM_EBADMSG || r == -UM_ESTATE || r == -UM_EREPLAY)
		c->uplinks[i].ignored++;
	return r;
}
