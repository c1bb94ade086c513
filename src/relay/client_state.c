/* SPDX-License-Identifier: MIT */
/* The relay client's uplink states: the one setter and its events, a
 * restart, and the choice of home and backup among the registered uplinks
 * (the parking of the rest). client.c and client_input.c call down into
 * this file, never the other way: a restart chooses a new home and the
 * choice may restart an uplink, so both live here. */
#include <sodium.h>
#include <string.h>

#include "relay/client.h"
#include "relay/client_internal.h"
#include "util/error.h"

#define NEVER UINT64_MAX

void um_relay_client_session_wipe(struct um_relay_client_session *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* ---- events ---- */

/* Queues an event for the next tick; the entry is returned for details
 * (the overflow entry when the queue is full: the event is counted and lost). */
struct um_relay_client_event_entry *um_relay_client_push_event(struct um_relay_client *c,
							       enum um_relay_client_event type, unsigned uplink)
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
int um_relay_client_set_state(struct um_relay_client *c, unsigned i, enum um_relay_client_state to)
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
	struct um_relay_client_event_entry *e = um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_STATE, i);
	e->old_state = from;
	e->new_state = to;
	return 0;
}

void um_relay_client_restart(struct um_relay_client *c, unsigned i, uint64_t now)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];
	bool was_usable = um_relay_client_usable(c, i);

	if (um_relay_client_set_state(c, i, UM_RELAY_CLIENT_REGISTERING))
		return;
	um_relay_client_session_wipe(&u->cur);
	um_relay_client_session_wipe(&u->next);
	u->refreshing = u->register_due = false;
	u->n_requests = 0;
	u->ka_outstanding = false;
	u->ka_missed = 0;
	u->register_attempts = 0;
	u->due_ns = now;
	if (was_usable)
		um_relay_client_choose_home(c, now);
}

/* Drops an initiation in flight: its retransmissions would go out over a
 * connection that is gone. The peer entry is made anew (its RTT history
 * goes with it). */
void um_relay_client_abort_handshake(struct um_relay_client *c, unsigned i)
{
	struct um_relay_client_uplink *u = &c->uplinks[i];

	if (!u->hs_running || !u->hs_peer)
		return;
	um_handshake_peer_remove(u->hs, u->hs_peer);
	if (um_handshake_peer_add(u->hs, &u->relay_id, NULL, &u->hs_peer) < 0)
		u->hs_peer = NULL; /* start_handshake tries again */
	u->hs_running = false;
}

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

/* Another registered uplink reaches the same relay (the same relay ID,
 * e.g. its UDP and wss:// lines) and goes first (UDP, else the lower
 * index). The relay holds one registration per node, so two uplinks to it
 * would replace each other's session: the second one stays parked. */
bool um_relay_client_twin_registered(const struct um_relay_client *c, unsigned i)
{
	const struct um_relay_client_uplink *u = &c->uplinks[i];
	for (unsigned j = 0; j < c->n_uplinks && u->has_relay_id; j++) {
		const struct um_relay_client_uplink *t = &c->uplinks[j];
		if (j == i || t->state != UM_RELAY_CLIENT_REGISTERED || !t->has_relay_id ||
		    memcmp(t->relay_id.bytes, u->relay_id.bytes, UM_PEER_ID_BYTES))
			continue;
		if ((!t->stream && u->stream) || (t->stream == u->stream && j < i))
			return true;
	}
	return false;
}

void um_relay_client_choose_home(struct um_relay_client *c, uint64_t now)
{
	int home = -1, backup = -1, old_home = c->home, old_backup = c->backup;

	for (unsigned i = 0; i < c->n_uplinks; i++) {
		if (!um_relay_client_usable(c, i) || um_relay_client_twin_registered(c, i))
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
		    um_relay_client_push_event(c, UM_RELAY_CLIENT_EVENT_HOME, home >= 0 ? (unsigned)home : 0);
		e->home = home;
		e->backup = backup;
		e->old_home = old_home;
	}
	/* Park what is neither home nor backup once both exist; wake the
	 * parked ones when either is missing. */
	for (unsigned i = 0; i < c->n_uplinks; i++) {
		struct um_relay_client_uplink *u = &c->uplinks[i];
		bool twin = um_relay_client_twin_registered(c, i);
		if (u->state == UM_RELAY_CLIENT_REGISTERED && (int)i != home && (int)i != backup &&
		    (backup >= 0 || twin)) {
			um_relay_client_set_state(c, i, UM_RELAY_CLIENT_STANDBY);
			u->due_ns = NEVER;
		} else if (u->state == UM_RELAY_CLIENT_REGISTERING && u->stream && twin) {
			/* The race of a slow UDP answer with the fallback, lost by
			 * the wss:// line after it connected: its handshake would
			 * replace the UDP line's session at the relay (one entry
			 * per node), and the UDP line's refresh would replace it
			 * back. It waits, connected, as if it had connected late. */
			um_relay_client_abort_handshake(c, i);
			um_relay_client_session_wipe(&u->next);
			u->register_due = false;
			u->n_requests = 0;
			u->due_ns = NEVER;
			um_relay_client_set_state(c, i, UM_RELAY_CLIENT_IDLE);
		} else if (u->state == UM_RELAY_CLIENT_IDLE && u->stream && u->transport_open && !twin && backup < 0) {
			um_relay_client_restart(c, i, now); /* connected while its twin was registered */
		} else if (u->state == UM_RELAY_CLIENT_STANDBY && backup < 0 && !twin) {
			u->register_attempts = 0;
			if (u->stream && !u->transport_open) {
				um_relay_client_set_state(c, i, UM_RELAY_CLIENT_IDLE); /* registers when connected */
				u->due_ns = NEVER;
				continue;
			}
			um_relay_client_set_state(c, i, UM_RELAY_CLIENT_REGISTERING);
			u->due_ns = now;
		}
	}
}
