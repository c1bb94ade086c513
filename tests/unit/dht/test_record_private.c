/* SPDX-License-Identifier: MIT */
/* Private (sealed) records: a member opens what another member published,
 * a storer checks it without the network key, an outsider or another
 * network's member cannot open it or learn who it is for, nobody without
 * the key forges or rolls one back, the key rotates daily; and the same for
 * a private network's relay records. */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dht/record.h"
#include "test.h"
#include "util/error.h"

enum { NOW = 1800000000 + 43200 }; /* noon UTC */

static struct um_identity alice, bob;
static struct um_network_key net, other_net;
static struct um_dht_peer_record rec;
static struct um_dht_record_clock clock_ctx;
static uint8_t value[UM_DHT_VALUE_MAX], key[32];
static size_t value_len;
static const uint64_t mono = 1000000000ull;

static void fixture(void)
{
	memset(&rec, 0, sizeof(rec));
	rec.sequence = 7;
	rec.issued = NOW - 5;
	rec.expires = NOW + 3600;
	rec.endpoint_count = 3;
	for (int i = 0; i < 3; i++) {
		rec.endpoints[i].kind = UM_DHT_ENDPOINT_REFLEXIVE;
		rec.endpoints[i].family = AF_INET;
		rec.endpoints[i].port = (uint16_t)(51820 + i);
		inet_pton(AF_INET, "203.0.113.77", rec.endpoints[i].addr);
	}
	rec.relay_count = 2;
	for (int i = 0; i < 2; i++) {
		memset(rec.relays[i].id.bytes, 0x30 + i, 32);
		rec.relays[i].transport = UM_DHT_TRANSPORT_UDP;
		rec.relays[i].port = 7000;
		strcpy(rec.relays[i].host, "192.0.2.99");
	}
	memset(net.bytes, 0x11, sizeof(net.bytes));
	memset(other_net.bytes, 0x12, sizeof(other_net.bytes));
	um_dht_record_clock_set(&clock_ctx, (uint64_t)NOW * 1000000000ull, mono);
	value_len = 0;
	CHECK_EQ(um_dht_private_record_build(value, sizeof(value), &value_len, key, &rec, &alice, &net), 0);
}

static void test_member_opens(void)
{
	struct um_dht_peer_record got;
	uint8_t expect_key[32];

	fixture();
	CHECK_EQ(um_dht_private_key(expect_key, &net, &alice.id, um_dht_day(NOW)), 0);
	CHECK_MEM(key, expect_key, 32);
	CHECK(memcmp(key, alice.id.bytes, 32) != 0);
	CHECK_EQ(um_dht_private_record_open(&got, &net, &alice.id, key, value, value_len, NOW), 0);
	CHECK_MEM(got.id.bytes, alice.id.bytes, 32);
	CHECK_EQ(got.sequence, 7);
	CHECK_EQ(got.expires, rec.expires);
	CHECK_EQ(got.endpoint_count, 3);
	CHECK_EQ(got.endpoints[2].port, 51822);
	CHECK_EQ(got.relay_count, 2);
	CHECK(strcmp(got.relays[1].host, "192.0.2.99") == 0);
	/* Looking for bob, alice's record is refused even by a member. */
	CHECK_EQ(um_dht_private_record_open(&got, &net, &bob.id, key, value, value_len, NOW), -UM_EBADMSG);
	CHECK(sodium_is_zero((const uint8_t *)&got, sizeof(got)));
	printf("private peer record (3 endpoints, 2 relays): %zu bytes\n", value_len);
}

static void test_outsider(void)
{
	struct um_dht_peer_record got;

	fixture();
	/* Another network's key: neither the key nor the AEAD matches. */
	CHECK_EQ(um_dht_private_record_open(&got, &other_net, &alice.id, key, value, value_len, NOW), -UM_EBADMSG);
	/* What a storer holds names neither the peer nor its addresses. */
	CHECK(memmem(value, value_len, alice.id.bytes, 8) == NULL);
	CHECK(memmem(value, value_len, alice.public_key, 8) == NULL);
	CHECK(memmem(value, value_len, rec.endpoints[0].addr, 4) == NULL);
	CHECK(memmem(value, value_len, "192.0.2.99", 10) == NULL);
	/* Sealing twice gives unrelated ciphertexts (fresh nonce). */
	{
		uint8_t again[UM_DHT_VALUE_MAX], key2[32];
		size_t len2 = 0;

		CHECK_EQ(um_dht_private_record_build(again, sizeof(again), &len2, key2, &rec, &alice, &net), 0);
		CHECK_EQ(len2, value_len);
		CHECK_MEM(key2, key, 32);
		CHECK(memcmp(again + 84, value + 84, 64) != 0);
	}
}

