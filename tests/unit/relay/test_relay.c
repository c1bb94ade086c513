/* SPDX-License-Identifier: MIT */
/* The relay forwarding core: registration (fragmented and whole), checks
 * (timestamp, replay, admission, signature, key lookup, budgets, cap),
 * forwarding, keepalive and rebinding, expiry, rate limits, and the memory
 * cost of a registered node. */
#include <sodium.h>
#include <stdlib.h>

#include "relay_harness.h"
#include "test.h"
#include "util/error.h"

#define NS   1000000000ULL
#define WALL 1700000000000ULL

static struct um_identity ids[4];

static void config_for_test(struct um_relay_config *c)
{
	um_relay_default_config(c);
	c->max_nodes = 64;
}

/* Expects an ERROR with `code` in out. */
static void check_error(int rc, const struct um_relay_output *out, uint8_t code)
{
	struct um_relay_error e;
	CHECK_EQ(rc, 1);
	if (rc != 1)
		return;
	CHECK_EQ(um_relay_error_decode(&e, out->data, out->len), 0);
	CHECK_EQ(e.code, code);
}

static void check_ack(int rc, const struct um_relay_output *out, const struct um_addr *from,
		      struct um_relay_register_ack *ack)
{
	CHECK_EQ(rc, 1);
	if (rc != 1)
		return;
	CHECK_EQ(um_relay_register_ack_decode(ack, out->data, out->len), 0);
	CHECK(um_addr_equal(&ack->observed, from));
	CHECK(um_addr_equal(&out->to, from));
}

/* Sends FORWARD from -> dest with a payload; returns input's result. */
static int forward(struct um_relay *r, const struct um_addr *from, const struct um_peer_id *dest, size_t payload,
		   uint64_t now, uint8_t *buf, struct um_relay_output *out)
{
	uint8_t data[UM_RELAY_MAX_PAYLOAD];
	for (size_t i = 0; i < payload; i++)
		data[i] = (uint8_t)(i * 3);
	struct um_relay_forward f = {.peer = *dest, .payload = data, .payload_len = payload};
	int n = um_relay_forward_encode(buf, UM_RELAY_MAX_DATAGRAM, UM_MSG_RELAY_FORWARD, &f);
	if (n < 0)
		return n;
	return um_relay_input(r, from, buf, (size_t)n, now, WALL, out);
}

