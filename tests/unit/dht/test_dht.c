/* SPDX-License-Identifier: MIT */
/* The DHT engine's rules: a contact enters the table only with a proof of
 * possession from the address it claims; address diversity; stale
 * contacts evicted for replacements; store bounds, stale and invalid
 * values, cookies and rate limits; contacts save/load; the likely k
 * closest asked at once, the wide top buckets; a lookup on a small
 * simulated network. Each case builds its own engines. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/sim.h"
#include "dht/internal.h"
#include "test.h"
#include "util/error.h"

#define MS 1000000ULL

/* A tiny validator: value = owner (32) | sequence (8) | tag (1) | body;
 * key must be the owner; tag 0x55 is "signed", anything else forged. */
static int check(void *ctx, const uint8_t key[32], const uint8_t *v, size_t len, uint64_t now_ns,
		 struct um_dht_value_info *info)
{
	(void)ctx;
	if (len < 41 || memcmp(key, v, 32) || v[40] != 0x55)
		return -UM_EBADMSG;
	memcpy(info->owner, v, 32);
	info->sequence = 0;
	for (int i = 0; i < 8; i++)
		info->sequence = info->sequence << 8 | v[32 + i];
	info->expires_ns = now_ns + 60000 * MS;
	return 0;
}

static const struct um_dht_value_ops ops = {.check = check};

static size_t make_value(uint8_t *v, uint8_t owner, uint64_t seq, size_t len, bool forged)
{
	memset(v, 0, len);
	memset(v, owner, 32);
	for (int i = 0; i < 8; i++)
		v[32 + i] = (uint8_t)(seq >> (56 - 8 * i));
	v[40] = forged ? 0x66 : 0x55;
	return len;
}

#define NODES 4
static struct um_identity ids[NODES];
static struct um_dht *dht[NODES];
static struct um_dht_output out;
static uint64_t now;
static unsigned added_events[NODES];
static struct um_peer_id added_peer[NODES];

static void addr(unsigned i, struct um_addr *a)
{
	*a = (struct um_addr){.family = UM_ADDR_IPV4, .addr = {198, 51, (uint8_t)(100 + i), 1}, .port = 4000};
}

static void setup(unsigned n, struct um_dht_config *extra)
{
	now = 1000 * MS;
	memset(added_events, 0, sizeof(added_events));
	for (unsigned i = 0; i < n; i++) {
		uint8_t seed[UM_HSIG_SEED_BYTES];
		memset(seed, (int)(i + 1), sizeof(seed));
		um_identity_from_seed(&ids[i], seed);
		struct um_dht_config c = extra ? *extra : (struct um_dht_config){0};
		c.identity = &ids[i];
		CHECK_EQ(um_dht_create(&dht[i], &c, &ops, now), 0);
	}
}

static void teardown(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		um_dht_destroy(dht[i]);
		dht[i] = NULL;
		um_identity_wipe(&ids[i]);
	}
}

/* Hand datagrams around until quiet; `mangle` may alter one in flight. */
typedef void (*mangle_fn)(uint8_t *bytes, size_t len, unsigned from, unsigned to, struct um_addr *src);

static struct {
	unsigned from, to;
	uint16_t len;
	uint8_t bytes[UM_DHT_DATAGRAM_MAX];
} queue[512];
static unsigned q_head, q_tail;

static void collect(unsigned from)
{
	for (unsigned e = 0; e < out.n_events; e++)
		if (out.events[e].type == UM_DHT_EVENT_CONTACT_ADDED) {
			added_events[from]++;
			added_peer[from] = out.events[e].peer;
		}
	out.n_events = 0;
	for (unsigned d = 0; d < out.n_datagrams; d++) {
		const struct um_addr *to = &out.datagrams[d].to;
		for (unsigned j = 0; j < NODES; j++) {
			struct um_addr a;
			addr(j, &a);
			if (dht[j] && um_addr_equal(&a, to) && q_tail < 512) {
				queue[q_tail].from = from;
				queue[q_tail].to = j;
				queue[q_tail].len = out.datagrams[d].len;
				memcpy(queue[q_tail].bytes, out.datagrams[d].bytes, out.datagrams[d].len);
				q_tail++;
			}
		}
	}
	out.n_datagrams = 0;
}

