/* SPDX-License-Identifier: MIT */
/* The relay core (relay/relay.h, wire version 3) driven by real relay
 * client engines on a fake clock (relay_harness.h): registration by
 * handshake, sealed control messages, return routability, forwarding, and
 * what an observer of the node<->relay link can read. */
#include <sodium.h>
#include <stdlib.h>

#include "relay_harness.h"
#include "test.h"
#include "util/error.h"

#define NS   1000000000ULL
#define WALL 1700000000000ULL

static struct um_identity relay_id, ids[4];
static struct um_relay relay;

static uint32_t packets_per_s, packet_burst; /* 0 = defaults */

static void setup(uint32_t max_nodes, const struct um_peer_id *allow, size_t allow_count, const uint8_t *key)
{
	struct um_relay_config c;
	um_relay_default_config(&c);
	c.identity = &relay_id;
	if (packets_per_s) {
		c.packets_per_s = packets_per_s;
		c.packet_burst = packet_burst;
	}
	c.max_nodes = max_nodes;
	c.allow = allow;
	c.allow_count = allow_count;
	c.admission_key = key;
	CHECK_EQ(um_relay_init(&relay, &c), 0);
}

static struct harness_node *node(unsigned i, bool pinned, const uint8_t *key)
{
	struct um_addr ep = harness_endpoint(i + 1, (uint16_t)(40000 + i));
	return harness_node_new(&ids[i], pinned ? &relay_id.id : NULL, &ep, key);
}

static void test_register_pinned(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&relay, &ids[0].id, &info), 0);
	CHECK(info.registered);
	CHECK(um_addr_equal(&info.endpoint, &a->from)); /* the echo bound it */
	CHECK_EQ(relay.stats.registered, 1);
	CHECK_EQ(relay.stats.id_requests, 0); /* pinned: never asked */
	harness_node_free(a);
	um_relay_destroy(&relay);
}

/* Over TLS the core sees a synthetic source per connection in 100::/64
 * (relay/stream.c); registration works from there (the handshake runs
 * with the connection as its route tag), for two connections at once. */
static void test_register_stream_sources(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	struct um_addr conn = {
	    .family = UM_ADDR_IPV6, .addr = {0x01, 0, 0, 0, 0, 0, 0, 0, 'u', 'm', 't', 'c', 0, 0, 0, 7}, .port = 1};
	a->from = conn;
	conn.addr[15] = 8;
	b->from = conn;
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	CHECK_EQ(relay.stats.registered, 2);
	harness_node_free(a);
	harness_node_free(b);
	um_relay_destroy(&relay);
}

static void test_register_tofu(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, false, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(relay.stats.id_requests, 1);
	CHECK(a->client.uplinks[0].has_relay_id);
	CHECK_MEM(a->client.uplinks[0].relay_id.bytes, relay_id.id.bytes, UM_PEER_ID_BYTES);
	harness_node_free(a);
	um_relay_destroy(&relay);
}

/* A node pinned to another relay never registers (the handshake refuses
 * the CHALLENGE's key), and the relay holds no entry for it. */
static void test_wrong_pin(void)
{
	setup(16, NULL, 0, NULL);
	struct um_addr ep = harness_endpoint(9, 9);
	struct harness_node *a = harness_node_new(&ids[0], &ids[3].id, &ep, NULL);
	CHECK(harness_register(&relay, a, NS, WALL) != 0);
	CHECK_EQ(relay.stats.registered, 0);
	harness_node_free(a);
	um_relay_destroy(&relay);
}

static void test_allow_and_admission(void)
{
	static const uint8_t k[32] = {5, 5, 5};
	static const uint8_t wrong[32] = {6};
	setup(16, &ids[0].id, 1, k);
	struct harness_node *a = node(0, true, k), *b = node(1, true, k), *c = node(0, true, wrong);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK(harness_register(&relay, b, NS, WALL) != 0); /* not on the allow-list */
	CHECK(relay.stats.reg_not_admitted > 0);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&relay, &ids[1].id, &info), -UM_ENOTFOUND);
	um_relay_destroy(&relay);
	setup(16, NULL, 0, k);
	c->from = harness_endpoint(50, 50);
	CHECK(harness_register(&relay, c, NS, WALL) != 0); /* wrong admission key: sealed NOT_ADMITTED */
	CHECK_EQ(um_relay_lookup(&relay, &ids[0].id, &info), 0);
	CHECK(!info.registered);
	harness_node_free(a);
	harness_node_free(b);
	harness_node_free(c);
	um_relay_destroy(&relay);
}

