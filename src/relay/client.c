/* SPDX-License-Identifier: MIT */
#include "relay/client.h"
#include "relay/client_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

#define REGISTER_RETRY_BASE_NS (1 * UM_NSEC_PER_SEC)
#define REGISTER_RETRY_MAX_NS  (8 * UM_NSEC_PER_SEC)
#define REGISTER_WARN_ATTEMPTS 3
#define REREGISTER_GAP_NS      UM_NSEC_PER_SEC
#define REGISTER_RESEND_NS     UM_NSEC_PER_SEC /* the longest wait for an ACK */
#define REGISTER_RESEND_MIN_NS (200 * UM_NSEC_PER_MSEC)
#define GRACE_NS               (25 * UM_NSEC_PER_MSEC) /* ESTABLISHED -> the early REGISTER's ACK */
#define REGISTER_SENDS         5 /* sealed REGISTERs per handshake (~4 s of waits), then a new handshake */
#define HANDSHAKE_WAIT_NS      (11 * UM_NSEC_PER_SEC) /* the engine gives up after 10 s */
#define KEEPALIVE_DEFAULT_S    25
#define KEEPALIVE_MISSES       3
#define ECHO_RESENDS_MAX       6 /* then the keepalive schedule (and its re-challenge) takes over */
#define ECHO_RETRY_MIN_NS      (200 * UM_NSEC_PER_MSEC)
#define ECHO_RETRY_MAX_NS      (2 * UM_NSEC_PER_SEC)
/* A UDP registration is two round trips of handshake (a signature and a
 * verification on each side) plus one for REGISTER: 0.5 s covers relays up
 * to ~150 ms away; a UDP-blocked node still reaches wss:// within about a
 * second or two (TLS set-up adds ~3 RTTs). */
#define STREAM_REGISTER_ATTEMPTS 2 /* handshakes (each resends its HELLO), then a new connection */
#define NEVER                    UINT64_MAX

const char *um_relay_client_state_name(enum um_relay_client_state state)
{
	switch (state) {
	case UM_RELAY_CLIENT_IDLE:
		return "idle";
	case UM_RELAY_CLIENT_REGISTERING:
		return "registering";
	case UM_RELAY_CLIENT_REGISTERED:
		return "registered";
	case UM_RELAY_CLIENT_STANDBY:
		return "standby";
	}
	return "?";
}

static bool pop_event(struct um_relay_client *c, struct um_relay_client_output *out)
{
	if (!c->event_count)
		return false;
	out->detail = c->events[c->event_head];
	out->event = out->detail.type;
	out->uplink = out->detail.uplink;
	c->event_head = (c->event_head + 1) % UM_RELAY_CLIENT_MAX_EVENTS;
	c->event_count--;
	return true;
}

/* ---- registration and keepalives ---- */

/* The handshake engine's name for uplink i's relay: addresses mean
 * nothing to the caller here, so any fixed, distinct one does. */
void um_relay_client_uplink_addr(unsigned i, struct um_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = 6;
	a->addr[0] = 0xfd;
	a->addr[15] = (uint8_t)(i + 1);
	a->port = 1;
}

/* Not answered over a wss:// connection: the connection may be dead. The
 * caller drops it; transport_up starts over when a new one is open. */
static void reconnect(struct um_relay_client *c, unsigned i, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	bool was_usable = um_relay_client_usable(c, i);

	u->transport_open = false;
	u->register_attempts = 0;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->due_ns = NEVER;
	um_relay_client_session_wipe(&u->cur);
	um_relay_client_session_wipe(&u->next);
	u->refreshing = u->register_due = false;
	u->n_requests = 0;
	um_relay_client_abort_handshake(c, i);
	um_relay_client_set_state(c, i, UM_RELAY_CLIENT_IDLE);
	um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_RECONNECT, i);
	if (was_usable)
		um_relay_client_choose_home(c, now);
}