static void test_storer_check(void)
{
	struct um_dht_value_info info;
	uint8_t wrong[32];

	fixture();
	memset(&info, 0, sizeof(info));
	CHECK_EQ(um_dht_private_record_check(&clock_ctx, key, value, value_len, mono, &info), 0);
	CHECK_MEM(info.owner, key, 32);
	CHECK_EQ(info.sequence, 7);
	CHECK_EQ(info.expires_ns, mono + 3600 * 1000000000ull);
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &info), 0);
	/* Under another key (say alice's peer ID), refused. */
	CHECK_EQ(um_dht_record_check(&clock_ctx, alice.id.bytes, value, value_len, mono, &info), -UM_EBADMSG);
	memcpy(wrong, key, 32);
	wrong[0] ^= 1;
	CHECK_EQ(um_dht_record_check(&clock_ctx, wrong, value, value_len, mono, &info), -UM_EBADMSG);
	/* Any bit of the envelope: outer key (binding), owner, sequence (no
	 * rollback by an outsider), expiry, nonce, ciphertext, signature. */
	const size_t at[] = {5, 40, 75, 83, 90, 200, value_len - 100, value_len - 1};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		value[at[i]] ^= 0x10;
		CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &info), -UM_EBADMSG);
		value[at[i]] ^= 0x10;
	}
	value[2] = 1; /* reserved */
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &info), -UM_EINVAL);
	value[2] = 0;
	for (size_t cut = 0; cut < 400; cut++)
		CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, cut, mono, &info), -UM_ETRUNC);
	/* Expired; too far ahead for the storer's clock. */
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono + 3600 * 1000000000ull, &info),
		 -UM_EREPLAY);
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, 0, &info), 0);
	um_dht_record_clock_set(&clock_ctx, (uint64_t)(NOW - 2 * 86400) * 1000000000ull, mono);
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &info), -UM_ERANGE);
	/* A member's open applies the same checks. */
	CHECK_EQ(um_dht_private_record_open(NULL, &net, &alice.id, key, value, value_len, rec.expires), -UM_EREPLAY);
	value[value_len - 1] ^= 1;
	CHECK_EQ(um_dht_private_record_open(NULL, &net, &alice.id, key, value, value_len, NOW), -UM_EBADMSG);
}

static void test_rollback_visible(void)
{
	struct um_dht_value_info newer, older;

	fixture();
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &newer), 0);
	rec.sequence = 6;
	CHECK_EQ(um_dht_private_record_build(value, sizeof(value), &value_len, key, &rec, &alice, &net), 0);
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &older), 0);
	CHECK_MEM(newer.owner, older.owner, 32); /* same slot (key, owner) ... */
	CHECK(older.sequence < newer.sequence);  /* ... so the engine keeps the newer */
}

