/* SPDX-License-Identifier: MIT */
/* Deferred CHALLENGE (handshake.h, config.defer_challenge): the responder
 * lends a work item instead of signing; um_handshake_work_run does the
 * keygen and signature (here inline or on a real pthread), and
 * um_handshake_work_finish sends the CHALLENGE or drops a stale result.
 * Everything on a fake clock. */
#include <pthread.h>

#include "hs_harness.h"
#include "session/handshake_internal.h"
#include "test.h"
#include "util/error.h"

static struct hs_node V, L, X; /* the deferring responder, its peer, a stranger */
static struct um_handshake_output out_v, out_l, out_x;

static struct um_handshake_time at_ms(uint64_t ms)
{
	struct um_handshake_time t = {.mono_ns = 1000ULL * UM_NSEC_PER_SEC + ms * UM_NSEC_PER_MSEC,
				      .wall_ms = 1700000000000ULL + ms};
	return t;
}

/* V defers; max_pending and load_threshold as given (0 = default). */
static void fixture(unsigned max_pending, unsigned load_threshold)
{
	hs_node_init(&L, 2);
	hs_node_init(&X, 3);
	memset(&V, 0, sizeof(V));
	um_identity_generate(&V.identity);
	struct um_handshake_config cfg = {.identity = &V.identity,
					  .mtu = 1400,
					  .heartbeat_s = 15,
					  .rotation_s = 120,
					  .max_pending = max_pending,
					  .load_threshold = load_threshold,
					  .defer_challenge = true};
	CHECK_EQ(um_handshake_engine_new(&V.engine, &cfg), 0);
	V.addr.family = 4;
	V.addr.addr[0] = 10;
	V.addr.addr[3] = 1;
	V.addr.port = 51820;
	hs_pair(&V, &L);
	um_handshake_peer_add(X.engine, &V.identity.id, &X, &X.peer);
}

static void fixture_down(void)
{
	hs_node_free(&V);
	hs_node_free(&L);
	hs_node_free(&X);
}

static struct um_addr site_addr(unsigned site)
{
	struct um_addr a = {.family = 4, .port = 40000};
	a.addr[0] = 100;
	a.addr[1] = (uint8_t)(64 + site / 256);
	a.addr[2] = (uint8_t)site;
	a.addr[3] = 1;
	return a;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ini sends a fresh HELLO to V from src; returns V's receive code, and the
 * lent work item (or NULL) in *work. */
static int hello_to_v(struct hs_node *ini, const struct um_addr *src, struct um_handshake_time now,
		      struct um_handshake_work **work)
{
	struct um_handshake_output *o = ini == &L ? &out_l : &out_x;
	*work = NULL;
	if (um_handshake_initiate(ini->engine, ini->peer, &V.addr, now, o) < 0 || o->n_datagrams != 1)
		return -1000;
	int r = um_handshake_receive(V.engine, src, o->datagrams[0], o->lengths[0], now, &out_v);
	if (r == 0)
		*work = out_v.work;
	return r;
}

/* Delivers out_v (a CHALLENGE) to L and bounces until silence; returns
 * whether both sides reported ESTABLISHED once more. */
static int complete_with_l(struct um_handshake_time now)
{
	static struct hs_queue q;
	unsigned seq = 0;
	int el = L.established, ev = V.established;
	memcpy(&hs_out, &out_v, sizeof(hs_out));
	hs_take_output(&V, &q);
	hs_pump(&V, &L, &q, now, NULL, NULL, &seq);
	return (L.established == el + 1 && V.established == ev + 1) ? 0 : -1;
}

/* The deferred CHALLENGE completes the handshake: no datagram until
 * finish, then the CHALLENGE, RESPONSE and ESTABLISHED as always. */
static void test_deferred_completes(void)
{
	struct um_handshake_work *work;
	fixture(0, 0);
	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(0), &work), 0);
	CHECK(work != NULL);
	CHECK(um_handshake_work_urgent(work)); /* L's site was quiet */
	CHECK_EQ(out_v.n_datagrams, 0);
	CHECK_EQ(V.engine->stats.challenges_deferred, 1);
	CHECK_EQ(V.engine->stats.challenges, 0);
	/* A retransmitted HELLO meanwhile: nothing to send, no second item. */
	CHECK_EQ(um_handshake_receive(V.engine, &L.addr, out_l.datagrams[0], out_l.lengths[0], at_ms(5), &out_v), 0);
	CHECK_EQ(out_v.n_datagrams, 0);
	CHECK(out_v.work == NULL);
	CHECK_EQ(V.engine->stats.challenges_deferred, 1);

	CHECK_EQ(um_handshake_work_run(work), 0);
	CHECK_EQ(um_handshake_work_finish(V.engine, work, at_ms(10), &out_v), 0);
	CHECK(out_v.n_datagrams > 1); /* the CHALLENGE, in pieces */
	CHECK(out_v.datagrams[0][0] == UM_MSG_FRAGMENT);
	CHECK(um_addr_equal(&out_v.to, &L.addr));
	CHECK_EQ(V.engine->stats.challenges, 1);
	CHECK(all_zero(work, sizeof(*work))); /* wiped, free again */
	CHECK_EQ(complete_with_l(at_ms(20)), 0);
	CHECK_MEM(L.keypair.send_key, V.keypair.recv_key, UM_KEY_LEN);
	CHECK_MEM(L.keypair.recv_key, V.keypair.send_key, UM_KEY_LEN);
	/* The same item handed back twice is refused. */
	CHECK_EQ(um_handshake_work_finish(V.engine, work, at_ms(30), &out_v), -UM_EINVAL);
	CHECK_EQ(um_handshake_work_finish(V.engine, (struct um_handshake_work *)&out_v, at_ms(30), &out_v), -UM_EINVAL);
	fixture_down();
}