static void test_forward(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	uint64_t ab = harness_lookup(&relay, a, &ids[1].id, NS, WALL);
	CHECK(ab != 0);
	CHECK_EQ(relay.stats.lookups, 1);
	/* Asked again: the same handle (one per pair). */
	CHECK_EQ(harness_lookup(&relay, a, &ids[1].id, NS, WALL), ab);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], payload[100] = {1, 2, 3};
	struct um_relay_forward g;
	struct um_relay_output o;
	int n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, 2 * NS, WALL, &o), 1);
	CHECK(um_addr_equal(&o.to, &b->from));
	/* First use of the way back: a sealed ANNOUNCE, then the FORWARDED. */
	CHECK_EQ(o.count, 2);
	CHECK_EQ(o.datagrams[0][0], UM_MSG_RELAY_SEALED);
	CHECK_EQ(um_relay_client_input(&b->client, 0, o.datagrams[0], o.lengths[0], 2 * NS, WALL), 0);
	CHECK_EQ(um_relay_client_tick(&b->client, 2 * NS, WALL, &b->out), 1);
	CHECK_EQ(b->out.event, UM_RELAY_CLIENT_EVENT_ANNOUNCE);
	CHECK_MEM(b->out.detail.peer.bytes, ids[0].id.bytes, UM_PEER_ID_BYTES);
	uint64_t ba = b->out.detail.handle, route;
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARDED, o.datagrams[1], o.lengths[1]), 0);
	CHECK_EQ(um_relay_route_handle(&g.peer, &route), 0);
	CHECK_EQ(route, ba);
	CHECK_MEM(g.payload, payload, sizeof(payload));
	/* The same peer has another handle at each node. */
	CHECK(ba != ab);
	/* B's LOOKUP of A gives what the ANNOUNCE said; its FORWARD reaches A
	 * named by A's handle for B, now without an ANNOUNCE. */
	CHECK_EQ(harness_lookup(&relay, b, &ids[0].id, 2 * NS, WALL), ba);
	n = harness_forward(buf, sizeof(buf), ba, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &b->from, buf, (size_t)n, 2 * NS, WALL, &o), 1);
	CHECK_EQ(o.count, 1);
	CHECK_EQ(um_relay_forward_decode(&g, UM_MSG_RELAY_FORWARDED, o.data, o.len), 0);
	CHECK_EQ(um_relay_route_handle(&g.peer, &route), 0);
	CHECK_EQ(route, ab);
	CHECK_EQ(relay.stats.announces, 1);
	/* A peer not registered here: HANDLE "not found". */
	CHECK_EQ(harness_lookup(&relay, a, &ids[3].id, 2 * NS, WALL), 0);
	CHECK_EQ(a->handle_event.type, UM_RELAY_CLIENT_EVENT_HANDLE);
	CHECK_EQ(relay.stats.lookup_misses, 1);
	/* A handle this registration does not have: a sealed UNKNOWN_HANDLE,
	 * which the sender's client opens. */
	n = harness_forward(buf, sizeof(buf), ab ^ 1, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, 2 * NS, WALL, &o), 1);
	CHECK_EQ(o.data[0], UM_MSG_RELAY_SEALED);
	CHECK_EQ(um_relay_client_input(&a->client, 0, o.data, o.len, 2 * NS, WALL), 0);
	CHECK_EQ(a->client.uplinks[0].unknown_handles, 1);
	/* B's handle is not A's: used by A, it is unknown too. */
	n = harness_forward(buf, sizeof(buf), ba, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, 2 * NS, WALL, &o), 1);
	CHECK_EQ(relay.stats.drop_unknown_handle, 2);
	/* From an unbound endpoint: an unsealed hint only. */
	struct um_addr stranger = harness_endpoint(77, 7);
	n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &stranger, buf, (size_t)n, 2 * NS, WALL, &o), 1);
	CHECK_EQ(o.data[0], UM_MSG_RELAY_ERROR);
	CHECK_EQ(relay.stats.drop_not_registered, 1);
	/* Told again while traffic flows, 10 s on (an ANNOUNCE may be lost). */
	n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, 2 * NS + 11 * NS, WALL, &o), 1);
	CHECK_EQ(o.count, 2);
	CHECK_EQ(relay.stats.announces, 2);
	n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, 2 * NS + 12 * NS, WALL, &o), 1);
	CHECK_EQ(o.count, 1);
	/* B goes: A's handle for it is stale, its FORWARD gets UNKNOWN_HANDLE
	 * (the sweep frees the entries). */
	harness_node_free(b);
	CHECK_EQ(um_relay_expire(&relay, 14 * NS + 95 * NS, WALL, 0), 2);
	harness_node_free(a);
	CHECK_EQ(relay.stats.handles, 0);
	um_relay_destroy(&relay);
}