static void pump(mangle_fn mangle)
{
	while (q_head < q_tail) {
		unsigned i = q_head++;
		struct um_addr src;
		addr(queue[i].from, &src);
		now += 10 * MS;
		if (mangle)
			mangle(queue[i].bytes, queue[i].len, queue[i].from, queue[i].to, &src);
		um_dht_receive(dht[queue[i].to], &src, queue[i].bytes, queue[i].len, now, &out);
		collect(queue[i].to);
	}
	q_head = q_tail = 0;
}

static void test_proof_join(void)
{
	struct um_addr a0;
	setup(2, NULL);
	addr(0, &a0);
	CHECK_EQ(um_dht_add_contact_address(dht[1], &a0, now, &out), 0);
	CHECK_EQ(out.n_datagrams, 1);
	CHECK_EQ(out.datagrams[0].len, UM_DHT_PAD_PROOF); /* padded: 3x covers the proof */
	collect(1);
	pump(NULL);
	/* Each proved itself to the other (node 0 asked node 1 back). */
	CHECK_EQ(um_dht_contact_count(dht[1]), 1);
	CHECK_EQ(um_dht_contact_count(dht[0]), 1);
	CHECK_EQ(um_dht_stats(dht[1])->proofs_verified, 1);
	CHECK(um_dht_rt_find(dht[1], ids[0].id.bytes) != NULL);
	CHECK_EQ(added_events[1], 1);
	CHECK_MEM(added_peer[1].bytes, ids[0].id.bytes, 32);
	teardown(2);
}

static void corrupt_proof(uint8_t *b, size_t len, unsigned from, unsigned to, struct um_addr *src)
{
	(void)from, (void)to, (void)src;
	if (b[0] == UM_DHT_TYPE_PIECE && b[UM_DHT_HEADER_BYTES] == UM_DHT_PIECE_PROOF &&
	    b[UM_DHT_HEADER_BYTES + 2] == 2)
		b[len - 1] ^= 1; /* the signature's last byte */
}

static void spoof_source(uint8_t *b, size_t len, unsigned from, unsigned to, struct um_addr *src)
{
	(void)b, (void)len, (void)to;
	if (from == 0)
		src->addr[3] = 99; /* the answer comes from another host */
}

static void test_proof_required(void)
{
	struct um_addr a0;
	addr(0, &a0);
	/* A bad signature. */
	setup(2, NULL);
	um_dht_add_contact_address(dht[1], &a0, now, &out);
	collect(1);
	pump(corrupt_proof);
	CHECK_EQ(um_dht_contact_count(dht[1]), 0);
	CHECK(um_dht_stats(dht[1])->proofs_failed >= 1);
	teardown(2);
	/* Answers from an address other than the one asked. */
	setup(2, NULL);
	um_dht_add_contact_address(dht[1], &a0, now, &out);
	collect(1);
	pump(spoof_source);
	CHECK_EQ(um_dht_contact_count(dht[1]), 0);
	CHECK(um_dht_stats(dht[1])->unsolicited >= 1);
	teardown(2);
	/* The right key at an address claimed for another ID. */
	setup(3, NULL);
	struct um_dht_contact c = {.id = ids[2].id, .addr = a0};
	CHECK_EQ(um_dht_add_contact(dht[1], &c, now, &out), 0);
	collect(1);
	pump(NULL);
	CHECK(um_dht_rt_find(dht[1], ids[2].id.bytes) == NULL);
	CHECK(um_dht_stats(dht[1])->wrong_sender + um_dht_stats(dht[1])->proofs_failed >= 1);
	teardown(3);
}

static void random_contact(struct um_dht_contact *c, uint8_t net, uint8_t host)
{
	randombytes_buf(c->id.bytes, 32);
	c->addr = (struct um_addr){.family = UM_ADDR_IPV4, .addr = {203, 0, net, host}, .port = 4000};
}