/* A result whose state expired meanwhile (tick released it) is dropped
 * and wiped; a preparing state is never evicted for a new HELLO. */
static void test_stale_result_dropped(void)
{
	struct um_handshake_work *old;
	fixture(1, 1000); /* one slot: the next HELLO would recycle it */
	CHECK_EQ(hello_to_v(&X, &X.addr, at_ms(0), &old), 0);
	CHECK(old != NULL);
	/* Preparing states are not evicted: the single slot is busy. */
	struct um_handshake_work *none;
	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(100), &none), -UM_ELIMIT);
	CHECK_EQ(V.engine->stats.deferred_refused, 1);
	CHECK_EQ(V.engine->stats.table_full, 0);
	/* 5 s later the state expires; the worker was slow. */
	while (um_handshake_tick(V.engine, at_ms(5100), &out_v) > 0)
		;
	CHECK_EQ(V.engine->pending[0].state, UM_HS_STATE_ZEROED);
	/* Only one item in the pool and it is still lent: refused too. */
	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(5200), &none), -UM_ELIMIT);
	CHECK_EQ(V.engine->stats.deferred_refused, 2);
	CHECK_EQ(um_handshake_work_run(old), 0);
	CHECK(!all_zero(old->kem_secret, sizeof(old->kem_secret)));
	CHECK_EQ(um_handshake_work_finish(V.engine, old, at_ms(5300), &out_v), -UM_ESTATE);
	CHECK_EQ(out_v.n_datagrams, 0);
	CHECK_EQ(V.engine->stats.deferred_stale, 1);
	CHECK(all_zero(old, sizeof(*old)));

	fixture_down();
}

/* The replaced case proper: generations. A state expires, its slot is
 * claimed by a new HELLO (item from the pool's other entry), and the old
 * item, run after that, comes back: it must not install into the new
 * state (whose own CHALLENGE then still completes the handshake). */
static void test_replaced_state_keeps_its_own_result(void)
{
	struct um_handshake_work *old, *fresh;
	fixture(2, 1000);
	CHECK_EQ(hello_to_v(&X, &X.addr, at_ms(0), &old), 0);
	unsigned slot = old->slot;
	while (um_handshake_tick(V.engine, at_ms(5100), &out_v) > 0)
		;
	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(5200), &fresh), 0);
	CHECK(fresh != old);
	CHECK_EQ(fresh->slot, slot); /* the first free slot: the same one */
	CHECK(fresh->generation != old->generation);
	CHECK_EQ(um_handshake_work_run(old), 0);
	CHECK_EQ(um_handshake_work_finish(V.engine, old, at_ms(5300), &out_v), -UM_ESTATE);
	CHECK_EQ(V.engine->pending[slot].state, UM_HS_STATE_CHALLENGE_PREPARING);
	CHECK_EQ(V.engine->stats.deferred_stale, 1);
	CHECK_EQ(um_handshake_work_run(fresh), 0);
	CHECK_EQ(um_handshake_work_finish(V.engine, fresh, at_ms(5400), &out_v), 0);
	CHECK_EQ(complete_with_l(at_ms(5500)), 0);
	fixture_down();
}

