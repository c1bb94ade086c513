/* SPDX-License-Identifier: MIT */
/* Handshake engine: agreement, authentication, replay, retransmission. */
#include <errno.h>

#include "hs_harness.h"
#include "session/handshake_internal.h"
#include "test.h"
#include "util/error.h"

static struct hs_node A, B, C;

static void reset_nodes(void)
{
	A.established = B.established = C.established = 0;
	A.failed = B.failed = 0;
	A.last_error = B.last_error = 0;
}

static void test_full_handshake(void)
{
	reset_nodes();
	CHECK_EQ(hs_run(&A, &B, hs_time(0), NULL, NULL), 0);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);
	CHECK_MEM(A.keypair.recv_key, B.keypair.send_key, UM_KEY_LEN);
	CHECK(memcmp(A.keypair.send_key, A.keypair.recv_key, UM_KEY_LEN) != 0);
	CHECK_EQ(A.keypair.local_index, B.keypair.remote_index);
	CHECK_EQ(A.keypair.remote_index, B.keypair.local_index);
	CHECK(A.keypair.initiator);
	CHECK(!B.keypair.initiator);
	/* Parameters come from the responder, observed endpoint is A's. */
	CHECK_EQ(A.params.mtu, 1400);
	CHECK_EQ(A.params.heartbeat_s, 15);
	CHECK_EQ(A.params.rotation_s, 120);
	CHECK_EQ(A.params.flags, UM_HS_FLAG_DIRECT_P2P);
	CHECK(um_addr_equal(&A.params.observed, &A.addr));
	CHECK_MEM(A.params.session_id, B.params.session_id, UM_HS_SESSION_ID_BYTES);
	CHECK(um_addr_equal(&B.peer_endpoint, &A.addr));
	CHECK(um_addr_equal(&A.peer_endpoint, &B.addr));
	CHECK(!um_handshake_peer_busy(A.peer));
	/* And the other direction works with the same engines. */
	struct um_keypair first = A.keypair;
	CHECK_EQ(hs_run(&B, &A, hs_time(1), NULL, NULL), 0);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);
	CHECK(B.keypair.initiator);
	CHECK(memcmp(first.send_key, A.keypair.send_key, UM_KEY_LEN) != 0);
}

/* config.early_keys: the initiator's keys come out with its RESPONSE
 * (before ESTABLISHED) and are the ones ESTABLISHED confirms, in the full
 * and in the short (repeat) form; off, they never come early. */
static void test_early_keys(void)
{
	reset_nodes();
	A.early = 0;
	CHECK_EQ(hs_run(&A, &B, hs_time(4), NULL, NULL), 0);
	CHECK_EQ(A.early, 0);
	A.engine->config.early_keys = true;
	for (int round = 0; round < 2; round++) {
		int before = A.early;
		CHECK_EQ(hs_run(&A, &B, hs_time(5 + (uint64_t)round), NULL, NULL), 0);
		CHECK_EQ(A.early, before + 1);
		CHECK_MEM(A.early_keys.send_key, A.keypair.send_key, UM_KEY_LEN);
		CHECK_MEM(A.early_keys.recv_key, A.keypair.recv_key, UM_KEY_LEN);
		CHECK_MEM(A.early_keys.send_key, B.keypair.recv_key, UM_KEY_LEN);
		CHECK_EQ(A.early_keys.local_index, A.keypair.local_index);
		CHECK_EQ(A.early_keys.remote_index, B.keypair.local_index);
		CHECK(A.early_keys.initiator);
	}
	CHECK_EQ(B.early, 0); /* the responder's keys come with RESPONSE anyway */
	A.engine->config.early_keys = false;
}

static void test_keys_differ_per_handshake(void)
{
	reset_nodes();
	CHECK_EQ(hs_run(&A, &B, hs_time(2), NULL, NULL), 0);
	struct um_keypair k1 = A.keypair;
	CHECK_EQ(hs_run(&A, &B, hs_time(3), NULL, NULL), 0);
	CHECK(memcmp(k1.send_key, A.keypair.send_key, UM_KEY_LEN) != 0);
	CHECK(memcmp(k1.recv_key, A.keypair.recv_key, UM_KEY_LEN) != 0);
	CHECK(k1.local_index != A.keypair.local_index);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);
}

