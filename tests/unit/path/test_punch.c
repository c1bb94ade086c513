/* SPDX-License-Identifier: MIT */
/* The direct-path engine (path/punch.h) on a fake clock: two engines back
 * to back through punch_harness.h's network (punching, timeouts, fallback,
 * retries, roaming, ping) and scripted inputs (replies from the wrong
 * address, bad MACs, illegal transitions). Every case builds its own sim. */
#include <sodium.h>
#include <string.h>

#include "../test.h"
#include "punch_harness.h"
#include "util/bytes.h"
#include "util/error.h"

#define CONNECT_TIMEOUT (2 * SEC)
#define RETRY           (3 * SEC)
#define HEALTH          (1 * SEC)

static struct sim s;
static struct um_punch_output out;

static struct sim_side *A = &s.side[0], *B = &s.side[1];

static void setup(uint64_t retry)
{
	sim_init(&s, CONNECT_TIMEOUT, retry, HEALTH);
	um_punch_output_reset(&out);
}

/* Relay first; with the internet open both sides go direct, each to the
 * address it probed, within a few probe rounds. */
static void test_punch_succeeds(void)
{
	setup(RETRY);
	uint64_t t0 = s.now;
	sim_install(&s);
	CHECK_EQ(A->p.state, UM_PUNCH_PUNCHING);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PUNCH_STARTED], 1);
	sim_run(&s, t0 + 2 * SEC);
	for (int i = 0; i < 2; i++) {
		struct sim_side *x = &s.side[i], *y = &s.side[1 - i];
		CHECK_EQ(x->p.state, UM_PUNCH_DIRECT);
		CHECK_EQ(x->events[UM_PUNCH_EVENT_DIRECT], 1);
		CHECK(!x->env.via_relay);
		CHECK(um_addr_equal(&x->p.direct, &y->addr));
		CHECK(um_addr_equal(&x->env.endpoint, &y->addr));
		CHECK_EQ(x->p.switches_direct, 1);
		/* A few rounds of 100 ms at most, with slack. */
		CHECK(x->direct_at - t0 < 500 * MS);
		CHECK(x->p.time_to_direct_ns > 0 && x->p.time_to_direct_ns < 500 * MS);
		CHECK(x->p.rtt_ns >= 2 * SIM_LATENCY_NS);
		CHECK_EQ(x->p.bad_mac, 0);
		CHECK_EQ(x->p.replays, 0);
		CHECK_EQ(x->p.replies_limited, 0);
		CHECK_EQ(x->dropped_inputs, 0);
		/* The peer's candidates arrived through the relay. */
		CHECK(x->p.n_remote >= 2);
		CHECK(x->p.transitions >= 2);
		CHECK_EQ(x->p.transitions_refused, 0);
	}
	/* Health probes keep it up while the path works. */
	sim_run(&s, s.now + 10 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(A->p.fallbacks, 0);
	/* ... and the real peer's probes are never limited nor replays. */
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(s.side[i].p.replies_limited, 0);
		CHECK_EQ(s.side[i].p.replays, 0);
		CHECK_EQ(s.side[i].dropped_inputs, 0);
	}
}

/* A closed internet: after connect-timeout the relay stays, and the next
 * attempt comes retry-interval later (and succeeds once the path opens). */
static void test_timeout_then_retry(void)
{
	setup(RETRY);
	s.direct_open = false;
	uint64_t t0 = s.now;
	sim_install(&s);
	sim_run(&s, t0 + CONNECT_TIMEOUT + 500 * MS);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_GAVE_UP], 1);
	CHECK(A->gave_up_at - t0 >= CONNECT_TIMEOUT);
	CHECK(A->gave_up_at - t0 < CONNECT_TIMEOUT + 300 * MS);
	CHECK(A->p.probes_sent > 10);
	CHECK_EQ(A->p.probes_answered, 0);
	CHECK(A->env.via_relay);
	uint64_t gave_up = A->gave_up_at;
	CHECK_EQ(um_punch_next_deadline(&A->p), gave_up + RETRY);
	/* Nothing happens before the retry... */
	s.direct_open = true;
	sim_run(&s, gave_up + RETRY - 100 * MS);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PUNCH_STARTED], 1);
	/* ...then a new attempt, which now works. */
	sim_run(&s, gave_up + RETRY + 1 * SEC);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PUNCH_STARTED], 2);
	CHECK(A->started_at >= gave_up + RETRY - MS);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(B->p.state, UM_PUNCH_DIRECT);
}

