/* SPDX-License-Identifier: MIT */
/* The world of test_client.c: the relay client engine on a fake clock
 * against real relay cores (relay/relay.c) in memory, replies in flight
 * delivered in order of arrival. Static: included by one test only. */
#ifndef UM_TEST_CLIENT_WORLD_H
#define UM_TEST_CLIENT_WORLD_H

#include <sodium.h>
#include <stdlib.h>

#include "relay/client.h"
#include "relay_harness.h"
#include "test.h"
#include "util/error.h"

#define MS          1000000ULL
#define SEC         1000000000ULL
#define T0          (1000 * SEC) /* monotonic start: far from 0, as on a real host */
#define WALL        1700000000000ULL
#define MAX_RELAYS  3
#define MAX_PENDING 64
#define MAX_EVENTS  256

static struct um_identity identity, relay_identity[MAX_RELAYS], other_identity;

struct pending {
	unsigned uplink;
	uint64_t at;
	size_t len;
	uint8_t data[UM_RELAY_HANDSHAKE_MAX_BYTES];
};

/* The world: the engine, one relay core per uplink, replies in flight. */
struct world {
	struct um_relay_client client;
	struct um_relay_client_output out;
	struct um_relay relays[MAX_RELAYS];
	bool relay_up[MAX_RELAYS];
	bool relay_silent[MAX_RELAYS]; /* takes datagrams, answers nothing */
	uint64_t delay[MAX_RELAYS];    /* one way */
	unsigned n;
	uint64_t now;
	struct pending pending[MAX_PENDING];
	unsigned n_pending;
	struct um_relay_client_event_entry events[MAX_EVENTS];
	unsigned n_events;
	uint64_t register_times[MAX_RELAYS][16]; /* each attempt (ID request or handshake) */
	unsigned n_registers[MAX_RELAYS];
	uint64_t last_register[MAX_RELAYS];
	unsigned hellos[MAX_RELAYS];
	unsigned keepalives_sent[MAX_RELAYS];
	unsigned keepalives_at_lost[MAX_RELAYS]; /* keepalives_sent when RELAY_LOST came */
	struct pending last_in[MAX_RELAYS];      /* the last datagram delivered to the client */
	struct um_addr node;                     /* family 0: the default */
	unsigned target[MAX_RELAYS];             /* the relay core uplink i reaches (default i) */
	unsigned drop_response_pieces;           /* that many first pieces of RESPONSEs lost */
	unsigned drop_sealed;                    /* that many sealed datagrams (REGISTER, LOOKUP...) lost */
	uint64_t drop_established_until;         /* the relay's ESTABLISHEDs lost until then */
};

static struct world *w;

/* Where the node's datagrams come from (a NAT may change it). */
static struct um_addr node_addr(void)
{
	return w && w->node.family ? w->node : harness_endpoint(2, 40000);
}

static void relay_init(unsigned i, const struct um_identity *id)
{
	struct um_relay_config rc;
	um_relay_default_config(&rc);
	rc.max_nodes = 16;
	rc.identity = id;
	CHECK_EQ(um_relay_init(&w->relays[i], &rc), 0);
}

/* pinned: the client knows the relays' IDs (else it learns them). */
static void world_new_ids(unsigned n, const bool *stream, uint64_t keepalive_max_ns, bool pinned)
{
	struct um_relay_client_config cc = {
	    .identity = &identity, .keepalive_max_ns = keepalive_max_ns, .n_uplinks = n};

	w = calloc(1, sizeof(*w));
	w->n = n;
	w->now = T0;
	for (unsigned i = 0; i < n; i++) {
		cc.stream[i] = stream ? stream[i] : false;
		cc.has_relay_id[i] = pinned;
		cc.relay_id[i] = relay_identity[i].id;
		relay_init(i, &relay_identity[i]);
		w->target[i] = i;
		w->relay_up[i] = true;
		w->delay[i] = 5 * MS;
	}
	CHECK_EQ(um_relay_client_init(&w->client, &cc), 0);
}

static void world_new(unsigned n, const bool *stream, uint64_t keepalive_max_ns)
{
	world_new_ids(n, stream, keepalive_max_ns, true);
}

static void world_free(void)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->relay_up[i])
			um_relay_destroy(&w->relays[i]);
	um_relay_client_destroy(&w->client);
	free(w);
	w = NULL;
}

/* A relay restart: it forgets every registration (same identity, unless
 * another is given). */
static void relay_restart_as(unsigned i, const struct um_identity *id)
{
	um_relay_destroy(&w->relays[i]);
	relay_init(i, id);
}

static void relay_restart(unsigned i)
{
	relay_restart_as(i, &relay_identity[i]);
}

