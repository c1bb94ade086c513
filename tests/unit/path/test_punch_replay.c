/* SPDX-License-Identifier: MIT */
/* Review #4 (docs/PROTOCOL.md §13) on the fake clock: recorded path
 * messages replayed from a third address X, the echo-oracle hijack, and the
 * per-source reply budget. The attacker records what punch_harness.h's
 * network carries (s.got_* / s.sent_*) and injects it with sim_inject; what
 * the engines send towards X is counted through s.watch. Every case builds
 * its own sim. */
#include <sodium.h>
#include <string.h>

#include "../test.h"
#include "punch_harness.h"
#include "util/error.h"

#define CONNECT_TIMEOUT (2 * SEC)
#define RETRY           (3 * SEC)
#define HEALTH          (1 * SEC)
#define REPLAYS         50

static struct sim s;
static struct um_punch_output out;

static struct sim_side *A = &s.side[0], *B = &s.side[1];

static void setup(void)
{
	sim_init(&s, CONNECT_TIMEOUT, RETRY, HEALTH);
	um_punch_output_reset(&out);
	s.watch = sim_addr(192, 0, 2, 66, 4444); /* X: the attacker */
}

static void go_direct(void)
{
	sim_install(&s);
	sim_run(&s, s.now + 2 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(B->p.state, UM_PUNCH_DIRECT);
}

static bool knows(const struct um_punch *p, const struct um_addr *a)
{
	for (unsigned i = 0; i < p->n_remote; i++)
		if (um_addr_equal(&p->remote[i].addr, a))
			return true;
	return false;
}

/* The first datagram of type `type` in out sent to `to`, or NULL. */
static const struct um_punch_datagram *find(const struct um_punch_output *o, uint8_t type, const struct um_addr *to)
{
	for (unsigned k = 0; k < o->n_datagrams; k++)
		if (o->datagrams[k].data[0] == type && !o->datagrams[k].via_relay &&
		    um_addr_equal(&o->datagrams[k].to, to))
			return &o->datagrams[k];
	return NULL;
}

/* Replays q to A from X `times` times, applying A's output the way the
 * node does; returns how many datagrams A sent in answer. */
static uint64_t replay_to_a(const struct sim_packet *q, unsigned times)
{
	uint64_t sent = 0;

	for (unsigned k = 0; k < times; k++) {
		(void)sim_inject(&s, 0, q->data, q->len, &s.watch, &out);
		sent += out.n_datagrams;
		sim_take(&s, 0, &out);
	}
	return sent;
}

/* DIRECT: a probe B sent to A (delivered, so A has seen its counter)
 * replayed from X is dropped before anything answers it: no reply, no
 * candidate, the path stays. Before the fix A answered every replay. */
static void test_probe_replay_direct(void)
{
	setup();
	go_direct();
	sim_run(&s, s.now + 1 * SEC);
	struct sim_packet q = s.got_probe[0];
	CHECK(q.len > 0 && !q.via_relay);
	unsigned n_remote = A->p.n_remote;
	uint64_t direct_events = A->events[UM_PUNCH_EVENT_DIRECT];

	CHECK_EQ(replay_to_a(&q, REPLAYS), 0);
	CHECK_EQ(s.to_watch[0], 0);
	CHECK_EQ(A->p.replays, REPLAYS);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK(um_addr_equal(&A->p.direct, &B->addr));
	CHECK(um_addr_equal(&A->env.endpoint, &B->addr));
	CHECK_EQ(A->p.n_remote, n_remote);
	CHECK(!knows(&A->p, &s.watch));
	/* Nothing follows later either. */
	sim_run(&s, s.now + 3 * SEC);
	CHECK_EQ(s.to_watch[0], 0);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_DIRECT], direct_events);
	CHECK(um_addr_equal(&A->p.direct, &B->addr));
}

/* RELAY (the direct path died): the same replay starts nothing. Before
 * the fix A answered X, learned X as a peer-reflexive candidate, probed
 * it and started a punch: about 27 probes to X per replay. */