static void go_direct(void)
{
	sim_install(&s);
	sim_run(&s, s.now + 2 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(B->p.state, UM_PUNCH_DIRECT);
}

/* The direct path goes silent: back to the relay after health-interval
 * (not much later), and quickly (5 s) direct again once the path is back,
 * although retry-interval is a minute. */
static void test_silence_falls_back_then_quick_retry(void)
{
	setup(60 * SEC);
	go_direct();
	s.direct_open = false;
	uint64_t cut = s.now;
	sim_run(&s, cut + 3 * HEALTH);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(A->p.fallbacks, 1);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_FALLBACK], 1);
	CHECK(A->env.via_relay);
	CHECK(A->fallback_at - cut >= HEALTH - HEALTH / 4);
	CHECK(A->fallback_at - cut <= HEALTH + HEALTH / 2);
	CHECK(A->p.fallback_ns >= HEALTH && A->p.fallback_ns <= HEALTH + HEALTH / 2);
	/* The quick retry: 5 s, not 60. */
	CHECK_EQ(um_punch_next_deadline(&A->p), A->fallback_at + 5 * SEC);
	s.direct_open = true;
	uint64_t fell = A->fallback_at;
	sim_run(&s, fell + 5 * SEC - 100 * MS);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	sim_run(&s, fell + 6 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK(A->direct_at >= fell + 5 * SEC - MS);
	CHECK_EQ(A->p.switches_direct, 2);
	/* A second fallback within the minute waits the full retry-interval. */
	s.direct_open = false;
	sim_run(&s, s.now + 3 * HEALTH);
	CHECK_EQ(A->p.fallbacks, 2);
	CHECK_EQ(um_punch_next_deadline(&A->p), A->fallback_at + 60 * SEC);
}

/* DATA received on the direct path counts as life even without replies. */
static void test_direct_data_keeps_path(void)
{
	setup(RETRY);
	go_direct();
	/* Probes vanish but the tunnel carries data: no fallback. */
	for (int k = 0; k < 20; k++) {
		A->env.rx_direct++;
		B->env.rx_direct++;
		s.direct_open = false;
		sim_run(&s, s.now + HEALTH / 4);
	}
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(A->p.fallbacks, 0);
}

/* Roaming: B moves to a new address while on the relay after a failed
 * attempt; its new candidates start a new attempt at once (not after
 * retry-interval) and both go direct to the new address. */
static void test_new_candidates_new_attempt(void)
{
	setup(60 * SEC);
	s.direct_open = false;
	sim_install(&s);
	sim_run(&s, s.now + CONNECT_TIMEOUT + 500 * MS);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	CHECK_EQ(B->p.state, UM_PUNCH_RELAY);
	s.direct_open = true;
	B->addr = B->seen_as = sim_addr(192, 0, 2, 77, 40000);
	B->local[0].addr = B->addr;
	uint64_t t = s.now;
	sim_env_refresh(&s, 1);
	um_punch_local_candidates_changed(&B->p, &B->env, &out);
	CHECK(out.candidates_wanted);
	sim_take(&s, 1, &out);
	sim_run(&s, t + 1 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK(um_addr_equal(&A->p.direct, &B->addr));
	CHECK(A->direct_at - t < 500 * MS);
	CHECK_EQ(B->p.state, UM_PUNCH_DIRECT);
}

/* `umbra ping` on the relay path and on the direct path. */
static void test_ping(void)
{
	uint64_t seq = 0;

	setup(RETRY);
	/* Direct disabled: the session stays on the relay. */
	A->env.enabled = B->env.enabled = false;
	sim_install(&s);
	CHECK_EQ(A->p.state, UM_PUNCH_NONE);
	sim_env_refresh(&s, 0);
	CHECK_EQ(um_punch_ping(&A->p, &A->env, &seq, &out), 0);
	CHECK_EQ(seq, 1);
	CHECK_EQ(out.n_datagrams, 1);
	CHECK(out.datagrams[0].via_relay);
	sim_take(&s, 0, &out);
	sim_run(&s, s.now + 100 * MS);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PING], 1);
	CHECK_EQ(A->p.ping_answered, 1);
	CHECK(!A->p.ping_direct);
	CHECK(um_addr_equal(&A->p.ping_from, &s.relay));
	CHECK(A->p.ping_rtt_ns >= 2 * SIM_LATENCY_NS && A->p.ping_rtt_ns < 10 * MS);
	CHECK_EQ(B->p.state, UM_PUNCH_NONE); /* a ping never starts anything */

	setup(RETRY);
	go_direct();
	sim_env_refresh(&s, 0);
	CHECK_EQ(um_punch_ping(&A->p, &A->env, &seq, &out), 0);
	CHECK_EQ(seq, 1);
	CHECK(!out.datagrams[0].via_relay);
	CHECK(um_addr_equal(&out.datagrams[0].to, &B->addr));
	sim_take(&s, 0, &out);
	sim_run(&s, s.now + 100 * MS);
	CHECK_EQ(A->p.ping_answered, 1);
	CHECK(A->p.ping_direct);
	CHECK(um_addr_equal(&A->p.ping_from, &B->addr));

	/* No session: no ping. */
	um_punch_session_cleared(&A->p);
	CHECK_EQ(um_punch_ping(&A->p, &A->env, &seq, &out), -UM_ESTATE);
}

