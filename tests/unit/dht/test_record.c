/* SPDX-License-Identifier: MIT */
/* Public peer and relay records: round trips, every refusal (flipped bits in
 * body / public key / signature, wrong key, expired, far future, oversize
 * counts, truncation, bad fields), the validators the engine calls, and the
 * sizes and signing / verifying cost (printed). */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dht/record.h"
#include "test.h"
#include "util/error.h"

enum { NOW = 1800000000 }; /* a fixed unix time: records are built around it */

static struct um_identity ident, other;
static struct um_dht_peer_record rec;
static uint8_t value[UM_DHT_PEER_RECORD_MAX];
static size_t value_len;

static void endpoint_v4(struct um_dht_endpoint *e, uint8_t kind, const char *ip, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->family = AF_INET;
	e->port = port;
	inet_pton(AF_INET, ip, e->addr);
}

/* The fixture, rebuilt per case: 3 endpoints (v4, v6, v4) and 2 relays. */
static void fixture(void)
{
	memset(&rec, 0, sizeof(rec));
	rec.sequence = 42;
	rec.issued = NOW - 60;
	rec.expires = NOW - 60 + 86400;
	rec.features = 0x5;
	rec.endpoint_count = 3;
	endpoint_v4(&rec.endpoints[0], UM_DHT_ENDPOINT_REFLEXIVE, "203.0.113.7", 51820);
	rec.endpoints[1].kind = UM_DHT_ENDPOINT_LAN;
	rec.endpoints[1].family = AF_INET6;
	rec.endpoints[1].port = 51821;
	inet_pton(AF_INET6, "2001:db8::1", rec.endpoints[1].addr);
	endpoint_v4(&rec.endpoints[2], UM_DHT_ENDPOINT_MAPPED, "198.51.100.2", 40000);
	rec.relay_count = 2;
	memset(rec.relays[0].id.bytes, 0xa1, 32);
	rec.relays[0].transport = UM_DHT_TRANSPORT_UDP;
	rec.relays[0].port = 7000;
	strcpy(rec.relays[0].host, "192.0.2.10");
	memset(rec.relays[1].id.bytes, 0xb2, 32);
	rec.relays[1].transport = UM_DHT_TRANSPORT_WSS;
	rec.relays[1].port = 443;
	strcpy(rec.relays[1].host, "relay.example.net");
	value_len = 0;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), 0);
}

static int verify(const uint8_t *v, size_t len, uint64_t now)
{
	return um_dht_peer_record_verify(NULL, ident.id.bytes, v, len, now);
}

static void test_round_trip(void)
{
	struct um_dht_peer_record got;

	fixture();
	CHECK_EQ(value_len, 64 + 3 * 20 + (36 + 10) + (36 + 17) + UM_HSIG_PK_BYTES + UM_HSIG_BYTES);
	CHECK_EQ(um_dht_peer_record_verify(&got, ident.id.bytes, value, value_len, NOW), 0);
	CHECK_MEM(got.id.bytes, ident.id.bytes, 32);
	CHECK_EQ(got.sequence, 42);
	CHECK_EQ(got.issued, rec.issued);
	CHECK_EQ(got.expires, rec.expires);
	CHECK_EQ(got.features, 5);
	CHECK_EQ(got.endpoint_count, 3);
	CHECK_EQ(got.relay_count, 2);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(got.endpoints[i].kind, rec.endpoints[i].kind);
		CHECK_EQ(got.endpoints[i].family, rec.endpoints[i].family);
		CHECK_EQ(got.endpoints[i].port, rec.endpoints[i].port);
		CHECK_MEM(got.endpoints[i].addr, rec.endpoints[i].addr, 16);
	}
	for (int i = 0; i < 2; i++) {
		CHECK_MEM(got.relays[i].id.bytes, rec.relays[i].id.bytes, 32);
		CHECK_EQ(got.relays[i].transport, rec.relays[i].transport);
		CHECK_EQ(got.relays[i].port, rec.relays[i].port);
		CHECK(strcmp(got.relays[i].host, rec.relays[i].host) == 0);
	}
	/* Without a key (inside a private record) the same record verifies. */
	CHECK_EQ(um_dht_peer_record_verify(NULL, NULL, value, value_len, NOW), 0);
	/* An empty record (no endpoints, no relays) is valid too. */
	rec.endpoint_count = rec.relay_count = 0;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), 0);
	CHECK_EQ(value_len, 64 + UM_HSIG_PK_BYTES + UM_HSIG_BYTES);
	CHECK_EQ(verify(value, value_len, NOW), 0);
}