/* Copies the engine's datagrams, each wrapped in RELAY_HANDSHAKE. */
unsigned um_relay_client_wrap(const struct um_handshake_output *o, uint8_t (*dst)[UM_RELAY_CLIENT_DATAGRAM_BYTES],
			      uint16_t *lengths)
{
	unsigned n = 0;
	for (; n < o->n_datagrams && n < UM_RELAY_CLIENT_MAX_DATAGRAMS; n++) {
		dst[n][0] = UM_MSG_RELAY_HANDSHAKE;
		memcpy(dst[n] + 1, o->datagrams[n], o->lengths[n]);
		lengths[n] = (uint16_t)(o->lengths[n] + 1);
	}
	return n;
}

static uint64_t register_retry_ns(const struct um_relay_client_uplink *u);

static bool same_session(const struct um_relay_client_session *s, const struct um_keypair *k)
{
	return s->valid && s->local_index == k->local_index &&
	       !sodium_memcmp(s->send_key, k->send_key, sizeof(s->send_key));
}

/* The handshake engine reported something for uplink i (c->hs_out). The
 * keys come twice (config.early_keys): when our RESPONSE goes, so the
 * REGISTER follows it at once (a round trip sooner), and with ESTABLISHED,
 * which confirms them; other keys then (the relay took the other form of
 * RESPONSE) replace them and REGISTER again. */
void um_relay_client_hs_event(struct um_relay_client *c, unsigned i, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	const struct um_handshake_output *o = c->hs_out;

	/* Early only for a first registration: a refresh's REGISTER (the old
	 * session still carries traffic) waits for ESTABLISHED, since nothing
	 * would resend one the relay dropped for lack of the RESPONSE's last
	 * piece (seen at 5 % loss: a refresh stuck for 24 s). */
	if (o->event == UM_HS_EVENT_KEYS && u->state != UM_RELAY_CLIENT_REGISTERING)
		return;
	if ((o->event == UM_HS_EVENT_ESTABLISHED || o->event == UM_HS_EVENT_KEYS) && o->peer == u->hs_peer) {
		if (o->event == UM_HS_EVENT_ESTABLISHED)
			u->hs_running = false;
		if (same_session(&u->cur, &o->keypair))
			return; /* the early REGISTER was acknowledged before ESTABLISHED came */
		if (same_session(&u->next, &o->keypair)) {
			/* Its ACK follows ESTABLISHED within a few ms; none soon
			 * means the REGISTER beat a RESPONSE piece the relay was
			 * still missing and was dropped: send it again then. */
			uint64_t soon =
			    now + (register_retry_ns(u) / 12 > GRACE_NS ? register_retry_ns(u) / 12 : GRACE_NS);
			if (o->event == UM_HS_EVENT_ESTABLISHED && u->state == UM_RELAY_CLIENT_REGISTERING &&
			    soon < u->due_ns)
				u->due_ns = soon;
			return;
		}
		um_relay_client_session_wipe(&u->next);
		u->next.valid = true;
		u->next.local_index = o->keypair.local_index;
		u->next.remote_index = o->keypair.remote_index;
		memcpy(u->next.send_key, o->keypair.send_key, sizeof(u->next.send_key));
		memcpy(u->next.recv_key, o->keypair.recv_key, sizeof(u->next.recv_key));
		u->register_sends = 0;
		u->register_due = true;
	} else if (o->event == UM_HS_EVENT_FAILED) {
		u->hs_running = false;
		u->refreshing = false;
		if (u->state == UM_RELAY_CLIENT_REGISTERING)
			u->due_ns = 0; /* the next attempt, now (the engine waited 10 s) */
	}
}

static void send_id_request(struct um_relay_client *c, unsigned i, struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_id_msg m = {.reply = false};

	randombytes_buf(u->id_nonce, sizeof(u->id_nonce));
	memcpy(m.nonce, u->id_nonce, sizeof(m.nonce));
	int n = um_relay_id_encode(out->datagrams[0], sizeof(out->datagrams[0]), &m);
	if (n < 0)
		return;
	out->lengths[0] = (uint16_t)n;
	out->n_datagrams = 1;
	out->uplink = i;
	u->id_outstanding = true;
}

