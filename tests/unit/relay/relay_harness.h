/* SPDX-License-Identifier: MIT */
/* Shared by the relay tests and benchmarks: deterministic identities, and
 * nodes that register with a relay core in memory through a real relay
 * client engine (relay/client.h): every datagram the client emits goes
 * through um_relay_input from the node's endpoint, every answer back
 * through um_relay_client_input. */
#ifndef UM_TEST_RELAY_HARNESS_H
#define UM_TEST_RELAY_HARNESS_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/identity.h"
#include "relay/client.h"
#include "relay/relay.h"
#include "relay/relay_internal.h"
#include "wire/fragment.h"
#include "wire/relay.h"

static inline int harness_identity(struct um_identity *identity, unsigned n)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(n * 31 + i);
	seed[0] = (uint8_t)n;
	seed[1] = (uint8_t)(n >> 8);
	return um_identity_from_seed(identity, seed);
}

static inline struct um_addr harness_endpoint(unsigned host, uint16_t port)
{
	struct um_addr a = {.family = 4, .addr = {198, 51, (uint8_t)(100 + (host >> 8)), (uint8_t)host}, .port = port};
	return a;
}

/* Time spent inside um_relay_input by harness_deliver (the relay's share
 * of a registration, for benchmarks). */
static uint64_t harness_relay_ns __attribute__((unused));

/* A node with one uplink to the relay under test. */
struct harness_node {
	struct um_relay_client client;
	struct um_relay_client_output out; /* large */
	struct um_addr from;               /* its endpoint as the relay sees it */
	/* Optional tap on every datagram either way (to_relay: emitted by
	 * the client); tests search them. */
	void (*tap)(void *arg, bool to_relay, const uint8_t *data, size_t len);
	void *tap_arg;
	uint64_t delivered; /* datagrams into the relay */
	/* The last HANDLE / ANNOUNCE / UNKNOWN_HANDLE event the pump saw. */
	struct um_relay_client_event_entry handle_event, announce_event, unknown_handle_event;
};

/* relay_id NULL: learn it on first contact. Allocated: free with
 * harness_node_free. */
static inline struct harness_node *harness_node_new(const struct um_identity *identity,
						    const struct um_peer_id *relay_id, const struct um_addr *from,
						    const uint8_t *admission_key)
{
	struct harness_node *n = calloc(1, sizeof(*n));
	struct um_relay_client_config cc = {.identity = identity, .admission_key = admission_key, .n_uplinks = 1};
	if (!n)
		return NULL;
	if (relay_id) {
		cc.has_relay_id[0] = true;
		cc.relay_id[0] = *relay_id;
	}
	if (um_relay_client_init(&n->client, &cc) < 0) {
		free(n);
		return NULL;
	}
	n->from = *from;
	return n;
}

static inline void harness_node_free(struct harness_node *n)
{
	if (!n)
		return;
	um_relay_client_destroy(&n->client);
	free(n);
}

/* One client datagram into the relay; the relay's answers (to the node's
 * endpoint only) back into the client. Returns the client's input result
 * of the last answer, or 1 when the relay answered nothing. */
static inline int harness_deliver(struct um_relay *relay, struct harness_node *n, const uint8_t *data, size_t len,
				  uint64_t now, uint64_t wall)
{
	static uint8_t copy[UM_RELAY_MAX_DATAGRAM + 64];
	struct um_relay_output o;
	int rc = 1;

	if (len > sizeof(copy))
		return -1;
	memcpy(copy, data, len);
	if (n->tap)
		n->tap(n->tap_arg, true, copy, len);
	n->delivered++;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int in = um_relay_input(relay, &n->from, copy, len, now, wall, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	harness_relay_ns +=
	    (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	if (in != 1)
		return 1;
	if (!um_addr_equal(&o.to, &n->from))
		return 1;
	for (unsigned k = 0; k < o.count; k++) {
		if (n->tap)
			n->tap(n->tap_arg, false, o.datagrams[k], o.lengths[k]);
		rc = um_relay_client_input(&n->client, 0, o.datagrams[k], o.lengths[k], now, wall);
	}
	return rc;
}

/* Runs the client's ticks at `now` until nothing is due, delivering each
 * datagram. Returns the number of datagrams it sent. */
static inline unsigned harness_pump(struct um_relay *relay, struct harness_node *n, uint64_t now, uint64_t wall)
{
	unsigned sent = 0;
	for (unsigned guard = 0; guard < 256 && um_relay_client_tick(&n->client, now, wall, &n->out) > 0; guard++) {
		for (unsigned k = 0; k < n->out.n_datagrams; k++, sent++)
			harness_deliver(relay, n, n->out.datagrams[k], n->out.lengths[k], now, wall);
		if (n->out.event == UM_RELAY_CLIENT_EVENT_HANDLE)
			n->handle_event = n->out.detail;
		if (n->out.event == UM_RELAY_CLIENT_EVENT_ANNOUNCE)
			n->announce_event = n->out.detail;
		if (n->out.event == UM_RELAY_CLIENT_EVENT_UNKNOWN_HANDLE)
			n->unknown_handle_event = n->out.detail;
	}
	return sent;
}

/* Starts the client and pumps until its uplink is registered (and the
 * challenge echo has bound its endpoint). 0, or -1 when it did not get
 * there. */
static inline int harness_register(struct um_relay *relay, struct harness_node *n, uint64_t now, uint64_t wall)
{
	um_relay_client_start(&n->client, now);
	for (unsigned round = 0; round < 8; round++) {
		harness_pump(relay, n, now, wall);
		if (n->client.uplinks[0].state == UM_RELAY_CLIENT_REGISTERED)
			return 0;
		uint64_t next = um_relay_client_next_deadline(&n->client);
		if (next == UINT64_MAX)
			return -1;
		if (next > now)
			now = next;
	}
	return -1;
}

/* The node's handle for peer at the relay, asked with a sealed LOOKUP
 * (0: not found there). */
static inline uint64_t harness_lookup(struct um_relay *relay, struct harness_node *n, const struct um_peer_id *peer,
				      uint64_t now, uint64_t wall)
{
	memset(&n->handle_event, 0, sizeof(n->handle_event));
	if (um_relay_client_lookup(&n->client, 0, peer) != 0)
		return 0;
	harness_pump(relay, n, now, wall);
	return n->handle_event.type == UM_RELAY_CLIENT_EVENT_HANDLE ? n->handle_event.handle : 0;
}

/* For benchmarks that register and then forget the clients: the handle
 * `owner` has for `target` in the core's table, made at once and marked
 * announced (so forwarding stays on its fast path). 0 when either is not
 * registered. */
static inline uint64_t harness_handle(struct um_relay *relay, const struct um_peer_id *owner,
				      const struct um_peer_id *target)
{
	uint32_t o = um_relay_find_by_id(relay, owner), t = um_relay_find_by_id(relay, target);
	if (o == NONE || t == NONE)
		return 0;
	uint32_t e = um_relay_handle_for(relay, o, t);
	if (e == NONE)
		return 0;
	relay->handles[e].announced_ns = UINT64_MAX; /* never again */
	return relay->handles[e].handle;
}

/* A FORWARD with handle and payload into buf; returns its length. */
static inline int harness_forward(uint8_t *buf, size_t cap, uint64_t handle, const uint8_t *payload, size_t len)
{
	struct um_relay_forward f = {.payload = payload, .payload_len = len};
	um_relay_route_set(&f.peer, handle);
	return um_relay_forward_encode(buf, cap, UM_MSG_RELAY_FORWARD, &f);
}

#endif