static void test_probe_replay_relay(void)
{
	setup();
	go_direct();
	sim_run(&s, s.now + 1 * SEC);
	struct sim_packet q = s.got_probe[0];
	CHECK(q.len > 0);
	uint64_t cut = s.now;
	s.direct_open = false;
	sim_run(&s, cut + 3 * HEALTH);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK(A->env.via_relay);
	uint64_t deadline = um_punch_next_deadline(&A->p);
	uint64_t started = A->events[UM_PUNCH_EVENT_PUNCH_STARTED];
	unsigned n_remote = A->p.n_remote;

	CHECK_EQ(replay_to_a(&q, REPLAYS), 0);
	CHECK_EQ(A->p.replays, REPLAYS);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PUNCH_STARTED], started);
	CHECK_EQ(um_punch_next_deadline(&A->p), deadline);
	CHECK_EQ(A->p.n_remote, n_remote);
	CHECK(!knows(&A->p, &s.watch));

	/* A probe B sent after the cut never reached A, so its counter is
	 * fresh there: answered once (to X: the sender's address is all A
	 * has), and still nothing learned or started; its replays get nothing. */
	struct sim_packet fresh = s.sent_probe[1];
	CHECK(fresh.len > 0 && fresh.at > cut);
	CHECK_EQ(replay_to_a(&fresh, REPLAYS), 1);
	CHECK_EQ(s.to_watch[0], 1);
	CHECK_EQ(A->p.replays, 2 * REPLAYS - 1);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PUNCH_STARTED], started);
	CHECK(!knows(&A->p, &s.watch));
	/* Until the retry nothing goes to X. */
	sim_run(&s, deadline - 10 * MS);
	CHECK_EQ(s.to_watch[0], 1);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
}

/* PUNCHING: a replayed probe (one B pinged through the relay) from X
 * teaches A nothing: the peer-reflexive rule applies to fresh probes only.
 * Before the fix A took X as a candidate and probed it every round. */
static void test_probe_replay_punching(void)
{
	uint64_t seq;

	setup();
	s.direct_open = false;
	sim_install(&s);
	sim_run(&s, s.now + 10 * MS);
	CHECK_EQ(A->p.state, UM_PUNCH_PUNCHING);
	sim_env_refresh(&s, 1);
	CHECK_EQ(um_punch_ping(&B->p, &B->env, &seq, &out), 0);
	sim_take(&s, 1, &out);
	sim_run(&s, s.now + 10 * MS);
	struct sim_packet q = s.got_probe[0];
	CHECK(q.len > 0 && q.via_relay);
	CHECK_EQ(B->p.ping_answered, seq);

	CHECK_EQ(replay_to_a(&q, REPLAYS), 0);
	CHECK_EQ(A->p.replays, REPLAYS);
	CHECK(!knows(&A->p, &s.watch));
	sim_run(&s, s.now + CONNECT_TIMEOUT);
	CHECK_EQ(s.to_watch[0], 0);
	CHECK(A->p.state != UM_PUNCH_DIRECT);
}

/* A PROBE_REPLY B sent to A (delivered) replayed from X, and from B's own
 * address: dropped and counted, no migration, and it does not keep a dead
 * direct path alive. */
static void test_reply_replay(void)
{
	setup();
	go_direct();
	sim_run(&s, s.now + 1 * SEC);
	struct sim_packet r = s.got_reply[0];
	CHECK(r.len > 0 && !r.via_relay);
	uint64_t direct_events = A->events[UM_PUNCH_EVENT_DIRECT];
	uint64_t answered = A->p.probes_answered;

	CHECK_EQ(replay_to_a(&r, REPLAYS), 0);
	CHECK_EQ(A->p.replays, REPLAYS);
	CHECK_EQ(A->p.probes_answered, answered);
	CHECK(um_addr_equal(&A->p.direct, &B->addr));
	/* The path dies; replays from B's address every 100 ms do not hold
	 * it: A falls back within health-interval (and a bit). */
	uint64_t cut = s.now;
	s.direct_open = false;
	while (s.now < cut + 2 * HEALTH) {
		sim_run(&s, s.now + 100 * MS);
		(void)sim_inject(&s, 0, r.data, r.len, &B->seen_as, &out);
		sim_take(&s, 0, &out);
	}
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK(A->fallback_at - cut <= HEALTH + HEALTH / 4 + 10 * MS);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_DIRECT], direct_events);
}