static void start_handshake(struct um_relay_client *c, unsigned i, uint64_t now, uint64_t wall_ms,
			    struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_handshake_time t = {.mono_ns = now, .wall_ms = wall_ms};
	struct um_addr to;

	um_relay_client_uplink_addr(i, &to);
	u->last_register_ns = now;
	u->registered_before = true;
	if (um_handshake_initiate(u->hs, u->hs_peer, &to, t, c->hs_out) < 0) {
		c->stats.register_failures++;
		return;
	}
	out->n_datagrams = um_relay_client_wrap(c->hs_out, out->datagrams, out->lengths);
	out->uplink = i;
	u->hs_running = true;
	um_relay_client_session_wipe(&u->next);
}

/* m sealed under s, appended to out: 0, or negative (out unchanged). */
static int append_sealed(struct um_relay_client_session *s, const struct um_relay_control *m,
			 struct um_relay_client_output *out)
{
	unsigned d = out->n_datagrams;
	if (d >= UM_RELAY_CLIENT_MAX_DATAGRAMS)
		return -UM_ELIMIT;
	int n = um_relay_sealed_encode(out->datagrams[d], sizeof(out->datagrams[d]), s->remote_index, s->send_counter++,
				       s->send_key, m);
	if (n < 0)
		return n;
	out->lengths[d] = (uint16_t)n;
	out->n_datagrams++;
	return 0;
}

/* m sealed under s, the only datagram of out; its hash is what a relay's
 * unsealed NOT_REGISTERED must name to be believed. */
static void send_sealed(struct um_relay_client *c, unsigned i, struct um_relay_client_session *s,
			const struct um_relay_control *m, struct um_relay_client_output *out)
{
	out->n_datagrams = 0;
	if (append_sealed(s, m, out))
		return;
	um_relay_datagram_hash(c->uplinks[i].last_hash, out->datagrams[0], out->lengths[0]);
	out->uplink = i;
}

static void send_register(struct um_relay_client *c, unsigned i, uint64_t now, struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_control m = {.kind = UM_RELAY_CTL_REGISTER};

	if (c->has_admission_key)
		um_relay_admission_tag(m.tag, c->admission_key, &c->identity->id, &u->relay_id);
	if (u->register_sends++ == 0)
		u->register_sent_ns = now;
	u->register_due = false;
	send_sealed(c, i, &u->next, &m, out);
	sodium_memzero(&m, sizeof(m));
	if (u->state != UM_RELAY_CLIENT_REGISTERING || !out->n_datagrams)
		return;
	/* The LOOKUPs queued meanwhile, sealed under the same session right
	 * behind it. They stay queued: sent again once registered, in case
	 * this REGISTER is lost (the relay then refuses them, see
	 * client_input.c) or they are. */
	for (unsigned k = 0; k < u->n_requests; k++) {
		struct um_relay_control q = {.kind = UM_RELAY_CTL_LOOKUP, .peer = u->requests[k].peer};
		if (u->requests[k].kind == UM_RELAY_CTL_LOOKUP && append_sealed(&u->next, &q, out) == 0) {
			u->lookups++;
			u->early_lookups++;
		}
	}
}

/* When to resend an unacknowledged REGISTER: three RTTs (the handshake
 * just measured one), doubling per send, within [200 ms, 1 s]. A fixed
 * 1 s cost a whole second whenever the REGISTER or its ACK was lost (~8%
 * of registrations at 2% loss per link, issue 14). */
static uint64_t register_retry_ns(const struct um_relay_client_uplink *u)
{
	uint64_t rtt = u->rtt_ns;
	if (!rtt && u->hs_peer) {
		struct um_handshake_peer_timing timing;
		um_handshake_peer_get_timing(u->hs_peer, &timing);
		rtt = timing.samples ? timing.srtt_ns : 0;
	}
	uint64_t t = rtt ? 3 * rtt : REGISTER_RESEND_NS;
	if (t < REGISTER_RESEND_MIN_NS)
		t = REGISTER_RESEND_MIN_NS;
	unsigned shift = u->register_sends > 1 ? u->register_sends - 1 : 0;
	t <<= shift < 4 ? shift : 4;
	return t < REGISTER_RESEND_NS ? t : REGISTER_RESEND_NS;
}

/* When to resend an unconfirmed echo: three RTTs (REGISTER -> ACK gave
 * one), doubling per resend, within [200 ms, 2 s]. */