static void test_flipped_bits(void)
{
	struct um_dht_peer_record got;
	size_t body;

	fixture();
	body = value_len - UM_HSIG_PK_BYTES - UM_HSIG_BYTES;
	/* Sequence (two bytes), features, an endpoint address, a relay host
	 * character, public key (both halves), signature (both halves). */
	const size_t at[] = {
	    47, 41, 4, 70, body - 3, body + 1, body + 100, body + 3000, body + UM_HSIG_PK_BYTES + 5, value_len - 1};

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		value[at[i]] ^= 0x04;
		CHECK_EQ(um_dht_peer_record_verify(&got, ident.id.bytes, value, value_len, NOW), -UM_EBADMSG);
		CHECK(sodium_is_zero((const uint8_t *)&got, sizeof(got))); /* nothing half-verified */
		value[at[i]] ^= 0x04;
	}
	CHECK_EQ(verify(value, value_len, NOW), 0);
	/* The peer ID itself: no longer H(pk), and no longer the key. */
	value[8] ^= 1;
	CHECK_EQ(verify(value, value_len, NOW), -UM_EBADMSG);
	CHECK_EQ(um_dht_peer_record_verify(NULL, NULL, value, value_len, NOW), -UM_EBADMSG);
	value[8] ^= 1;
}

static void test_wrong_key(void)
{
	uint8_t theirs[UM_DHT_PEER_RECORD_MAX];
	size_t theirs_len = 0;

	fixture();
	CHECK_EQ(um_dht_peer_record_verify(NULL, other.id.bytes, value, value_len, NOW), -UM_EBADMSG);
	/* Another identity's record with this identity's public key and
	 * signature spliced in: H(pk) no longer names the record's ID. */
	CHECK_EQ(um_dht_peer_record_sign(theirs, sizeof(theirs), &theirs_len, &rec, &other), 0);
	CHECK_EQ(theirs_len, value_len);
	memcpy(theirs + theirs_len - UM_DHT_SIGNED_OVERHEAD, value + value_len - UM_DHT_SIGNED_OVERHEAD,
	       UM_DHT_SIGNED_OVERHEAD);
	CHECK_EQ(um_dht_peer_record_verify(NULL, other.id.bytes, theirs, theirs_len, NOW), -UM_EBADMSG);
	CHECK_EQ(um_dht_peer_record_verify(NULL, ident.id.bytes, theirs, theirs_len, NOW), -UM_EBADMSG);
}

static void test_times(void)
{
	fixture();
	CHECK_EQ(verify(value, value_len, rec.expires - 1), 0);
	CHECK_EQ(verify(value, value_len, rec.expires), -UM_EREPLAY);
	CHECK_EQ(verify(value, value_len, rec.expires + 86400 * 400), -UM_EREPLAY);
	/* Issued ahead of the verifier's clock: within the skew allowance, fine;
	 * beyond it (or expiring more than 24 h + skew ahead), refused. */
	CHECK_EQ(verify(value, value_len, rec.issued - UM_DHT_CLOCK_SKEW), 0);
	CHECK_EQ(verify(value, value_len, rec.issued - UM_DHT_CLOCK_SKEW - 1), -UM_ERANGE);
	CHECK_EQ(verify(value, value_len, 1000), -UM_ERANGE);
	/* A lifetime above 24 h is refused when signing and when parsing
	 * (before the signature is even looked at). */
	rec.expires = rec.issued + 86401;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), -UM_EINVAL);
	rec.expires = rec.issued - 1;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), -UM_EINVAL);
	fixture();
	value[63] += 2; /* expires low byte: 24 h + 2 s */
	CHECK_EQ(verify(value, value_len, NOW), -UM_ERANGE);
	memset(value + 56, 0, 8); /* expires 0 < issued */
	CHECK_EQ(verify(value, value_len, NOW), -UM_EINVAL);
}