static void test_register_and_forward(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000), b = harness_endpoint(3, 40001);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	/* Fragmented registration: nothing until the last piece, then an ACK. */
	int rc = harness_register(&r, &ids[0], &a, 1 * NS, WALL, WALL, 1, true, NULL, false, &out);
	check_ack(rc, &out, &a, &ack);
	CHECK_EQ(ack.keepalive_interval_s, 25);
	CHECK_EQ(ack.registration_timeout_s, 90);
	CHECK_EQ(ack.max_payload, UM_RELAY_MAX_PAYLOAD);
	/* Whole (unfragmented, as over a stream transport). */
	rc = harness_register(&r, &ids[1], &b, 1 * NS, WALL, WALL + 5, 2, true, NULL, true, &out);
	check_ack(rc, &out, &b, &ack);
	CHECK_EQ(r.stats.registered, 2);
	CHECK_EQ(r.stats.registrations, 2);

	/* A -> B: FORWARDED to B's endpoint, source = A, payload intact. */
	rc = forward(&r, &a, &ids[1].id, 100, 2 * NS, buf, &out);
	CHECK_EQ(rc, 1);
	CHECK(um_addr_equal(&out.to, &b));
	struct um_relay_forward f;
	CHECK_EQ(um_relay_forward_decode(&f, UM_MSG_RELAY_FORWARDED, out.data, out.len), 0);
	CHECK_MEM(f.peer.bytes, ids[0].id.bytes, 32);
	CHECK_EQ(f.payload_len, 100);
	CHECK_EQ(f.payload[99], (uint8_t)(99 * 3));
	CHECK_EQ(r.stats.forwarded_packets, 1);
	CHECK_EQ(r.stats.forwarded_bytes, 136);

	/* Unknown destination, unregistered sender, to self, malformed, unknown type. */
	rc = forward(&r, &a, &ids[2].id, 10, 2 * NS, buf, &out);
	check_error(rc, &out, UM_RELAY_ERR_UNKNOWN_PEER);
	CHECK_EQ(r.stats.drop_unknown_peer, 1);
	struct um_addr stranger = harness_endpoint(9, 1);
	rc = forward(&r, &stranger, &ids[1].id, 10, 2 * NS, buf, &out);
	check_error(rc, &out, UM_RELAY_ERR_NOT_REGISTERED);
	CHECK(out.len <= 36 + 10);
	CHECK_EQ(r.stats.drop_not_registered, 1);
	CHECK_EQ(forward(&r, &a, &ids[0].id, 10, 2 * NS, buf, &out), 0);
	CHECK_EQ(r.stats.drop_to_self, 1);
	buf[0] = UM_MSG_RELAY_FORWARD;
	CHECK_EQ(um_relay_input(&r, &a, buf, 36, 2 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.drop_malformed, 1);
	buf[0] = 0x7f;
	CHECK_EQ(um_relay_input(&r, &a, buf, 50, 2 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.drop_unknown_type, 1);
	/* A non-REGISTER fragment is refused. */
	uint8_t msg[2000] = {0}, piece[UM_HS_MAX_DATAGRAM];
	int n = um_fragment_encode(piece, sizeof(piece), 0x02, 0, 1, msg, sizeof(msg), 0);
	CHECK_EQ(um_relay_input(&r, &a, piece, (size_t)n, 2 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.fragments_rejected, 1);
	um_relay_destroy(&r);
}

static void test_registration_checks(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000);

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	/* Timestamp outside the window, either side. */
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL - 60001, 1, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_BAD_REGISTRATION);
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL + 60001, 2, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_BAD_REGISTRATION);
	CHECK_EQ(r.stats.reg_stale, 2);
	/* Accepted, then the same message again is a replay (nonce), and an
	 * older timestamp with a fresh nonce is one too. */
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 3, true, NULL, false, &out), &out, &a, &ack);
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 3, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_BAD_REGISTRATION);
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL - 1, 4, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_BAD_REGISTRATION);
	CHECK_EQ(r.stats.reg_replay, 2);
	/* Newer timestamp, fresh nonce: re-registration, new relay ephemeral key (so a new MAC key). */
	uint8_t old_ephemeral[32];
	memcpy(old_ephemeral, ack.ephemeral, 32);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL + 1, 5, true, NULL, false, &out), &out, &a, &ack);
	CHECK(memcmp(ack.ephemeral, old_ephemeral, 32) != 0);
	CHECK_EQ(r.stats.reregistrations, 1);

	/* Corrupt signature: refused, counted. */
	static uint8_t msg[UM_RELAY_REGISTER_MAX_BYTES];
	uint8_t nonce[16] = {0x42};
	int len = um_relay_register_build(msg, sizeof(msg), &ids[1], WALL, nonce, harness_last.ephemeral, true, NULL);
	msg[len - 100] ^= 1;
	check_error(um_relay_input(&r, &a, msg, (size_t)len, NS, WALL, &out), &out, UM_RELAY_ERR_BAD_REGISTRATION);
	CHECK_EQ(r.stats.reg_bad_signature, 1);
	/* Garbage gets no answer. */
	CHECK_EQ(um_relay_input(&r, &a, msg, 100, NS, WALL, &out), 0);
	CHECK_EQ(r.stats.reg_malformed, 1);
	/* Without the key and no lookup: NEED_KEY. */
	check_error(harness_register(&r, &ids[1], &a, NS, WALL, WALL, 6, false, NULL, false, &out), &out,
		    UM_RELAY_ERR_NEED_KEY);
	CHECK_EQ(r.stats.reg_need_key, 1);
	um_relay_destroy(&r);
}

static int lookup_key(void *arg, const struct um_peer_id *id, uint8_t public_key[UM_HSIG_PK_BYTES])
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		if (!memcmp(ids[i].id.bytes, id->bytes, 32)) {
			memcpy(public_key, ids[i].public_key, UM_HSIG_PK_BYTES);
			return 0;
		}
	return -UM_ENOTFOUND;
}

