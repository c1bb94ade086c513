/* SPDX-License-Identifier: MIT */
/* Handshake engine under attack from real source addresses (review
 * 2026-12-protocol #2, #3, #11): reassembly starvation, CHALLENGE budget and
 * pending-table eviction, forged CHALLENGEs. Everything runs on a fake clock. */
#include "hs_harness.h"
#include "session/handshake_internal.h"
#include "test.h"
#include "util/error.h"

static struct hs_node V, L, X; /* victim, its legitimate peer, the attacker */
static struct um_handshake_output out_v, out_x;

static struct um_handshake_time at_ms(uint64_t ms)
{
	struct um_handshake_time t = {.mono_ns = 1000ULL * UM_NSEC_PER_SEC + ms * UM_NSEC_PER_MSEC,
				      .wall_ms = 1700000000000ULL + ms};
	return t;
}

static void fresh_nodes(void)
{
	hs_node_free(&V);
	hs_node_free(&L);
	hs_node_free(&X);
	hs_node_init(&V, 1);
	hs_node_init(&L, 2);
	hs_node_init(&X, 3);
	hs_pair(&V, &L);
	um_handshake_peer_add(X.engine, &V.identity.id, &X, &X.peer);
}

static struct um_addr attacker_addr(unsigned prefix, unsigned host)
{
	struct um_addr a = {.family = 4, .port = 40000};
	a.addr[0] = 100;
	a.addr[1] = (uint8_t)(64 + prefix / 256);
	a.addr[2] = (uint8_t)prefix;
	a.addr[3] = (uint8_t)host;
	return a;
}

/* The attacker (its own engine and identity) sends a HELLO from src and
 * follows any cookie round trip until it holds V's CHALLENGE. On success
 * out_x holds the RESPONSE it would send, in pieces, addressed to V's
 * pending index; returns 0. -1 when V created no CHALLENGE. */
static int open_state(struct hs_node *ini, const struct um_addr *src, struct um_handshake_time now)
{
	if (um_handshake_initiate(ini->engine, ini->peer, &V.addr, now, &out_x) < 0)
		return -1;
	for (int round = 0; round < 3; round++) {
		if (out_x.n_datagrams != 1)
			return -1;
		um_handshake_receive(V.engine, src, out_x.datagrams[0], out_x.lengths[0], now, &out_v);
		unsigned n = out_v.n_datagrams;
		if (n == 0)
			return -1;
		/* Copy V's answer: feeding it to X reuses out_x. */
		static uint8_t replies[UM_HS_MAX_OUT_DATAGRAMS][UM_HS_MAX_DATAGRAM];
		static uint16_t lengths[UM_HS_MAX_OUT_DATAGRAMS];
		for (unsigned i = 0; i < n; i++) {
			memcpy(replies[i], out_v.datagrams[i], out_v.lengths[i]);
			lengths[i] = out_v.lengths[i];
		}
		/* The RESPONSE comes out of the piece that completes the
		 * CHALLENGE (the parity piece after it answers nothing). */
		for (unsigned i = 0; i < n; i++) {
			um_handshake_receive(ini->engine, &V.addr, replies[i], lengths[i], now, &out_x);
			if (out_x.n_datagrams > 1 && out_x.datagrams[0][0] == UM_MSG_FRAGMENT)
				return 0;
		}
	}
	return -1;
}

static int attacker_open_state(const struct um_addr *src, struct um_handshake_time now)
{
	return open_state(&X, src, now);
}

/* One attacker HELLO from src, through the cookie round trip if V asks for
 * it; V's CHALLENGE is not answered (that would cost the attacker). */
static void attacker_hello(const struct um_addr *src, struct um_handshake_time now)
{
	if (um_handshake_initiate(X.engine, X.peer, &V.addr, now, &out_x) < 0)
		return;
	for (int round = 0; round < 2 && out_x.n_datagrams == 1; round++) {
		um_handshake_receive(V.engine, src, out_x.datagrams[0], out_x.lengths[0], now, &out_v);
		if (out_v.n_datagrams != 1 || out_v.datagrams[0][0] != UM_MSG_COOKIE_REPLY)
			return;
		um_handshake_receive(X.engine, &V.addr, out_v.datagrams[0], out_v.lengths[0], now, &out_x);
	}
}