static void test_day_rotation(void)
{
	uint8_t keys[2][32], today[32], tomorrow[32], yesterday[32];
	uint64_t day = um_dht_day(NOW);

	fixture();
	CHECK_EQ(um_dht_private_key(today, &net, &alice.id, day), 0);
	CHECK_EQ(um_dht_private_key(tomorrow, &net, &alice.id, day + 1), 0);
	CHECK_EQ(um_dht_private_key(yesterday, &net, &alice.id, day - 1), 0);
	CHECK(memcmp(today, tomorrow, 32) != 0);
	CHECK(memcmp(today, yesterday, 32) != 0);
	/* Noon: one key; just after midnight: today's and yesterday's. */
	CHECK_EQ(um_dht_private_lookup_keys(keys, &net, &alice.id, NOW), 1);
	CHECK_MEM(keys[0], today, 32);
	CHECK_EQ(um_dht_private_lookup_keys(keys, &net, &alice.id, (day + 1) * 86400 + 60), 2);
	CHECK_MEM(keys[0], tomorrow, 32);
	CHECK_MEM(keys[1], today, 32);
	CHECK_EQ(um_dht_private_lookup_keys(keys, &net, &alice.id, (day + 1) * 86400 + UM_DHT_PRIVATE_OVERLAP), 1);
	/* Yesterday's record still opens after midnight (it has not expired);
	 * a record sealed for a day two days off does not. */
	rec.expires = rec.issued + 86000;
	CHECK_EQ(um_dht_private_record_build(value, sizeof(value), &value_len, key, &rec, &alice, &net), 0);
	CHECK_EQ(um_dht_private_record_open(NULL, &net, &alice.id, key, value, value_len, (day + 1) * 86400 + 60), 0);
	CHECK_EQ(um_dht_private_record_open(NULL, &net, &alice.id, key, value, value_len, (day + 1) * 86400 - 60), 0);
	CHECK_EQ(um_dht_private_record_seal(value, sizeof(value), &value_len, key, NULL, 0, &net, day), -UM_ETRUNC);
	{
		uint8_t inner[UM_DHT_PEER_RECORD_MAX];
		size_t inner_len = 0;

		CHECK_EQ(um_dht_peer_record_sign(inner, sizeof(inner), &inner_len, &rec, &alice), 0);
		CHECK_EQ(
		    um_dht_private_record_seal(value, sizeof(value), &value_len, key, inner, inner_len, &net, day + 2),
		    0);
		CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, NULL), 0); /* storer: fine */
		CHECK_EQ(um_dht_private_record_open(NULL, &net, &alice.id, key, value, value_len, NOW), -UM_EBADMSG);
	}
	/* Different peers, different keys. */
	CHECK_EQ(um_dht_private_key(tomorrow, &net, &bob.id, day), 0);
	CHECK(memcmp(today, tomorrow, 32) != 0);
	CHECK_EQ(um_dht_private_key(tomorrow, &other_net, &alice.id, day), 0);
	CHECK(memcmp(today, tomorrow, 32) != 0);
}

static void test_private_relay(void)
{
	struct um_dht_relay_record relay, got;
	struct um_dht_value_info info_a, info_b;
	uint8_t inner[UM_DHT_RELAY_RECORD_MAX], sealed_b[UM_DHT_VALUE_MAX], key_b[32], expect[32], public_key[32];
	size_t inner_len = 0, len_b = 0;
	uint64_t day = um_dht_day(NOW);

	fixture();
	memset(&relay, 0, sizeof(relay));
	relay.sequence = 9;
	relay.issued = NOW;
	relay.expires = NOW + 7200;
	relay.udp_count = 1;
	relay.udp[0].family = AF_INET;
	relay.udp[0].port = 7000;
	inet_pton(AF_INET, "192.0.2.1", relay.udp[0].addr);
	CHECK_EQ(um_dht_relay_record_sign(inner, sizeof(inner), &inner_len, &relay, &alice), 0);
	CHECK_EQ(um_dht_private_relay_seal(value, sizeof(value), &value_len, key, inner, inner_len, &net, day), 0);
	CHECK_EQ(um_dht_relay_key_private(expect, &net, day), 0);
	CHECK_MEM(key, expect, 32);
	um_dht_relay_key_public(public_key);
	CHECK(memcmp(key, public_key, 32) != 0);
	/* Storer: the relay validator and the dispatcher accept it. */
	CHECK_EQ(um_dht_relay_record_check(&clock_ctx, key, value, value_len, mono, &info_a), 0);
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, value, value_len, mono, &info_a), 0);
	CHECK_EQ(info_a.sequence, 9);
	CHECK(memcmp(info_a.owner, alice.id.bytes, 32) != 0); /* the relay is not named */
	CHECK_EQ(um_dht_record_check(&clock_ctx, public_key, value, value_len, mono, &info_a), -UM_EBADMSG);
	/* A second relay: same key, its own owner slot. */
	CHECK_EQ(um_dht_relay_record_sign(inner, sizeof(inner), &inner_len, &relay, &bob), 0);
	CHECK_EQ(um_dht_private_relay_seal(sealed_b, sizeof(sealed_b), &len_b, key_b, inner, inner_len, &net, day), 0);
	CHECK_MEM(key_b, key, 32);
	CHECK_EQ(um_dht_record_check(&clock_ctx, key, sealed_b, len_b, mono, &info_b), 0);
	CHECK(memcmp(info_a.owner, info_b.owner, 32) != 0);
	/* Members open; other networks cannot. */
	CHECK_EQ(um_dht_private_relay_open(&got, &net, key, value, value_len, NOW), 0);
	CHECK_MEM(got.id.bytes, alice.id.bytes, 32);
	CHECK_EQ(got.udp[0].port, 7000);
	CHECK_EQ(um_dht_private_relay_open(&got, &net, key, sealed_b, len_b, NOW), 0);
	CHECK_MEM(got.id.bytes, bob.id.bytes, 32);
	CHECK_EQ(um_dht_private_relay_open(&got, &other_net, key, value, value_len, NOW), -UM_EBADMSG);
	/* Not a private peer record, nor the other way round. */
	CHECK_EQ(um_dht_private_record_check(&clock_ctx, key, value, value_len, mono, &info_a), -UM_EINVAL);
	CHECK_EQ(um_dht_private_relay_open(&got, &net, key, value, 1, NOW), -UM_ETRUNC);
	printf("relay record sealed for a private network: %zu bytes\n", value_len);
}