static uint64_t echo_retry_ns(const struct um_relay_client_uplink *u)
{
	uint64_t t = u->rtt_ns ? 3 * u->rtt_ns : REGISTER_RESEND_NS;
	if (t < ECHO_RETRY_MIN_NS)
		t = ECHO_RETRY_MIN_NS;
	t <<= u->echo_resends < 4 ? u->echo_resends : 4;
	return t < ECHO_RETRY_MAX_NS ? t : ECHO_RETRY_MAX_NS;
}

static void send_keepalive(struct um_relay_client *c, unsigned i, uint64_t now, struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_control k = {.kind = UM_RELAY_CTL_KEEPALIVE, .sequence = ++u->ka_sequence};

	if (u->echo_due) {
		k.flags = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
		memcpy(k.challenge, u->echo, sizeof(k.challenge));
		u->echo_due = false;
		u->echo_unconfirmed = true;
	}
	send_sealed(c, i, &u->cur, &k, out);
	u->ka_sent_ns = now;
	u->ka_outstanding = true;
}

/* One registration attempt: ask the relay's ID (unknown, or now and then
 * when a learned one stops working: has it changed?), else a handshake. */
static void attempt(struct um_relay_client *c, unsigned i, uint64_t now, uint64_t wall_ms,
		    struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];

	u->register_attempts++;
	if (!u->has_relay_id || (!u->relay_id_pinned && u->register_attempts % 4 == 0)) {
		u->last_register_ns = now;
		u->registered_before = true;
		send_id_request(c, i, out);
		return;
	}
	start_handshake(c, i, now, wall_ms, out);
}

static int queue_request(struct um_relay_client *c, unsigned i, const struct um_relay_client_request *q)
{
	struct um_relay_client_uplink *u;

	if (i >= c->n_uplinks)
		return -UM_EINVAL;
	u = &c->uplinks[i];
	/* While registering, a LOOKUP waits and also rides behind each
	 * REGISTER (send_register): the relay handles its input in order, so
	 * the answer comes with the ACK, a round trip sooner (issue 14). */
	if (!((u->state == UM_RELAY_CLIENT_REGISTERED && u->cur.valid) ||
	      (u->state == UM_RELAY_CLIENT_REGISTERING && q->kind == UM_RELAY_CTL_LOOKUP)))
		return -UM_ESTATE;
	for (unsigned k = 0; k < u->n_requests; k++)
		if (u->requests[k].kind == q->kind && u->requests[k].handle == q->handle &&
		    !memcmp(u->requests[k].peer.bytes, q->peer.bytes, UM_PEER_ID_BYTES))
			return 0;
	if (u->n_requests == UM_RELAY_CLIENT_MAX_REQUESTS)
		return -UM_ELIMIT;
	u->requests[u->n_requests++] = *q;
	return 0;
}

int um_relay_client_lookup(struct um_relay_client *c, unsigned i, const struct um_peer_id *peer)
{
	struct um_relay_client_request q = {.kind = UM_RELAY_CTL_LOOKUP, .peer = *peer};
	return queue_request(c, i, &q);
}

int um_relay_client_resolve(struct um_relay_client *c, unsigned i, uint64_t handle)
{
	struct um_relay_client_request q = {.kind = UM_RELAY_CTL_RESOLVE, .handle = handle};
	return handle ? queue_request(c, i, &q) : -UM_EINVAL;
}

/* The oldest queued request of uplink i, sealed. */
static void send_request(struct um_relay_client *c, unsigned i, struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_control m = {
	    .kind = u->requests[0].kind, .peer = u->requests[0].peer, .handle = u->requests[0].handle};

	memmove(u->requests, u->requests + 1, sizeof(u->requests[0]) * --u->n_requests);
	if (m.kind == UM_RELAY_CTL_LOOKUP)
		u->lookups++;
	send_sealed(c, i, &u->cur, &m, out);
}

