/* SPDX-License-Identifier: MIT */
/* Repeat handshakes (docs/PROTOCOL.md section 4, "Repeat handshakes"): the
 * first handshake between two engines carries both public keys; later ones
 * leave out what the other side verified before (short CHALLENGE and
 * RESPONSE, two fragments less each). Every way the caches can be wrong
 * falls back to the full form and completes: a responder that restarted,
 * one that lost the initiator's key, a cached key that no longer verifies,
 * an ESTABLISHED lost after a short RESPONSE. Also: lost pieces of the
 * short messages are repaired alone, relay registrations (responder mode
 * for unknown initiators) repeat short, an engine without a cache stays
 * full, a version-2 HELLO is refused, and at 5% random loss repeat
 * handshakes send fewer fragments than first ones. Fake clock (hs_lossy.h). */
#include "hs_lossy.h"
#include "session/cookie.h"
#include "session/handshake_internal.h"
#include "test.h"
#include "util/error.h"

#define MS UM_NSEC_PER_MSEC

static struct hs_node A, B;
static struct lossy_net net;
static void fixture_up(void);
static void fixture_down(void);

/* Per run: bytes and datagrams each side sent, FRAGMENT total_len seen per
 * message type, and optional drops (by type/msg_type/piece, first n). */
static struct {
	uint64_t bytes[2];
	unsigned datagrams[2];
	unsigned challenge_len, response_len;
	unsigned challenge_pieces, response_pieces; /* FRAGMENTs sent, resends included */
	uint8_t drop_type, drop_msg;
	int drop_piece, drop_from;
	unsigned drop_times;
} run;

static int count_and_drop(struct lossy_net *n, int from, const uint8_t *d, uint16_t len)
{
	(void)n;
	run.bytes[from] += len;
	run.datagrams[from]++;
	if (d[0] == UM_TYPE_FRAGMENT && len >= UM_FRAG_HEADER_BYTES) {
		unsigned total = (unsigned)(d[12] << 8 | d[13]);
		if (d[1] == UM_MSG_CHALLENGE) {
			run.challenge_len = total;
			run.challenge_pieces++;
		} else if (d[1] == UM_MSG_RESPONSE) {
			run.response_len = total;
			run.response_pieces++;
		}
	}
	if (run.drop_times && from == run.drop_from && d[0] == run.drop_type &&
	    (run.drop_type != UM_TYPE_FRAGMENT || (d[1] == run.drop_msg && d[2] == run.drop_piece))) {
		run.drop_times--;
		return 1;
	}
	return 0;
}

/* One handshake a -> b on the lossy net (20 ms one way), counted. */
static int handshake(struct hs_node *a, struct hs_node *b, uint64_t sec)
{
	struct um_handshake_time start = hs_time(sec);
	uint8_t drop_type = run.drop_type, drop_msg = run.drop_msg;
	int drop_piece = run.drop_piece, drop_from = run.drop_from;
	unsigned drop_times = run.drop_times;
	memset(&run, 0, sizeof(run));
	run.drop_type = drop_type;
	run.drop_msg = drop_msg;
	run.drop_piece = drop_piece;
	run.drop_from = drop_from;
	run.drop_times = drop_times;
	lossy_init(&net, a, b, 20 * MS, start);
	net.drop = count_and_drop;
	int r = lossy_run(&net, 9 * UM_NSEC_PER_SEC);
	if (r == 0) {
		CHECK_MEM(a->keypair.send_key, b->keypair.recv_key, UM_KEY_LEN);
		CHECK_MEM(a->keypair.recv_key, b->keypair.send_key, UM_KEY_LEN);
	}
	return r;
}

static void drop_next(int from, uint8_t type, uint8_t msg, int piece, unsigned times)
{
	run.drop_from = from;
	run.drop_type = type;
	run.drop_msg = msg;
	run.drop_piece = piece;
	run.drop_times = times;
}

static void forget_keys(struct hs_node *n)
{
	unsigned capacity = n->engine->key_cache.capacity;
	um_key_cache_destroy(&n->engine->key_cache);
	um_key_cache_init(&n->engine->key_cache, capacity);
}

static const struct um_handshake_stats *stats(const struct hs_node *n)
{
	return um_handshake_get_stats(n->engine);
}