static void test_malformed(void)
{
	uint8_t copy[UM_DHT_PEER_RECORD_MAX + 1];

	fixture();
	memcpy(copy, value, value_len);
	/* Every truncation, and one byte too many. */
	for (size_t len = 0; len < value_len; len++)
		CHECK_EQ(verify(copy, len, NOW), -UM_ETRUNC);
	copy[value_len] = 0;
	CHECK_EQ(verify(copy, value_len + 1, NOW), -UM_EINVAL);
	/* Version, type, counts. */
	copy[0] = 2;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EVERSION);
	copy[0] = 1;
	copy[1] = UM_DHT_RECORD_RELAY;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[1] = UM_DHT_RECORD_PEER;
	copy[2] = UM_DHT_ENDPOINTS_MAX + 1;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[2] = 255;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[2] = 3;
	copy[3] = UM_DHT_HOME_RELAYS_MAX + 1;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[3] = 2;
	/* Counts within bounds but claiming more than is there: the body runs
	 * into the key and the lengths no longer add up. */
	copy[2] = 4;
	CHECK(verify(copy, value_len, NOW) < 0);
	copy[2] = 3;
	/* Endpoint 0: kind 0 and 4, family 5, port 0, IPv4 padding not zero. */
	copy[64] = 0;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[64] = 4;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[64] = 1;
	copy[65] = 5;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[65] = 4;
	copy[66] = copy[67] = 0;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	memcpy(copy, value, value_len);
	copy[64 + 4 + 4] = 1;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	memcpy(copy, value, value_len);
	/* Relay 0 (after the 3 endpoints): transport 3, host length 0, a host
	 * character outside the alphabet, a host length past the end. */
	copy[124 + 32] = 3;
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[124 + 32] = 1;
	copy[124 + 33] = 0;
	CHECK(verify(copy, value_len, NOW) < 0);
	copy[124 + 33] = 10;
	copy[124 + 36] = '/';
	CHECK_EQ(verify(copy, value_len, NOW), -UM_EINVAL);
	copy[124 + 36] = '1';
	CHECK_EQ(verify(copy, value_len, NOW), 0);
	/* Sign refuses what verify would refuse. */
	rec.endpoint_count = UM_DHT_ENDPOINTS_MAX + 1;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), -UM_EINVAL);
	rec.endpoint_count = 3;
	rec.endpoints[0].kind = 0;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), -UM_EINVAL);
	rec.endpoints[0].kind = UM_DHT_ENDPOINT_LAN;
	strcpy(rec.relays[1].host, "bad host");
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), -UM_EINVAL);
	memset(rec.relays[1].host, 'a', UM_DHT_HOST_MAX);
	rec.relays[1].host[UM_DHT_HOST_MAX] = '\0';
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), 0);
	CHECK_EQ(verify(value, value_len, NOW), 0);
	CHECK_EQ(um_dht_peer_record_sign(value, 100, &value_len, &rec, &ident), -UM_ERANGE);
}

static void test_largest_record(void)
{
	fixture();
	rec.endpoint_count = UM_DHT_ENDPOINTS_MAX;
	rec.relay_count = UM_DHT_HOME_RELAYS_MAX;
	for (int i = 0; i < UM_DHT_ENDPOINTS_MAX; i++)
		endpoint_v4(&rec.endpoints[i], UM_DHT_ENDPOINT_LAN, "10.0.0.1", (uint16_t)(1000 + i));
	for (int i = 0; i < UM_DHT_HOME_RELAYS_MAX; i++) {
		rec.relays[i].transport = UM_DHT_TRANSPORT_UDP;
		rec.relays[i].port = 1;
		memset(rec.relays[i].host, 'h', UM_DHT_HOST_MAX);
		rec.relays[i].host[UM_DHT_HOST_MAX] = '\0';
	}
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), 0);
	CHECK_EQ(value_len, UM_DHT_PEER_RECORD_MAX);
	CHECK(value_len <= UM_DHT_VALUE_MAX);
	CHECK_EQ(verify(value, value_len, NOW), 0);
}

static void relay_fixture(struct um_dht_relay_record *r)
{
	memset(r, 0, sizeof(*r));
	r->sequence = 3;
	r->issued = NOW - 10;
	r->expires = NOW + 3600;
	r->udp_count = 2;
	endpoint_v4(&r->udp[0], 0, "192.0.2.10", 7000);
	r->udp[1].family = AF_INET6;
	r->udp[1].port = 7000;
	inet_pton(AF_INET6, "2001:db8::10", r->udp[1].addr);
	r->wss_port = 443;
	strcpy(r->wss_host, "192.0.2.10");
}