/* How a node finds relays: which keys it looks under (a member: its
 * network's, rotating daily, public ones only when asked; no key: public),
 * and what it accepts there (a public record under the public key, its own
 * network's sealed one under a private key; nothing else). */
static void test_relay_lookup(void)
{
	uint8_t keys[UM_DHT_RELAY_LOOKUP_KEYS_MAX][32], public_key[32], today[32], yesterday[32];
	uint8_t inner[UM_DHT_RELAY_RECORD_MAX], other[UM_DHT_VALUE_MAX], other_key[32];
	struct um_dht_relay_record relay, got;
	size_t inner_len = 0, other_len = 0;
	uint64_t day = um_dht_day(NOW), early = day * 86400 + 600;

	fixture();
	um_dht_relay_key_public(public_key);
	CHECK_EQ(um_dht_relay_key_private(today, &net, day), 0);
	CHECK_EQ(um_dht_relay_key_private(yesterday, &net, day - 1), 0);
	/* Keys: no network key -> the public key alone (public_too is moot). */
	CHECK_EQ(um_dht_relay_lookup_keys(keys, NULL, false, NOW), 1);
	CHECK_MEM(keys[0], public_key, 32);
	CHECK_EQ(um_dht_relay_lookup_keys(keys, NULL, true, NOW), 1);
	CHECK_MEM(keys[0], public_key, 32);
	/* A member at noon: today's private key only; with public_too the public one after it. */
	CHECK_EQ(um_dht_relay_lookup_keys(keys, &net, false, NOW), 1);
	CHECK_MEM(keys[0], today, 32);
	CHECK_EQ(um_dht_relay_lookup_keys(keys, &net, true, NOW), 2);
	CHECK_MEM(keys[0], today, 32);
	CHECK_MEM(keys[1], public_key, 32);
	/* Just after midnight: yesterday's key too (relays republish hourly). */
	CHECK_EQ(um_dht_relay_lookup_keys(keys, &net, true, early), 3);
	CHECK_MEM(keys[0], today, 32);
	CHECK_MEM(keys[1], yesterday, 32);
	CHECK_MEM(keys[2], public_key, 32);
	CHECK_EQ(um_dht_relay_lookup_keys(keys, &net, false, day * 86400 + UM_DHT_PRIVATE_OVERLAP), 1);
	CHECK_EQ(um_dht_relay_lookup_keys(NULL, &net, false, NOW), -UM_EINVAL);

	/* Values: a public relay record (alice) and a sealed one of net (alice). */
	memset(&relay, 0, sizeof(relay));
	relay.sequence = 4;
	relay.issued = NOW;
	relay.expires = NOW + 7200;
	relay.udp_count = 1;
	relay.udp[0].family = AF_INET;
	relay.udp[0].port = 7001;
	inet_pton(AF_INET, "192.0.2.7", relay.udp[0].addr);
	CHECK_EQ(um_dht_relay_record_sign(inner, sizeof(inner), &inner_len, &relay, &alice), 0);
	CHECK_EQ(um_dht_private_relay_seal(value, sizeof(value), &value_len, key, inner, inner_len, &net, day), 0);
	CHECK_MEM(key, today, 32);
	/* The public record under the public key: anyone, member or not. */
	CHECK_EQ(um_dht_relay_value_open(&got, NULL, public_key, inner, inner_len, NOW), 0);
	CHECK_MEM(got.id.bytes, alice.id.bytes, 32);
	CHECK_EQ(um_dht_relay_value_open(&got, &net, public_key, inner, inner_len, NOW), 0);
	CHECK_EQ(got.udp[0].port, 7001);
	/* The sealed one under today's key: members of net only. */
	CHECK_EQ(um_dht_relay_value_open(&got, &net, today, value, value_len, NOW), 0);
	CHECK_MEM(got.id.bytes, alice.id.bytes, 32);
	CHECK_EQ(um_dht_relay_value_open(&got, NULL, today, value, value_len, NOW), -UM_EBADMSG);
	CHECK(um_dht_relay_value_open(&got, &other_net, today, value, value_len, NOW) < 0);
	CHECK(sodium_is_zero(got.id.bytes, 32)); /* nothing left of a refused value */
	/* Misplaced values: sealed under the public key, public under a private one. */
	CHECK(um_dht_relay_value_open(&got, &net, public_key, value, value_len, NOW) < 0);
	CHECK(um_dht_relay_value_open(&got, &net, today, inner, inner_len, NOW) < 0);
	/* Another network's sealed relay record, under its own key: refused by a member of net. */
	CHECK_EQ(
	    um_dht_private_relay_seal(other, sizeof(other), &other_len, other_key, inner, inner_len, &other_net, day),
	    0);
	CHECK(memcmp(other_key, today, 32) != 0);
	CHECK(um_dht_relay_value_open(&got, &net, other_key, other, other_len, NOW) < 0);
	CHECK_EQ(um_dht_relay_value_open(&got, &other_net, other_key, other, other_len, NOW), 0);
	/* Tampered: one byte of the sealed value flipped. */
	value[value_len - 3] ^= 1;
	CHECK(um_dht_relay_value_open(&got, &net, today, value, value_len, NOW) < 0);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_cost(void)
{
	enum { RUNS = 20 };
	double t0, t1, t2, t3;
	int ok = 0;

	fixture();
	t0 = seconds();
	for (int i = 0; i < RUNS; i++)
		ok += um_dht_private_record_build(value, sizeof(value), &value_len, key, &rec, &alice, &net) == 0;
	t1 = seconds();
	for (int i = 0; i < RUNS; i++)
		ok += um_dht_private_record_check(&clock_ctx, key, value, value_len, mono, NULL) == 0;
	t2 = seconds();
	for (int i = 0; i < RUNS; i++)
		ok += um_dht_private_record_open(NULL, &net, &alice.id, key, value, value_len, NOW) == 0;
	t3 = seconds();
	CHECK_EQ(ok, 3 * RUNS);
	printf("private record: build+sign+seal %.3f ms, storer check %.3f ms, member open+verify %.3f ms\n",
	       (t1 - t0) * 1e3 / RUNS, (t2 - t1) * 1e3 / RUNS, (t3 - t2) * 1e3 / RUNS);
}

int main(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];

	if (sodium_init() < 0)
		return 1;
	memset(seed, 3, sizeof(seed));
	CHECK_EQ(um_identity_from_seed(&alice, seed), 0);
	memset(seed, 4, sizeof(seed));
	CHECK_EQ(um_identity_from_seed(&bob, seed), 0);
	RUN(test_member_opens);
	RUN(test_outsider);
	RUN(test_storer_check);
	RUN(test_rollback_visible);
	RUN(test_day_rotation);
	RUN(test_private_relay);
	RUN(test_relay_lookup);
	RUN(test_cost);
	um_identity_wipe(&alice);
	um_identity_wipe(&bob);
	um_network_key_wipe(&net);
	um_network_key_wipe(&other_net);
	return um_test_end();
}