static void *run_thread(void *arg)
{
	um_handshake_work_run(arg);
	return NULL;
}

/* work_run on a real thread while the engine handles other datagrams:
 * more HELLOs (their own items), a whole handshake initiated by V, a
 * retransmitted HELLO for the item in flight. ASan/TSan-friendly: the
 * thread touches only the item and the identity. */
static void test_run_on_thread(void)
{
	struct um_handshake_work *work, *second;
	pthread_t thread;
	fixture(0, 1000);
	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(0), &work), 0);
	CHECK(work != NULL);
	uint8_t l_hello[UM_HS_MAX_DATAGRAM];
	uint16_t l_hello_len = out_l.lengths[0];
	memcpy(l_hello, out_l.datagrams[0], l_hello_len);
	CHECK_EQ(pthread_create(&thread, NULL, run_thread, work), 0);
	/* Meanwhile: a stranger's HELLOs, and L's retransmission. */
	for (unsigned i = 0; i < 5; i++) {
		struct um_addr src = site_addr(20 + i);
		CHECK_EQ(hello_to_v(&X, &src, at_ms(1 + i), &second), 0);
		um_handshake_work_run(second); /* inline: both paths at once */
		CHECK_EQ(um_handshake_work_finish(V.engine, second, at_ms(1 + i), &out_v), 0);
		CHECK(out_v.n_datagrams > 1);
	}
	CHECK_EQ(um_handshake_receive(V.engine, &L.addr, l_hello, l_hello_len, at_ms(8), &out_v), 0);
	CHECK_EQ(out_v.n_datagrams, 0);
	while (um_handshake_tick(V.engine, at_ms(9), &out_v) > 0)
		;
	CHECK_EQ(pthread_join(thread, NULL), 0);
	CHECK_EQ(um_handshake_work_finish(V.engine, work, at_ms(10), &out_v), 0);
	CHECK_EQ(complete_with_l(at_ms(20)), 0);
	CHECK_EQ(V.engine->stats.challenges, 6);
	CHECK_EQ(V.engine->stats.deferred_stale, 0);
	fixture_down();
}

/* A flood deferred is still bounded by the CHALLENGE budget: 500 HELLOs
 * from distinct /24s over 0.5 s (no cookie: the threshold is out of
 * reach) yield no more work items than the budget and its reserve allow,
 * and a preparing state is never evicted (64 items out at most). */
static void test_flood_bounded_by_budget(void)
{
	struct um_handshake_work *work;
	fixture(0, 1000);
	const struct um_handshake_config *cfg = &V.engine->config;
	unsigned lent = 0, most_lent = 0, finished = 0, urgent = 0;
	static struct um_handshake_work *held[64];
	for (unsigned i = 0; i < 500; i++) {
		struct um_addr src = site_addr(i);
		uint64_t t = i; /* 1 ms apart */
		if (hello_to_v(&X, &src, at_ms(t), &work) == 0 && work) {
			held[lent++] = work;
			urgent += um_handshake_work_urgent(work);
			most_lent = lent > most_lent ? lent : most_lent;
		}
		/* The "worker" returns a batch every 20 ms. */
		if (lent == 64 || i % 20 == 19) {
			for (unsigned k = 0; k < lent; k++) {
				um_handshake_work_run(held[k]);
				finished += um_handshake_work_finish(V.engine, held[k], at_ms(t), &out_v) == 0;
			}
			lent = 0;
		}
	}
	uint64_t deferred = V.engine->stats.challenges_deferred;
	/* burst + rate x 0.5 s, plus the reserve's burst and rate. */
	uint64_t cap = cfg->challenge_burst + cfg->challenges_per_second / 2 + 10 + cfg->challenges_per_second / 8 + 2;
	fprintf(stderr, "deferred flood: %llu items (cap %llu), %u finished, at most %u out at once\n",
		(unsigned long long)deferred, (unsigned long long)cap, finished, most_lent);
	CHECK(deferred <= cap);
	CHECK(deferred >= cfg->challenges_per_second / 2); /* the budget, not something else, bound it */
	CHECK(V.engine->stats.challenge_budget > 0);
	CHECK_EQ(V.engine->stats.challenges, finished);
	CHECK(most_lent <= cfg->max_pending);
	/* Each site sent one HELLO: all quiet before it, all urgent. */
	CHECK_EQ(urgent, deferred);
	/* A second HELLO from a site that just sent one is not urgent. */
	struct um_addr busy = site_addr(499);
	CHECK_EQ(hello_to_v(&X, &busy, at_ms(3000), &work), 0);
	CHECK(um_handshake_work_urgent(work));
	struct um_addr neighbour = busy;
	neighbour.addr[3] = 2; /* same /24, another host */
	CHECK_EQ(hello_to_v(&X, &neighbour, at_ms(3010), &held[0]), 0);
	CHECK(!um_handshake_work_urgent(held[0]));
	um_handshake_work_finish(V.engine, work, at_ms(3020), &out_v);
	um_handshake_work_finish(V.engine, held[0], at_ms(3020), &out_v);
	fixture_down();
}