/* The hijack of review #4. With one recorded B->A probe the attacker at X
 * (1) replays it to A, hoping A probes X; (2) forwards whatever probe of
 * A's it holds to B from X, B being the echo oracle; (3) sends B's reply
 * to A from X. Before the fix A then went direct at X (all its traffic for
 * B to the attacker). Now (1) is dropped, and a reply to a probe that went
 * to B's address does not move A to X. */
static void test_oracle_hijack(void)
{
	setup();
	go_direct();
	sim_run(&s, s.now + 1 * SEC);
	struct sim_packet recorded = s.got_probe[0];
	uint64_t cut = s.now;
	s.direct_open = false; /* the attacker black-holes the direct path */
	sim_run(&s, cut + 3 * HEALTH);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(B->p.state, UM_PUNCH_RELAY);
	uint64_t direct_events = A->events[UM_PUNCH_EVENT_DIRECT];
	struct sim_packet held = s.sent_probe[0]; /* A's last probe: lost after the cut */
	CHECK(held.len > 0 && held.at > cut);

	struct um_punch_datagram a_probe = {0};
	for (int round = 0; round < 2; round++) {
		/* (1) */
		(void)sim_inject(&s, 0, recorded.data, recorded.len, &s.watch, &out);
		const struct um_punch_datagram *d = find(&out, UM_MSG_PATH_PROBE, &s.watch);
		if (d)
			a_probe = *d;
		sim_take(&s, 0, &out);
		sim_run(&s, s.now + 300 * MS); /* A's punch rounds, if any */
		/* (2): A's probe to X if (1) worked, else the one it holds. */
		const uint8_t *fwd = a_probe.len ? a_probe.data : held.data;
		size_t fwd_len = a_probe.len ? a_probe.len : held.len;
		struct um_punch_output to_b;
		(void)sim_inject(&s, 1, fwd, fwd_len, &s.watch, &to_b);
		const struct um_punch_datagram *reply = find(&to_b, UM_MSG_PATH_PROBE_REPLY, &s.watch);
		struct um_punch_datagram b_reply = {0};
		if (reply)
			b_reply = *reply;
		sim_take(&s, 1, &to_b);
		/* (3) */
		if (b_reply.len) {
			(void)sim_inject(&s, 0, b_reply.data, b_reply.len, &s.watch, &out);
			sim_take(&s, 0, &out);
		}
		sim_run(&s, s.now + 300 * MS);
	}
	CHECK_EQ(a_probe.len, 0); /* A never probed X */
	CHECK_EQ(A->events[UM_PUNCH_EVENT_DIRECT], direct_events);
	CHECK(!(A->p.state == UM_PUNCH_DIRECT && um_addr_equal(&A->p.direct, &s.watch)));
	CHECK(!um_addr_equal(&A->env.endpoint, &s.watch));
	CHECK(A->env.via_relay);
	CHECK(!knows(&A->p, &s.watch));
	/* No probe storm towards X from either side: at most B's one reply
	 * to the fresh probe it was handed. */
	sim_run(&s, s.now + CONNECT_TIMEOUT);
	CHECK_EQ(s.to_watch[0], 0);
	CHECK(s.to_watch[1] <= 1);
}

/* A burst of fresh probes from one source: A answers a small burst, counts
 * the rest, answers again once the budget refills, and another source has
 * its own budget. Before the fix A answered all of them. */