/* Uplink i's timed work is due. */
static void uplink_due(struct um_relay_client *c, unsigned i, uint64_t now, uint64_t wall_ms,
		       struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];

	u->due_ns = NEVER;
	switch (u->state) {
	case UM_RELAY_CLIENT_REGISTERING: {
		/* Handshake done, REGISTER unacknowledged: resend it a few times. */
		if (u->next.valid && u->register_sends < REGISTER_SENDS) {
			send_register(c, i, now, out);
			u->due_ns = now + register_retry_ns(u);
			return;
		}
		um_relay_client_session_wipe(&u->next);
		/* At most one handshake per second, whatever started it (each
		 * costs a signature here and one at the relay). */
		if (u->registered_before && now - u->last_register_ns < REREGISTER_GAP_NS) {
			u->due_ns = u->last_register_ns + REREGISTER_GAP_NS;
			return;
		}
		if (u->stream && u->register_attempts >= STREAM_REGISTER_ATTEMPTS) {
			reconnect(c, i, now);
			return;
		}
		unsigned shift = u->register_attempts < 3 ? u->register_attempts : 3;
		uint64_t delay = REGISTER_RETRY_BASE_NS << shift;
		if (delay > REGISTER_RETRY_MAX_NS)
			delay = REGISTER_RETRY_MAX_NS;
		if (u->register_attempts == REGISTER_WARN_ATTEMPTS)
			um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_NO_ANSWER, i);
		attempt(c, i, now, wall_ms, out);
		/* A handshake ends by itself (ESTABLISHED or FAILED after 10 s);
		 * an ID request is retried with backoff and jitter (up to 1/8),
		 * so nodes restarted together spread out. */
		if (u->hs_running)
			delay = HANDSHAKE_WAIT_NS;
		u->due_ns = now + delay + randombytes_uniform((uint32_t)(delay / 8 / 1000)) * 1000ULL;
		return;
	}
	case UM_RELAY_CLIENT_REGISTERED:
		if (u->echo_unconfirmed && u->ka_outstanding && u->echo_resends < ECHO_RESENDS_MAX) {
			u->echo_resends++;
			u->echo_due = true;
			send_keepalive(c, i, now, out);
			u->due_ns = now + echo_retry_ns(u);
			return;
		}
		if (u->ka_outstanding && ++u->ka_missed >= KEEPALIVE_MISSES) {
			struct um_relay_client_event_entry *e =
			    um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_RELAY_LOST, i);
			e->missed = u->ka_missed;
			if (u->stream)
				reconnect(c, i, now); /* registers when connected again */
			else
				um_relay_client_restart(c, i, now);
			return;
		}
		send_keepalive(c, i, now, out);
		u->due_ns = now + u->keepalive_ns;
		return;
	case UM_RELAY_CLIENT_IDLE:
	case UM_RELAY_CLIENT_STANDBY:
		return;
	}
}

/* A refresh (a NOT_REGISTERED hint while registered) waits for its turn. */
static bool refresh_due(const struct um_relay_client_uplink *u, uint64_t now)
{
	return u->state == UM_RELAY_CLIENT_REGISTERED && u->refreshing && !u->hs_running && !u->next.valid &&
	       (!u->registered_before || now - u->last_register_ns >= REREGISTER_GAP_NS);
}

/* ---- lifecycle ---- */

int um_relay_client_init(struct um_relay_client *c, const struct um_relay_client_config *config)
{
	int r = -UM_EINVAL;

	memset(c, 0, sizeof(*c));
	if (!config->identity || config->n_uplinks > UM_RELAY_CLIENT_MAX_UPLINKS)
		return -UM_EINVAL;
	c->identity = config->identity;
	if (config->admission_key) {
		memcpy(c->admission_key, config->admission_key, sizeof(c->admission_key));
		c->has_admission_key = true;
	}
	c->keepalive_max_ns = config->keepalive_max_ns;
	c->n_uplinks = config->n_uplinks;
	c->home = c->backup = -1;
	r = -UM_ENOMEM;
	c->hs_out = calloc(1, sizeof(*c->hs_out));
	c->queue = calloc(1, sizeof(*c->queue));
	if (!c->hs_out || !c->queue)
		goto out;
	/* Initiator only: one pending slot is plenty (we answer no HELLO). */
	struct um_handshake_config hc = {
	    .identity = c->identity, .max_pending = 1, .early_keys = true, .repeat_single = true};
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		struct um_relay_client_uplink *u = &c->uplinks[i];
		u->state = UM_RELAY_CLIENT_IDLE;
		u->stream = config->stream[i];
		u->due_ns = NEVER;
		if ((r = um_handshake_engine_new(&u->hs, &hc)) < 0)
			goto out;
		if (config->has_relay_id[i]) {
			u->relay_id = config->relay_id[i];
			u->has_relay_id = u->relay_id_pinned = true;
			if ((r = um_handshake_peer_add(u->hs, &u->relay_id, NULL, &u->hs_peer)) < 0)
				goto out;
		}
	}
	r = 0;