/* A LOOKUP that misses is held (relay_watch.c): when its target
 * registers within 3 s, the relay sends the watcher the HANDLE unasked;
 * later, or for a watcher that went, nothing. */
static void test_held_lookup(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL), *c = node(2, true, NULL);
	struct um_relay_output o;
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_lookup(&relay, a, &ids[1].id, NS, WALL), 0);
	CHECK_EQ(harness_lookup(&relay, a, &ids[2].id, NS, WALL), 0);
	CHECK_EQ(relay.stats.lookups_held, 2);
	CHECK_EQ(um_relay_pending(&relay, &o), 0);
	CHECK_EQ(harness_register(&relay, b, 2 * NS, WALL), 0);
	CHECK_EQ(um_relay_pending(&relay, &o), 1);
	CHECK(um_addr_equal(&o.to, &a->from));
	CHECK_EQ(o.count, 1);
	CHECK_EQ(um_relay_client_input(&a->client, 0, o.data, o.len, 2 * NS, WALL), 0);
	CHECK_EQ(um_relay_client_tick(&a->client, 2 * NS, WALL, &a->out), 1);
	CHECK_EQ(a->out.event, UM_RELAY_CLIENT_EVENT_HANDLE);
	CHECK_MEM(a->out.detail.peer.bytes, ids[1].id.bytes, UM_PEER_ID_BYTES);
	uint64_t held = a->out.detail.handle;
	CHECK(held != 0);
	CHECK_EQ(um_relay_pending(&relay, &o), 0); /* once */
	CHECK_EQ(harness_lookup(&relay, a, &ids[1].id, 2 * NS, WALL), held);
	CHECK_EQ(relay.stats.lookups_answered_late, 1);
	/* C comes after the watch expired (asked at 1 s, held 3 s). */
	CHECK_EQ(harness_register(&relay, c, 5 * NS, WALL), 0);
	CHECK_EQ(um_relay_pending(&relay, &o), 0);
	CHECK_EQ(relay.stats.lookups_answered_late, 1);
	harness_node_free(a);
	harness_node_free(b);
	harness_node_free(c);
	um_relay_destroy(&relay);
}

static uint8_t last_keepalive[UM_RELAY_SEALED_BYTES];
static void keep_keepalive(void *arg, bool to_relay, const uint8_t *data, size_t len)
{
	(void)arg;
	if (to_relay && len == UM_RELAY_SEALED_BYTES)
		memcpy(last_keepalive, data, len);
}

/* A sniffed sealed keepalive replayed from another address changes
 * nothing (review #5); a fresh one from a new address is challenged, and
 * only its echo moves the binding. */