static void test_reply_budget(void)
{
	enum { BURST = 100 };
	static struct sim_packet probes[BURST + 1];
	uint64_t seq;

	setup();
	go_direct();
	sim_env_refresh(&s, 1);
	for (unsigned k = 0; k <= BURST; k++) {
		CHECK_EQ(um_punch_ping(&B->p, &B->env, &seq, &out), 0);
		CHECK_EQ(out.n_datagrams, 1);
		probes[k].len = out.datagrams[0].len;
		memcpy(probes[k].data, out.datagrams[0].data, out.datagrams[0].len);
	}
	uint64_t replies = 0;
	for (unsigned k = 0; k < BURST; k++) {
		CHECK_EQ(sim_inject(&s, 0, probes[k].data, probes[k].len, &B->seen_as, &out), 0);
		replies += find(&out, UM_MSG_PATH_PROBE_REPLY, &B->seen_as) != NULL;
	}
	CHECK(replies >= 4);
	CHECK(replies <= BURST / 4);
	CHECK_EQ(A->p.replies_limited, BURST - replies);
	CHECK_EQ(A->p.replays, 0);
	/* Another source (B roamed, say) is answered at once. */
	struct um_addr other = sim_addr(198, 51, 100, 77, 6000);
	CHECK_EQ(sim_inject(&s, 0, probes[BURST].data, probes[BURST].len, &other, &out), 0);
	CHECK(find(&out, UM_MSG_PATH_PROBE_REPLY, &other) != NULL);
	/* A second later the source is answered again. */
	s.now += 1 * SEC;
	sim_env_refresh(&s, 1);
	CHECK_EQ(um_punch_ping(&B->p, &B->env, &seq, &out), 0);
	struct sim_packet later = {.len = out.datagrams[0].len};
	memcpy(later.data, out.datagrams[0].data, later.len);
	CHECK_EQ(sim_inject(&s, 0, later.data, later.len, &B->seen_as, &out), 0);
	CHECK(find(&out, UM_MSG_PATH_PROBE_REPLY, &B->seen_as) != NULL);
	CHECK_EQ(A->p.replies_limited, BURST - replies);
}

/* Nodes of earlier releases (path messages version 1, no counter, and
 * version 2, sender ID in clear and a BLAKE2b MAC) send a valid probe:
 * refused as another version and counted, never answered, no tag tried. */
static void test_old_versions_refused(void)
{
	uint8_t v1[36 + UM_PATH_NONCE_BYTES + 16] = {UM_MSG_PATH_PROBE, 0, 1, 0};
	uint8_t v2[44 + UM_PATH_NONCE_BYTES + 16] = {UM_MSG_PATH_PROBE, 0, 2, 0};

	setup();
	sim_install(&s);
	memcpy(v1 + 4, B->id.bytes, UM_PEER_ID_BYTES);
	memset(v1 + 36, 0x5a, UM_PATH_NONCE_BYTES);
	crypto_generichash(v1 + 36 + UM_PATH_NONCE_BYTES, 16, v1, 36 + UM_PATH_NONCE_BYTES, A->p.keys[0].recv,
			   UM_PATH_KEY_BYTES);
	memcpy(v2 + 4, B->id.bytes, UM_PEER_ID_BYTES);
	v2[43] = 1;
	memset(v2 + 44, 0x5a, UM_PATH_NONCE_BYTES);
	crypto_generichash(v2 + 44 + UM_PATH_NONCE_BYTES, 16, v2, 44 + UM_PATH_NONCE_BYTES, A->p.keys[0].recv,
			   UM_PATH_KEY_BYTES);
	CHECK_EQ(sim_inject(&s, 0, v1, sizeof(v1), &B->addr, &out), -UM_EVERSION);
	CHECK_EQ(out.n_datagrams, 0);
	CHECK_EQ(sim_inject(&s, 0, v2, sizeof(v2), &B->addr, &out), -UM_EVERSION);
	CHECK_EQ(out.n_datagrams, 0);
	CHECK_EQ(A->p.version_refused, 2);
	CHECK_EQ(A->p.bad_mac, 0);
	CHECK_EQ(A->p.replays, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_probe_replay_direct);
	RUN(test_probe_replay_relay);
	RUN(test_probe_replay_punching);
	RUN(test_reply_replay);
	RUN(test_oracle_hijack);
	RUN(test_reply_budget);
	RUN(test_old_versions_refused);
	return um_test_end();
}