out:
	if (r < 0)
		um_relay_client_destroy(c);
	return r;
}

void um_relay_client_destroy(struct um_relay_client *c)
{
	for (unsigned i = 0; i < c->n_uplinks && i < UM_RELAY_CLIENT_MAX_UPLINKS; i++) {
		um_handshake_engine_free(c->uplinks[i].hs);
		c->uplinks[i].hs = NULL;
		c->uplinks[i].hs_peer = NULL;
		um_relay_client_session_wipe(&c->uplinks[i].cur);
		um_relay_client_session_wipe(&c->uplinks[i].next);
	}
	if (c->hs_out) {
		um_handshake_output_wipe(c->hs_out);
		free(c->hs_out);
	}
	free(c->queue);
	c->hs_out = NULL;
	c->queue = NULL;
	sodium_memzero(c->admission_key, sizeof(c->admission_key));
}

void um_relay_client_start(struct um_relay_client *c, uint64_t now)
{
	for (unsigned i = 0; i < c->n_uplinks; i++)
		if (!c->uplinks[i].stream)
			um_relay_client_restart(c, i, now);
}

int um_relay_client_probe(struct um_relay_client *c, unsigned i, uint64_t now)
{
	if (i >= c->n_uplinks || c->uplinks[i].stream)
		return -UM_EINVAL;
	struct um_relay_client_uplink *u = &c->uplinks[i];
	switch (u->state) {
	case UM_RELAY_CLIENT_REGISTERING: {
		/* A handshake in flight resends by itself; a sealed REGISTER
		 * waiting for its resend goes now. Else the next attempt (ID
		 * request or handshake) moves up, within the 1 s rule. */
		if (u->hs_running)
			return 0;
		uint64_t at = now;
		if (!(u->next.valid && u->register_sends < REGISTER_SENDS) && u->registered_before &&
		    u->last_register_ns + REREGISTER_GAP_NS > now)
			at = u->last_register_ns + REREGISTER_GAP_NS;
		if (at < u->due_ns)
			u->due_ns = at;
		return 0;
	}
	case UM_RELAY_CLIENT_REGISTERED:
		if (!u->ka_outstanding)
			u->due_ns = now;
		return 0;
	default:
		return 0;
	}
}

int um_relay_client_transport_up(struct um_relay_client *c, unsigned i, uint64_t now)
{
	if (i >= c->n_uplinks)
		return -UM_EINVAL;
	if (!c->uplinks[i].stream) {
		c->stats.illegal_transitions++;
		return -UM_EINVAL;
	}
	c->uplinks[i].transport_open = true;
	/* Its relay's UDP line registered meanwhile (the race of a slow UDP
	 * answer with the fallback): registering here too would replace that
	 * session at the relay (one entry per node). It stays idle, connected,
	 * until the twin goes (um_relay_client_choose_home wakes it). */
	if (um_relay_client_twin_registered(c, i))
		return 0;
	um_relay_client_restart(c, i, now);
	return 0;
}

int um_relay_client_transport_down(struct um_relay_client *c, unsigned i, uint64_t now)
{
	if (i >= c->n_uplinks)
		return -UM_EINVAL;
	struct um_relay_client_uplink *u = &c->uplinks[i];
	bool was_usable = um_relay_client_usable(c, i);

	int r = um_relay_client_set_state(c, i, UM_RELAY_CLIENT_IDLE);
	if (r)
		return -UM_EINVAL; /* a UDP uplink has no transport to lose */
	u->transport_open = false;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->register_attempts = 0;
	u->due_ns = NEVER;
	um_relay_client_session_wipe(&u->cur);
	um_relay_client_session_wipe(&u->next);
	u->refreshing = u->register_due = false;
	u->n_requests = 0;
	um_relay_client_abort_handshake(c, i);
	if (was_usable)
		um_relay_client_choose_home(c, now);
	return 0;
}