static void test_diversity(void)
{
	struct um_dht_contact c;
	struct um_dht_config plain = {.bucket_width = 1};
	setup(1, &plain);
	unsigned added = 0;
	for (unsigned i = 0; i < 200; i++) {
		random_contact(&c, 113, (uint8_t)(i + 1)); /* all in one /24 */
		if (um_dht_test_insert(dht[0], &c, now) == 0)
			added++;
	}
	CHECK_EQ(um_dht_contact_count(dht[0]), 10);
	CHECK(um_dht_stats(dht[0])->contacts_refused_diversity >= 150);
	for (unsigned b = 0; b < UM_DHT_ID_BITS; b++)
		CHECK(dht[0]->buckets[b].n <= 2);
	/* Other /24s still enter. */
	random_contact(&c, 114, 1);
	CHECK_EQ(um_dht_test_insert(dht[0], &c, now), 0);
	teardown(1);
	/* Lifted (namespace tests): the bucket size is the only cap. */
	struct um_dht_config lift = {.no_diversity = true, .bucket_width = 1};
	setup(1, &lift);
	for (unsigned i = 0; i < 200; i++) {
		random_contact(&c, 113, (uint8_t)(i + 1));
		um_dht_test_insert(dht[0], &c, now);
	}
	CHECK(um_dht_contact_count(dht[0]) > 10);
	CHECK(dht[0]->buckets[255].n == 8); /* half of all IDs land in the farthest bucket */
	teardown(1);
}

static void test_eviction(void)
{
	struct um_dht_contact c[12];
	struct um_dht_config cfg = {.k = 4, .replacements = 2, .bucket_width = 1};
	setup(1, &cfg);
	/* Fill bucket 255 (top bit differs from ours) and two replacements. */
	unsigned n = 0;
	while (n < 6) {
		random_contact(&c[n], (uint8_t)(10 + n), 1);
		if ((c[n].id.bytes[0] ^ ids[0].id.bytes[0]) & 0x80) {
			um_dht_test_insert(dht[0], &c[n], now);
			n++;
		}
	}
	CHECK_EQ(dht[0]->buckets[255].n, 4);
	CHECK_EQ(dht[0]->buckets[255].n_repl, 2);
	/* Two failures: still there; the third evicts it for the newest replacement. */
	um_dht_rt_failed(dht[0], c[0].id.bytes, now);
	um_dht_rt_failed(dht[0], c[0].id.bytes, now);
	CHECK(um_dht_rt_find(dht[0], c[0].id.bytes) != NULL);
	um_dht_rt_failed(dht[0], c[0].id.bytes, now);
	CHECK(um_dht_rt_find(dht[0], c[0].id.bytes) == NULL);
	CHECK(um_dht_rt_find(dht[0], c[5].id.bytes) != NULL);
	CHECK_EQ(dht[0]->buckets[255].n, 4);
	CHECK_EQ(um_dht_stats(dht[0])->contacts_evicted, 1);
	/* An answer resets the count. */
	um_dht_rt_failed(dht[0], c[1].id.bytes, now);
	um_dht_rt_failed(dht[0], c[1].id.bytes, now);
	um_dht_rt_seen(dht[0], c[1].id.bytes, &c[1].addr, now);
	um_dht_rt_failed(dht[0], c[1].id.bytes, now);
	CHECK(um_dht_rt_find(dht[0], c[1].id.bytes) != NULL);
	/* Timeouts through the engine: lookups to contacts that never answer. */
	unsigned rounds = 0;
	for (; rounds < 8 && um_dht_contact_count(dht[0]); rounds++) {
		CHECK_EQ(um_dht_find_node(dht[0], ids[0].id.bytes, now, NULL, &out), 0);
		for (unsigned t = 0; t < 100 && um_dht_lookups_in_flight(dht[0]); t++) {
			uint64_t d = um_dht_next_deadline(dht[0]);
			now = d > now ? d : now;
			um_dht_tick(dht[0], now, &out);
		}
	}
	/* 4 contacts and the 1 replacement left: 3 misses each. */
	CHECK(um_dht_stats(dht[0])->timeouts >= 14); /* c[1] had one miss already */
	CHECK_EQ(um_dht_contact_count(dht[0]), 0);
	CHECK(rounds <= 7);
	teardown(1);
}