static void test_relay_record(void)
{
	struct um_dht_relay_record r, got;
	uint8_t key[32], buf[UM_DHT_RELAY_RECORD_MAX];
	size_t len = 0;

	relay_fixture(&r);
	um_dht_relay_key_public(key);
	CHECK_EQ(um_dht_relay_record_sign(buf, sizeof(buf), &len, &r, &ident), 0);
	CHECK_EQ(len, 64 + 2 * 20 + 2 + 10 + UM_DHT_SIGNED_OVERHEAD);
	CHECK_EQ(um_dht_relay_record_verify(&got, key, buf, len, NOW), 0);
	CHECK_MEM(got.id.bytes, ident.id.bytes, 32);
	CHECK_EQ(got.udp_count, 2);
	CHECK_EQ(got.udp[1].family, AF_INET6);
	CHECK_MEM(got.udp[1].addr, r.udp[1].addr, 16);
	CHECK_EQ(got.wss_port, 443);
	CHECK(strcmp(got.wss_host, "192.0.2.10") == 0);
	/* Only under the well-known key; not a peer record; bits flipped. */
	CHECK_EQ(um_dht_relay_record_verify(NULL, ident.id.bytes, buf, len, NOW), -UM_EBADMSG);
	CHECK_EQ(um_dht_peer_record_verify(NULL, ident.id.bytes, buf, len, NOW), -UM_EINVAL);
	buf[45] ^= 1;
	CHECK_EQ(um_dht_relay_record_verify(NULL, key, buf, len, NOW), -UM_EBADMSG);
	buf[45] ^= 1;
	buf[len - 7] ^= 1;
	CHECK_EQ(um_dht_relay_record_verify(NULL, key, buf, len, NOW), -UM_EBADMSG);
	buf[len - 7] ^= 1;
	CHECK_EQ(um_dht_relay_record_verify(NULL, key, buf, len, r.expires), -UM_EREPLAY);
	for (size_t cut = 0; cut < len; cut += 97)
		CHECK_EQ(um_dht_relay_record_verify(NULL, key, buf, cut, NOW), -UM_ETRUNC);
	buf[64] = 1; /* a kind on a relay endpoint */
	CHECK_EQ(um_dht_relay_record_verify(NULL, key, buf, len, NOW), -UM_EINVAL);
	buf[64] = 0;
	buf[2] = UM_DHT_RELAY_UDP_MAX + 1;
	CHECK_EQ(um_dht_relay_record_verify(NULL, key, buf, len, NOW), -UM_EINVAL);
	/* wss only, UDP only; nothing at all is refused. */
	r.udp_count = 0;
	CHECK_EQ(um_dht_relay_record_sign(buf, sizeof(buf), &len, &r, &ident), 0);
	CHECK_EQ(um_dht_relay_record_verify(&got, key, buf, len, NOW), 0);
	CHECK_EQ(got.udp_count, 0);
	r.wss_port = 0;
	CHECK_EQ(um_dht_relay_record_sign(buf, sizeof(buf), &len, &r, &ident), -UM_EINVAL);
	r.udp_count = 1;
	CHECK_EQ(um_dht_relay_record_sign(buf, sizeof(buf), &len, &r, &ident), 0);
	CHECK_EQ(um_dht_relay_record_verify(&got, key, buf, len, NOW), 0);
	CHECK_EQ(got.wss_port, 0);
	CHECK_EQ(got.wss_host[0], '\0');
}