/* Review #2: 32 addresses (distinct /24s, so per-prefix caps alone do not
 * save the victim), 4 states each, each state gets a first piece that
 * announces the largest message (16 KB) and one of the right size. Before
 * the fix 128 x 16 KB filled the 2 MB global cap and V refused every
 * RESPONSE and CHALLENGE for 5 s. */
static void test_reassembly_flood(void)
{
	fresh_nodes();
	uint64_t t = 0;
	unsigned opened = 0;
	for (unsigned a = 0; a < 32; a++) {
		struct um_addr src = attacker_addr(a, 7);
		for (unsigned k = 0; k < 4; k++, t += 15) {
			if (attacker_open_state(&src, at_ms(t)) < 0)
				continue;
			opened++;
			uint8_t piece[UM_HS_MAX_DATAGRAM];
			uint16_t len = out_x.lengths[0];
			memcpy(piece, out_x.datagrams[0], len);
			/* The right size: accepted, but only one slot per state. */
			um_handshake_receive(V.engine, &src, piece, len, at_ms(t), &out_v);
			/* Inflated: total_len 16384, count to match. */
			piece[3] = (uint8_t)um_fragment_count(UM_FRAG_MAX_MESSAGE);
			piece[12] = (uint8_t)(UM_FRAG_MAX_MESSAGE >> 8);
			piece[13] = (uint8_t)UM_FRAG_MAX_MESSAGE;
			piece[8] ^= 0x55; /* a new message id, so it is not a conflict */
			um_handshake_receive(V.engine, &src, piece, len, at_ms(t), &out_v);
		}
	}
	CHECK(opened >= 100); /* the flood really held state */
	/* Never more slots than states, never a message larger than RESPONSE
	 * (with room for its parity piece). */
	CHECK(um_reasm_pending(&V.engine->reasm) <= V.engine->config.max_pending);
	CHECK(V.engine->reasm.bytes_in_use <=
	      (size_t)V.engine->config.max_pending * um_reasm_reserve_bytes(UM_HS_RESPONSE_BYTES));
	/* Within the 5 s slot life: L -> V and V -> L both complete. */
	t += 100;
	int to_v = hs_run(&L, &V, at_ms(t), NULL, NULL);
	CHECK_EQ(to_v, 0);
	int from_v = hs_run(&V, &L, at_ms(t + 10), NULL, NULL);
	CHECK_EQ(from_v, 0);
	fprintf(stderr, "reassembly flood: %u states opened, %u slots / %zu bytes held; L->V %s, V->L %s\n", opened,
		um_reasm_pending(&V.engine->reasm), V.engine->reasm.bytes_in_use, to_v == 0 ? "ok" : "FAILED",
		from_v == 0 ? "ok" : "FAILED");
}

/* Slots go with their state: a half-received CHALLENGE does not outlive the
 * initiation it was for (here replaced by a new one), and a half-received
 * RESPONSE does not outlive its pending state (here recycled). */