static void test_admission(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000);
	const uint8_t key[32] = {0xa1, 0xa2}, wrong[32] = {0xb1};

	/* Allow-list: ids[1] and ids[2] only; key lookup for short registrations. */
	struct um_peer_id allow[2] = {ids[2].id, ids[1].id};
	config_for_test(&c);
	c.allow = allow;
	c.allow_count = 2;
	c.key_lookup = lookup_key;
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_NOT_ADMITTED);
	check_ack(harness_register(&r, &ids[1], &a, NS, WALL, WALL, 2, false, NULL, false, &out), &out, &a, &ack);
	CHECK_EQ(r.stats.reg_not_admitted, 1);
	um_relay_destroy(&r);

	/* Network admission key. */
	config_for_test(&c);
	c.admission_key = key;
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_NOT_ADMITTED);
	check_error(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 2, true, wrong, false, &out), &out,
		    UM_RELAY_ERR_NOT_ADMITTED);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 3, true, key, false, &out), &out, &a, &ack);
	CHECK_EQ(r.stats.reg_not_admitted, 2);
	um_relay_destroy(&r);
}

static void test_caps_and_budgets(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;

	/* Node cap. */
	config_for_test(&c);
	c.max_nodes = 2;
	CHECK_EQ(um_relay_init(&r, &c), 0);
	for (unsigned i = 0; i < 2; i++) {
		struct um_addr a = harness_endpoint(10 + i, 1000);
		check_ack(harness_register(&r, &ids[i], &a, NS, WALL, WALL, i, true, NULL, false, &out), &out, &a,
			  &ack);
	}
	struct um_addr a3 = harness_endpoint(12, 1000);
	check_error(harness_register(&r, &ids[2], &a3, NS, WALL, WALL, 9, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_FULL);
	CHECK_EQ(r.stats.reg_full, 1);
	/* After expiry there is room again. */
	CHECK_EQ(um_relay_expire(&r, NS + 91 * NS, 0), 2);
	CHECK_EQ(r.stats.registered, 0);
	check_ack(harness_register(&r, &ids[2], &a3, 92 * NS, WALL, WALL, 10, true, NULL, false, &out), &out, &a3,
		  &ack);
	um_relay_destroy(&r);

	/* Verification budget: 1/s, burst 1. The error budget: 1/s, burst 2. */
	config_for_test(&c);
	c.verifications_per_s = 1;
	c.verification_burst = 1;
	c.errors_per_s = 1;
	c.error_burst = 2;
	CHECK_EQ(um_relay_init(&r, &c), 0);
	struct um_addr a = harness_endpoint(2, 1);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out, &a, &ack);
	check_error(harness_register(&r, &ids[1], &a, NS, WALL, WALL, 2, true, NULL, false, &out), &out,
		    UM_RELAY_ERR_RATE_LIMITED);
	CHECK_EQ(r.stats.reg_rate_limited, 1);
	/* One more error fits the burst, the next is suppressed. */
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];
	struct um_addr stranger = harness_endpoint(99, 1);
	CHECK_EQ(forward(&r, &stranger, &ids[0].id, 10, NS, buf, &out), 1);
	CHECK_EQ(forward(&r, &stranger, &ids[0].id, 10, NS, buf, &out), 0);
	CHECK_EQ(r.stats.errors_suppressed, 1);
	CHECK_EQ(r.stats.errors_sent, 2);
	/* A second later the verification budget allows one more. */
	check_ack(harness_register(&r, &ids[1], &a, 2 * NS, WALL, WALL, 3, true, NULL, false, &out), &out, &a, &ack);
	um_relay_destroy(&r);
}