static void test_replay_and_rebind(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	a->tap = keep_keepalive;
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	uint64_t ab = harness_lookup(&relay, a, &ids[1].id, NS, WALL);
	CHECK(ab != 0);
	struct um_relay_output o;
	struct um_addr attacker = harness_endpoint(66, 6666), home = a->from;
	uint8_t copy[UM_RELAY_SEALED_BYTES];
	memcpy(copy, last_keepalive, sizeof(copy));
	CHECK_EQ(um_relay_input(&relay, &attacker, copy, sizeof(copy), 3 * NS, WALL, &o), 0);
	CHECK_EQ(relay.stats.sealed_replay, 1);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&relay, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &home));
	CHECK_EQ(info.pending.family, 0);
	/* The node roams: its next keepalive comes from elsewhere. */
	a->from = harness_endpoint(88, 8888);
	uint64_t t = a->client.uplinks[0].due_ns;
	harness_pump(&relay, a, t, WALL);
	CHECK_EQ(um_relay_lookup(&relay, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a->from)); /* challenged, echoed, moved */
	CHECK_EQ(relay.stats.challenges_sent, 1);
	CHECK_EQ(relay.stats.rebinds, 1);
	/* FORWARDs still in flight from the old endpoint (a wss:// queue when
	 * a node returns to UDP) are taken for 2 s after the move, no longer;
	 * an address that was never the node's gets nothing. */
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], payload[64] = {7};
	int n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK(um_relay_input(&relay, &home, buf, (size_t)n, t + NS, WALL, &o) >= 1);
	CHECK(um_addr_equal(&o.to, &b->from));
	uint64_t forwarded = relay.stats.forwarded_packets;
	um_relay_input(&relay, &attacker, buf, (size_t)n, t + NS, WALL, &o);
	CHECK_EQ(relay.stats.forwarded_packets, forwarded);
	um_relay_input(&relay, &home, buf, (size_t)n, t + 3 * NS, WALL, &o);
	CHECK_EQ(relay.stats.forwarded_packets, forwarded);
	harness_node_free(a);
	harness_node_free(b);
	um_relay_destroy(&relay);
}

/* Another admitted identity registering with A's address as its source
 * (review #6): the handshake's answers go to A, which drops them, so the
 * spoofer never gets a session, and A's binding and forwarding stay. */
/* Issue 14: an unbound node's REGISTER from the address its handshake ran
 * at binds it at once (the ACK goes out bound: peers' LOOKUPs find it a
 * round trip earlier, and a lost echo no longer hides it); a REGISTER from
 * elsewhere binds nothing until the echo from there (the one rule). */
struct bind_tap {
	struct um_relay *relay;
	const struct um_peer_id *id;
	struct harness_node *node;
	struct um_addr move_to; /* family 0: stay; else the node moves here after ESTABLISHED */
	bool acked, bound_at_ack;
};

static void bind_tap_fn(void *arg, bool to_relay, const uint8_t *data, size_t len)
{
	struct bind_tap *t = arg;
	struct um_relay_node_info info;
	if (to_relay || len < 2)
		return;
	if (data[0] == UM_MSG_RELAY_HANDSHAKE && data[1] == UM_MSG_ESTABLISHED && t->move_to.family)
		t->node->from = t->move_to;
	if (data[0] == UM_MSG_RELAY_SEALED && !t->acked) { /* the first sealed answer: the ACK */
		t->acked = true;
		t->bound_at_ack = um_relay_lookup(t->relay, t->id, &info) == 0 && info.endpoint.family != 0;
	}
}

static void test_bound_at_register(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	struct bind_tap ta = {.relay = &relay, .id = &ids[0].id, .node = a};
	struct bind_tap tb = {.relay = &relay, .id = &ids[1].id, .node = b, .move_to = harness_endpoint(77, 7777)};
	a->tap = b->tap = bind_tap_fn;
	a->tap_arg = &ta;
	b->tap_arg = &tb;
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK(ta.acked);
	CHECK(ta.bound_at_ack);
	CHECK_EQ(relay.stats.bound_at_register, 1);
	/* B's REGISTER comes from another address than its handshake: the
	 * echo from there binds it, not the REGISTER. */
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	CHECK(tb.acked);
	CHECK(!tb.bound_at_ack);
	CHECK_EQ(relay.stats.bound_at_register, 1);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&relay, &ids[1].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &tb.move_to));
	CHECK(um_addr_equal(&info.endpoint, &b->from));
	harness_node_free(a);
	harness_node_free(b);
	um_relay_destroy(&relay);
}