static void test_slot_freed_with_state(void)
{
	fresh_nodes();
	CHECK_EQ(um_handshake_initiate(V.engine, V.peer, &L.addr, at_ms(0), &out_v), 0);
	CHECK_EQ(um_handshake_receive(L.engine, &V.addr, out_v.datagrams[0], out_v.lengths[0], at_ms(0), &out_x), 0);
	CHECK(out_x.n_datagrams > 1);
	CHECK_EQ(um_handshake_receive(V.engine, &L.addr, out_x.datagrams[0], out_x.lengths[0], at_ms(0), &out_v), 0);
	CHECK_EQ(um_reasm_pending(&V.engine->reasm), 1);
	CHECK_EQ(um_handshake_initiate(V.engine, V.peer, &L.addr, at_ms(10), &out_v), 0);
	CHECK_EQ(um_reasm_pending(&V.engine->reasm), 0);

	/* Responder side: one piece for the state, then the state is removed
	 * (its initiator's source holds the only slot). */
	struct um_addr src = attacker_addr(1, 1);
	CHECK_EQ(attacker_open_state(&src, at_ms(20)), 0);
	CHECK_EQ(um_handshake_receive(V.engine, &src, out_x.datagrams[0], out_x.lengths[0], at_ms(20), &out_v), 0);
	CHECK_EQ(um_reasm_pending(&V.engine->reasm), 1);
	for (unsigned i = 0; i < V.engine->config.max_pending; i++)
		if (V.engine->pending[i].state != UM_HS_STATE_ZEROED)
			um_hs_pending_release(V.engine, &V.engine->pending[i]);
	CHECK_EQ(um_reasm_pending(&V.engine->reasm), 0);
}

/* Review #3: HELLOs from 100 /24s (2 hosts each) at 20 per second per host,
 * for 3 s. CHALLENGEs created per second stay within the global budget
 * (plus the reserve), and a legitimate handshake in the middle of the
 * flood completes. Before the fix every host got its own 10/s. */
static void test_hello_flood_budget(void)
{
	fresh_nodes();
	const struct um_handshake_config *cfg = &V.engine->config;
	uint64_t per_window[3] = {0};
	int legit = -1;
	uint64_t t = 0;
	for (unsigned round = 0; round < 60; round++) { /* 60 rounds of 50 ms */
		uint64_t before = V.engine->stats.challenges;
		for (unsigned p = 0; p < 100; p++)
			for (unsigned h = 0; h < 2; h++) {
				struct um_addr src = attacker_addr(p, (uint8_t)(10 + h));
				attacker_hello(&src, at_ms(t + (p * 2 + h) / 4));
			}
		per_window[(t / 1000) % 3] += V.engine->stats.challenges - before;
		t += 50;
		if (round == 30)
			legit = hs_run(&L, &V, at_ms(t), NULL, NULL);
	}
	uint64_t cap = cfg->challenges_per_second + cfg->challenge_burst + cfg->challenges_per_second / 4 + 10 + 2;
	for (unsigned w = 0; w < 3; w++) {
		fprintf(stderr, "HELLO flood, second %u: %llu CHALLENGEs (cap %llu)\n", w,
			(unsigned long long)per_window[w], (unsigned long long)cap);
		CHECK(per_window[w] > 0);
		CHECK(per_window[w] <= cap);
	}
	CHECK(V.engine->stats.challenge_budget > 0);
	CHECK_EQ(legit, 0);
	fprintf(stderr, "HELLO flood: legitimate handshake %s\n", legit == 0 ? "established" : "FAILED");
}

/* Review #3: a full pending table recycles an entry of the most-represented
 * site, not the oldest. One /24 holds the whole table; a legitimate
 * initiator from elsewhere gets a CHALLENGE, then 64 more attacker states
 * are created before its RESPONSE arrives. Before the fix its state was the
 * oldest by then and was recycled (RESPONSE: unknown index). */