static void test_first_full_then_short(void)
{
	CHECK_EQ(handshake(&A, &B, 10), 0);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_BYTES);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_BYTES);
	/* Each message in pieces and its parity piece. */
	CHECK_EQ(run.challenge_pieces, um_fragment_count(UM_HS_CHALLENGE_BYTES) + 1);
	CHECK_EQ(run.response_pieces, um_fragment_count(UM_HS_RESPONSE_BYTES) + 1);
	uint64_t full_a = run.bytes[0], full_b = run.bytes[1];
	unsigned full_dgrams = run.datagrams[0] + run.datagrams[1];
	fprintf(stderr, "first:  A sent %llu B, B sent %llu B, %u datagrams\n", (unsigned long long)full_a,
		(unsigned long long)full_b, full_dgrams);

	/* The same pair again: both keys stay home. */
	CHECK_EQ(handshake(&A, &B, 20), 0);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_SHORT_BYTES);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_SHORT_BYTES);
	CHECK_EQ(run.challenge_pieces, um_fragment_count(UM_HS_CHALLENGE_SHORT_BYTES) + 1);
	CHECK_EQ(run.response_pieces, um_fragment_count(UM_HS_RESPONSE_SHORT_BYTES) + 1);
	CHECK_EQ(run.challenge_pieces + 2, um_fragment_count(UM_HS_CHALLENGE_BYTES) + 1);
	CHECK_EQ(full_b - run.bytes[1], UM_HSIG_PK_BYTES + 2 * UM_FRAG_HEADER_BYTES);
	CHECK_EQ(full_a - run.bytes[0], UM_HSIG_PK_BYTES - UM_PEER_ID_BYTES + 2 * UM_FRAG_HEADER_BYTES);
	CHECK_EQ(run.datagrams[0] + run.datagrams[1] + 4, full_dgrams);
	fprintf(stderr, "repeat: A sent %llu B, B sent %llu B, %u datagrams\n", (unsigned long long)run.bytes[0],
		(unsigned long long)run.bytes[1], run.datagrams[0] + run.datagrams[1]);
	CHECK_EQ(stats(&B)->short_challenges, 1);
	CHECK_EQ(stats(&A)->short_responses, 1);

	/* The other way round: B holds A's key and knows A holds B's. */
	CHECK_EQ(handshake(&B, &A, 30), 0);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_SHORT_BYTES);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_SHORT_BYTES);
	CHECK_EQ(stats(&A)->key_unknown + stats(&B)->key_unknown, 0);
}

/* B restarts (same identity, new engine: empty cache, new epoch). A still
 * holds B's key (short CHALLENGE) but sees the new epoch: full RESPONSE at
 * once, no timer. Then both short again. */
static void test_responder_restart(void)
{
	CHECK_EQ(handshake(&A, &B, 10), 0);
	um_handshake_engine_free(B.engine);
	struct um_handshake_config cfg = {.identity = &B.identity, .mtu = 1400};
	CHECK_EQ(um_handshake_engine_new(&B.engine, &cfg), 0);
	CHECK_EQ(um_handshake_peer_add(B.engine, &A.identity.id, &A, &B.peer), 0);
	CHECK_EQ(handshake(&A, &B, 20), 0);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_SHORT_BYTES);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_BYTES);
	CHECK_EQ(run.response_pieces, um_fragment_count(UM_HS_RESPONSE_BYTES) + 1);
	CHECK(net.done_ns - net.base_ns < 150 * MS); /* two round trips and a bit: no timeout */
	CHECK_EQ(handshake(&A, &B, 30), 0);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_SHORT_BYTES);
}

/* B lost A's key (evicted) but not its epoch: A sends the short RESPONSE,
 * B drops it (key unknown), A's timer sends the full one (second round);
 * completes. */
static void test_unknown_key(void)
{
	CHECK_EQ(handshake(&A, &B, 10), 0);
	forget_keys(&B);
	CHECK_EQ(handshake(&A, &B, 20), 0);
	CHECK_EQ(stats(&B)->key_unknown, 1);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_BYTES); /* the last one seen: full */
	/* The short one with its parity piece, its data pieces again at the
	 * first timer round (ignored: B dropped that message), the full one
	 * at the second (a timer round: data pieces only). */
	CHECK_EQ(run.response_pieces,
		 2 * um_fragment_count(UM_HS_RESPONSE_SHORT_BYTES) + 1 + um_fragment_count(UM_HS_RESPONSE_BYTES));
	CHECK_EQ(A.established, 2);
	/* B has A's key again: the next one is short all through. */
	CHECK_EQ(handshake(&A, &B, 30), 0);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_SHORT_BYTES);
	CHECK_EQ(stats(&B)->key_unknown, 1);
}

/* A's cached key of B is wrong (white-box: one bit flipped). The short
 * CHALLENGE does not verify under it: A forgets it, sends a new HELLO
 * without the flag, gets the full CHALLENGE, and completes. */