static void test_spoofed_registration(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL), *m = node(2, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	um_relay_client_start(&m->client, NS);
	unsigned sent = 0;
	for (unsigned k = 0; k < 4 && um_relay_client_tick(&m->client, NS, WALL, &m->out) > 0; k++)
		for (unsigned d = 0; d < m->out.n_datagrams; d++, sent++) {
			struct um_relay_output o;
			uint8_t copy[UM_RELAY_MAX_DATAGRAM];
			memcpy(copy, m->out.datagrams[d], m->out.lengths[d]);
			if (um_relay_input(&relay, &a->from, copy, m->out.lengths[d], NS, WALL, &o) == 1)
				for (unsigned q = 0; q < o.count; q++) /* they reach A, not M */
					CHECK(um_relay_client_input(&a->client, 0, o.datagrams[q], o.lengths[q], NS,
								    WALL) < 0);
		}
	CHECK(sent >= 1); /* its HELLO went in */
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&relay, &ids[2].id, &info), -UM_ENOTFOUND);
	CHECK_EQ(um_relay_lookup(&relay, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a->from));
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], payload[10] = {1};
	struct um_relay_output o;
	uint64_t ab = harness_lookup(&relay, a, &ids[1].id, 2 * NS, WALL);
	CHECK(ab != 0);
	int n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, 2 * NS, WALL, &o), 1);
	CHECK(um_addr_equal(&o.to, &b->from));
	/* The ANNOUNCE B gets names A. */
	CHECK_EQ(o.count, 2);
	CHECK_EQ(um_relay_client_input(&b->client, 0, o.datagrams[0], o.lengths[0], 2 * NS, WALL), 0);
	CHECK_EQ(um_relay_client_tick(&b->client, 2 * NS, WALL, &b->out), 1);
	CHECK_MEM(b->out.detail.peer.bytes, ids[0].id.bytes, UM_PEER_ID_BYTES);
	harness_node_free(a);
	harness_node_free(b);
	harness_node_free(m);
	um_relay_destroy(&relay);
}

/* The relay forgot the node (restart): its keepalive gets an unsealed
 * NOT_REGISTERED whose ref is that keepalive's hash; the client keeps its
 * registration and re-registers beside it. A forged hint does nothing. */
static void test_restart_hint(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	struct um_relay_error e = {.code = UM_RELAY_ERR_NOT_REGISTERED, .ref = {1}};
	uint8_t buf[UM_RELAY_ERROR_BYTES];
	CHECK_EQ(um_relay_error_encode(buf, sizeof(buf), &e), UM_RELAY_ERROR_BYTES);
	CHECK_EQ(um_relay_client_input(&a->client, 0, buf, sizeof(buf), 2 * NS, WALL), -UM_EBADMSG);
	CHECK_EQ(a->client.uplinks[0].state, UM_RELAY_CLIENT_REGISTERED);
	CHECK(!a->client.uplinks[0].refreshing);
	/* Restart: a new core with the same identity. */
	um_relay_destroy(&relay);
	setup(16, NULL, 0, NULL);
	uint64_t t = a->client.uplinks[0].due_ns;
	harness_pump(&relay, a, t, WALL); /* keepalive -> hint -> refresh */
	CHECK_EQ(a->client.uplinks[0].state, UM_RELAY_CLIENT_REGISTERED);
	harness_pump(&relay, a, t + 2 * NS, WALL);
	harness_pump(&relay, a, t + 3 * NS, WALL);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&relay, &ids[0].id, &info), 0);
	CHECK(info.registered);
	CHECK(um_addr_equal(&info.endpoint, &a->from));
	CHECK_EQ(a->client.uplinks[0].state, UM_RELAY_CLIENT_REGISTERED);
	harness_node_free(a);
	um_relay_destroy(&relay);
}

/* Each node's sends are limited (GCRA): a burst, then the rate. */
static void test_rate_limit(void)
{
	packets_per_s = 100;
	packet_burst = 10;
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	uint64_t ab = harness_lookup(&relay, a, &ids[1].id, 10 * NS, WALL);
	CHECK(ab != 0);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], payload[64] = {1};
	struct um_relay_output o;
	unsigned forwarded = 0;
	for (unsigned k = 0; k < 50; k++) { /* 50 at one instant */
		int n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
		forwarded += um_relay_input(&relay, &a->from, buf, (size_t)n, 20 * NS, WALL, &o) == 1;
	}
	CHECK(forwarded >= 10 && forwarded <= 11);
	CHECK_EQ(relay.stats.drop_rate_limited_packets, 50 - forwarded);
	/* 100 ms later: 10 more tokens. */
	unsigned later = 0;
	for (unsigned k = 0; k < 50; k++) {
		int n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
		later += um_relay_input(&relay, &a->from, buf, (size_t)n, 20 * NS + NS / 10, WALL, &o) == 1;
	}
	CHECK(later >= 9 && later <= 11);
	harness_node_free(a);
	harness_node_free(b);
	um_relay_destroy(&relay);
	packets_per_s = packet_burst = 0;
}