/* C answers with its own (valid) key while A pinned B's ID: A must refuse.
 * C is made to accept HELLOs meant for B by keying its mac1 with B's ID,
 * so the refusal really comes from the key-to-ID check. */
static void test_wrong_responder_refused(void)
{
	reset_nodes();
	struct um_handshake_peer *a_at_c;
	CHECK_EQ(um_handshake_peer_add(C.engine, &A.identity.id, &A, &a_at_c), 0);
	um_cookie_checker_init(&C.engine->cookie, &B.identity.id);
	C.addr = B.addr; /* impersonate B's endpoint */
	CHECK(hs_run(&A, &C, hs_time(4), NULL, NULL) != 0);
	CHECK_EQ(A.established, 0);
	CHECK_EQ(C.established, 0);
	CHECK_EQ(um_handshake_get_stats(A.engine)->auth_failed, 1);
	CHECK(um_handshake_peer_busy(A.peer)); /* still waiting for the real B */
	um_handshake_peer_remove(C.engine, a_at_c);
	um_cookie_checker_init(&C.engine->cookie, &C.identity.id);
	C.addr.addr[3] = 3;
}

/* An initiator whose key is not registered at the responder is refused. */
static void test_unknown_initiator_refused(void)
{
	reset_nodes();
	struct um_handshake_peer *b_at_c;
	CHECK_EQ(um_handshake_peer_add(C.engine, &B.identity.id, &B, &b_at_c), 0);
	C.peer = b_at_c;
	CHECK(hs_run(&C, &B, hs_time(5), NULL, NULL) != 0);
	CHECK_EQ(B.established, 0);
	CHECK_EQ(C.established, 0);
	CHECK_EQ(B.last_error, -UM_ENOTFOUND);
	um_handshake_peer_remove(C.engine, b_at_c);
	C.peer = NULL;
}

/* ---- tampering ---- */

struct capture {
	unsigned n;
	uint16_t len[32];
	uint8_t data[32][UM_HS_MAX_DATAGRAM];
	int from_a[32];
};

static int capture_filter(void *ctx, unsigned seq, const struct hs_node *from, uint8_t *dgram, uint16_t *len)
{
	struct capture *c = ctx;
	(void)seq;
	if (c->n < 32) {
		memcpy(c->data[c->n], dgram, *len);
		c->len[c->n] = *len;
		c->from_a[c->n] = from == &A;
		c->n++;
	}
	return 0;
}

/* Feeds the datagrams [first, first+count) of a capture to node `to`, with
 * byte `pos` of datagram `which` flipped. Returns how many were accepted
 * and whether an event came out. */
static int feed(struct hs_node *to, const struct hs_node *from, const struct capture *c, unsigned first, unsigned count,
		unsigned which, size_t pos, struct um_handshake_time now, int *event)
{
	static uint8_t buf[UM_HS_MAX_DATAGRAM];
	int produced = 0;
	*event = 0;
	for (unsigned i = first; i < first + count; i++) {
		memcpy(buf, c->data[i], c->len[i]);
		if (i == which)
			buf[pos] ^= 0x01;
		int r = um_handshake_receive(to->engine, &from->addr, buf, c->len[i], now, &hs_out);
		/* A FRAGMENT_ACK is the answer to a message left incomplete (a
		 * damaged header moved or dropped a piece), not acceptance. */
		if (r == 0 && hs_out.n_datagrams && hs_out.datagrams[0][0] != UM_TYPE_FRAGMENT_ACK)
			produced++;
		if (hs_out.event != UM_HS_EVENT_NONE)
			*event = 1;
	}
	return produced;
}

/* Forgets every verified key (white-box): the next handshake is a first one. */
static void forget_keys(struct hs_node *n)
{
	unsigned capacity = n->engine->key_cache.capacity;
	um_key_cache_destroy(&n->engine->key_cache);
	um_key_cache_init(&n->engine->key_cache, capacity);
}