static void test_stale_key_falls_back(void)
{
	CHECK_EQ(handshake(&A, &B, 10), 0);
	struct um_key_cache_entry *e = um_key_cache_find(&A.engine->key_cache, &B.identity.id);
	CHECK(e != NULL);
	if (!e)
		return;
	e->public_key[100] ^= 1;
	uint64_t failed = stats(&A)->auth_failed;
	CHECK_EQ(handshake(&A, &B, 20), 0);
	CHECK_EQ(stats(&A)->auth_failed, failed + 1);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_BYTES); /* the second CHALLENGE: full */
	e = um_key_cache_find(&A.engine->key_cache, &B.identity.id);
	CHECK(e && memcmp(e->public_key, B.identity.public_key, UM_HSIG_PK_BYTES) == 0);
	CHECK_EQ(handshake(&A, &B, 30), 0);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_SHORT_BYTES);
}

/* B took the short RESPONSE but its ESTABLISHED is lost. Once: A's timer
 * resends short pieces, whose message id B answered: the stored
 * ESTABLISHED again. Twice: the second round moves to the full RESPONSE
 * (same header), B answers it with the stored ESTABLISHED, which A opens
 * with the short form's transcript. One session each time. */
static void test_established_lost_after_short(void)
{
	CHECK_EQ(handshake(&A, &B, 10), 0);
	drop_next(1, UM_MSG_ESTABLISHED, 0, 0, 1);
	CHECK_EQ(handshake(&A, &B, 20), 0);
	CHECK_EQ(run.drop_times, 0);
	CHECK_EQ(B.established, 2);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_SHORT_BYTES);
	drop_next(1, UM_MSG_ESTABLISHED, 0, 0, 2);
	CHECK_EQ(handshake(&A, &B, 30), 0);
	CHECK_EQ(run.drop_times, 0);
	CHECK_EQ(B.established, 3);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_BYTES);
}

/* A lost piece of a short message: rebuilt from the parity piece, no
 * resend (the count is the data pieces and the parity piece). */
static void test_short_pieces_repaired(void)
{
	CHECK_EQ(handshake(&A, &B, 10), 0);
	drop_next(1, UM_TYPE_FRAGMENT, UM_MSG_CHALLENGE, 2, 1);
	CHECK_EQ(handshake(&A, &B, 20), 0);
	CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_SHORT_BYTES);
	CHECK_EQ(run.challenge_pieces, um_fragment_count(UM_HS_CHALLENGE_SHORT_BYTES) + 1);
	drop_next(0, UM_TYPE_FRAGMENT, UM_MSG_RESPONSE, 3, 1);
	CHECK_EQ(handshake(&A, &B, 30), 0);
	CHECK_EQ(run.response_len, UM_HS_RESPONSE_SHORT_BYTES);
	CHECK_EQ(run.response_pieces, um_fragment_count(UM_HS_RESPONSE_SHORT_BYTES) + 1);
	CHECK_EQ(stats(&B)->key_unknown, 0);
}

/* An engine without a cache: every handshake full, both ways, and its
 * peers never send it a short RESPONSE (its epoch is 0). */
static void test_no_cache(void)
{
	um_handshake_engine_free(B.engine);
	struct um_handshake_config cfg = {.identity = &B.identity, .mtu = 1400, .no_key_cache = true};
	CHECK_EQ(um_handshake_engine_new(&B.engine, &cfg), 0);
	CHECK_EQ(um_handshake_peer_add(B.engine, &A.identity.id, &A, &B.peer), 0);
	for (unsigned i = 0; i < 2; i++) {
		CHECK_EQ(handshake(&A, &B, 10 + 10 * i), 0);
		CHECK_EQ(run.response_len, UM_HS_RESPONSE_BYTES);
		/* A holds B's key: B's own key is always B's to leave out. */
		CHECK_EQ(run.challenge_len, i ? UM_HS_CHALLENGE_SHORT_BYTES : UM_HS_CHALLENGE_BYTES);
		CHECK_EQ(handshake(&B, &A, 15 + 10 * i), 0);
		CHECK_EQ(run.challenge_len, UM_HS_CHALLENGE_BYTES);
		CHECK_EQ(run.response_len, UM_HS_RESPONSE_BYTES);
	}
	CHECK_EQ(stats(&A)->key_unknown + stats(&B)->key_unknown, 0);
}

/* Relay registrations: the relay's engine admits initiators nobody added
 * and forgets them (um_handshake_peer_remove) when their entry goes; the
 * node's uplink makes its peer entry anew per attempt. The keys stay in
 * the engines' caches: the second registration is short both ways. */