static void test_keepalive_rebind_expiry(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000), a2 = harness_endpoint(2, 40555), b = harness_endpoint(3, 40001);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out, &a, &ack);
	check_ack(harness_register(&r, &ids[1], &b, NS, WALL, WALL, 2, true, NULL, false, &out), &out, &b, &ack);
	struct harness_registration *ra = harness_reg_of(&ids[0].id);
	uint64_t keepalives = r.stats.keepalives;

	/* Keepalive: answered with the observed endpoint, under the MAC. */
	struct um_relay_keepalive reply;
	int n = harness_keepalive(ra, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 50 * NS, WALL, &out), 1);
	CHECK_EQ(um_relay_keepalive_decode(&reply, out.data, out.len), 0);
	CHECK_EQ(um_relay_mac_check(out.data, out.len, ra->key), 0);
	CHECK_EQ(reply.flags, UM_RELAY_KEEPALIVE_FLAG_REPLY);
	CHECK_EQ(reply.sequence, ra->sequence);
	CHECK(um_addr_equal(&reply.observed, &a));
	CHECK_EQ(r.stats.keepalives, keepalives + 1);

	/* NAT rebinding: a fresh keepalive from a new port is challenged
	 * there; the node moves only when the echo comes back from there. */
	n = harness_keepalive(ra, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a2, buf, (size_t)n, 60 * NS, WALL, &out), 1);
	CHECK(um_addr_equal(&out.to, &a2));
	CHECK_EQ(um_relay_keepalive_decode(&reply, out.data, out.len), 0);
	CHECK_EQ(reply.flags, UM_RELAY_KEEPALIVE_FLAG_REPLY | UM_RELAY_KEEPALIVE_FLAG_CHALLENGE);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a));
	CHECK(um_addr_equal(&info.pending, &a2));
	CHECK_EQ(r.stats.rebinds, 0);
	memcpy(ra->challenge, reply.challenge, sizeof(ra->challenge));
	n = harness_keepalive(ra, true, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a2, buf, (size_t)n, 60 * NS, WALL, &out), 1);
	CHECK_EQ(um_relay_keepalive_decode(&reply, out.data, out.len), 0);
	CHECK_EQ(reply.flags, UM_RELAY_KEEPALIVE_FLAG_REPLY);
	CHECK_EQ(r.stats.rebinds, 1);
	CHECK_EQ(forward(&r, &b, &ids[0].id, 20, 60 * NS, buf, &out), 1);
	CHECK(um_addr_equal(&out.to, &a2));
	/* The old endpoint is no longer registered. */
	check_error(forward(&r, &a, &ids[1].id, 20, 60 * NS, buf, &out), &out, UM_RELAY_ERR_NOT_REGISTERED);
	/* A keepalive under another key changes nothing and gets no answer. */
	struct harness_registration forged = *ra;
	forged.key[0] ^= 1;
	n = harness_keepalive(&forged, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 60 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.keepalive_bad_mac, 1);
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a2));

	/* Both were last heard at 60 s (A's keepalive, B's traffic): nothing
	 * expires at 140 s, both after 150 s. */
	CHECK_EQ(um_relay_expire(&r, 140 * NS, 0), 0);
	CHECK_EQ(um_relay_expire(&r, 151 * NS, 10), 2); /* budget of 10 slots covers both */
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), -UM_ENOTFOUND);
	CHECK_EQ(r.stats.registered, 0);
	CHECK_EQ(r.stats.expired, 2);
	/* Lazy expiry on the forwarding path: register again, let one go silent. */
	check_ack(harness_register(&r, &ids[1], &b, 160 * NS, WALL, WALL + 10, 4, true, NULL, false, &out), &out, &b,
		  &ack);
	check_ack(harness_register(&r, &ids[0], &a, 200 * NS, WALL, WALL + 10, 3, true, NULL, false, &out), &out, &a,
		  &ack);
	CHECK_EQ(forward(&r, &a, &ids[1].id, 20, 200 * NS, buf, &out), 1);
	check_error(forward(&r, &a, &ids[1].id, 20, 251 * NS, buf, &out), &out, UM_RELAY_ERR_UNKNOWN_PEER);
	CHECK_EQ(r.stats.expired, 3);
	um_relay_destroy(&r);
}

