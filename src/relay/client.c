/* SPDX-License-Identifier: MIT */
#include "relay/client.h"

#include <sodium.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

#define REGISTER_RETRY_BASE_NS (1 * UM_NSEC_PER_SEC)
#define REGISTER_RETRY_MAX_NS  (8 * UM_NSEC_PER_SEC)
#define REGISTER_WARN_ATTEMPTS 3
#define REREGISTER_GAP_NS      UM_NSEC_PER_SEC
#define KEEPALIVE_DEFAULT_S    25
#define KEEPALIVE_MISSES       3
/* A UDP registration is one round trip plus a signature check: 0.5 s covers
 * relays up to ~400 ms away and keeps the first packet of a UDP-blocked
 * node within about a second (TLS set-up and registration add ~4 RTTs). */
#define FALLBACK_DELAY_NS        (500 * UM_NSEC_PER_MSEC)
#define FALLBACK_CHECK_NS        (5 * UM_NSEC_PER_SEC)
#define STREAM_REGISTER_ATTEMPTS 4 /* then a new connection */
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

/* ---- events ---- */

/* Queues an event for the next tick; the entry is returned for details
 * (the overflow entry when the queue is full: the event is counted and lost). */
static struct um_relay_client_event_entry *push_event(struct um_relay_client *c, enum um_relay_client_event type,
						      unsigned uplink)
{
	struct um_relay_client_event_entry *e = &c->event_overflow;

	if (c->event_count < UM_RELAY_CLIENT_MAX_EVENTS) {
		e = &c->events[(c->event_head + c->event_count) % UM_RELAY_CLIENT_MAX_EVENTS];
		c->event_count++;
	} else {
		c->stats.events_dropped++;
	}
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->uplink = uplink;
	return e;
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

/* ---- the one state setter ---- */

static bool transition_allowed(const struct um_relay_client_uplink *u, enum um_relay_client_state from,
			       enum um_relay_client_state to)
{
	switch (to) {
	case UM_RELAY_CLIENT_IDLE:
		return u->stream; /* only a transport that can go away leaves a UDP uplink idle */
	case UM_RELAY_CLIENT_REGISTERING:
		/* From IDLE only once there is something to register over. */
		return from != UM_RELAY_CLIENT_IDLE || !u->stream || u->transport_open;
	case UM_RELAY_CLIENT_REGISTERED:
		return from == UM_RELAY_CLIENT_REGISTERING;
	case UM_RELAY_CLIENT_STANDBY:
		return from == UM_RELAY_CLIENT_REGISTERED;
	}
	return false;
}

/* Every change of an uplink's state goes through here: an illegal one is
 * refused (-UM_ESTATE) and counted, a legal one counted and reported as
 * old -> new. Setting the current state again is a no-op. */
static int set_state(struct um_relay_client *c, unsigned i, enum um_relay_client_state to)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	enum um_relay_client_state from = u->state;

	if (from == to)
		return 0;
	if (!transition_allowed(u, from, to)) {
		c->stats.illegal_transitions++;
		return -UM_ESTATE;
	}
	u->state = to;
	u->transitions++;
	struct um_relay_client_event_entry *e = push_event(c, UM_RELAY_CLIENT_EVENT_STATE, i);
	e->old_state = from;
	e->new_state = to;
	return 0;
}

/* ---- home selection ---- */

bool um_relay_client_usable(const struct um_relay_client *c, unsigned i)
{
	return i < c->n_uplinks && c->uplinks[i].state == UM_RELAY_CLIENT_REGISTERED;
}

int um_relay_client_next_registered(const struct um_relay_client *c, unsigned uplink)
{
	for (unsigned step = 1; step <= c->n_uplinks; step++) {
		unsigned next = (uplink + step) % c->n_uplinks;
		if (um_relay_client_usable(c, next))
			return (int)next;
	}
	return -1;
}

/* Home order: any UDP uplink before a wss:// one (TCP adds head-of-line
 * blocking and overhead), then the lower RTT. */
static bool ranks_before(const struct um_relay_client_uplink *a, const struct um_relay_client_uplink *b)
{
	if (a->stream != b->stream)
		return !a->stream;
	return a->rtt_ns < b->rtt_ns;
}