static void test_store_limits(void)
{
	uint8_t v[2000], key[32];
	struct um_addr src = {.family = UM_ADDR_IPV4, .addr = {192, 0, 2, 7}, .port = 1};
	struct um_dht_config cfg = {.max_values = 6, .max_values_per_key = 16, .max_values_per_source = 4};
	setup(1, &cfg);
	struct um_dht *d = dht[0];
	memset(key, 1, 32);
	make_value(v, 1, 5, 100, false);
	CHECK_EQ(um_dht_store_put(d, key, v, 100, &src, now), UM_DHT_STORE_OK);
	/* Equal or lower sequence refused, higher replaces. */
	CHECK_EQ(um_dht_store_put(d, key, v, 100, &src, now), UM_DHT_STORE_STALE);
	make_value(v, 1, 4, 100, false);
	CHECK_EQ(um_dht_store_put(d, key, v, 100, &src, now), UM_DHT_STORE_STALE);
	make_value(v, 1, 6, 100, false);
	CHECK_EQ(um_dht_store_put(d, key, v, 100, &src, now), UM_DHT_STORE_OK);
	CHECK_EQ(um_dht_stored_count(d), 1);
	CHECK_EQ(d->store[0].sequence, 6);
	/* Forged: refused. */
	make_value(v, 1, 9, 100, true);
	CHECK_EQ(um_dht_store_put(d, key, v, 100, &src, now), UM_DHT_STORE_INVALID);
	CHECK_EQ(um_dht_stats(d)->store_invalid, 1);
	CHECK_EQ(um_dht_stats(d)->store_stale, 2);
	/* Per source: 4 values from one /24. */
	for (uint8_t o = 2; o < 6; o++) {
		memset(key, o, 32);
		make_value(v, o, 1, 100, false);
		um_dht_store_put(d, key, v, 100, &src, now);
	}
	CHECK_EQ(um_dht_stored_count(d), 4);
	CHECK_EQ(um_dht_stats(d)->store_full_source, 1);
	/* Per node: 6 values. */
	struct um_addr other = src;
	for (uint8_t o = 6; o < 12; o++) {
		other.addr[2] = o;
		memset(key, o, 32);
		make_value(v, o, 1, 100, false);
		um_dht_store_put(d, key, v, 100, &other, now);
	}
	CHECK_EQ(um_dht_stored_count(d), 6);
	CHECK_EQ(um_dht_stats(d)->store_full_node, 4);
	/* Expiry. */
	now += 61000 * MS;
	um_dht_tick(d, now, &out);
	CHECK_EQ(um_dht_stored_count(d), 0);
	CHECK_EQ(um_dht_stats(d)->values_expired, 6);
	teardown(1);

	/* Per key owners. */
	struct um_dht_config cfg2 = {.max_values_per_key = 2};
	setup(1, &cfg2);
	/* key == owner for this validator, so use distinct keys... and one key with the owner it names. */
	memset(key, 3, 32);
	make_value(v, 3, 1, 100, false);
	CHECK_EQ(um_dht_store_put(dht[0], key, v, 100, NULL, now), UM_DHT_STORE_OK);
	teardown(1);
}

static unsigned count_type(uint8_t type)
{
	unsigned n = 0;
	for (unsigned i = 0; i < out.n_datagrams; i++)
		n += out.datagrams[i].bytes[0] == type;
	return n;
}

/* A contact sharing exactly `bits` leading bits with base (bit `bits`
 * flipped, the rest random), in its own /24. */
static void contact_near(struct um_dht_contact *c, const uint8_t base[32], unsigned bits, uint8_t net)
{
	random_contact(c, net, 1);
	for (unsigned b = 0; b <= bits; b++) {
		uint8_t mask = (uint8_t)(0x80 >> (b % 8));
		uint8_t bit = (uint8_t)(base[b / 8] & mask) ^ (b == bits ? mask : 0);
		c->id.bytes[b / 8] = (uint8_t)((c->id.bytes[b / 8] & ~mask) | bit);
	}
}

/* Candidates that likely are among the target's k closest (they share as
 * many bits with it as the table's depth says the k closest do) are asked
 * at once, up to k; farther ones alpha at a time. Before, a lookup asked
 * alpha and then only as answers came (the k closest never all at once). */