static void test_rate_limits(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 1), b = harness_endpoint(3, 1);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];

	config_for_test(&c);
	c.packets_per_s = 100;
	c.packet_burst = 10;
	c.bytes_per_s = 100000;
	c.byte_burst = 5000;
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out, &a, &ack);
	check_ack(harness_register(&r, &ids[1], &b, NS, WALL, WALL, 2, true, NULL, false, &out), &out, &b, &ack);
	/* Packet burst: 10 small packets at once pass, the 11th does not. */
	uint64_t t = 10 * NS;
	unsigned passed = 0;
	for (int i = 0; i < 20; i++)
		passed += forward(&r, &a, &ids[1].id, 10, t, buf, &out) == 1;
	CHECK_EQ(passed, 10);
	CHECK_EQ(r.stats.drop_rate_limited_packets, 10);
	/* 10 ms later one more packet's worth has accrued. */
	CHECK_EQ(forward(&r, &a, &ids[1].id, 10, t + 10 * 1000000ULL, buf, &out), 1);
	CHECK_EQ(forward(&r, &a, &ids[1].id, 10, t + 10 * 1000000ULL, buf, &out), 0);
	/* Byte burst: 5000 bytes = 3 full datagrams of 1280 (the 4th exceeds). */
	t = 20 * NS;
	passed = 0;
	for (int i = 0; i < 6; i++)
		passed += forward(&r, &a, &ids[1].id, UM_RELAY_MAX_PAYLOAD, t, buf, &out) == 1;
	CHECK_EQ(passed, 3);
	CHECK(r.stats.drop_rate_limited_bytes >= 3);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), 0);
	CHECK_EQ(info.forwarded_packets, 14);
	CHECK(info.dropped >= 14);
	/* B is not charged for what A sends. */
	CHECK_EQ(forward(&r, &b, &ids[0].id, 10, t, buf, &out), 1);
	um_relay_destroy(&r);
}