static void choose_home(struct um_relay_client *c, uint64_t now)
{
	int home = -1, backup = -1, old_home = c->home, old_backup = c->backup;

	for (unsigned i = 0; i < c->n_uplinks; i++) {
		if (!um_relay_client_usable(c, i))
			continue;
		if (home < 0 || ranks_before(&c->uplinks[i], &c->uplinks[home])) {
			backup = home;
			home = (int)i;
		} else if (backup < 0 || ranks_before(&c->uplinks[i], &c->uplinks[backup])) {
			backup = (int)i;
		}
	}
	/* Hysteresis: a new home must be 20% faster, so close RTTs do not flap. */
	if (old_home >= 0 && home >= 0 && home != old_home && um_relay_client_usable(c, (unsigned)old_home) &&
	    c->uplinks[home].stream == c->uplinks[old_home].stream &&
	    c->uplinks[home].rtt_ns * 5 / 4 >= c->uplinks[old_home].rtt_ns) {
		if (backup == old_home)
			backup = home;
		home = old_home;
	}
	c->home = home;
	c->backup = backup;
	if (home != old_home || backup != old_backup) {
		struct um_relay_client_event_entry *e =
		    push_event(c, UM_RELAY_CLIENT_EVENT_HOME, home >= 0 ? (unsigned)home : 0);
		e->home = home;
		e->backup = backup;
		e->old_home = old_home;
	}
	/* Park what is neither home nor backup once both exist; wake the
	 * parked ones when either is missing. */
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		struct um_relay_client_uplink *u = &c->uplinks[i];
		if (u->state == UM_RELAY_CLIENT_REGISTERED && backup >= 0 && (int)i != home && (int)i != backup) {
			set_state(c, i, UM_RELAY_CLIENT_STANDBY);
			u->due_ns = NEVER;
		} else if (u->state == UM_RELAY_CLIENT_STANDBY && backup < 0) {
			u->register_attempts = 0;
			if (u->stream && !u->transport_open) {
				set_state(c, i, UM_RELAY_CLIENT_IDLE); /* registers when connected */
				u->due_ns = NEVER;
				continue;
			}
			set_state(c, i, UM_RELAY_CLIENT_REGISTERING);
			u->due_ns = now;
		}
	}
}

/* ---- registration and keepalives ---- */

static void start_registration(struct um_relay_client *c, unsigned i, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	bool was_usable = um_relay_client_usable(c, i);

	if (set_state(c, i, UM_RELAY_CLIENT_REGISTERING))
		return;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->register_attempts = 0;
	u->due_ns = now;
	if (was_usable)
		choose_home(c, now);
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
	set_state(c, i, UM_RELAY_CLIENT_IDLE);
	push_event(c, UM_RELAY_CLIENT_EVENT_RECONNECT, i);
	if (was_usable)
		choose_home(c, now);
}

static void send_register(struct um_relay_client *c, unsigned i, uint64_t now, uint64_t wall_ms,
			  struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	uint32_t message_id;

	randombytes_buf(u->nonce, sizeof(u->nonce));
	randombytes_buf(u->ephemeral_secret, sizeof(u->ephemeral_secret));
	crypto_scalarmult_base(u->ephemeral_public, u->ephemeral_secret);
	u->last_register_ns = now;
	u->registered_before = true;
	int len = um_relay_register_build(c->register_buf, sizeof(c->register_buf), c->identity, wall_ms, u->nonce,
					  u->ephemeral_public, true, c->has_admission_key ? c->admission_key : NULL);
	if (len < 0) {
		c->stats.register_failures++;
		return;
	}
	randombytes_buf(&message_id, sizeof(message_id));
	unsigned count = um_fragment_count((size_t)len);
	for (unsigned k = 0; k < count && k < UM_RELAY_CLIENT_MAX_DATAGRAMS; k++) {
		int n = um_fragment_encode(out->datagrams[k], sizeof(out->datagrams[k]), UM_MSG_RELAY_REGISTER, 0,
					   message_id, c->register_buf, (size_t)len, k);
		if (n < 0) {
			out->n_datagrams = 0;
			c->stats.register_failures++;
			return;
		}
		out->lengths[k] = (uint16_t)n;
		out->n_datagrams = k + 1;
	}
	out->uplink = i;
	u->register_unstamped = true;
	u->register_attempts++;
}