/* repeat: the tampered run is a repeat handshake (short CHALLENGE and
 * RESPONSE, the keys from the caches); else both forget the keys first. */
static void tamper_every_byte(bool repeat)
{
	static struct capture cap;
	reset_nodes();
	cap.n = 0;
	CHECK_EQ(hs_run(&A, &B, hs_time(10), capture_filter, &cap), 0);
	/* HELLO, 8 CHALLENGE fragments and their parity piece, 8 RESPONSE
	 * fragments and theirs, ESTABLISHED. */
	unsigned ch_frags = um_fragment_count(UM_HS_CHALLENGE_BYTES);
	unsigned resp_frags = um_fragment_count(UM_HS_RESPONSE_BYTES);
	CHECK_EQ(cap.n, 1 + ch_frags + 1 + resp_frags + 1 + 1);
	unsigned hello = 0, ch = 1, resp = 2 + ch_frags, est = 3 + ch_frags + resp_frags;
	CHECK_EQ(cap.data[resp - 1][2], ch_frags); /* parity: index == count */
	CHECK_EQ(cap.data[est - 1][2], resp_frags);
	CHECK_EQ(cap.data[hello][0], UM_MSG_HELLO);
	CHECK_EQ(cap.data[est][0], UM_MSG_ESTABLISHED);
	for (unsigned i = 0; i < cap.n; i++)
		CHECK(cap.len[i] <= UM_HS_MAX_DATAGRAM);

	/* Re-run the handshake, this time stopping at each step to tamper. */
	reset_nodes();
	if (!repeat) {
		forget_keys(&A);
		forget_keys(&B);
	}
	size_t ch_bytes = repeat ? UM_HS_CHALLENGE_SHORT_BYTES : UM_HS_CHALLENGE_BYTES;
	ch_frags = um_fragment_count(ch_bytes);
	resp_frags = um_fragment_count(repeat ? UM_HS_RESPONSE_SHORT_BYTES : UM_HS_RESPONSE_BYTES);
	struct um_handshake_time t = hs_time(20);
	static struct capture run;
	run.n = 0;
	/* Step 1: HELLO. A fresh initiation gives a fresh HELLO; each flipped
	 * byte (all but mac2, a DoS token only checked under load) must be
	 * refused by B without output. */
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, t, &hs_out), 0);
	memcpy(run.data[0], hs_out.datagrams[0], hs_out.lengths[0]);
	run.len[0] = hs_out.lengths[0];
	int accepted = 0, ev;
	for (size_t pos = 0; pos < UM_HS_HELLO_MAC2_OFFSET; pos++)
		accepted += feed(&B, &A, &run, 0, 1, 0, pos, t, &ev);
	CHECK_EQ(accepted, 0);
	/* Untouched HELLO goes through and yields the CHALLENGE. */
	CHECK_EQ(um_handshake_receive(B.engine, &A.addr, run.data[0], run.len[0], t, &hs_out), 0);
	/* The data pieces, then the parity piece: the tries below feed the
	 * data pieces only (a complete message never uses its parity). */
	CHECK_EQ(hs_out.n_datagrams, ch_frags + 1);
	for (unsigned i = 0; i < hs_out.n_datagrams; i++) {
		memcpy(run.data[1 + i], hs_out.datagrams[i], hs_out.lengths[i]);
		run.len[1 + i] = hs_out.lengths[i];
	}
	/* Step 2: every byte of every CHALLENGE fragment. A failed consume
	 * leaves A's state as it was; advancing time by 6 s per try lets the
	 * reassembler drop leftovers of a try whose header was damaged. */
	uint64_t base = t.mono_ns;
	unsigned tries = 0;
	uint64_t a_auth_failed = um_handshake_get_stats(A.engine)->auth_failed;
	accepted = 0;
	for (unsigned f = 0; f < ch_frags; f++) {
		for (size_t pos = 0; pos < run.len[1 + f]; pos++) {
			struct um_handshake_time tt = t;
			tt.mono_ns = base + (uint64_t)(++tries) * 6 * UM_NSEC_PER_SEC;
			/* Each try stands for a separate initiation: lift the
			 * per-initiation cap on CHALLENGEs opened. */
			A.peer->challenge_attempts = 0;
			accepted += feed(&A, &B, &run, 1, ch_frags, 1 + f, pos, tt, &ev);
		}
	}
	CHECK_EQ(accepted, 0);
	CHECK(um_handshake_peer_busy(A.peer));
	/* Damage past the fragment headers reached the cryptographic checks. */
	CHECK(um_handshake_get_stats(A.engine)->auth_failed - a_auth_failed >=
	      ch_bytes - ch_frags * UM_FRAG_HEADER_BYTES);
	fprintf(stderr, "challenge tampers: %u tries, %llu refused by crypto\n", tries,
		(unsigned long long)(um_handshake_get_stats(A.engine)->auth_failed - a_auth_failed));
	struct um_handshake_time t2 = t;
	t2.mono_ns = base + (uint64_t)(++tries) * 6 * UM_NSEC_PER_SEC;
	/* A's initiation has a 10 s timeout enforced by tick (not called here);
	 * B's pending state was created at t and is expired by tick only too. */
	A.peer->challenge_attempts = 0;
	int produced = feed(&A, &B, &run, 1, ch_frags, UINT32_MAX, 0, t2, &ev);
	CHECK_EQ(produced, 1);
	CHECK_EQ(hs_out.n_datagrams, resp_frags + 1);
	unsigned r0 = 1 + ch_frags;
	for (unsigned i = 0; i < hs_out.n_datagrams; i++) {
		memcpy(run.data[r0 + i], hs_out.datagrams[i], hs_out.lengths[i]);
		run.len[r0 + i] = hs_out.lengths[i];
	}
	/* Step 3: RESPONSE fragments: all header bytes and a stride through
	 * the payload (each try costs an ML-KEM decapsulation). The per-state
	 * decapsulation budget is reset between tries (white-box). */
	struct um_hs_pending *pending = NULL;
	for (unsigned i = 0; i < B.engine->config.max_pending; i++)
		if (B.engine->pending[i].state == UM_HS_STATE_CHALLENGE_SENT)
			pending = &B.engine->pending[i];
	CHECK(pending != NULL);
	if (!pending)
		return;
	accepted = 0;
	int events = 0;
	for (unsigned f = 0; f < resp_frags; f++) {
		for (size_t pos = 0; pos < run.len[r0 + f]; pos += (pos < UM_FRAG_HEADER_BYTES + 12 ? 1 : 97)) {
			struct um_handshake_time tt = t;
			tt.mono_ns = base + (uint64_t)(++tries) * 6 * UM_NSEC_PER_SEC;
			pending->attempts = 0;
			accepted += feed(&B, &A, &run, r0, resp_frags, r0 + f, pos, tt, &ev);
			events += ev;
		}
	}
	CHECK_EQ(accepted, 0);
	CHECK_EQ(events, 0);
	CHECK_EQ(pending->state, UM_HS_STATE_CHALLENGE_SENT);
	fprintf(stderr, "response tampers: %llu refused by crypto\n",
		(unsigned long long)um_handshake_get_stats(B.engine)->auth_failed);
	pending->attempts = 0;
	t.mono_ns = base + (uint64_t)(++tries) * 6 * UM_NSEC_PER_SEC;
	produced = feed(&B, &A, &run, r0, resp_frags, UINT32_MAX, 0, t, &ev);
	CHECK_EQ(produced, 1);
	CHECK_EQ(ev, 1);
	CHECK_EQ(hs_out.n_datagrams, 1);
	struct um_keypair bkeys = hs_out.keypair;
	unsigned e0 = r0 + resp_frags;
	memcpy(run.data[e0], hs_out.datagrams[0], hs_out.lengths[0]);
	run.len[e0] = hs_out.lengths[0];
	/* Step 4: every byte of ESTABLISHED. */
	events = 0;
	for (size_t pos = 0; pos < run.len[e0]; pos++) {
		feed(&A, &B, &run, e0, 1, e0, pos, t, &ev);
		events += ev;
	}
	CHECK_EQ(events, 0);
	feed(&A, &B, &run, e0, 1, UINT32_MAX, 0, t, &ev);
	CHECK_EQ(ev, 1);
	CHECK_MEM(hs_out.keypair.send_key, bkeys.recv_key, UM_KEY_LEN);
	CHECK_MEM(hs_out.keypair.recv_key, bkeys.send_key, UM_KEY_LEN);
	(void)hello;
	(void)ch;
	(void)resp;
}