static void to_relay(unsigned i, const uint8_t *data, size_t len)
{
	struct um_addr from = node_addr();
	struct um_relay_output ro;
	uint8_t copy[UM_RELAY_HANDSHAKE_MAX_BYTES];

	if (len >= 2 && data[0] == UM_MSG_RELAY_HANDSHAKE && data[1] == UM_MSG_HELLO)
		w->hellos[i]++;
	if (w->drop_response_pieces && len >= 4 && data[0] == UM_MSG_RELAY_HANDSHAKE && data[1] == UM_MSG_FRAGMENT &&
	    data[2] == UM_MSG_RESPONSE && data[3] == 0) {
		w->drop_response_pieces--;
		return;
	}
	if (w->drop_sealed && len >= 1 && data[0] == UM_MSG_RELAY_SEALED) {
		w->drop_sealed--;
		return;
	}
	unsigned r = w->target[i];
	if (!w->relay_up[r])
		return;
	memcpy(copy, data, len);
	uint64_t arrive = w->now + w->delay[i];
	if (w->client.uplinks[i].stream) /* over TLS the relay sees a connection, not our address */
		from = harness_endpoint(200 + i, 443);
	int rc = um_relay_input(&w->relays[r], &from, copy, len, arrive, WALL + (arrive - T0) / MS, &ro);
	if (rc != 1 || w->relay_silent[i])
		return;
	ro.to = from;
	CHECK(um_addr_equal(&ro.to, &from));
	for (unsigned k = 0; k < ro.count && w->n_pending < MAX_PENDING; k++) {
		if (arrive < w->drop_established_until && ro.lengths[k] >= 2 &&
		    ro.datagrams[k][0] == UM_MSG_RELAY_HANDSHAKE && ro.datagrams[k][1] == UM_MSG_ESTABLISHED)
			continue;
		struct pending *p = &w->pending[w->n_pending++];
		p->uplink = i;
		p->at = arrive + w->delay[i];
		p->len = ro.lengths[k];
		memcpy(p->data, ro.datagrams[k], ro.lengths[k]);
	}
}

/* What a glue does after every input: tick until nothing is left. */
static void drain(void)
{
	uint64_t seq[MAX_RELAYS];
	for (;;) {
		for (unsigned i = 0; i < w->n; i++)
			seq[i] = w->client.uplinks[i].ka_sequence;
		if (um_relay_client_tick(&w->client, w->now, WALL + (w->now - T0) / MS, &w->out) <= 0)
			break;
		for (unsigned i = 0; i < w->n; i++) {
			const struct um_relay_client_uplink *u = &w->client.uplinks[i];
			if (u->ka_sequence != seq[i] && u->ka_sequence)
				w->keepalives_sent[i]++;
			if (u->registered_before && u->last_register_ns != w->last_register[i]) {
				w->last_register[i] = u->last_register_ns;
				if (w->n_registers[i] < 16)
					w->register_times[i][w->n_registers[i]] = u->last_register_ns;
				w->n_registers[i]++;
			}
		}
		for (unsigned k = 0; k < w->out.n_datagrams; k++)
			to_relay(w->out.uplink, w->out.datagrams[k], w->out.lengths[k]);
		if (w->out.event == UM_RELAY_CLIENT_EVENT_RELAY_LOST)
			w->keepalives_at_lost[w->out.uplink] = w->keepalives_sent[w->out.uplink];
		if (w->out.event != UM_RELAY_CLIENT_EVENT_NONE && w->n_events < MAX_EVENTS)
			w->events[w->n_events++] = w->out.detail;
	}
}

/* Runs the world (replies delivered in order of arrival) up to `until`. */
static void run_until(uint64_t until)
{
	for (;;) {
		uint64_t next = um_relay_client_next_deadline(&w->client);
		unsigned first = MAX_PENDING;
		for (unsigned k = 0; k < w->n_pending; k++)
			if (first == MAX_PENDING || w->pending[k].at < w->pending[first].at)
				first = k;
		if (first != MAX_PENDING && w->pending[first].at < next)
			next = w->pending[first].at;
		if (next > until)
			break;
		if (next > w->now)
			w->now = next;
		if (first != MAX_PENDING && w->pending[first].at <= w->now) {
			struct pending p = w->pending[first];
			/* Keep the rest in order: datagrams sent together arrive in
			 * the order sent (a parity piece after the data pieces). */
			memmove(&w->pending[first], &w->pending[first + 1], (--w->n_pending - first) * sizeof(p));
			w->last_in[p.uplink] = p;
			um_relay_client_input(&w->client, p.uplink, p.data, p.len, w->now, WALL + (w->now - T0) / MS);
		}
		drain();
	}
	w->now = until;
}

static void start(void)
{
	um_relay_client_start(&w->client, w->now);
	drain();
}

static unsigned count_events(enum um_relay_client_event type, int uplink)
{
	unsigned n = 0;
	for (unsigned k = 0; k < w->n_events; k++)
		if (w->events[k].type == type && (uplink < 0 || w->events[k].uplink == (unsigned)uplink))
			n++;
	return n;
}

static enum um_relay_client_state state(unsigned i)
{
	return w->client.uplinks[i].state;
}

#endif