static unsigned admitted;
static int admit(void *ctx, const struct um_peer_id *id, struct um_handshake_peer *peer, void **user)
{
	(void)ctx;
	(void)id;
	(void)peer;
	admitted++;
	*user = NULL;
	return 0;
}

static void test_relay_registration_repeat(void)
{
	/* B becomes a relay: no configured peers, admit callback. */
	um_handshake_engine_free(B.engine);
	struct um_handshake_config cfg = {.identity = &B.identity, .admit = admit, .max_admitted = 4};
	CHECK_EQ(um_handshake_engine_new(&B.engine, &cfg), 0);
	B.peer = NULL;
	admitted = 0;
	uint64_t full_bytes = 0;
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(handshake(&A, &B, 10 + 10 * i), 0);
		CHECK_EQ(admitted, i + 1);
		CHECK_EQ(run.challenge_len, i ? UM_HS_CHALLENGE_SHORT_BYTES : UM_HS_CHALLENGE_BYTES);
		CHECK_EQ(run.response_len, i ? UM_HS_RESPONSE_SHORT_BYTES : UM_HS_RESPONSE_BYTES);
		uint64_t total = run.bytes[0] + run.bytes[1];
		if (!i)
			full_bytes = total;
		else
			CHECK_EQ(full_bytes - total,
				 2 * UM_HSIG_PK_BYTES - UM_PEER_ID_BYTES + 4 * UM_FRAG_HEADER_BYTES);
		fprintf(stderr, "registration %u: %llu bytes, %u datagrams\n", i + 1, (unsigned long long)total,
			run.datagrams[0] + run.datagrams[1]);
		/* The relay's entry expires; the node's uplink starts over. */
		CHECK_EQ(B.engine->n_peers, 1);
		if (B.engine->n_peers)
			um_handshake_peer_remove(B.engine, B.engine->peers[0]);
		um_handshake_peer_remove(A.engine, A.peer);
		CHECK_EQ(um_handshake_peer_add(A.engine, &B.identity.id, &B, &A.peer), 0);
	}
}

/* a -> b in memory, running b's deferred CHALLENGE work at once (what the
 * node's worker does); *challenge_len gets the CHALLENGE's size. */
static int handshake_deferred(struct hs_node *a, struct hs_node *b, uint64_t sec, unsigned *challenge_len)
{
	static struct hs_queue q, next, tmp;
	struct um_handshake_time now = hs_time(sec);
	struct hs_node *from = a, *to = b;
	int ea = a->established, eb = b->established;

	if (um_handshake_initiate(a->engine, a->peer, &b->addr, now, &hs_out) < 0)
		return -1;
	hs_take_output(a, &q);
	for (int round = 0; round < 16 && q.n; round++) {
		next.n = 0;
		for (unsigned i = 0; i < q.n; i++) {
			if (q.data[i][0] == UM_TYPE_FRAGMENT && q.data[i][1] == UM_MSG_CHALLENGE)
				*challenge_len = (unsigned)(q.data[i][12] << 8 | q.data[i][13]);
			um_handshake_receive(to->engine, &from->addr, q.data[i], q.len[i], now, &hs_out);
			if (hs_out.work) {
				struct um_handshake_work *work = hs_out.work;
				CHECK_EQ(um_handshake_work_run(work), 0);
				CHECK_EQ(um_handshake_work_finish(to->engine, work, now, &hs_out), 0);
			}
			hs_take_output(to, &tmp);
			for (unsigned j = 0; j < tmp.n && next.n < HS_QUEUE_MAX; j++) {
				memcpy(next.data[next.n], tmp.data[j], tmp.len[j]);
				next.len[next.n++] = tmp.len[j];
			}
		}
		memcpy(&q, &next, sizeof(next));
		struct hs_node *t = from;
		from = to;
		to = t;
	}
	return a->established == ea + 1 && b->established == eb + 1 ? 0 : -1;
}

/* The node's responder defers its CHALLENGE to a worker: the work item
 * builds the short form as the engine would. */
static void test_deferred_challenge_short(void)
{
	um_handshake_engine_free(B.engine);
	struct um_handshake_config cfg = {.identity = &B.identity, .mtu = 1400, .defer_challenge = true};
	CHECK_EQ(um_handshake_engine_new(&B.engine, &cfg), 0);
	CHECK_EQ(um_handshake_peer_add(B.engine, &A.identity.id, &A, &B.peer), 0);
	unsigned len = 0;
	CHECK_EQ(handshake_deferred(&A, &B, 10, &len), 0);
	CHECK_EQ(len, UM_HS_CHALLENGE_BYTES);
	CHECK_EQ(handshake_deferred(&A, &B, 20, &len), 0);
	CHECK_EQ(len, UM_HS_CHALLENGE_SHORT_BYTES);
	CHECK_EQ(stats(&B)->short_challenges, 1);
	CHECK_EQ(stats(&A)->short_responses, 1);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);
}