static void test_memory_per_node(void)
{
	struct um_relay r;
	struct um_relay_config c;
	um_relay_default_config(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	size_t bytes = um_relay_memory_bytes(&r);
	double per_node = (double)bytes / c.max_nodes;
	fprintf(stderr, "  relay tables for %u nodes: %zu bytes = %.0f bytes per registered node (goal <= 2048)\n",
		c.max_nodes, bytes, per_node);
	CHECK(per_node <= 2048);
	um_relay_destroy(&r);
}

static struct um_addr flood_endpoint(unsigned prefix, uint16_t port)
{
	struct um_addr a = {.family = 4, .addr = {203, (uint8_t)(prefix >> 8), (uint8_t)prefix, 7}, .port = port};
	return a;
}

/* Review #7 (b): REGISTERs claiming an allow-listed (public) ID with the
 * sender's own key, from 32 addresses, then the same drain with a valid
 * identity of the attacker's from one /24. Before the fix the forged ones
 * spent the global verification burst (100) and the real node got
 * RATE_LIMITED; now a forged ID costs a hash, and a valid flooder only
 * spends its prefix's budget. */
static void test_verification_drain(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	config_for_test(&c);
	c.allow = &ids[0].id;
	c.allow_count = 1;
	CHECK_EQ(um_relay_init(&r, &c), 0);
	static struct um_identity forger;
	forger = ids[1];
	forger.id = ids[0].id; /* the victim's ID, the attacker's key */
	for (unsigned i = 0; i < 160; i++) {
		struct um_addr from = flood_endpoint(i % 32, (uint16_t)(1000 + i));
		harness_register(&r, &forger, &from, NS, WALL, WALL, 100 + i, true, NULL, false, &out);
	}
	uint64_t forged_verifications = r.stats.reg_bad_signature;
	struct um_addr home = harness_endpoint(1, 4000);
	int rc = harness_register(&r, &ids[0], &home, NS, WALL, WALL, 1, true, NULL, false, &out);
	check_ack(rc, &out, &home, &ack);
	CHECK_EQ(forged_verifications, 0);
	fprintf(stderr, "forged-ID drain: %llu signatures verified for 160 forgeries, legitimate REGISTER %s\n",
		(unsigned long long)forged_verifications,
		rc == 1 && out.len == UM_RELAY_REGISTER_ACK_BYTES ? "acked" : "refused");
	um_relay_destroy(&r);

	/* A valid identity re-registering from one /24 as fast as it can. */
	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	for (unsigned i = 0; i < 150; i++) {
		struct um_addr from = flood_endpoint(9, (uint16_t)(1000 + i));
		from.addr[3] = (uint8_t)(i % 200);
		harness_register(&r, &ids[2], &from, NS, WALL, WALL + 1 + i, 500 + i, true, NULL, false, &out);
	}
	CHECK(r.stats.reg_rate_limited > 0);
	CHECK(r.stats.registrations + r.stats.reregistrations <= c.prefix_verification_burst + 1);
	rc = harness_register(&r, &ids[0], &home, NS, WALL, WALL, 2, true, NULL, false, &out);
	check_ack(rc, &out, &home, &ack);
	um_relay_destroy(&r);
}

/* Review #7 (a): first pieces from 32 addresses (8 ports each) fill all 256
 * reassembly slots; a node must still register. Before the fix the table
 * stayed full for 5 s. */
static void test_first_piece_flood(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	static uint8_t junk[UM_RELAY_REGISTER_MAX_BYTES];
	randombytes_buf(junk, sizeof(junk));
	uint8_t piece[UM_HS_MAX_DATAGRAM];
	for (unsigned i = 0; i < 256; i++) {
		struct um_addr from = flood_endpoint(i / 8, (uint16_t)(2000 + i % 8));
		int n = um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 0, i, junk, sizeof(junk), 0);
		CHECK(n > 0);
		um_relay_input(&r, &from, piece, (size_t)n, NS, WALL, &out);
	}
	CHECK_EQ(um_reasm_pending(&r.reasm), 256);
	/* Pieces that are not first, not index 0, or not a REGISTER's size get
	 * no slot. */
	struct um_addr odd = flood_endpoint(200, 1);
	unsigned before = um_reasm_pending(&r.reasm);
	int n = um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 0, 1, junk, sizeof(junk), 1);
	um_relay_input(&r, &odd, piece, (size_t)n, NS, WALL, &out);
	n = um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 77, 1, junk, sizeof(junk), 0);
	um_relay_input(&r, &odd, piece, (size_t)n, NS, WALL, &out);
	n = um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 0, 1, junk, sizeof(junk) - 1, 0);
	um_relay_input(&r, &odd, piece, (size_t)n, NS, WALL, &out);
	CHECK_EQ(um_reasm_pending(&r.reasm), before);
	struct um_addr home = harness_endpoint(1, 4000);
	int rc = harness_register(&r, &ids[0], &home, NS + 1000, WALL, WALL, 1, true, NULL, false, &out);
	check_ack(rc, &out, &home, &ack);
	fprintf(stderr, "first-piece flood: 256 slots held, legitimate REGISTER %s\n",
		rc == 1 && out.len == UM_RELAY_REGISTER_ACK_BYTES ? "acked" : "refused");
	um_relay_destroy(&r);
}

/* review #5: a KEEPALIVE sniffed on the way (here: N's own, already
 * delivered) and replayed from another address V does not move N's
 * binding: not fresh. Nor does one raced ahead of N's from V: V gets a
 * challenge it cannot echo under N's key, and N's echo of it from N's
 * address does not count for V. Before: either moved N to V. */