static void send_keepalive(struct um_relay_client *c, unsigned i, uint64_t now, struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_keepalive k = {.id = c->identity->id, .sequence = ++u->ka_sequence};

	if (u->echo_due) {
		k.flags = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
		memcpy(k.challenge, u->echo, sizeof(k.challenge));
		u->echo_due = false;
	}
	int n = um_relay_keepalive_encode(out->datagrams[0], sizeof(out->datagrams[0]), &k, u->key);
	if (n < 0)
		return;
	um_relay_datagram_hash(u->ka_hash, out->datagrams[0], (size_t)n);
	out->lengths[0] = (uint16_t)n;
	out->n_datagrams = 1;
	out->uplink = i;
	u->ka_sent_ns = now;
	u->ka_outstanding = true;
}

/* Uplink i's timed work is due. */
static void uplink_due(struct um_relay_client *c, unsigned i, uint64_t now, uint64_t wall_ms,
		       struct um_relay_client_output *out)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];

	u->due_ns = NEVER;
	switch (u->state) {
	case UM_RELAY_CLIENT_REGISTERING: {
		/* At most one REGISTER per second, whatever started it (each
		 * costs a signature here and a verification at the relay). */
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
			push_event(c, UM_RELAY_CLIENT_EVENT_NO_ANSWER, i);
		send_register(c, i, now, wall_ms, out);
		/* Jitter (up to 1/8) so nodes restarted together spread out. */
		u->due_ns = now + delay + randombytes_uniform((uint32_t)(delay / 8 / 1000)) * 1000ULL;
		return;
	}
	case UM_RELAY_CLIENT_REGISTERED:
		if (u->ka_outstanding && ++u->ka_missed >= KEEPALIVE_MISSES) {
			struct um_relay_client_event_entry *e = push_event(c, UM_RELAY_CLIENT_EVENT_RELAY_LOST, i);
			e->missed = u->ka_missed;
			if (u->stream)
				reconnect(c, i, now); /* registers when connected again */
			else
				start_registration(c, i, now);
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

/* wss:// uplinks wait while some UDP uplink is registered (or parked). */
static void fallback_check(struct um_relay_client *c, uint64_t now)
{
	c->fallback_due_ns = NEVER;
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		const struct um_relay_client_uplink *u = &c->uplinks[i];
		if (!u->stream && (u->state == UM_RELAY_CLIENT_REGISTERED || u->state == UM_RELAY_CLIENT_STANDBY)) {
			c->fallback_due_ns = now + FALLBACK_CHECK_NS;
			return; /* UDP works */
		}
	}
	/* Opened for good: nothing left to check. */
	push_event(c, UM_RELAY_CLIENT_EVENT_OPEN_STREAMS, 0);
}

/* A REGISTER returned by the previous tick has been sent by now. */
static void stamp_registers(struct um_relay_client *c, uint64_t now)
{
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		struct um_relay_client_uplink *u = &c->uplinks[i];
		if (u->register_unstamped) {
			u->register_sent_ns = now;
			u->register_unstamped = false;
		}
	}
}

/* ---- input ---- */

static int on_ack(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_register_ack ack;

	int r = um_relay_register_ack_decode(&ack, data, len);
	if (r)
		return r;
	if (u->state != UM_RELAY_CLIENT_REGISTERING)
		return -UM_ESTATE;
	if (sodium_memcmp(ack.nonce, u->nonce, sizeof(u->nonce)))
		return -UM_EBADMSG; /* stale or forged */
	uint8_t key[UM_RELAY_KEY_BYTES];
	if (um_relay_registration_key(key, u->ephemeral_secret, ack.ephemeral, u->ephemeral_public, ack.ephemeral,
				      u->nonce, &c->identity->id) != 0 ||
	    um_relay_mac_check(data, len, key) != 0) {
		sodium_memzero(key, sizeof(key));
		return -UM_EBADMSG; /* not from the relay that took our REGISTER */
	}
	memcpy(u->key, key, sizeof(u->key));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(u->ephemeral_secret, sizeof(u->ephemeral_secret));
	memcpy(u->echo, ack.challenge, sizeof(u->echo));
	u->echo_due = true;
	u->ka_sequence = 0;
	uint64_t keepalive =
	    (ack.keepalive_interval_s ? ack.keepalive_interval_s : KEEPALIVE_DEFAULT_S) * UM_NSEC_PER_SEC;
	if (c->keepalive_max_ns && c->keepalive_max_ns < keepalive)
		keepalive = c->keepalive_max_ns;
	/* The registration's round trip includes the relay's signature check,
	 * so it is only a first estimate; keepalives refine it. */
	uint64_t sample = now - u->register_sent_ns;
	if (!u->rtt_ns || sample < u->rtt_ns)
		u->rtt_ns = sample;
	u->keepalive_ns = keepalive;
	/* Over TLS the relay sees a name for the connection, not an endpoint
	 * anyone could punch to: no reflexive candidate from it. */
	if (!u->stream)
		u->observed = ack.observed;
	set_state(c, i, UM_RELAY_CLIENT_REGISTERED);
	u->registered_ns = u->last_reply_ns = now;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->registrations++;
	struct um_relay_client_event_entry *e = push_event(c, UM_RELAY_CLIENT_EVENT_REGISTERED, i);
	e->observed = ack.observed;
	e->keepalive_ns = keepalive;
	/* The echo goes out at the next tick, before the events (so the
	 * relay binds us before we forward anything). */
	u->due_ns = now + keepalive;
	choose_home(c, now);
	return 0;
}