static void test_likely_closest_at_once(void)
{
	struct um_dht_contact c;
	uint8_t target[32];
	uint64_t id;
	setup(1, NULL);
	const uint8_t *self = ids[0].id.bytes;
	for (unsigned i = 0; i < 8; i++) {
		contact_near(&c, self, 20, (uint8_t)(10 + i)); /* depth 20: the k closest share ~17 */
		CHECK_EQ(um_dht_test_insert(dht[0], &c, now), 0);
	}
	for (unsigned i = 0; i < 24; i++) {
		contact_near(&c, self, 0, (uint8_t)(40 + i)); /* the other half of the network */
		CHECK_EQ(um_dht_test_insert(dht[0], &c, now), 0);
	}
	/* Near ourselves: the 8 at depth 20 are the likely closest. */
	memcpy(target, self, 32);
	target[31] ^= 1;
	out.n_datagrams = 0;
	CHECK_EQ(um_dht_find_node(dht[0], target, now, &id, &out), 0);
	CHECK_EQ(count_type(UM_DHT_TYPE_FIND_NODE), 8);
	um_dht_cancel(dht[0], id);
	/* In the other half: contacts that share a few bits with it are
	 * not likely closest, alpha (3) at a time. */
	memcpy(target, self, 32);
	target[0] ^= 0x80;
	out.n_datagrams = 0;
	CHECK_EQ(um_dht_find_node(dht[0], target, now, &id, &out), 0);
	CHECK_EQ(count_type(UM_DHT_TYPE_FIND_NODE), 3);
	teardown(1);
}

/* The two buckets covering 3/4 of the network hold 4x and 2x k * width
 * (a random key's first hop starts closer); width 1 stays plain. */
static void test_wide_top_buckets(void)
{
	struct um_dht_contact c;
	struct um_dht_config lift = {.no_diversity = true};
	setup(1, &lift);
	for (unsigned i = 0; i < 1000; i++) {
		random_contact(&c, (uint8_t)(i / 250), (uint8_t)(i % 250 + 1));
		um_dht_test_insert(dht[0], &c, now);
	}
	CHECK_EQ(dht[0]->buckets[255].n, 4 * 8 * 4);
	CHECK_EQ(dht[0]->buckets[254].n, 2 * 8 * 4);
	CHECK_EQ(dht[0]->buckets[253].n, 8 * 4);
	teardown(1);
}

static void test_store_wire(void)
{
	uint8_t v[3000], key[32], buf[UM_DHT_WIRE_MAX];
	struct um_addr a1;
	setup(2, NULL);
	addr(1, &a1);
	memset(key, 7, 32);
	make_value(v, 7, 1, sizeof(v), false);
	struct um_dht_msg m;
	um_dht_msg_init(dht[1], &m, UM_DHT_TYPE_STORE, 42);
	memcpy(m.target, key, 32);
	m.total_len = sizeof(v);
	m.n_pieces = (uint8_t)um_dht_piece_count(sizeof(v));
	m.data = v;
	m.data_len = UM_DHT_PIECE_DATA;
	/* Without a cookie: refused, answered once, small. */
	int n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
	um_dht_receive(dht[0], &a1, buf, (size_t)n, now, &out);
	CHECK_EQ(um_dht_stats(dht[0])->store_no_cookie, 1);
	CHECK_EQ(out.n_datagrams, 1); /* no proof request to an unvalidated source */
	CHECK_EQ(out.datagrams[0].bytes[0], UM_DHT_TYPE_STORE_ACK);
	CHECK(out.datagrams[0].len < n);
	/* With the cookie it earned by a PING: stored once all pieces are in. */
	um_dht_cookie(dht[0], &a1, now, 0, m.cookie);
	for (unsigned p = 0; p < m.n_pieces; p++) {
		m.piece = (uint8_t)p;
		m.data = v + (size_t)p * UM_DHT_PIECE_DATA;
		m.data_len = um_dht_piece_len(sizeof(v), p);
		n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
		um_dht_receive(dht[0], &a1, buf, (size_t)n, now, &out);
		CHECK_EQ(count_type(UM_DHT_TYPE_STORE_ACK), p + 1 == m.n_pieces ? 1 : 0);
	}
	CHECK_EQ(um_dht_stored_count(dht[0]), 1);
	struct um_dht_msg ack;
	unsigned last = out.n_datagrams - 1;
	CHECK_EQ(um_dht_msg_decode(&ack, out.datagrams[last].bytes, out.datagrams[last].len), 0);
	CHECK_EQ(ack.type, UM_DHT_TYPE_STORE_ACK);
	CHECK_EQ(ack.status, UM_DHT_STORE_OK);
	/* Rate limit: a flood of STOREs from one /24 is cut to the burst. */
	unsigned limited_before = (unsigned)um_dht_stats(dht[0])->store_rate_limited;
	for (unsigned i = 0; i < 30; i++) {
		m.txid = 100 + i;
		m.piece = 0;
		m.data = v;
		m.data_len = UM_DHT_PIECE_DATA;
		n = um_dht_msg_encode(&m, buf, sizeof(buf), 0);
		um_dht_receive(dht[0], &a1, buf, (size_t)n, now, &out);
	}
	CHECK(um_dht_stats(dht[0])->store_rate_limited - limited_before >= 20);
	teardown(2);
}

