/* SPDX-License-Identifier: MIT */
/* The bootstrap registry (dht/bootstrap.h) on a fake clock: challenges
 * (reuse, expiry, another address), signatures (wrong, someone else's ID,
 * key/ID mismatch, bound to the operation and fields), expiry, caps, rate
 * limits and the diversity of listings. A fresh registry per case. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "dht/bootstrap.h"
#include "test.h"
#include "util/error.h"

#define SEC 1000000000ULL

static struct um_identity ids[3];
static uint64_t now;

static struct um_addr addr(const char *text)
{
	struct um_addr a;
	if (um_addr_parse(&a, text) && um_addr_parse_host(&a, text))
		abort();
	return a;
}

static struct um_bootstrap *fresh(const struct um_bootstrap_config *config)
{
	struct um_bootstrap *b;
	now = 1000 * SEC;
	CHECK_EQ(um_bootstrap_create(&b, config), 0);
	return b;
}

/* A request for op as `claimed` would send it, signed by `signer`, over a
 * challenge fetched from `source`. */
static void build(struct um_bootstrap *b, struct um_bootstrap_request *q, uint8_t *sig, enum um_bootstrap_op op,
		  const struct um_identity *claimed, const struct um_identity *signer, const struct um_addr *source)
{
	uint64_t ttl;
	memset(q, 0, sizeof(*q));
	q->op = op;
	q->id = claimed->id;
	if (op == UM_BOOTSTRAP_OP_REGISTER) {
		q->public_key = claimed->public_key;
		q->endpoints[0] = addr("192.0.2.10:51820");
		q->endpoints[1] = addr("[2001:db8::10]:51820");
		q->n_endpoints = 2;
		q->is_public = true;
	}
	CHECK_EQ(um_bootstrap_challenge(b, source, now, q->challenge, &ttl), 0);
	CHECK_EQ(um_bootstrap_sign(q, signer, sig), 0);
	q->signature = sig;
}

static int write_as(struct um_bootstrap *b, enum um_bootstrap_op op, const struct um_identity *who,
		    const struct um_addr *source)
{
	struct um_bootstrap_request q;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl;
	build(b, &q, sig, op, who, who, source);
	return um_bootstrap_write(b, source, &q, now, &ttl);
}

static void test_register_find_list(void)
{
	struct um_bootstrap *b = fresh(NULL);
	struct um_addr src = addr("198.51.100.7:40000");
	struct um_bootstrap_peer p, list[UM_BOOTSTRAP_LIST_MAX];
	struct um_bootstrap_request q;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl = 0;

	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), 0);
	CHECK(ttl > 0);
	CHECK_EQ(um_bootstrap_count(b), 1);
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, false, now, &p), 0);
	CHECK_MEM(&p.id, &ids[0].id, sizeof(p.id));
	CHECK_EQ(p.n_endpoints, 2);
	CHECK(um_addr_equal(&p.endpoints[1], &q.endpoints[1]));
	CHECK(um_addr_same_host(&p.observed, &src));
	CHECK_EQ(p.observed.port, 0);
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, true, now, &p), 0);
	CHECK_EQ(um_bootstrap_find(b, &ids[1].id, false, now, &p), -UM_ENOTFOUND);
	CHECK_EQ(um_bootstrap_list(b, now, list, UM_BOOTSTRAP_LIST_MAX), 1);
	/* Heartbeat, then unregister; the listing follows. */
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_UNREGISTER, &ids[0], &src), 0);
	CHECK_EQ(um_bootstrap_count(b), 0);
	CHECK_EQ(um_bootstrap_list(b, now, list, UM_BOOTSTRAP_LIST_MAX), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &src), -UM_ENOTFOUND);
	um_bootstrap_free(b);
}