static void test_tamper_every_byte(void)
{
	tamper_every_byte(false);
}

/* The short forms: a flipped byte anywhere is refused as well (the keys
 * come from the caches, the signatures must still verify). */
static void test_tamper_every_byte_repeat(void)
{
	tamper_every_byte(true);
}

/* ---- replay ---- */

static void test_replay(void)
{
	static struct capture cap;
	reset_nodes();
	cap.n = 0;
	struct um_handshake_time t = hs_time(100);
	CHECK_EQ(hs_run(&A, &B, t, capture_filter, &cap), 0);
	unsigned ch_frags = um_fragment_count(UM_HS_CHALLENGE_BYTES);
	unsigned resp_frags = um_fragment_count(UM_HS_RESPONSE_BYTES);
	int ev;

	/* Replayed HELLO: refused by the recent-HELLO filter. */
	CHECK_EQ(um_handshake_receive(B.engine, &A.addr, cap.data[0], cap.len[0], t, &hs_out), -UM_EREPLAY);
	CHECK_EQ(hs_out.n_datagrams, 0);
	/* Replayed RESPONSE right away: no new session (at most the cached
	 * ESTABLISHED is sent again, as for a retransmission). */
	feed(&B, &A, &cap, 2 + ch_frags, resp_frags, UINT32_MAX, 0, t, &ev);
	CHECK_EQ(ev, 0);
	/* Later (state gone): refused outright. */
	struct um_handshake_time later = hs_time(130);
	while (um_handshake_tick(B.engine, later, &hs_out) > 0)
		;
	CHECK_EQ(feed(&B, &A, &cap, 2 + ch_frags, resp_frags, UINT32_MAX, 0, later, &ev), 0);
	CHECK_EQ(ev, 0);
	/* A stale HELLO (outside the clock window) is refused even by a fresh
	 * responder that never saw it. */
	struct hs_node D;
	hs_node_init(&D, 4);
	D.identity = B.identity; /* same identity, empty state (e.g. restarted B) */
	um_handshake_engine_free(D.engine);
	struct um_handshake_config cfg = {.identity = &D.identity};
	um_handshake_engine_new(&D.engine, &cfg);
	struct um_handshake_time far = hs_time(100 + 121);
	CHECK_EQ(um_handshake_receive(D.engine, &A.addr, cap.data[0], cap.len[0], far, &hs_out), -UM_EREPLAY);
	/* Within the window the restarted B would answer (it cannot know), but
	 * the per-peer monotonic timestamp catches a replay once the initiator
	 * is authenticated: E, a second engine with A's identity whose clock is
	 * behind what B accepted from A, is refused at RESPONSE. */
	struct hs_node E;
	hs_node_init(&E, 5);
	um_handshake_engine_free(E.engine);
	E.identity = A.identity;
	struct um_handshake_config ecfg = {.identity = &E.identity};
	um_handshake_engine_new(&E.engine, &ecfg);
	um_handshake_peer_add(E.engine, &B.identity.id, &B, &E.peer);
	E.addr = A.addr;
	struct um_handshake_time behind = hs_time(100);
	behind.wall_ms -= 5000;
	B.last_error = 0;
	CHECK(hs_run(&E, &B, behind, NULL, NULL) != 0);
	CHECK_EQ(B.last_error, -UM_EREPLAY);
	CHECK_EQ(E.established, 0);
	um_handshake_engine_free(E.engine);
	um_handshake_engine_free(D.engine);
	sodium_memzero(&D.identity, sizeof(D.identity));
	sodium_memzero(&E.identity, sizeof(E.identity));
}