static void test_pending_eviction(void)
{
	fresh_nodes();
	uint64_t t = 0;
	for (unsigned h = 0; h < 16; h++)
		for (unsigned k = 0; k < 4; k++, t += 30) {
			struct um_addr src = attacker_addr(5, (uint8_t)(1 + h));
			attacker_hello(&src, at_ms(t));
		}
	CHECK_EQ(V.engine->stats.challenges, 64);
	/* L: HELLO (cookie), CHALLENGE; its RESPONSE is held back. */
	CHECK_EQ(open_state(&L, &L.addr, at_ms(t)), 0);
	static uint8_t response[UM_HS_MAX_OUT_DATAGRAMS][UM_HS_MAX_DATAGRAM];
	static uint16_t response_len[UM_HS_MAX_OUT_DATAGRAMS];
	unsigned pieces = out_x.n_datagrams;
	for (unsigned i = 0; i < pieces; i++) {
		memcpy(response[i], out_x.datagrams[i], out_x.lengths[i]);
		response_len[i] = out_x.lengths[i];
	}
	uint64_t before = V.engine->stats.challenges;
	for (unsigned h = 16; h < 32; h++)
		for (unsigned k = 0; k < 4; k++, t += 30) {
			struct um_addr src = attacker_addr(5, (uint8_t)(1 + h));
			attacker_hello(&src, at_ms(t));
		}
	CHECK_EQ(V.engine->stats.challenges - before, 64);
	int established = 0;
	for (unsigned i = 0; i < pieces; i++) {
		um_handshake_receive(V.engine, &L.addr, response[i], response_len[i], at_ms(t), &out_v);
		established += out_v.event == UM_HS_EVENT_ESTABLISHED;
	}
	CHECK_EQ(established, 1);
	fprintf(stderr, "pending eviction: legitimate RESPONSE after 64 more CHALLENGEs %s\n",
		established ? "accepted" : "REFUSED");
}

/* Review #11: an on-path party that saw V's HELLO to L answers with
 * CHALLENGEs that open and carry L's real key, signed with another key.
 * V verifies at most UM_HS_MAX_CHALLENGE_ATTEMPTS of them per initiation
 * (before: every one); a new initiation works. */
static void test_forged_challenge_cap(void)
{
	fresh_nodes();
	static struct um_identity forged;
	forged = L.identity;
	memcpy(forged.secret_key, X.identity.secret_key, sizeof(forged.secret_key));
	memcpy(forged.seed, X.identity.seed, sizeof(forged.seed));
	struct um_handshake_engine *forger = NULL;
	struct um_handshake_config cfg = {.identity = &forged};
	CHECK_EQ(um_handshake_engine_new(&forger, &cfg), 0);
	if (!forger)
		return;
	CHECK_EQ(um_handshake_initiate(V.engine, V.peer, &L.addr, at_ms(0), &out_v), 0);
	CHECK_EQ(um_handshake_receive(forger, &V.addr, out_v.datagrams[0], out_v.lengths[0], at_ms(0), &out_x), 0);
	CHECK(out_x.n_datagrams > 1);
	unsigned pieces = out_x.n_datagrams;
	static uint8_t forgery[UM_HS_MAX_OUT_DATAGRAMS][UM_HS_MAX_DATAGRAM];
	static uint16_t forgery_len[UM_HS_MAX_OUT_DATAGRAMS];
	for (unsigned i = 0; i < pieces; i++) {
		memcpy(forgery[i], out_x.datagrams[i], out_x.lengths[i]);
		forgery_len[i] = out_x.lengths[i];
	}
	for (unsigned k = 0; k < 10; k++)
		for (unsigned i = 0; i < pieces; i++)
			um_handshake_receive(V.engine, &L.addr, forgery[i], forgery_len[i], at_ms(1 + k), &out_v);
	const struct um_handshake_stats *st = um_handshake_get_stats(V.engine);
	fprintf(stderr, "forged CHALLENGEs: 10 sent, %llu verified and refused\n", (unsigned long long)st->auth_failed);
	CHECK_EQ(st->auth_failed, UM_HS_MAX_CHALLENGE_ATTEMPTS);
	CHECK(um_handshake_peer_busy(V.peer));               /* the initiation itself goes on */
	CHECK_EQ(hs_run(&V, &L, at_ms(100), NULL, NULL), 0); /* a new one works */
	um_handshake_engine_free(forger);
	sodium_memzero(&forged, sizeof(forged));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	hs_node_init(&V, 1);
	hs_node_init(&L, 2);
	hs_node_init(&X, 3);
	RUN(test_reassembly_flood);
	RUN(test_slot_freed_with_state);
	RUN(test_hello_flood_budget);
	RUN(test_pending_eviction);
	RUN(test_forged_challenge_cap);
	hs_node_free(&V);
	hs_node_free(&L);
	hs_node_free(&X);
	return um_test_end();
}