/* B answers from another address than the one A probed (a NAT that
 * rewrites replies): A must not migrate. B only answers (disabled), so
 * A learns no peer-reflexive candidate either. */
static void test_reply_from_other_address(void)
{
	setup(RETRY);
	B->env.enabled = false;
	B->seen_as = sim_addr(198, 51, 100, 99, 1234);
	sim_install(&s);
	/* B sends no candidates when disabled: give A B's by hand. */
	CHECK_EQ(A->p.state, UM_PUNCH_PUNCHING);
	A->p.remote[0] = (struct um_path_candidate){.kind = UM_PATH_CAND_REFLEXIVE, .addr = B->addr};
	A->p.n_remote = 1;
	sim_run(&s, s.now + 1 * SEC);
	CHECK(A->p.probes_sent > 5);
	CHECK(B->p.probes_sent == 0);
	CHECK_EQ(A->p.probes_answered, 0);
	CHECK_EQ(A->p.state, UM_PUNCH_PUNCHING);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_DIRECT], 0);
	/* The same replies from the probed address do migrate. */
	B->seen_as = B->addr;
	sim_run(&s, s.now + 1 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK(um_addr_equal(&A->p.direct, &B->addr));
}

/* A datagram with a broken MAC (or under another session's key) is
 * dropped and counted; nothing else changes. */
static void test_bad_mac(void)
{
	setup(RETRY);
	sim_install(&s);
	/* A's candidates to B are in the queue: take one and break it. */
	CHECK(s.n_queue >= 1);
	struct sim_packet q = s.queue[0];
	CHECK(q.to == 1);
	struct um_punch_side_snapshot {
		enum um_punch_state state;
		unsigned n_remote;
	} before = {B->p.state, B->p.n_remote};
	q.data[q.len - 1] ^= 1;
	sim_env_refresh(&s, 1);
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, q.via_relay, &B->env, &out), -UM_EBADMSG);
	CHECK_EQ(B->p.bad_mac, 1);
	CHECK_EQ(out.n_datagrams, 0);
	CHECK_EQ(out.n_events, 0);
	CHECK_EQ(B->p.state, before.state);
	CHECK_EQ(B->p.n_remote, before.n_remote);
	/* A body bit flipped under a valid-looking MAC: the same. */
	q.data[q.len - 1] ^= 1;
	q.data[40] ^= 0x10;
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, q.via_relay, &B->env, &out), -UM_EBADMSG);
	CHECK_EQ(B->p.bad_mac, 2);
	/* A header byte (the counter, moved far ahead): it is associated
	 * data, so the tag fails, and the window does not move. */
	q.data[40] ^= 0x10;
	q.data[13] ^= 0x40;
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, q.via_relay, &B->env, &out), -UM_EBADMSG);
	CHECK_EQ(B->p.bad_mac, 3);
	CHECK_EQ(B->p.replays, 0);
	q.data[13] ^= 0x40;
	/* The intact one is accepted. */
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, q.via_relay, &B->env, &out), 0);
	CHECK_EQ(B->p.bad_mac, 3);
	CHECK(B->p.n_remote >= 2);
	/* After the session is gone nothing verifies (no keys: not counted). */
	um_punch_session_cleared(&B->p);
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, q.via_relay, &B->env, &out), -UM_ESTATE);
	static const struct um_punch_key zero[UM_PUNCH_KEYS];
	CHECK_MEM(B->p.keys, zero, sizeof(zero));
	CHECK_EQ(um_punch_next_deadline(&B->p), UINT64_MAX);
	/* Truncated input is malformed, not a MAC failure. */
	CHECK(um_punch_input(&A->p, q.data, 10, &q.from, q.via_relay, &A->env, &out) < 0);
	CHECK_EQ(A->p.bad_mac, 0);
}