/* Removing from the middle moves the last entry: it stays findable. */
static void test_remove_reindex(void)
{
	struct um_bootstrap *b = fresh(NULL);
	struct um_addr src = addr("198.51.100.7:1");
	struct um_bootstrap_peer p;

	for (int i = 0; i < 3; i++)
		CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[i], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_UNREGISTER, &ids[0], &src), 0);
	CHECK_EQ(um_bootstrap_count(b), 2);
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, false, now, &p), -UM_ENOTFOUND);
	CHECK_EQ(um_bootstrap_find(b, &ids[2].id, false, now, &p), 0);
	CHECK_MEM(&p.id, &ids[2].id, sizeof(p.id));
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[2], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_UNREGISTER, &ids[2], &src), 0);
	CHECK_EQ(um_bootstrap_find(b, &ids[1].id, false, now, &p), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	CHECK_EQ(um_bootstrap_count(b), 2);
	um_bootstrap_free(b);
}

static void test_private_registration(void)
{
	struct um_bootstrap *b = fresh(NULL);
	struct um_addr src = addr("198.51.100.7:1");
	struct um_bootstrap_request q;
	struct um_bootstrap_peer p;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl;

	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	q.is_public = false;
	CHECK_EQ(um_bootstrap_sign(&q, &ids[0], sig), 0);
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), 0);
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, false, now, &p), 0);
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, true, now, &p), -UM_ENOTFOUND);
	um_bootstrap_free(b);
}

static void test_challenge_rules(void)
{
	struct um_bootstrap *b = fresh(NULL);
	struct um_addr src = addr("198.51.100.7:1"), other = addr("203.0.113.9:1");
	struct um_bootstrap_request q;
	struct um_bootstrap_stats st;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl;

	/* Another address presenting my challenge: refused, and the challenge
	 * stays mine (an eavesdropper cannot burn it). */
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	CHECK_EQ(um_bootstrap_write(b, &other, &q, now, &ttl), -UM_EREPLAY);
	CHECK_EQ(um_bootstrap_count(b), 0);
	/* Same host, another TCP port: fine. */
	struct um_addr src2 = src;
	src2.port = 2;
	CHECK_EQ(um_bootstrap_write(b, &src2, &q, now, &ttl), 0);
	/* Reuse. */
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EREPLAY);
	/* Unknown challenge. */
	build(b, &q, sig, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &ids[0], &src);
	q.challenge[0] ^= 1;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EREPLAY);
	/* Expired. */
	build(b, &q, sig, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &ids[0], &src);
	now += 31 * SEC;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EREPLAY);
	um_bootstrap_get_stats(b, &st);
	CHECK_EQ(st.bad_challenge, 4);
	CHECK_EQ(st.bad_signature, 0); /* no verification was spent on them */
	um_bootstrap_free(b);
}

static void test_signature_rules(void)
{
	struct um_bootstrap *b = fresh(NULL);
	struct um_addr src = addr("198.51.100.7:1");
	struct um_bootstrap_request q;
	struct um_bootstrap_stats st;
	struct um_bootstrap_peer p;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl;

	/* A flipped signature bit. */
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	sig[100] ^= 1;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EBADMSG);
	/* ...and the challenge is gone with it. */
	sig[100] ^= 1;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EREPLAY);
	/* Someone else's ID and key, signed with mine. */
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[1], &src);
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EBADMSG);
	/* Someone else's ID with my key (ID/key mismatch). */
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &ids[1], &src);
	q.id = ids[0].id;
	CHECK_EQ(um_bootstrap_sign(&q, &ids[1], sig), 0);
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EBADMSG);
	CHECK_EQ(um_bootstrap_count(b), 0);
	/* Fields are bound: endpoints changed after signing. */
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	q.endpoints[0].port++;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EBADMSG);
	/* Registered; then someone else's heartbeat and unregister of my ID. */
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	build(b, &q, sig, UM_BOOTSTRAP_OP_UNREGISTER, &ids[0], &ids[1], &src);
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EBADMSG);
	/* The operation is bound: a heartbeat signature used to unregister. */
	build(b, &q, sig, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &ids[0], &src);
	q.op = UM_BOOTSTRAP_OP_UNREGISTER;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EBADMSG);
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, false, now, &p), 0);
	um_bootstrap_get_stats(b, &st);
	CHECK_EQ(st.key_mismatch, 1);
	CHECK_EQ(st.bad_signature, 5);
	um_bootstrap_free(b);
}