static void test_validators(void)
{
	struct um_dht_record_clock clock;
	struct um_dht_value_info info;
	struct um_dht_relay_record r;
	uint8_t key[32], buf[UM_DHT_RELAY_RECORD_MAX];
	size_t len = 0;
	const uint64_t mono = 5000000000ull; /* the engine's clock reads 5 s at NOW */
	struct um_dht_value_ops ops = {.ctx = &clock, .check = um_dht_record_check};

	fixture();
	um_dht_record_clock_set(&clock, (uint64_t)NOW * 1000000000ull, mono);
	CHECK_EQ(um_dht_record_clock_unix(&clock, mono), NOW);
	CHECK_EQ(um_dht_record_clock_mono(&clock, NOW + 10), mono + 10000000000ull);
	CHECK_EQ(um_dht_record_clock_mono(&clock, 1), 0); /* before the monotonic epoch */
	memset(&info, 0, sizeof(info));
	CHECK_EQ(ops.check(ops.ctx, ident.id.bytes, value, value_len, mono, &info), 0);
	CHECK_MEM(info.owner, ident.id.bytes, 32);
	CHECK_EQ(info.sequence, 42);
	CHECK_EQ(info.expires_ns, mono + (rec.expires - NOW) * 1000000000ull);
	CHECK_EQ(um_dht_peer_record_check(&clock, ident.id.bytes, value, value_len, mono, &info), 0);
	/* Expired by the engine's clock; stored under another key; forged. */
	CHECK_EQ(ops.check(ops.ctx, ident.id.bytes, value, value_len, info.expires_ns, &info), -UM_EREPLAY);
	CHECK_EQ(ops.check(ops.ctx, other.id.bytes, value, value_len, mono, &info), -UM_EBADMSG);
	value[value_len - 1] ^= 1;
	CHECK_EQ(ops.check(ops.ctx, ident.id.bytes, value, value_len, mono, &info), -UM_EBADMSG);
	value[value_len - 1] ^= 1;
	CHECK_EQ(ops.check(ops.ctx, ident.id.bytes, value, 1, mono, &info), -UM_ETRUNC);
	value[1] = 9;
	CHECK_EQ(ops.check(ops.ctx, ident.id.bytes, value, value_len, mono, &info), -UM_EINVAL);
	value[1] = UM_DHT_RECORD_PEER;
	/* Rollback is visible: a lower sequence reports a lower info.sequence,
	 * which the engine refuses against what it holds. */
	rec.sequence = 41;
	CHECK_EQ(um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident), 0);
	CHECK_EQ(ops.check(ops.ctx, ident.id.bytes, value, value_len, mono, &info), 0);
	CHECK_EQ(info.sequence, 41);
	/* Relay records, through the dispatcher and their own validator. */
	relay_fixture(&r);
	r.sequence = 77;
	um_dht_relay_key_public(key);
	CHECK_EQ(um_dht_relay_record_sign(buf, sizeof(buf), &len, &r, &other), 0);
	CHECK_EQ(ops.check(ops.ctx, key, buf, len, mono, &info), 0);
	CHECK_MEM(info.owner, other.id.bytes, 32);
	CHECK_EQ(info.sequence, 77);
	CHECK_EQ(um_dht_relay_record_check(&clock, key, buf, len, mono, &info), 0);
	CHECK_EQ(um_dht_relay_record_check(&clock, key, value, value_len, mono, &info), -UM_EINVAL);
	CHECK_EQ(um_dht_peer_record_check(&clock, key, buf, len, mono, &info), -UM_EINVAL);
	CHECK_EQ(um_dht_private_record_check(&clock, key, buf, len, mono, &info), -UM_EINVAL);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Not an assertion on speed (the machine is shared): figures for the notes,
 * and a check that each run produced a valid record. */
static void test_cost(void)
{
	enum { RUNS = 20 };
	double t0, t1, t2;
	int ok = 0;

	fixture();
	t0 = seconds();
	for (int i = 0; i < RUNS; i++) {
		rec.sequence = (uint64_t)i;
		ok += um_dht_peer_record_sign(value, sizeof(value), &value_len, &rec, &ident) == 0;
	}
	t1 = seconds();
	for (int i = 0; i < RUNS; i++)
		ok += verify(value, value_len, NOW) == 0;
	t2 = seconds();
	CHECK_EQ(ok, 2 * RUNS);
	printf("peer record (3 endpoints, 2 relays): %zu bytes; build+sign %.3f ms, verify %.3f ms (mean of %d)\n",
	       value_len, (t1 - t0) * 1e3 / RUNS, (t2 - t1) * 1e3 / RUNS, RUNS);
}

int main(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];

	if (sodium_init() < 0)
		return 1;
	memset(seed, 1, sizeof(seed));
	CHECK_EQ(um_identity_from_seed(&ident, seed), 0);
	memset(seed, 2, sizeof(seed));
	CHECK_EQ(um_identity_from_seed(&other, seed), 0);
	RUN(test_round_trip);
	RUN(test_flipped_bits);
	RUN(test_wrong_key);
	RUN(test_times);
	RUN(test_malformed);
	RUN(test_largest_record);
	RUN(test_relay_record);
	RUN(test_validators);
	RUN(test_cost);
	um_identity_wipe(&ident);
	um_identity_wipe(&other);
	return um_test_end();
}