static void test_sniffed_keepalive_replay(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000), b = harness_endpoint(3, 40001), v = harness_endpoint(66, 6666);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM], sniffed[UM_RELAY_KEEPALIVE_BYTES];
	struct um_relay_node_info info;

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out, &a, &ack);
	check_ack(harness_register(&r, &ids[1], &b, NS, WALL, WALL, 2, true, NULL, false, &out), &out, &b, &ack);
	struct harness_registration *rn = harness_reg_of(&ids[0].id);

	int n = harness_keepalive(rn, false, sniffed, sizeof(sniffed));
	CHECK_EQ(um_relay_input(&r, &a, memcpy(buf, sniffed, (size_t)n), (size_t)n, 2 * NS, WALL, &out), 1);
	CHECK_EQ(um_relay_input(&r, &v, memcpy(buf, sniffed, (size_t)n), (size_t)n, 3 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.keepalive_stale, 1);
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a));
	CHECK_EQ(info.pending.family, 0);

	/* Raced: the attacker's copy from V arrives first. */
	n = harness_keepalive(rn, false, sniffed, sizeof(sniffed));
	CHECK_EQ(um_relay_input(&r, &v, memcpy(buf, sniffed, (size_t)n), (size_t)n, 4 * NS, WALL, &out), 1);
	CHECK(um_addr_equal(&out.to, &v)); /* the challenge goes to V only */
	struct um_relay_keepalive reply;
	CHECK_EQ(um_relay_keepalive_decode(&reply, out.data, out.len), 0);
	CHECK(reply.flags & UM_RELAY_KEEPALIVE_FLAG_CHALLENGE);
	/* N's own copy is now stale; N's echo of V's challenge (relayed to N
	 * by the attacker) comes from N's address, not V's. */
	CHECK_EQ(um_relay_input(&r, &a, memcpy(buf, sniffed, (size_t)n), (size_t)n, 4 * NS, WALL, &out), 0);
	memcpy(rn->challenge, reply.challenge, sizeof(rn->challenge));
	n = harness_keepalive(rn, true, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 4 * NS, WALL, &out), 1);
	CHECK(um_addr_equal(&out.to, &a));
	/* The attacker's echo from V, without N's key. */
	struct harness_registration forged = *rn;
	randombytes_buf(forged.key, sizeof(forged.key));
	n = harness_keepalive(&forged, true, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &v, buf, (size_t)n, 4 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.rebinds, 0);
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a));
	/* B -> N still reaches N at a. */
	CHECK_EQ(forward(&r, &b, &ids[0].id, 20, 5 * NS, buf, &out), 1);
	CHECK(um_addr_equal(&out.to, &a));
	um_relay_destroy(&r);
}

/* review #5: only fresh, authentic keepalives count: an old sequence, the
 * same sequence again, and a forged MAC are dropped without an answer and
 * change nothing. Before: any keepalive with the token was answered. */
static void test_keepalive_sequence_and_mac(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000);
	uint8_t buf[UM_RELAY_KEEPALIVE_BYTES];

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out, &a, &ack);
	struct harness_registration *rn = harness_reg_of(&ids[0].id);
	rn->sequence = 100;
	int n = harness_keepalive(rn, false, buf, sizeof(buf)); /* 101 */
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 2 * NS, WALL, &out), 1);
	uint64_t answered = r.stats.keepalives;
	/* Same sequence, then an older one, both correctly MACed. */
	rn->sequence = 100;
	n = harness_keepalive(rn, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 3 * NS, WALL, &out), 0);
	rn->sequence = 5;
	n = harness_keepalive(rn, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 3 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.keepalive_stale, 2);
	/* A newer sequence with a forged MAC (one bit off, or all zero). */
	rn->sequence = 1000;
	n = harness_keepalive(rn, false, buf, sizeof(buf));
	buf[n - 1] ^= 1;
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 3 * NS, WALL, &out), 0);
	memset(buf + n - UM_RELAY_MAC_BYTES, 0, UM_RELAY_MAC_BYTES);
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 3 * NS, WALL, &out), 0);
	CHECK_EQ(r.stats.keepalive_bad_mac, 2);
	CHECK_EQ(r.stats.keepalives, answered);
	/* The forged one did not advance the sequence: 102 is still fresh. */
	rn->sequence = 101;
	n = harness_keepalive(rn, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 4 * NS, WALL, &out), 1);
	CHECK_EQ(r.stats.keepalives, answered + 1);
	um_relay_destroy(&r);
}

/* review #6: a valid REGISTER of another admitted identity X, spoofed
 * from N's endpoint, does not take N's binding: X stays unbound (its ACK
 * went to N, who cannot echo under X's key), N's FORWARDs are still
 * delivered as N's and traffic to N still reaches N. Before: X took the
 * endpoint, N was unbound and its FORWARDs were labelled X. */