/* ---- loss and retransmission ---- */

struct drop_ctx {
	int drop_type; /* first byte (or fragment msg_type) to drop */
	int remaining; /* how many to drop */
};

static int drop_filter(void *ctx, unsigned seq, const struct hs_node *from, uint8_t *dgram, uint16_t *len)
{
	struct drop_ctx *d = ctx;
	(void)seq;
	(void)from;
	(void)len;
	int type = dgram[0] == UM_MSG_FRAGMENT ? dgram[1] : dgram[0];
	if (type == d->drop_type && d->remaining > 0) {
		d->remaining--;
		return 1;
	}
	return 0;
}

static void run_with_ticks(struct hs_node *a, struct hs_node *b, uint64_t start_s, hs_filter_fn filter, void *ctx)
{
	static struct hs_queue q;
	unsigned seq = 0;
	struct um_handshake_time t = hs_time(start_s);
	um_handshake_initiate(a->engine, a->peer, &b->addr, t, &hs_out);
	hs_take_output(a, &q);
	hs_pump(a, b, &q, t, filter, ctx, &seq);
	for (int step = 1; step <= 12 && !a->established && !a->failed; step++) {
		struct um_handshake_time tt = hs_time(start_s + (uint64_t)step);
		while (um_handshake_tick(a->engine, tt, &hs_out) > 0) {
			hs_take_output(a, &q);
			hs_pump(a, b, &q, tt, filter, ctx, &seq);
		}
	}
}