/* A second handshake replaces the session: the old one's sealed messages
 * are refused, and the registration's binding and handles stay. */
static void test_new_session(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, NS, WALL), 0);
	uint64_t ab = harness_lookup(&relay, a, &ids[1].id, NS, WALL);
	CHECK(ab != 0);
	a->tap = keep_keepalive;
	uint64_t t = a->client.uplinks[0].due_ns;
	harness_pump(&relay, a, t, WALL); /* a keepalive under the first session */
	uint8_t old[UM_RELAY_SEALED_BYTES];
	memcpy(old, last_keepalive, sizeof(old));
	a->tap = NULL;
	/* The same identity registers again (a restarted node). */
	struct harness_node *a2 = node(0, true, NULL);
	a2->from = a->from;
	/* Its clock went on too: the relay takes a RESPONSE only with a newer
	 * timestamp than the last one of this ID (the replay check). */
	CHECK_EQ(harness_register(&relay, a2, t + NS, WALL + 1000), 0);
	CHECK_EQ(relay.stats.reregistrations, 1);
	CHECK_EQ(relay.stats.registered, 2);
	t = a2->client.uplinks[0].last_reply_ns; /* the harness's clock went on */
	struct um_relay_output o;
	old[8] ^= 0x7f; /* a counter the new window has not seen: only the index decides */
	CHECK_EQ(um_relay_input(&relay, &a->from, old, sizeof(old), t + NS, WALL, &o), 1);
	CHECK_EQ(o.data[0], UM_MSG_RELAY_ERROR); /* unknown session: the hint */
	/* The handle A had still works. */
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], payload[8] = {1};
	int n = harness_forward(buf, sizeof(buf), ab, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, t + NS, WALL, &o), 1);
	CHECK(um_addr_equal(&o.to, &b->from));
	harness_node_free(a);
	harness_node_free(a2);
	harness_node_free(b);
	um_relay_destroy(&relay);
}

static void test_expire(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK_EQ(um_relay_expire(&relay, 50 * NS, WALL, 0), 0);
	CHECK_EQ(um_relay_expire(&relay, 200 * NS, WALL, 0), 1);
	CHECK_EQ(relay.stats.registered, 0);
	/* The handshake engine's peer went with it: registering again works. */
	harness_node_free(a);
	a = node(0, true, NULL);
	CHECK_EQ(harness_register(&relay, a, 201 * NS, WALL), 0);
	CHECK_EQ(relay.stats.registered, 1);
	harness_node_free(a);
	um_relay_destroy(&relay);
}

static void test_full(void)
{
	setup(1, NULL, 0, NULL);
	struct harness_node *a = node(0, true, NULL), *b = node(1, true, NULL);
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	CHECK(harness_register(&relay, b, NS, WALL) != 0);
	CHECK(relay.stats.reg_full > 0);
	harness_node_free(a);
	harness_node_free(b);
	um_relay_destroy(&relay);
}

/* Version 2 nodes are told, not ignored: a v2 REGISTER piece and a v2
 * KEEPALIVE get ERROR VERSION, never larger than the cause. */
static void test_version_2(void)
{
	setup(16, NULL, 0, NULL);
	struct um_relay_output o;
	struct um_addr from = harness_endpoint(3, 3);
	uint8_t piece[1200] = {UM_MSG_FRAGMENT, 0x20, 0, 8};
	CHECK_EQ(um_relay_input(&relay, &from, piece, sizeof(piece), NS, WALL, &o), 1);
	struct um_relay_error e;
	CHECK_EQ(um_relay_error_decode(&e, o.data, o.len), 0);
	CHECK_EQ(e.code, UM_RELAY_ERR_VERSION);
	uint8_t ka[UM_RELAY_V2_KEEPALIVE_BYTES] = {UM_MSG_RELAY_SEALED, 0, UM_RELAY_V2, 0};
	CHECK_EQ(um_relay_input(&relay, &from, ka, sizeof(ka), NS, WALL, &o), 1);
	CHECK(o.len <= sizeof(ka));
	/* Shorter than an ERROR: no answer at all (found by fuzz_relay). */
	CHECK_EQ(um_relay_input(&relay, &from, ka, 27, NS, WALL, &o), 0);
	uint8_t id[20] = {UM_MSG_RELAY_ID, UM_RELAY_V2};
	CHECK_EQ(um_relay_input(&relay, &from, id, sizeof(id), NS, WALL, &o), 0);
	CHECK_EQ(relay.stats.reg_version, 4);
	um_relay_destroy(&relay);
}