static void test_spoofed_register(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_relay_register_ack ack;
	struct um_addr a = harness_endpoint(2, 40000), b = harness_endpoint(3, 40001);
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];
	struct um_relay_node_info info;

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	check_ack(harness_register(&r, &ids[0], &a, NS, WALL, WALL, 1, true, NULL, false, &out), &out, &a, &ack);
	check_ack(harness_register(&r, &ids[1], &b, NS, WALL, WALL, 2, true, NULL, false, &out), &out, &b, &ack);
	/* X = ids[2], spoofed from a: accepted as a registration (the ACK goes
	 * to a), but without the echo. */
	harness_auto_confirm = false;
	check_ack(harness_register(&r, &ids[2], &a, 2 * NS, WALL, WALL, 3, true, NULL, false, &out), &out, &a, &ack);
	harness_auto_confirm = true;
	CHECK_EQ(um_relay_lookup(&r, &ids[2].id, &info), 0);
	CHECK_EQ(info.endpoint.family, 0);
	CHECK_EQ(um_relay_lookup(&r, &ids[0].id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &a));
	/* N -> B: labelled N. B -> N: reaches a. B -> X: X is not reachable. */
	CHECK_EQ(forward(&r, &a, &ids[1].id, 30, 3 * NS, buf, &out), 1);
	CHECK(um_addr_equal(&out.to, &b));
	CHECK_MEM(out.data + 4, ids[0].id.bytes, 32);
	CHECK_EQ(forward(&r, &b, &ids[0].id, 30, 3 * NS, buf, &out), 1);
	CHECK(um_addr_equal(&out.to, &a));
	check_error(forward(&r, &b, &ids[2].id, 30, 3 * NS, buf, &out), &out, UM_RELAY_ERR_UNKNOWN_PEER);
	/* N keeps its keepalives going as before. */
	struct harness_registration *rn = harness_reg_of(&ids[0].id);
	int n = harness_keepalive(rn, false, buf, sizeof(buf));
	CHECK_EQ(um_relay_input(&r, &a, buf, (size_t)n, 4 * NS, WALL, &out), 1);
	CHECK_EQ(um_relay_mac_check(out.data, out.len, rn->key), 0);
	um_relay_destroy(&r);
}

/* Version 1 nodes are told, not ignored: ERROR VERSION. */
static void test_old_version(void)
{
	struct um_relay r;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_addr a = harness_endpoint(2, 40000);
	static uint8_t msg[UM_RELAY_REGISTER_MAX_BYTES];
	uint8_t piece[UM_HS_MAX_DATAGRAM];

	config_for_test(&c);
	CHECK_EQ(um_relay_init(&r, &c), 0);
	/* A v1 REGISTER: same head, version 1, the v1 size, in fragments. */
	int len = um_relay_register_build(msg, sizeof(msg), &ids[0], WALL, (uint8_t[16]){7}, harness_last.ephemeral,
					  true, NULL);
	CHECK(len > 0);
	msg[1] = 1;
	size_t v1_len = UM_RELAY_V1_REGISTER_MAX_BYTES;
	int rc = 0;
	for (unsigned i = 0; i < um_fragment_count(v1_len); i++) {
		int n = um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 0, 9, msg, v1_len, i);
		rc = um_relay_input(&r, &a, piece, (size_t)n, NS, WALL, &out);
	}
	check_error(rc, &out, UM_RELAY_ERR_VERSION);
	CHECK_EQ(r.stats.reg_version, 1);
	/* A v1 KEEPALIVE (72 bytes, zero version byte). */
	uint8_t old[72] = {UM_MSG_RELAY_KEEPALIVE};
	check_error(um_relay_input(&r, &a, old, sizeof(old), NS, WALL, &out), &out, UM_RELAY_ERR_VERSION);
	um_relay_destroy(&r);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(harness_identity(&ids[i], i), 0);
	harness_auto_confirm = true;
	RUN(test_register_and_forward);
	RUN(test_registration_checks);
	RUN(test_admission);
	RUN(test_caps_and_budgets);
	RUN(test_keepalive_rebind_expiry);
	RUN(test_rate_limits);
	RUN(test_memory_per_node);
	RUN(test_verification_drain);
	RUN(test_first_piece_flood);
	RUN(test_sniffed_keepalive_replay);
	RUN(test_keepalive_sequence_and_mac);
	RUN(test_spoofed_register);
	RUN(test_old_version);
	for (unsigned i = 0; i < 4; i++)
		um_identity_wipe(&ids[i]);
	return um_test_end();
}