static void test_retransmission(void)
{
	reset_nodes();
	/* One CHALLENGE fragment lost: A resends HELLO, B resends the cached CHALLENGE. */
	uint64_t challenges = um_handshake_get_stats(B.engine)->challenges;
	struct drop_ctx d = {.drop_type = UM_MSG_CHALLENGE, .remaining = 1};
	run_with_ticks(&A, &B, 200, drop_filter, &d);
	CHECK_EQ(A.established, 1);
	CHECK_EQ(B.established, 1);
	CHECK_EQ(um_handshake_get_stats(B.engine)->challenges, challenges + 1); /* resent, not recomputed */
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);

	/* ESTABLISHED lost twice: A resends RESPONSE, B resends ESTABLISHED
	 * without a second session. */
	reset_nodes();
	struct drop_ctx d2 = {.drop_type = UM_MSG_ESTABLISHED, .remaining = 2};
	run_with_ticks(&A, &B, 300, drop_filter, &d2);
	CHECK_EQ(A.established, 1);
	CHECK_EQ(B.established, 1);
	CHECK_MEM(A.keypair.send_key, B.keypair.recv_key, UM_KEY_LEN);

	/* Nobody answers: FAILED after the initiation timeout. */
	reset_nodes();
	struct drop_ctx d3 = {.drop_type = UM_MSG_HELLO, .remaining = 1000};
	run_with_ticks(&A, &B, 400, drop_filter, &d3);
	CHECK_EQ(A.established, 0);
	CHECK_EQ(A.failed, 1);
	CHECK(!um_handshake_peer_busy(A.peer));
	CHECK(um_handshake_next_deadline(A.engine) == UINT64_MAX);
}

static bool even_in_use(void *ctx, uint32_t index)
{
	(*(unsigned *)ctx)++;
	return (index & 1) == 0;
}

/* The caller's index veto (live data-plane sessions) is honoured. */
static void test_index_veto(void)
{
	struct hs_node X, Y;
	unsigned calls = 0;
	hs_node_init(&X, 7);
	hs_node_init(&Y, 8);
	um_handshake_engine_free(X.engine);
	um_handshake_engine_free(Y.engine);
	struct um_handshake_config cx = {.identity = &X.identity, .index_in_use = even_in_use, .index_ctx = &calls};
	struct um_handshake_config cy = cx;
	cy.identity = &Y.identity;
	CHECK_EQ(um_handshake_engine_new(&X.engine, &cx), 0);
	CHECK_EQ(um_handshake_engine_new(&Y.engine, &cy), 0);
	hs_pair(&X, &Y);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(hs_run(&X, &Y, hs_time(500 + (uint64_t)i), NULL, NULL), 0);
		CHECK(X.keypair.local_index & 1);
		CHECK(Y.keypair.local_index & 1);
	}
	CHECK(calls >= 6);
	/* Defaults announced when the config leaves them 0. */
	CHECK_EQ(X.params.mtu, 1420);
	CHECK_EQ(X.params.rotation_s, 120);
	CHECK_EQ(X.params.flags, 0);
	CHECK_EQ(um_handshake_peer_add(X.engine, &Y.identity.id, NULL, NULL), -EEXIST);
	hs_node_free(&X);
	hs_node_free(&Y);
}