static void test_malformed(void)
{
	struct um_bootstrap *b = fresh(NULL);
	struct um_addr src = addr("198.51.100.7:1"), none = {0};
	struct um_bootstrap_request q;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl;

	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	q.n_endpoints = 0;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EINVAL);
	q.n_endpoints = UM_BOOTSTRAP_ENDPOINTS_MAX + 1;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EINVAL);
	q.n_endpoints = 1;
	q.endpoints[0].port = 0;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EINVAL);
	q.endpoints[0].port = 1;
	q.public_key = NULL;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EINVAL);
	CHECK_EQ(um_bootstrap_write(b, &none, &q, now, &ttl), -UM_EINVAL);
	q.op = (enum um_bootstrap_op)7;
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EINVAL);
	CHECK_EQ(um_bootstrap_count(b), 0);
	um_bootstrap_free(b);
}

static void test_expiry(void)
{
	struct um_bootstrap_config c;
	um_bootstrap_default_config(&c);
	c.registration_ttl_ns = 60 * SEC;
	struct um_bootstrap *b = fresh(&c);
	struct um_addr src = addr("198.51.100.7:1");
	struct um_bootstrap_peer p;
	struct um_bootstrap_stats st;

	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &src), 0);
	now += 50 * SEC;
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &src), 0);
	now += 20 * SEC; /* 70 s: ids[1] expired, ids[0] refreshed at 50 s */
	CHECK_EQ(um_bootstrap_find(b, &ids[0].id, false, now, &p), 0);
	CHECK_EQ(um_bootstrap_find(b, &ids[1].id, false, now, &p), -UM_ENOTFOUND);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[1], &src), -UM_ENOTFOUND);
	um_bootstrap_expire(b, now);
	CHECK_EQ(um_bootstrap_count(b), 1);
	now += 41 * SEC;
	um_bootstrap_expire(b, now);
	CHECK_EQ(um_bootstrap_count(b), 0);
	um_bootstrap_get_stats(b, &st);
	CHECK_EQ(st.expired, 2);
	/* An expired ID registers again. */
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &src), 0);
	CHECK_EQ(um_bootstrap_count(b), 1);
	um_bootstrap_free(b);
}