int um_relay_client_tick(struct um_relay_client *c, uint64_t now, uint64_t wall_ms, struct um_relay_client_output *out)
{
	struct um_handshake_time t = {.mono_ns = now, .wall_ms = wall_ms};

	out->n_datagrams = 0;
	out->event = UM_RELAY_CLIENT_EVENT_NONE;
	if (c->queue->n) {
		struct um_relay_client_queue *q = c->queue;
		out->uplink = q->uplink;
		out->n_datagrams = q->n;
		memcpy(out->lengths, q->lengths, sizeof(q->lengths[0]) * q->n);
		for (unsigned k = 0; k < q->n; k++)
			memcpy(out->datagrams[k], q->datagrams[k], q->lengths[k]);
		q->n = 0;
		return 1;
	}
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		struct um_relay_client_uplink *u = &c->uplinks[i];
		/* A fresh session's REGISTER, then challenge echoes: they bind
		 * our endpoint at the relay, and REGISTERED events make the
		 * caller forward through it. */
		if (u->register_due && u->next.valid &&
		    (u->state == UM_RELAY_CLIENT_REGISTERING ||
		     (u->state == UM_RELAY_CLIENT_REGISTERED && u->refreshing))) {
			send_register(c, i, now, out);
			if (u->state == UM_RELAY_CLIENT_REGISTERING)
				u->due_ns = now + register_retry_ns(u);
			return 1;
		}
		if (u->echo_due && u->state == UM_RELAY_CLIENT_REGISTERED) {
			send_keepalive(c, i, now, out);
			if (u->echo_resends < ECHO_RESENDS_MAX && now + echo_retry_ns(u) < u->due_ns)
				u->due_ns = now + echo_retry_ns(u);
			if (out->n_datagrams)
				return 1;
		}
		if (u->n_requests && u->state == UM_RELAY_CLIENT_REGISTERED && u->cur.valid) {
			send_request(c, i, out);
			if (out->n_datagrams)
				return 1;
		}
		if (refresh_due(u, now)) {
			start_handshake(c, i, now, wall_ms, out);
			if (!u->hs_running)
				u->refreshing = false;
			if (out->n_datagrams)
				return 1;
		}
		/* The handshake engine's own timers (retransmissions, timeout). */
		while (um_handshake_tick(u->hs, t, c->hs_out) > 0) {
			out->n_datagrams = um_relay_client_wrap(c->hs_out, out->datagrams, out->lengths);
			out->uplink = i;
			um_relay_client_hs_event(c, i, now);
			um_handshake_output_wipe(c->hs_out);
			if (out->n_datagrams)
				return 1;
		}
	}
	if (pop_event(c, out))
		return 1;
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		if (c->uplinks[i].due_ns > now)
			continue;
		uplink_due(c, i, now, wall_ms, out);
		if (out->n_datagrams)
			return 1;
	}
	return pop_event(c, out) ? 1 : 0;
}

uint64_t um_relay_client_next_deadline(const struct um_relay_client *c)
{
	uint64_t next = NEVER;

	if (c->event_count || c->queue->n)
		return 0;
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		const struct um_relay_client_uplink *u = &c->uplinks[i];
		if ((u->register_due && u->next.valid) ||
		    ((u->echo_due || u->n_requests) && u->state == UM_RELAY_CLIENT_REGISTERED))
			return 0;
		if (u->state == UM_RELAY_CLIENT_REGISTERED && u->refreshing && !u->hs_running && !u->next.valid) {
			uint64_t at = u->registered_before ? u->last_register_ns + REREGISTER_GAP_NS : 0;
			if (at < next)
				next = at;
		}
		if (u->due_ns < next)
			next = u->due_ns;
		uint64_t hs = um_handshake_next_deadline(u->hs);
		if (hs < next)
			next = hs;
	}
	return next;
}