/* Review #12: the HELLO shows only whole seconds in clear (the exact
 * milliseconds would fingerprint the initiator's clock), handshakes within
 * one second still pass the per-peer monotonic check (the exact value is
 * sealed in RESPONSE), and a HELLO of protocol version 1 is refused as such
 * (-UM_EVERSION, counted), not as malformed. */
static void test_hello_timestamp_and_version(void)
{
	reset_nodes();
	struct um_handshake_time t = hs_time(1000) /* after every earlier test */;
	t.wall_ms += 123; /* not on a second */
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, t, &hs_out), 0);
	struct um_hs_hello h;
	CHECK_EQ(um_hs_hello_decode(&h, hs_out.datagrams[0], hs_out.lengths[0]), 0);
	CHECK_EQ(h.timestamp_ms % 1000, 0);
	CHECK(h.timestamp_ms + 1000 > t.wall_ms && h.timestamp_ms <= t.wall_ms);
	fprintf(stderr, "HELLO clear timestamp %llu for wall clock %llu\n", (unsigned long long)h.timestamp_ms,
		(unsigned long long)t.wall_ms);
	/* Three handshakes inside one second: all established. */
	for (unsigned i = 0; i < 3; i++) {
		struct um_handshake_time ti = t;
		ti.mono_ns += (uint64_t)(i + 1) * 100 * UM_NSEC_PER_MSEC;
		ti.wall_ms += 100 * (i + 1);
		CHECK_EQ(hs_run(&A, &B, ti, NULL, NULL), 0);
	}
	/* A version-1 HELLO with a valid mac1. */
	CHECK_EQ(um_handshake_initiate(A.engine, A.peer, &B.addr, t, &hs_out), 0);
	uint8_t old[UM_HS_HELLO_BYTES];
	memcpy(old, hs_out.datagrams[0], sizeof(old));
	old[1] = 1;
	struct um_cookie_maker maker;
	um_cookie_maker_init(&maker, &B.identity.id);
	um_cookie_add_macs(&maker, old, sizeof(old), t.mono_ns);
	uint64_t before = um_handshake_get_stats(B.engine)->version_mismatch;
	CHECK_EQ(um_handshake_receive(B.engine, &A.addr, old, sizeof(old), t, &hs_out), -UM_EVERSION);
	CHECK_EQ(hs_out.n_datagrams, 0);
	CHECK_EQ(um_handshake_get_stats(B.engine)->version_mismatch, before + 1);
	um_cookie_maker_wipe(&maker);
}

/* Every case gets fresh engines and identities: no rate-limit bucket, replay
 * timestamp or pending state carries over from the case before. */
static void fixture_up(void)
{
	hs_node_init(&A, 1);
	hs_node_init(&B, 2);
	hs_node_init(&C, 3);
	hs_pair(&A, &B);
}

static void fixture_down(void)
{
	hs_node_free(&A);
	hs_node_free(&B);
	hs_node_free(&C);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN_FRESH(test_full_handshake);
	RUN_FRESH(test_early_keys);
	RUN_FRESH(test_keys_differ_per_handshake);
	RUN_FRESH(test_wrong_responder_refused);
	RUN_FRESH(test_unknown_initiator_refused);
	RUN_FRESH(test_tamper_every_byte);
	RUN_FRESH(test_tamper_every_byte_repeat);
	RUN_FRESH(test_replay);
	RUN_FRESH(test_retransmission);
	RUN_FRESH(test_index_veto);
	RUN_FRESH(test_hello_timestamp_and_version);
	return um_test_end();
}