/* Random loss, 5% per datagram and direction: 100 seeded handshakes
 * between engines that met before (short forms) against 100 first ones
 * (full forms, same seeds): all complete, and the repeat ones send fewer
 * fragments. The means go to the test log. */
static uint64_t rng;
static int drop_random(struct lossy_net *n, int from, const uint8_t *d, uint16_t len)
{
	(void)n;
	(void)from;
	(void)d;
	(void)len;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % 1000 < 50;
}

static void random_loss(bool repeat, double *fragments, double *ms)
{
	unsigned done = 0, total_fragments = 0;
	uint64_t total_ns = 0;
	for (unsigned seed = 1; seed <= 100; seed++) {
		fixture_down();
		fixture_up();
		CHECK_EQ(handshake(&A, &B, 10), 0); /* no loss: both learn the keys */
		if (!repeat) {
			forget_keys(&A);
			forget_keys(&B);
		}
		rng = 0x9e3779b97f4a7c15ULL * seed;
		lossy_init(&net, &A, &B, 20 * MS, hs_time(20));
		net.drop = drop_random;
		if (lossy_run(&net, 9 * UM_NSEC_PER_SEC) == 0) {
			done++;
			total_ns += net.done_ns - net.base_ns;
		}
		total_fragments += net.sent_type[0][UM_TYPE_FRAGMENT] + net.sent_type[1][UM_TYPE_FRAGMENT];
	}
	CHECK_EQ(done, 100);
	*fragments = total_fragments / 100.0;
	*ms = done ? (double)total_ns / done / 1e6 : 0;
	fprintf(stderr, "5%% loss, %s: %u/100 completed; mean %.2f fragments sent, mean %.0f ms (20 ms one way)\n",
		repeat ? "repeat (short forms)" : "first (full forms)", done, *fragments, *ms);
}

static void test_random_loss(void)
{
	double full_fragments, full_ms, short_fragments, short_ms;
	random_loss(false, &full_fragments, &full_ms);
	random_loss(true, &short_fragments, &short_ms);
	CHECK(short_fragments < full_fragments);
}

/* Mixed versions: a version-2 HELLO (real MACs) is refused and counted,
 * as version 2 refused version 1 (docs/PROTOCOL.md section 3). */
static void test_version_2_refused(void)
{
	struct um_cookie_maker maker;
	uint8_t hello[UM_HS_HELLO_BYTES];
	uint8_t e[32] = {9}, nonce[16] = {1};
	struct um_hs_hello h = {.sender_index = 7, .ephemeral = e, .nonce = nonce, .timestamp_ms = 1700000010000ULL};
	struct um_handshake_time t = hs_time(10);

	CHECK_EQ(um_hs_hello_encode(hello, sizeof(hello), &h), UM_HS_HELLO_BYTES);
	hello[1] = 2;
	um_cookie_maker_init(&maker, &B.identity.id);
	um_cookie_add_macs(&maker, hello, sizeof(hello), t.mono_ns);
	CHECK_EQ(um_handshake_receive(B.engine, &A.addr, hello, sizeof(hello), t, &hs_out), -UM_EVERSION);
	CHECK_EQ(hs_out.n_datagrams, 0);
	CHECK_EQ(stats(&B)->version_mismatch, 1);
	um_cookie_maker_wipe(&maker);
}

static void fixture_up(void)
{
	hs_node_init(&A, 1);
	hs_node_init(&B, 2);
	hs_pair(&A, &B);
	memset(&run, 0, sizeof(run));
}

static void fixture_down(void)
{
	hs_node_free(&A);
	hs_node_free(&B);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN_FRESH(test_first_full_then_short);
	RUN_FRESH(test_responder_restart);
	RUN_FRESH(test_unknown_key);
	RUN_FRESH(test_stale_key_falls_back);
	RUN_FRESH(test_established_lost_after_short);
	RUN_FRESH(test_short_pieces_repaired);
	RUN_FRESH(test_no_cache);
	RUN_FRESH(test_relay_registration_repeat);
	RUN_FRESH(test_deferred_challenge_short);
	RUN_FRESH(test_random_loss);
	RUN_FRESH(test_version_2_refused);
	return um_test_end();
}