static void test_caps(void)
{
	struct um_bootstrap_config c;
	um_bootstrap_default_config(&c);
	c.max_registrations = 2;
	c.registrations_per_source = 2;
	c.challenges_per_source = 3;
	c.max_challenges = 5;
	struct um_bootstrap *b = fresh(&c);
	struct um_addr src = addr("198.51.100.7:1"), src2 = addr("198.51.100.8:1");
	uint8_t ch[UM_BOOTSTRAP_CHALLENGE_BYTES];
	uint64_t ttl;

	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &src), 0);
	/* Per source: a third ID from src is refused, re-registering is not. */
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	/* The registry is full for a new ID from anywhere. */
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[2], &src2), -UM_ENOMEM);
	CHECK_EQ(um_bootstrap_count(b), 2);
	/* Challenges: 3 per source, 5 in all. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(um_bootstrap_challenge(b, &src, now, ch, &ttl), 0);
	CHECK_EQ(um_bootstrap_challenge(b, &src, now, ch, &ttl), -UM_ELIMIT);
	CHECK_EQ(um_bootstrap_challenge(b, &src2, now, ch, &ttl), 0);
	CHECK_EQ(um_bootstrap_challenge(b, &src2, now, ch, &ttl), 0);
	/* Full: the oldest challenge (src's first) makes room for src3's. */
	struct um_addr src3 = addr("198.51.100.9:1");
	struct um_bootstrap_stats st;
	now += SEC;
	CHECK_EQ(um_bootstrap_challenge(b, &src3, now, ch, &ttl), 0);
	um_bootstrap_get_stats(b, &st);
	CHECK_EQ(st.challenge_evicted, 1);
	/* ...so src may ask again (it held 2), evicting its own next oldest. */
	CHECK_EQ(um_bootstrap_challenge(b, &src, now, ch, &ttl), 0);
	um_bootstrap_get_stats(b, &st);
	CHECK_EQ(st.challenge_evicted, 2);
	um_bootstrap_free(b);

	/* An evicted challenge is refused; a fresh one still works. */
	um_bootstrap_default_config(&c);
	c.max_challenges = 2;
	b = fresh(&c);
	struct um_bootstrap_request q;
	uint8_t sig[UM_HSIG_BYTES];
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], &src);
	now += SEC;
	CHECK_EQ(um_bootstrap_challenge(b, &src2, now, ch, &ttl), 0);
	CHECK_EQ(um_bootstrap_challenge(b, &src2, now, ch, &ttl), 0); /* evicts q's */
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_EREPLAY);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	um_bootstrap_free(b);

	/* IPv6: one /64 is one source for the caps, the exact address still
	 * owns its challenge. */
	um_bootstrap_default_config(&c);
	c.challenges_per_source = 2;
	c.registrations_per_source = 1;
	b = fresh(&c);
	struct um_addr v6a = addr("[2001:db8:1:2::a]:1"), v6b = addr("[2001:db8:1:2::b]:1"),
		       v6c = addr("[2001:db8:1:3::c]:1");
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &v6a), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &v6b), -UM_ELIMIT);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &v6c), 0);
	CHECK_EQ(um_bootstrap_challenge(b, &v6a, now, ch, &ttl), 0);
	CHECK_EQ(um_bootstrap_challenge(b, &v6b, now, ch, &ttl), 0);
	CHECK_EQ(um_bootstrap_challenge(b, &v6b, now, ch, &ttl), -UM_ELIMIT);
	build(b, &q, sig, UM_BOOTSTRAP_OP_HEARTBEAT, &ids[1], &ids[1], &v6c);
	CHECK_EQ(um_bootstrap_write(b, &v6b, &q, now, &ttl), -UM_EREPLAY);
	CHECK_EQ(um_bootstrap_write(b, &v6c, &q, now, &ttl), 0);
	um_bootstrap_free(b);

	/* Per-source cap alone. */
	um_bootstrap_default_config(&c);
	c.registrations_per_source = 1;
	b = fresh(&c);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &src), -UM_ELIMIT);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &src2), 0);
	um_bootstrap_free(b);
}

static void test_rates(void)
{
	struct um_bootstrap_config c;
	um_bootstrap_default_config(&c);
	c.requests_per_s = 2;
	c.request_burst = 5;
	c.verifications_per_s = 1;
	c.verification_burst = 2;
	struct um_bootstrap *b = fresh(&c);
	struct um_addr src = addr("198.51.100.7:1"), src2 = addr("203.0.113.1:1");
	struct um_bootstrap_request q;
	struct um_bootstrap_stats st;
	uint8_t sig[UM_HSIG_BYTES];
	uint64_t ttl;
	int allowed = 0;

	for (int i = 0; i < 20; i++)
		allowed += um_bootstrap_admit(b, &src, now) == 0;
	CHECK_EQ(allowed, 5);
	CHECK_EQ(um_bootstrap_admit(b, &src2, now), 0); /* another source is unaffected */
	now += SEC;
	CHECK_EQ(um_bootstrap_admit(b, &src, now), 0); /* refilled */
	/* Verification budget: 2 at once, then 1 per second. */
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[0], &src), 0);
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[1], &src), 0);
	build(b, &q, sig, UM_BOOTSTRAP_OP_REGISTER, &ids[2], &ids[2], &src);
	CHECK_EQ(um_bootstrap_write(b, &src, &q, now, &ttl), -UM_ELIMIT);
	CHECK_EQ(um_bootstrap_count(b), 2);
	now += SEC;
	CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &ids[2], &src), 0);
	um_bootstrap_get_stats(b, &st);
	CHECK_EQ(st.verify_budget, 1);
	CHECK_EQ(st.rate_limited, 15);
	um_bootstrap_free(b);
}