static void test_illegal_transition(void)
{
	setup(RETRY);
	struct um_punch *p = &A->p;
	um_punch_output_reset(&out);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_RELAY, &out), -UM_ESTATE);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_NONE, &out), -UM_ESTATE);
	CHECK_EQ(p->state, UM_PUNCH_NONE);
	CHECK_EQ(p->transitions, 0);
	CHECK_EQ(p->transitions_refused, 2);
	CHECK_EQ(out.n_events, 0);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_PUNCHING, &out), 0);
	CHECK_EQ(out.n_events, 1);
	CHECK_EQ(out.events[0].kind, UM_PUNCH_EVENT_STATE);
	CHECK_EQ(out.events[0].from, UM_PUNCH_NONE);
	CHECK_EQ(out.events[0].to, UM_PUNCH_PUNCHING);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_PUNCHING, &out), -UM_ESTATE);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_RELAY, &out), 0);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_DIRECT, &out), 0);
	CHECK_EQ(um_punch_set_state(p, UM_PUNCH_NONE, &out), 0);
	CHECK_EQ(p->transitions, 4);
	CHECK_EQ(p->transitions_refused, 3);
	CHECK_EQ(out.n_events, 4);
	CHECK_EQ(out.events[3].from, UM_PUNCH_DIRECT);
	CHECK_EQ(out.events[3].to, UM_PUNCH_NONE);
}

/* The data plane refused the endpoint: the engine goes back to punching
 * (and its refusal is not counted as a switch). */
static void test_direct_refused(void)
{
	setup(RETRY);
	sim_install(&s);
	CHECK_EQ(A->p.state, UM_PUNCH_PUNCHING);
	CHECK_EQ(um_punch_set_state(&A->p, UM_PUNCH_DIRECT, NULL), 0);
	A->p.switches_direct = 1;
	sim_env_refresh(&s, 0);
	um_punch_output_reset(&out);
	um_punch_direct_refused(&A->p, UM_PUNCH_PUNCHING, &A->env, &out);
	CHECK_EQ(A->p.state, UM_PUNCH_PUNCHING);
	CHECK_EQ(A->p.switches_direct, 0);
	CHECK_EQ(um_punch_next_deadline(&A->p), s.now);
}

/* A handshake that went direct proves that path at once; a later one
 * through the relay (the data plane moved) starts a new attempt. */
static void test_session_direct_then_relay(void)
{
	setup(RETRY);
	for (int i = 0; i < 2; i++) {
		s.side[i].env.via_relay = false;
		s.side[i].env.endpoint = s.side[1 - i].addr;
	}
	sim_install(&s);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK(um_addr_equal(&A->p.direct, &B->addr));
	CHECK_EQ(A->p.switches_direct, 0);
	CHECK_EQ(um_punch_next_deadline(&A->p), s.now + HEALTH / 4);
	/* The handshake engine moved A to the relay: the next tick notices. */
	A->env.via_relay = true;
	sim_run(&s, s.now + HEALTH / 4 + 50 * MS);
	CHECK_EQ(A->events[UM_PUNCH_EVENT_PUNCH_STARTED], 1);
	CHECK(A->p.relay_since_ns > 0);
	sim_run(&s, s.now + 1 * SEC);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK_EQ(A->p.switches_direct, 1);
}

/* A replayed CANDIDATES is dropped by the replay window (counted); a
 * reordered one (fresh counter, generation not newer) changes nothing. */