/* What a passive observer of the node<->relay link sees during a
 * registration, keepalives and an UNKNOWN_PEER: never the node's ID, its
 * public key or a peer's ID, in bytes or as text (this fails on version 2,
 * whose REGISTER carried the ID and key and KEEPALIVE the ID). */
struct capture {
	const struct um_identity *node;
	const struct um_peer_id *peer;
	unsigned seen, leaks;
};
static bool contains(const uint8_t *d, size_t n, const void *what, size_t len)
{
	return memmem(d, n, what, len) != NULL;
}
static void capture_tap(void *arg, bool to_relay, const uint8_t *d, size_t n)
{
	struct capture *c = arg;
	char text[UM_PEER_ID_TEXT_MAX];
	(void)to_relay;
	c->seen++;
	um_peer_id_format(&c->node->id, text, sizeof(text));
	if (contains(d, n, c->node->id.bytes, UM_PEER_ID_BYTES) || contains(d, n, text, strlen(text)) ||
	    contains(d, n, c->node->public_key, 32) ||
	    contains(d, n, c->node->public_key + UM_HSIG_PK_BYTES - 32, 32) ||
	    contains(d, n, c->peer->bytes, UM_PEER_ID_BYTES))
		c->leaks++;
}

static void test_observer_learns_no_identity(void)
{
	setup(16, NULL, 0, NULL);
	struct harness_node *a = node(0, false, NULL);
	struct capture cap = {.node = &ids[0], .peer = &ids[3].id};
	a->tap = capture_tap;
	a->tap_arg = &cap;
	CHECK_EQ(harness_register(&relay, a, NS, WALL), 0);
	uint64_t t = a->client.uplinks[0].due_ns;
	harness_pump(&relay, a, t, WALL); /* a keepalive */
	/* A LOOKUP of a peer not here, and of one that is, and traffic. */
	struct harness_node *b = node(3, true, NULL);
	CHECK_EQ(harness_lookup(&relay, a, &ids[3].id, t, WALL), 0);
	CHECK_EQ(harness_register(&relay, b, t, WALL), 0);
	uint64_t h = harness_lookup(&relay, a, &ids[3].id, t, WALL);
	CHECK(h != 0);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], payload[10] = {1};
	struct um_relay_output o;
	int n = harness_forward(buf, sizeof(buf), h, payload, sizeof(payload));
	capture_tap(&cap, true, buf, (size_t)n);
	CHECK_EQ(um_relay_input(&relay, &a->from, buf, (size_t)n, t, WALL, &o), 1);
	for (unsigned k = 0; k < o.count; k++) /* what B's link carries: ANNOUNCE, FORWARDED */
		capture_tap(&cap, false, o.datagrams[k], o.lengths[k]);
	CHECK(cap.seen >= 14);
	CHECK_EQ(cap.leaks, 0);
	/* The check itself catches a version 2 style header (control). */
	unsigned before = cap.leaks;
	uint8_t v2[36 + 10] = {UM_MSG_RELAY_FORWARD};
	memcpy(v2 + 4, ids[3].id.bytes, UM_PEER_ID_BYTES);
	capture_tap(&cap, true, v2, sizeof(v2));
	CHECK_EQ(cap.leaks, before + 1);
	harness_node_free(b);
	harness_node_free(a);
	um_relay_destroy(&relay);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	CHECK_EQ(harness_identity(&relay_id, 1000), 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(harness_identity(&ids[i], i), 0);
	RUN(test_register_pinned);
	RUN(test_register_tofu);
	RUN(test_register_stream_sources);
	RUN(test_wrong_pin);
	RUN(test_allow_and_admission);
	RUN(test_forward);
	RUN(test_held_lookup);
	RUN(test_replay_and_rebind);
	RUN(test_spoofed_registration);
	RUN(test_bound_at_register);
	RUN(test_restart_hint);
	RUN(test_rate_limit);
	RUN(test_new_session);
	RUN(test_expire);
	RUN(test_full);
	RUN(test_version_2);
	RUN(test_observer_learns_no_identity);
	return um_test_end();
}