static int on_keepalive(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_keepalive k;

	int r = um_relay_keepalive_decode(&k, data, len);
	if (r)
		return r;
	if (!(k.flags & UM_RELAY_KEEPALIVE_FLAG_REPLY))
		return -UM_EINVAL;
	if (u->state != UM_RELAY_CLIENT_REGISTERED || !u->ka_outstanding)
		return -UM_ESTATE;
	if (k.sequence != u->ka_sequence || memcmp(k.id.bytes, c->identity->id.bytes, UM_PEER_ID_BYTES) ||
	    um_relay_mac_check(data, len, u->key) != 0)
		return -UM_EBADMSG;
	if (k.flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE) {
		/* The relay saw us at a new endpoint: echo from there. */
		memcpy(u->echo, k.challenge, sizeof(u->echo));
		u->echo_due = true;
	}
	uint64_t sample = now - u->ka_sent_ns;
	u->rtt_ns = u->rtt_ns ? (u->rtt_ns * 7 + sample) / 8 : sample;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->last_reply_ns = now;
	if (!u->stream && !um_addr_equal(&u->observed, &k.observed)) {
		u->observed = k.observed;
		push_event(c, UM_RELAY_CLIENT_EVENT_OBSERVED, i)->observed = k.observed;
	}
	choose_home(c, now);
	return 0;
}

static int on_error(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	struct um_relay_error err;
	struct um_relay_client_event_entry *e;

	int r = um_relay_error_decode(&err, data, len);
	if (r)
		return r;
	u->errors++;
	switch (err.code) {
	case UM_RELAY_ERR_VERSION:
		/* Also unauthenticated; it changes no state, only tells the user. */
		e = push_event(c, UM_RELAY_CLIENT_EVENT_RELAY_ERROR, i);
		e->code = err.code;
		return 0;
	case UM_RELAY_ERR_NOT_REGISTERED:
		/* Relay restarted or expired us. Only an answer to our last
		 * keepalive counts: its ref is that keepalive's hash, which an
		 * off-path sender never saw. (uplink_due spaces REGISTERs by 1 s.) */
		if (u->state != UM_RELAY_CLIENT_REGISTERED || !u->ka_outstanding)
			return -UM_ESTATE; /* no keepalive of ours it could answer */
		if (sodium_memcmp(err.ref, u->ka_hash, sizeof(u->ka_hash)) != 0)
			return -UM_EBADMSG;
		push_event(c, UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, i);
		start_registration(c, i, now); /* when registering already: over again now, fresh backoff */
		return 0;
	case UM_RELAY_ERR_UNKNOWN_PEER:
		u->unknown_peer++;
		e = push_event(c, UM_RELAY_CLIENT_EVENT_UNKNOWN_PEER, i);
		memcpy(e->peer.bytes, err.ref, UM_PEER_ID_BYTES);
		return 0;
	default:
		e = push_event(c, UM_RELAY_CLIENT_EVENT_RELAY_ERROR, i);
		e->code = err.code;
		e->retry_after_s = err.retry_after_s;
		return 0;
	}
}