static void test_candidates_replay(void)
{
	setup(RETRY);
	s.direct_open = false;
	sim_install(&s);
	struct sim_packet q = s.queue[0]; /* A's candidates to B */
	sim_run(&s, s.now + 10 * MS);
	CHECK_EQ(B->p.n_remote, A->n_local);
	CHECK(B->events[UM_PUNCH_EVENT_CANDIDATES] >= 1); /* its NEED is answered too */
	B->p.n_remote = 0;
	sim_env_refresh(&s, 1);
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, q.via_relay, &B->env, &out), -UM_EREPLAY);
	CHECK_EQ(B->p.replays, 1);
	CHECK_EQ(out.n_events, 0);
	CHECK_EQ(B->p.n_remote, 0);
	/* An old generation under a fresh counter: ignored by generation. */
	A->p.local_generation = 1;
	A->env.wall_ms = 0;
	sim_env_refresh(&s, 0);
	A->env.wall_ms = 0;
	um_punch_output_reset(&out);
	um_punch_candidates_send(&A->p, A->local, A->n_local, &A->env, &out);
	CHECK_EQ(out.n_datagrams, 1);
	CHECK_EQ(um_punch_input(&B->p, out.datagrams[0].data, out.datagrams[0].len, &s.relay, true, &B->env, &out), 0);
	CHECK_EQ(out.n_events, 0);
	CHECK_EQ(B->p.n_remote, 0);
}

/* What a passive observer of the relay link and the direct path sees:
 * punching, health probes, pings both ways, a fallback, a rekey and a
 * second attempt, and never either peer's ID or public key, nor any
 * candidate or observed address as the messages encode them. Version 2
 * carried the sender's ID in every message and the addresses in clear;
 * the harness's detector flags such a datagram (checked first). */
static void test_nothing_in_clear(void)
{
	uint8_t v2[44 + UM_PATH_NONCE_BYTES + 16] = {UM_MSG_PATH_PROBE, 0, 2, 0};
	uint8_t v2_candidates[44 + 12 + UM_PATH_CANDIDATE_BYTES + 16] = {UM_MSG_PATH_CANDIDATES, 0, 2, 0};
	uint64_t seq;

	setup(RETRY);
	memcpy(v2 + 4, B->id.bytes, UM_PEER_ID_BYTES);
	CHECK(sim_leaks(&s, v2, sizeof(v2)));
	sim_addr_bytes(&A->local[1].addr, v2_candidates + 44 + 12 + 1);
	CHECK(sim_leaks(&s, v2_candidates, sizeof(v2_candidates)));

	go_direct();
	for (int i = 0; i < 2; i++) {
		sim_env_refresh(&s, i);
		CHECK_EQ(um_punch_ping(&s.side[i].p, &s.side[i].env, &seq, &out), 0);
		sim_take(&s, i, &out);
	}
	sim_run(&s, s.now + 2 * SEC);
	CHECK_EQ(A->p.ping_answered, 1);
	CHECK(A->p.ping_direct);
	s.direct_open = false;
	sim_run(&s, s.now + 3 * HEALTH);
	CHECK_EQ(A->p.state, UM_PUNCH_RELAY);
	sim_env_refresh(&s, 0);
	CHECK_EQ(um_punch_ping(&A->p, &A->env, &seq, &out), 0);
	sim_take(&s, 0, &out);
	s.direct_open = true;
	sim_install(&s); /* a rekey */
	sim_run(&s, s.now + RETRY + 2 * SEC);
	CHECK_EQ(A->p.ping_answered, 2);
	CHECK(!A->p.ping_direct);
	CHECK_EQ(A->p.state, UM_PUNCH_DIRECT);
	CHECK(s.sent[UM_MSG_PATH_CANDIDATES] >= 4);
	CHECK(s.sent[UM_MSG_PATH_PROBE] >= 10);
	CHECK(s.sent[UM_MSG_PATH_PROBE_REPLY] >= 10);
	CHECK_EQ(s.leaks, 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(s.side[i].dropped_inputs, 0);
		CHECK_EQ(s.side[i].p.bad_mac, 0);
		CHECK_EQ(s.side[i].p.unknown_index, 0);
	}
}

/* The receiver index picks the key: an index we never gave out is dropped
 * as unknown, the index of another kept key does not open (the tag covers
 * the header, and the key differs), our own message reflected back to us
 * names the peer's index. None of them changes anything. */