static void test_save_load(void)
{
	struct um_dht_contact c;
	uint8_t buf[4096];
	setup(2, NULL);
	for (unsigned i = 0; i < 20; i++) {
		random_contact(&c, (uint8_t)i, 1);
		um_dht_test_insert(dht[0], &c, now);
	}
	unsigned count = um_dht_contact_count(dht[0]);
	CHECK(count >= 10);
	int n = um_dht_contacts_save(dht[0], buf, sizeof(buf));
	CHECK_EQ(n, (int)um_dht_contacts_save_size(dht[0]));
	CHECK_EQ(um_dht_contacts_save(dht[0], buf, 10), -UM_ERANGE);
	/* Loaded contacts are asked for their proof, not trusted. */
	CHECK_EQ(um_dht_contacts_load(dht[1], buf, (size_t)n, now, &out), 0);
	CHECK_EQ(um_dht_contact_count(dht[1]), 0);
	CHECK_EQ(out.n_datagrams, count < UM_DHT_MAX_PROOF_PINGS ? count : UM_DHT_MAX_PROOF_PINGS);
	CHECK_EQ(out.datagrams[0].bytes[0], UM_DHT_TYPE_PING);
	CHECK_EQ(um_dht_contacts_load(dht[1], buf, (size_t)n - 1, now, &out), -UM_EINVAL);
	buf[5] = 9;
	CHECK_EQ(um_dht_contacts_load(dht[1], buf, (size_t)n, now, &out), -UM_EVERSION);
	buf[0] = 'X';
	CHECK_EQ(um_dht_contacts_load(dht[1], buf, (size_t)n, now, &out), -UM_EINVAL);
	CHECK_EQ(um_dht_contacts_load(dht[1], buf, 3, now, &out), -UM_ETRUNC);
	teardown(2);
}

static void test_small_network(void)
{
	struct um_sim *sim;
	struct um_sim_result r;
	struct um_sim_config c = {.nodes = 80, .rtt_ms = 50, .seed = 7};
	CHECK_EQ(um_sim_create(&sim, &c), 0);
	um_sim_publish(sim, 10);
	um_sim_lookups(sim, 40, 5);
	um_sim_result(sim, &r);
	CHECK_EQ(r.publish_ok, 10);
	CHECK_EQ(r.lookups, 40);
	CHECK_EQ(r.succeeded, 40);
	CHECK_EQ(r.forged_accepted, 0);
	CHECK(r.done_p50 > 0.9 && r.done_p50 < 10);
	CHECK(r.bytes_per_node > 0 && r.bytes_per_node < 64 * 1024);
	um_sim_destroy(sim);
}

int main(void)
{
	RUN(test_proof_join);
	RUN(test_proof_required);
	RUN(test_diversity);
	RUN(test_eviction);
	RUN(test_store_limits);
	RUN(test_store_wire);
	RUN(test_likely_closest_at_once);
	RUN(test_wide_top_buckets);
	RUN(test_save_load);
	RUN(test_small_network);
	return um_test_end();
}