/* 200 nodes from one /24 (a Sybil operator) and 10 from ten others: every
 * listing of 20 holds all ten others (one per network first), in varying
 * order; the Sybil network gets one slot before the fill-up. */
static void test_list_diversity(void)
{
	enum { SYBILS = 200, HONEST = 10, ALL = SYBILS + HONEST };
	struct um_bootstrap_config c;
	um_bootstrap_default_config(&c);
	c.verification_burst = 1000;
	struct um_bootstrap *b = fresh(&c);
	struct um_bootstrap_peer list[UM_BOOTSTRAP_LIST_MAX];
	struct um_identity *many = calloc(ALL, sizeof(*many));
	char text[64];
	bool order_varies = false;
	struct um_peer_id first = {{0}};

	for (int i = 0; i < ALL; i++) {
		CHECK_EQ(um_identity_generate(&many[i]), 0);
		if (i < SYBILS)
			snprintf(text, sizeof(text), "10.1.1.%d:1", i + 1);
		else
			snprintf(text, sizeof(text), "10.2.%d.1:1", i);
		struct um_addr src = addr(text);
		CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_REGISTER, &many[i], &src), 0);
	}
	CHECK_EQ(um_bootstrap_count(b), ALL);
	for (int round = 0; round < 20; round++) {
		size_t n = um_bootstrap_list(b, now, list, UM_BOOTSTRAP_LIST_MAX);
		int honest = 0;
		CHECK_EQ(n, 20);
		for (size_t i = 0; i < n; i++) {
			honest += list[i].observed.addr[1] == 2;
			for (size_t j = 0; j < i; j++)
				CHECK(memcmp(&list[i].id, &list[j].id, sizeof(list[i].id)));
		}
		CHECK_EQ(honest, HONEST);
		if (round && memcmp(&first, &list[0].id, sizeof(first)))
			order_varies = true;
		first = list[0].id;
	}
	CHECK(order_varies);
	/* Fewer wanted than there are networks: one per network. */
	for (int round = 0; round < 20; round++) {
		size_t n = um_bootstrap_list(b, now, list, 5);
		int sybil = 0;
		CHECK_EQ(n, 5);
		for (size_t i = 0; i < n; i++)
			sybil += list[i].observed.addr[1] == 1;
		CHECK(sybil <= 1);
	}
	/* Only the Sybil network left: the listing fills from it. */
	for (int i = SYBILS; i < ALL; i++) {
		snprintf(text, sizeof(text), "10.2.%d.1:1", i);
		struct um_addr src = addr(text);
		CHECK_EQ(write_as(b, UM_BOOTSTRAP_OP_UNREGISTER, &many[i], &src), 0);
	}
	CHECK_EQ(um_bootstrap_list(b, now, list, UM_BOOTSTRAP_LIST_MAX), 20);
	for (int i = 0; i < ALL; i++)
		um_identity_wipe(&many[i]);
	free(many);
	um_bootstrap_free(b);
}

static void test_bad_config(void)
{
	struct um_bootstrap_config c;
	struct um_bootstrap *b = (struct um_bootstrap *)1;
	um_bootstrap_default_config(&c);
	c.max_registrations = 0;
	CHECK_EQ(um_bootstrap_create(&b, &c), -UM_EINVAL);
	CHECK(b == NULL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (um_identity_generate(&ids[i]))
			return 1;
	RUN(test_register_find_list);
	RUN(test_remove_reindex);
	RUN(test_private_registration);
	RUN(test_challenge_rules);
	RUN(test_signature_rules);
	RUN(test_malformed);
	RUN(test_expiry);
	RUN(test_caps);
	RUN(test_rates);
	RUN(test_list_diversity);
	RUN(test_bad_config);
	for (int i = 0; i < 3; i++)
		um_identity_wipe(&ids[i]);
	return um_test_end();
}