static void test_receiver_index(void)
{
	setup(RETRY);
	s.direct_open = false;
	sim_install(&s);
	sim_install(&s); /* B keeps two keys; A's messages go under the newest */
	struct sim_packet q = {0};
	for (unsigned k = 0; k < s.n_queue; k++)
		if (s.queue[k].to == 1 && s.queue[k].data[0] == UM_MSG_PATH_CANDIDATES)
			q = s.queue[k];
	CHECK(q.len > 0);
	s.n_queue = 0;
	CHECK_EQ(um_load32_be(q.data + 4), sim_index(1, 2));
	unsigned n_remote = B->p.n_remote;
	enum um_punch_state state = B->p.state;

	struct sim_packet bad = q;
	um_store32_be(bad.data + 4, 0x12345678);
	sim_env_refresh(&s, 1);
	CHECK_EQ(um_punch_input(&B->p, bad.data, bad.len, &bad.from, true, &B->env, &out), -UM_ENOTFOUND);
	CHECK_EQ(B->p.unknown_index, 1);
	CHECK_EQ(out.n_datagrams + out.n_events, 0);
	um_store32_be(bad.data + 4, sim_index(1, 1)); /* B's older key */
	CHECK_EQ(um_punch_input(&B->p, bad.data, bad.len, &bad.from, true, &B->env, &out), -UM_EBADMSG);
	CHECK_EQ(B->p.bad_mac, 1);
	CHECK_EQ(out.n_datagrams + out.n_events, 0);
	/* Reflected to its sender. */
	sim_env_refresh(&s, 0);
	CHECK_EQ(um_punch_input(&A->p, q.data, q.len, &q.from, true, &A->env, &out), -UM_ENOTFOUND);
	CHECK_EQ(A->p.unknown_index, 1);
	CHECK_EQ(B->p.n_remote, n_remote);
	CHECK_EQ(B->p.state, state);
	CHECK_EQ(B->p.replays, 0);
	/* The real one still opens (the window did not move). */
	CHECK_EQ(um_punch_input(&B->p, q.data, q.len, &q.from, true, &B->env, &out), 0);
	CHECK(B->p.n_remote >= 2);
}

/* Rekeys: a message under a key the receiver still keeps (among the
 * newest UM_PUNCH_KEYS) opens, one under a key it dropped names an index
 * it no longer knows. */
static void test_rekey_keeps_newest(void)
{
	struct sim_packet held[UM_PUNCH_KEYS + 1];
	uint64_t seq;

	setup(RETRY);
	A->env.enabled = B->env.enabled = false; /* pings only */
	for (unsigned k = 0; k <= UM_PUNCH_KEYS; k++) {
		sim_install(&s);
		sim_env_refresh(&s, 1);
		CHECK_EQ(um_punch_ping(&B->p, &B->env, &seq, &out), 0);
		held[k].len = out.datagrams[0].len;
		memcpy(held[k].data, out.datagrams[0].data, held[k].len);
	}
	sim_env_refresh(&s, 0);
	CHECK_EQ(sim_inject(&s, 0, held[0].data, held[0].len, &B->addr, &out), -UM_ENOTFOUND);
	CHECK_EQ(A->p.unknown_index, 1);
	for (unsigned k = 1; k <= UM_PUNCH_KEYS; k++) {
		CHECK_EQ(sim_inject(&s, 0, held[k].data, held[k].len, &B->addr, &out), 0);
		CHECK_EQ(out.n_datagrams, 1); /* answered, under A's newest key */
		CHECK_EQ(um_load32_be(out.datagrams[0].data + 4), sim_index(1, UM_PUNCH_KEYS + 1));
	}
	CHECK_EQ(A->p.bad_mac, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_punch_succeeds);
	RUN(test_timeout_then_retry);
	RUN(test_silence_falls_back_then_quick_retry);
	RUN(test_direct_data_keeps_path);
	RUN(test_new_candidates_new_attempt);
	RUN(test_ping);
	RUN(test_reply_from_other_address);
	RUN(test_bad_mac);
	RUN(test_illegal_transition);
	RUN(test_direct_refused);
	RUN(test_session_direct_then_relay);
	RUN(test_candidates_replay);
	RUN(test_nothing_in_clear);
	RUN(test_receiver_index);
	RUN(test_rekey_keeps_newest);
	return um_test_end();
}