/* Precomputed KEM pairs: a pooled run completes the handshake like a fresh
 * keygen; each pair serves once (two CHALLENGEs carry different keys) and
 * is wiped as it is taken; an empty pool falls back to a keygen. */
static void test_kem_pool(void)
{
	struct um_handshake_kem_pool *pool;
	struct um_handshake_work *work, *second;
	uint8_t first_key[UM_HKEM_PK_BYTES];
	fixture(0, 1000);
	CHECK_EQ(um_handshake_kem_pool_new(&pool, 2), 0);
	CHECK_EQ(um_handshake_kem_pool_fill(pool), 1);
	CHECK_EQ(um_handshake_kem_pool_fill(pool), 1);
	CHECK_EQ(um_handshake_kem_pool_fill(pool), 0); /* full */
	CHECK_EQ(um_handshake_kem_pool_count(pool), 2);

	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(0), &work), 0);
	CHECK_EQ(um_handshake_work_run_pooled(work, pool), 0);
	CHECK_EQ(um_handshake_kem_pool_count(pool), 1);
	memcpy(first_key, work->challenge + UM_HS_CHALLENGE_HEADER_BYTES - UM_HKEM_PK_BYTES, sizeof(first_key));
	CHECK_EQ(um_handshake_work_finish(V.engine, work, at_ms(1), &out_v), 0);
	CHECK_EQ(complete_with_l(at_ms(2)), 0);
	CHECK_MEM(L.keypair.send_key, V.keypair.recv_key, UM_KEY_LEN);

	struct um_addr src = site_addr(7);
	CHECK_EQ(hello_to_v(&X, &src, at_ms(10), &second), 0);
	CHECK_EQ(um_handshake_work_run_pooled(second, pool), 0);
	CHECK_EQ(um_handshake_kem_pool_count(pool), 0);
	CHECK(memcmp(first_key, second->challenge + UM_HS_CHALLENGE_HEADER_BYTES - UM_HKEM_PK_BYTES,
		     sizeof(first_key)) != 0);
	CHECK_EQ(um_handshake_work_finish(V.engine, second, at_ms(11), &out_v), 0);
	/* Empty: a keygen on the spot, and the handshake still completes. */
	CHECK_EQ(hello_to_v(&L, &L.addr, at_ms(1500), &work), 0);
	CHECK_EQ(um_handshake_work_run_pooled(work, pool), 0);
	CHECK_EQ(um_handshake_work_finish(V.engine, work, at_ms(1501), &out_v), 0);
	CHECK_EQ(complete_with_l(at_ms(1502)), 0);
	um_handshake_kem_pool_free(pool);
	fixture_down();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_deferred_completes);
	RUN(test_stale_result_dropped);
	RUN(test_replaced_state_keeps_its_own_result);
	RUN(test_run_on_thread);
	RUN(test_flood_bounded_by_budget);
	RUN(test_kem_pool);
	return um_test_end();
}