int um_relay_client_input(struct um_relay_client *c, unsigned i, const uint8_t *data, size_t len, uint64_t now)
{
	int r;

	if (i >= c->n_uplinks || len == 0)
		return -UM_EINVAL;
	stamp_registers(c, now);
	switch (data[0]) {
	case UM_MSG_RELAY_REGISTER_ACK:
		r = on_ack(c, i, data, len, now);
		break;
	case UM_MSG_RELAY_KEEPALIVE:
		r = on_keepalive(c, i, data, len, now);
		break;
	case UM_MSG_RELAY_ERROR:
		r = on_error(c, i, data, len, now);
		break;
	default:
		r = -UM_EINVAL; /* REGISTER, FORWARD(ED): not ours to handle */
		break;
	}
	if (r == -UM_EBADMSG || r == -UM_ESTATE)
		c->uplinks[i].ignored++;
	return r;
}

/* ---- lifecycle ---- */

int um_relay_client_init(struct um_relay_client *c, const struct um_relay_client_config *config)
{
	if (!config->identity || config->n_uplinks > UM_RELAY_CLIENT_MAX_UPLINKS)
		return -UM_EINVAL;
	memset(c, 0, sizeof(*c));
	c->identity = config->identity;
	if (config->admission_key) {
		memcpy(c->admission_key, config->admission_key, sizeof(c->admission_key));
		c->has_admission_key = true;
	}
	c->keepalive_max_ns = config->keepalive_max_ns;
	c->n_uplinks = config->n_uplinks;
	c->home = c->backup = -1;
	c->fallback_due_ns = NEVER;
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		c->uplinks[i].state = UM_RELAY_CLIENT_IDLE;
		c->uplinks[i].stream = config->stream[i];
		c->uplinks[i].due_ns = NEVER;
	}
	return 0;
}

void um_relay_client_start(struct um_relay_client *c, uint64_t now)
{
	unsigned n_stream = 0;

	for (unsigned i = 0; i < c->n_uplinks; i++) {
		if (c->uplinks[i].stream)
			n_stream++;
		else
			start_registration(c, i, now);
	}
	if (n_stream)
		c->fallback_due_ns = n_stream == c->n_uplinks ? now : now + FALLBACK_DELAY_NS;
}

int um_relay_client_transport_up(struct um_relay_client *c, unsigned i, uint64_t now)
{
	if (i >= c->n_uplinks)
		return -UM_EINVAL;
	stamp_registers(c, now);
	if (!c->uplinks[i].stream) {
		c->stats.illegal_transitions++;
		return -UM_EINVAL;
	}
	c->uplinks[i].transport_open = true;
	start_registration(c, i, now);
	return 0;
}

int um_relay_client_transport_down(struct um_relay_client *c, unsigned i, uint64_t now)
{
	if (i >= c->n_uplinks)
		return -UM_EINVAL;
	struct um_relay_client_uplink *u = &c->uplinks[i];
	bool was_usable = um_relay_client_usable(c, i);

	stamp_registers(c, now);
	int r = set_state(c, i, UM_RELAY_CLIENT_IDLE);
	if (r)
		return -UM_EINVAL; /* a UDP uplink has no transport to lose */
	u->transport_open = false;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->register_attempts = 0;
	u->due_ns = NEVER;
	if (was_usable)
		choose_home(c, now);
	return 0;
}

int um_relay_client_tick(struct um_relay_client *c, uint64_t now, uint64_t wall_ms, struct um_relay_client_output *out)
{
	out->n_datagrams = 0;
	out->event = UM_RELAY_CLIENT_EVENT_NONE;
	stamp_registers(c, now);
	/* Challenge echoes first: they bind our endpoint at the relay, and
	 * REGISTERED events make the caller forward through it. */
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		if (c->uplinks[i].echo_due && c->uplinks[i].state == UM_RELAY_CLIENT_REGISTERED) {
			send_keepalive(c, i, now, out);
			if (out->n_datagrams)
				return 1;
		}
	}
	if (pop_event(c, out))
		return 1;
	if (c->fallback_due_ns <= now)
		fallback_check(c, now);
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
	uint64_t next = c->fallback_due_ns;

	if (c->event_count)
		return 0;
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		if (c->uplinks[i].register_unstamped ||
		    (c->uplinks[i].echo_due && c->uplinks[i].state == UM_RELAY_CLIENT_REGISTERED))
			return 0;
		if (c->uplinks[i].due_ns < next)
			next = c->uplinks[i].due_ns;
	}
	return next;
}
