/* SPDX-License-Identifier: MIT */
/* The transport policy (relay/transport.h) on a fake clock. A small world
 * plays the caller: uplink 0 is a UDP relay registered the way the relay
 * client does it (REGISTER retried after 1, 2, 4, 8 s; keepalives; three
 * unanswered keepalives = silent), uplink 1 a wss:// relay that comes up
 * a while after OPEN_STREAM; the network drops UDP while a scenario says
 * it is blocked, or at random (a seeded generator: reproducible). Each case
 * builds its own world. */
#include <stdlib.h>

#include "relay/transport.h"
#include "test.h"
#include "util/error.h"

#define MS            1000000ULL
#define SEC           1000000000ULL
#define T0            (1000 * SEC) /* monotonic start: far from 0, as on a real host */
#define NEVER         UINT64_MAX
#define UDP           0u
#define TLS           1u
#define MAX_ANSWERS   64
#define MAX_DECISIONS 512

struct decision {
	uint64_t at;
	struct um_relay_transport_output out;
};

struct world {
	struct um_relay_transport policy;
	uint64_t now;
	/* the network */
	uint64_t rtt;                      /* UDP round trip to the relay */
	uint64_t blocked_from, blocked_to; /* UDP dropped in [from, to) */
	unsigned loss_per_mille;           /* random loss per leg */
	unsigned drop_first_registers;     /* that many REGISTERs lost */
	uint64_t stream_connect;           /* OPEN_STREAM (or WARM_STREAM) -> connected */
	uint64_t stream_register;          /* connected -> stream_up (0: counted in stream_connect) */
	uint32_t seed;
	/* the caller's UDP uplink (as the relay client) */
	bool registered, ka_outstanding;
	unsigned register_attempts, registers_sent, ka_missed;
	uint64_t register_due, ka_due, ka_interval;
	uint64_t answers[MAX_ANSWERS]; /* UDP replies in flight: arrival times */
	unsigned n_answers;
	/* the caller's stream */
	uint64_t stream_up_at;
	uint64_t stream_connected_at; /* after WARM_STREAM; NEVER = no connection */
	bool connected_told;          /* um_relay_transport_stream_connected called */
	bool stream_open;
	/* what the policy said */
	struct decision decisions[MAX_DECISIONS];
	unsigned n_decisions;
	bool on_udp, on_stream; /* where the caller sends traffic */
};

static uint32_t next_random(struct world *w)
{
	w->seed = w->seed * 1103515245u + 12345u;
	return (w->seed >> 8) % 1000;
}

static bool udp_passes(struct world *w, uint64_t at)
{
	if (at >= w->blocked_from && at < w->blocked_to)
		return false;
	return !w->loss_per_mille || next_random(w) >= w->loss_per_mille;
}

/* One datagram to the relay now: its reply arrives one RTT later if both
 * legs get through. */
static void udp_send(struct world *w)
{
	if (!udp_passes(w, w->now) || !udp_passes(w, w->now + w->rtt))
		return;
	if (w->n_answers < MAX_ANSWERS)
		w->answers[w->n_answers++] = w->now + w->rtt;
}

static void send_register(struct world *w)
{
	w->registers_sent++;
	if (w->drop_first_registers) {
		w->drop_first_registers--;
		return;
	}
	udp_send(w);
}

static void world_init(struct world *w, uint64_t rtt)
{
	memset(w, 0, sizeof(*w));
	w->now = T0;
	w->rtt = rtt;
	w->blocked_from = w->blocked_to = NEVER;
	w->stream_connect = 300 * MS;
	w->seed = 14;
	w->ka_interval = 2 * SEC;
	w->ka_due = NEVER;
	w->register_due = T0;
	w->stream_up_at = NEVER;
	w->stream_connected_at = NEVER;
}

static void policy_init(struct world *w, const struct um_relay_transport_config *extra)
{
	struct um_relay_transport_config c = {.n_uplinks = 2, .stream = {false, true}};

	if (extra)
		c = *extra;
	CHECK_EQ(um_relay_transport_init(&w->policy, &c), 0);
	um_relay_transport_start(&w->policy, w->now);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void apply(struct world *w)
{
	struct um_relay_transport_output out;

	while (um_relay_transport_tick(&w->policy, w->now, &out) > 0) {
		if (w->n_decisions < MAX_DECISIONS)
			w->decisions[w->n_decisions++] = (struct decision){.at = w->now, .out = out};
		switch (out.decision) {
		case UM_RELAY_TRANSPORT_OPEN_STREAM:
			/* Over a warm connection only the registration is left. */
			w->stream_open = true;
			w->stream_up_at = (w->stream_connected_at == NEVER   ? w->now + w->stream_connect
					   : w->stream_connected_at > w->now ? w->stream_connected_at
									     : w->now) +
					  w->stream_register;
			break;
		case UM_RELAY_TRANSPORT_WARM_STREAM:
			w->stream_connected_at = w->now + w->stream_connect;
			break;
		case UM_RELAY_TRANSPORT_PROBE_UDP:
			/* REGISTER now if not registered, else a keepalive. */
			if (!w->registered)
				send_register(w);
			else
				udp_send(w);
			break;
		case UM_RELAY_TRANSPORT_USE_UDP:
			w->on_udp = true;
			w->on_stream = false;
			break;
		case UM_RELAY_TRANSPORT_USE_STREAM:
			w->on_stream = true;
			w->on_udp = false;
			break;
		case UM_RELAY_TRANSPORT_CLOSE_STREAM:
			w->stream_open = false;
			w->stream_up_at = w->stream_connected_at = NEVER;
			break;
		case UM_RELAY_TRANSPORT_NONE:
			break;
		}
	}
}

/* Runs the world until `until`: every timer and arrival in time order. */
static void run_until(struct world *w, uint64_t until)
{
	for (;;) {
		apply(w);
		uint64_t next = um_relay_transport_next_deadline(&w->policy);
		next = min_u64(next, w->register_due);
		next = min_u64(next, w->ka_due);
		next = min_u64(next, w->stream_up_at);
		if (!w->connected_told)
			next = min_u64(next, w->stream_connected_at);
		for (unsigned i = 0; i < w->n_answers; i++)
			next = min_u64(next, w->answers[i]);
		if (next > until)
			break;
		if (next > w->now)
			w->now = next;
		for (unsigned i = 0; i < w->n_answers;) {
			if (w->answers[i] > w->now) {
				i++;
				continue;
			}
			w->answers[i] = w->answers[--w->n_answers];
			if (!w->registered) {
				w->registered = true;
				w->register_due = NEVER;
				w->ka_due = w->now + w->ka_interval;
			}
			w->ka_outstanding = false;
			w->ka_missed = 0;
			um_relay_transport_udp_heard(&w->policy);
			CHECK_EQ(um_relay_transport_udp_answered(&w->policy, UDP, w->rtt, w->now), 0);
		}
		if (!w->connected_told && w->stream_connected_at <= w->now) {
			w->connected_told = true;
			CHECK_EQ(um_relay_transport_stream_connected(&w->policy, TLS, w->now), 0);
		}
		if (w->stream_up_at <= w->now) {
			w->stream_up_at = NEVER;
			CHECK_EQ(um_relay_transport_stream_up(&w->policy, TLS, w->now), 0);
		}
		if (w->register_due <= w->now) {
			unsigned shift = w->register_attempts < 3 ? w->register_attempts : 3;
			w->register_attempts++;
			send_register(w);
			w->register_due = w->now + (SEC << shift);
		}
		if (w->ka_due <= w->now) {
			if (w->ka_outstanding && ++w->ka_missed >= 3) {
				/* RELAY_LOST: silent, registering again. */
				w->registered = false;
				w->ka_outstanding = false;
				w->ka_missed = 0;
				w->register_attempts = 0;
				w->register_due = w->now;
				w->ka_due = NEVER;
				CHECK_EQ(um_relay_transport_udp_silent(&w->policy, UDP, w->now), 0);
				continue;
			}
			w->ka_outstanding = true;
			udp_send(w);
			w->ka_due = w->now + w->ka_interval;
		}
	}
	w->now = until;
	apply(w);
}

static unsigned count(const struct world *w, enum um_relay_transport_decision d, uint64_t from, uint64_t to)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->n_decisions; i++)
		if (w->decisions[i].out.decision == d && w->decisions[i].at >= from && w->decisions[i].at < to)
			n++;
	return n;
}

/* Time of the first decision d at or after from, or NEVER. */
static uint64_t first(const struct world *w, enum um_relay_transport_decision d, uint64_t from)
{
	for (unsigned i = 0; i < w->n_decisions; i++)
		if (w->decisions[i].out.decision == d && w->decisions[i].at >= from)
			return w->decisions[i].at;
	return NEVER;
}

/* ---- cases ---- */

/* UDP blocked for the first 10 s: TLS after the adaptive wait, probes on
 * a backoff, back on UDP within 5 s of the unblocking, once. */
static void test_blocked_then_unblocked(void)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	world_init(w, 80 * MS);
	w->blocked_from = T0;
	w->blocked_to = T0 + 10 * SEC;
	policy_init(w, NULL);
	uint64_t wait = um_relay_transport_fallback_wait(&w->policy);
	CHECK_EQ(wait, SEC + 3 * 100 * MS); /* no RTT known: first retry + 3 x 100 ms */
	/* Nothing heard from UDP at all: the stream opens after 250 ms. */
	wait = 250 * MS;
	run_until(w, T0 + 10 * SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0), T0 + wait);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_USE_STREAM, T0), T0 + wait + w->stream_connect);
	CHECK(w->on_stream && !w->on_udp);
	CHECK_EQ(w->policy.mode, UM_RELAY_TRANSPORT_ON_STREAM);
	/* Probes 1, 2, 4 s apart from the opening (then every 4 s). */
	uint64_t p1 = first(w, UM_RELAY_TRANSPORT_PROBE_UDP, T0);
	uint64_t p2 = first(w, UM_RELAY_TRANSPORT_PROBE_UDP, p1 + 1);
	uint64_t p3 = first(w, UM_RELAY_TRANSPORT_PROBE_UDP, p2 + 1);
	CHECK_EQ(p1, T0 + wait + SEC);
	CHECK_EQ(p2 - p1, 2 * SEC);
	CHECK_EQ(p3 - p2, 4 * SEC);
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_USE_UDP, T0, w->now), 0);

	run_until(w, T0 + 40 * SEC);
	uint64_t back = first(w, UM_RELAY_TRANSPORT_USE_UDP, T0);
	CHECK(back != NEVER);
	CHECK(back >= T0 + 10 * SEC);
	CHECK(back <= T0 + 15 * SEC);
	fprintf(stderr, "  UDP back %llu ms after the unblocking (TLS opened after %llu ms)\n",
		(unsigned long long)((back - T0 - 10 * SEC) / MS), (unsigned long long)(wait / MS));
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_USE_UDP, T0, w->now), 1);
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_USE_STREAM, T0, w->now), 1);
	CHECK(w->on_udp && !w->on_stream);
	/* No probing on UDP; the stream goes after close_after of UDP. */
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_PROBE_UDP, back + 1, w->now), 0);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_CLOSE_STREAM, T0), back + 30 * SEC > w->now ? NEVER : back + 30 * SEC);
	run_until(w, back + 31 * SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_CLOSE_STREAM, T0), back + 30 * SEC);
	CHECK(!w->stream_open);
	free(w);
}

/* UDP works, is blocked 10 s mid-session, comes back: the keepalives
 * notice (three unanswered), TLS carries the gap, UDP is back within 5 s
 * of the unblocking. */
static void test_blocked_mid_session(void)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	world_init(w, 80 * MS);
	w->blocked_from = T0 + 20 * SEC;
	w->blocked_to = T0 + 30 * SEC;
	policy_init(w, NULL);
	run_until(w, T0 + 20 * SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_USE_UDP, T0), T0 + 80 * MS);
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0, w->now), 0);
	CHECK_EQ(w->policy.srtt_ns, 80 * MS);
	run_until(w, T0 + 30 * SEC);
	uint64_t opened = first(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0);
	CHECK(opened != NEVER && opened < T0 + 30 * SEC);
	CHECK(w->on_stream);
	run_until(w, T0 + 60 * SEC);
	uint64_t back = first(w, UM_RELAY_TRANSPORT_USE_UDP, T0 + 20 * SEC);
	CHECK(back >= T0 + 30 * SEC && back <= T0 + 35 * SEC);
	fprintf(stderr, "  silent after %llu ms of blocking, UDP back %llu ms after the unblocking\n",
		(unsigned long long)((opened - T0 - 20 * SEC) / MS), (unsigned long long)((back - T0 - 30 * SEC) / MS));
	CHECK(w->on_udp);
	/* One fallback, one return: the return was no flap (UDP had held
	 * for the window before), so no hold. */
	CHECK_EQ(w->policy.stats.to_stream, 1);
	CHECK_EQ(w->policy.stats.to_udp, 2);
	CHECK_EQ(w->policy.stats.held, 0);
	free(w);
}

/* The first answer comes after 1.2 s: a lost first REGISTER on a 200 ms
 * link. A flat 0.5 s fallback would have opened TLS; the adaptive wait
 * does not. */
static void test_slow_first_answer(void)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	world_init(w, 200 * MS);
	w->drop_first_registers = 1;
	policy_init(w, NULL);
	run_until(w, T0 + 60 * SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_USE_UDP, T0), T0 + 1200 * MS);
	/* Nothing at all came over UDP for 250 ms: the stream raced it and
	 * carried the traffic until UDP answered, then UDP took over. */
	CHECK_EQ(w->policy.stats.streams_opened, 1);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0), T0 + 250 * MS);
	CHECK(first(w, UM_RELAY_TRANSPORT_USE_STREAM, T0) < T0 + 1200 * MS);
	CHECK(w->on_udp && !w->on_stream);
	free(w);

	/* A configured RTT stretches the wait: max(0.5 s, 1 s + 3 x 400 ms). */
	w = calloc(1, sizeof(*w));
	if (!w)
		return;
	world_init(w, 400 * MS);
	struct um_relay_transport_config c = {.n_uplinks = 2, .stream = {false, true}, .rtt_hint_ns = 400 * MS};
	policy_init(w, &c);
	CHECK_EQ(um_relay_transport_fallback_wait(&w->policy), 2200 * MS);
	free(w);
}

/* Something heard over UDP (a CHALLENGE piece): UDP passes, so the
 * stream waits for the whole fallback wait, not the 250 ms of silence; a
 * configured RTT stretches the silence too (twice it). */
static void test_heard_waits(void)
{
	struct um_relay_transport p;
	struct um_relay_transport_output out;
	struct um_relay_transport_config c = {.n_uplinks = 2, .stream = {false, true}};

	CHECK_EQ(um_relay_transport_init(&p, &c), 0);
	um_relay_transport_start(&p, T0);
	CHECK_EQ(um_relay_transport_next_deadline(&p), T0 + 250 * MS);
	um_relay_transport_udp_heard(&p);
	uint64_t wait = um_relay_transport_fallback_wait(&p);
	CHECK_EQ(um_relay_transport_next_deadline(&p), T0 + wait);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 300 * MS, &out), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + wait, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_OPEN_STREAM);
	c.rtt_hint_ns = 400 * MS;
	CHECK_EQ(um_relay_transport_init(&p, &c), 0);
	um_relay_transport_start(&p, T0);
	CHECK_EQ(um_relay_transport_next_deadline(&p), T0 + 800 * MS);
}

/* Slow but working UDP: 1.2 s round trips, 2% loss on every leg, two
 * minutes. Whatever the race did at the start, it ends on UDP and never
 * goes back to TLS while UDP answers. */
static void test_slow_lossy_udp(void)
{
	for (uint32_t seed = 1; seed <= 20; seed++) {
		struct world *w = calloc(1, sizeof(*w));
		if (!w)
			return;
		world_init(w, 1200 * MS);
		w->loss_per_mille = 20;
		w->seed = seed;
		policy_init(w, NULL);
		run_until(w, T0 + 120 * SEC);
		uint64_t on_udp = first(w, UM_RELAY_TRANSPORT_USE_UDP, T0);
		CHECK(on_udp != NEVER);
		CHECK(w->on_udp && !w->on_stream);
		CHECK_EQ(w->policy.mode, UM_RELAY_TRANSPORT_ON_UDP);
		/* Silent only after three keepalives in a row got lost. */
		if (!w->policy.stats.flaps && w->policy.stats.to_udp == 1)
			CHECK_EQ(count(w, UM_RELAY_TRANSPORT_USE_STREAM, on_udp, w->now), 0);
		free(w);
	}
}

/* UDP that answers for `up` out of every `period` for a minute while TLS
 * is up. Returns the moves of traffic to UDP; *flips the times UDP came
 * back; *growing whether each hold-passing return came later than the one
 * before (the hold doubles). p is left as the minute left it. */
static unsigned flap_run(struct um_relay_transport *p, uint64_t up, uint64_t period, unsigned *flips, bool *growing)
{
	struct um_relay_transport_config c = {.n_uplinks = 2, .stream = {false, true}};
	struct um_relay_transport_output out;
	unsigned to_udp = 0;
	uint64_t last_to_udp = 0, last_gap = 0;

	*flips = 0;
	*growing = true;
	CHECK_EQ(um_relay_transport_init(p, &c), 0);
	um_relay_transport_start(p, T0);
	CHECK_EQ(um_relay_transport_stream_up(p, TLS, T0), 0);
	for (uint64_t now = T0; now < T0 + 60 * SEC; now += 100 * MS) {
		uint64_t phase = (now - T0) % period;
		if (phase < up) {
			*flips += phase == 0;
			CHECK_EQ(um_relay_transport_udp_answered(p, UDP, 50 * MS, now), 0); /* keeps answering */
		} else if (phase == up) {
			CHECK_EQ(um_relay_transport_udp_silent(p, UDP, now), 0);
		}
		while (um_relay_transport_tick(p, now, &out) > 0) {
			if (out.decision != UM_RELAY_TRANSPORT_USE_UDP)
				continue;
			to_udp++;
			if (last_to_udp) {
				*growing &= now - last_to_udp >= last_gap;
				last_gap = now - last_to_udp;
			}
			last_to_udp = now;
		}
	}
	return to_udp;
}

/* Flapping UDP while TLS is up: the hold grows with every flap, so traffic
 * moves far less often than UDP flips; once UDP stays, traffic follows
 * after the hold, and UDP that then held for the window is trusted again. */
static void test_flapping_damped(void)
{
	struct um_relay_transport p;
	struct um_relay_transport_output out;
	unsigned flips, to_udp;
	bool growing;

	/* 1 s answering, 2 s silent: after one flap the 2 s hold never passes. */
	to_udp = flap_run(&p, SEC, 3 * SEC, &flips, &growing);
	fprintf(stderr, "  1 s up / 2 s down: UDP came back %u times, traffic moved to it %u times (%llu flaps)\n",
		flips, to_udp, (unsigned long long)p.stats.flaps);
	CHECK_EQ(flips, 20);
	CHECK(to_udp >= 1 && to_udp <= 3);
	CHECK(p.stats.held >= 1);

	/* 5 s answering, 3 s silent: holds of 2 s, then 4 s pass; 8 s does not. */
	to_udp = flap_run(&p, 5 * SEC, 8 * SEC, &flips, &growing);
	fprintf(stderr, "  5 s up / 3 s down: UDP came back %u times, traffic moved to it %u times (%llu flaps)\n",
		flips, to_udp, (unsigned long long)p.stats.flaps);
	CHECK_EQ(flips, 8);
	CHECK(to_udp >= 2 && to_udp <= 4);
	CHECK(growing);

	/* UDP stays: traffic follows after the current hold, at most hold_max. */
	uint64_t now = T0 + 60 * SEC, stay = now;
	bool moved = p.mode == UM_RELAY_TRANSPORT_ON_UDP;
	for (; now < stay + 40 * SEC && !moved; now += 100 * MS) {
		CHECK_EQ(um_relay_transport_udp_answered(&p, UDP, 50 * MS, now), 0);
		while (um_relay_transport_tick(&p, now, &out) > 0)
			moved |= out.decision == UM_RELAY_TRANSPORT_USE_UDP;
	}
	CHECK(moved);
	CHECK(now - stay <= 30 * SEC + 100 * MS);
	CHECK_EQ(p.mode, UM_RELAY_TRANSPORT_ON_UDP);

	/* After a whole flap window on UDP, one more outage is no flap: back
	 * at the first answer. */
	now += 11 * SEC;
	while (um_relay_transport_tick(&p, now, &out) > 0)
		;
	CHECK_EQ(um_relay_transport_udp_silent(&p, UDP, now), 0);
	CHECK_EQ(p.mode, UM_RELAY_TRANSPORT_ON_STREAM);
	CHECK_EQ(p.flaps, 0);
	now += SEC;
	CHECK_EQ(um_relay_transport_udp_answered(&p, UDP, 50 * MS, now), 0);
	CHECK_EQ(p.mode, UM_RELAY_TRANSPORT_ON_UDP);
}

/* Every uplink wss://: open at once. No wss:// uplink: nothing to decide. */
static void test_only_one_kind(void)
{
	struct um_relay_transport p;
	struct um_relay_transport_output out;
	struct um_relay_transport_config c = {.n_uplinks = 1, .stream = {true}};

	CHECK_EQ(um_relay_transport_init(&p, &c), 0);
	um_relay_transport_start(&p, T0);
	CHECK_EQ(um_relay_transport_next_deadline(&p), T0);
	CHECK_EQ(um_relay_transport_tick(&p, T0, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_OPEN_STREAM);
	CHECK_EQ(um_relay_transport_stream_up(&p, 0, T0 + SEC), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + SEC, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_USE_STREAM);
	CHECK_EQ(out.uplink, 0);

	c = (struct um_relay_transport_config){.n_uplinks = 2};
	CHECK_EQ(um_relay_transport_init(&p, &c), 0);
	um_relay_transport_start(&p, T0);
	CHECK_EQ(um_relay_transport_next_deadline(&p), NEVER);
	CHECK_EQ(um_relay_transport_udp_answered(&p, 1, 0, T0 + MS), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + MS, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_USE_UDP);
	CHECK_EQ(out.uplink, 1);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + MS, &out), 0);
}

/* Two UDP relays: a silent one hands traffic to the other, not to TLS;
 * a direct path alone counts as UDP; wrong slots are refused. */
static void test_slots(void)
{
	struct um_relay_transport p;
	struct um_relay_transport_output out;
	struct um_relay_transport_config c = {.n_uplinks = 3, .stream = {false, false, true}};

	CHECK_EQ(um_relay_transport_init(&p, &c), 0);
	um_relay_transport_start(&p, T0);
	CHECK_EQ(um_relay_transport_udp_answered(&p, 2, 0, T0), -UM_EINVAL); /* wss:// */
	CHECK_EQ(um_relay_transport_udp_answered(&p, 5, 0, T0), -UM_EINVAL); /* no such */
	CHECK_EQ(um_relay_transport_stream_up(&p, 0, T0), -UM_EINVAL);       /* UDP */
	CHECK_EQ(um_relay_transport_udp_answered(&p, 1, 90 * MS, T0 + 90 * MS), 0);
	CHECK_EQ(um_relay_transport_udp_answered(&p, 0, 30 * MS, T0 + 100 * MS), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 100 * MS, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_USE_UDP);
	CHECK_EQ(out.uplink, 1); /* the first to answer carries traffic at once */
	CHECK_EQ(um_relay_transport_udp_silent(&p, 1, T0 + 5 * SEC), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 5 * SEC, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_USE_UDP);
	CHECK_EQ(out.uplink, 0);
	CHECK_EQ(p.mode, UM_RELAY_TRANSPORT_ON_UDP);
	CHECK_EQ(um_relay_transport_udp_silent(&p, 0, T0 + 9 * SEC), 0);
	CHECK_EQ(p.mode, UM_RELAY_TRANSPORT_RACING); /* no stream yet: opened now */
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 9 * SEC, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_OPEN_STREAM);
	CHECK_EQ(um_relay_transport_udp_answered(&p, UM_RELAY_TRANSPORT_DIRECT, 0, T0 + 9500 * MS), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 9500 * MS, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_USE_UDP);
	CHECK_EQ(out.uplink, UM_RELAY_TRANSPORT_DIRECT);
	/* A UDP relay answering later takes the peers that have no direct path. */
	CHECK_EQ(um_relay_transport_udp_answered(&p, 0, 30 * MS, T0 + 10 * SEC), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 10 * SEC, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_USE_UDP);
	CHECK_EQ(out.uplink, 0);
	CHECK_EQ(um_relay_transport_udp_answered(&p, 1, 30 * MS, T0 + 11 * SEC), 0);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 11 * SEC, &out), 0); /* already on a UDP relay */
	CHECK(!strcmp(um_relay_transport_decision_name(UM_RELAY_TRANSPORT_PROBE_UDP), "probe-udp"));
	CHECK(!strcmp(um_relay_transport_mode_name(p.mode), "udp"));

	c.n_uplinks = UM_RELAY_TRANSPORT_MAX_UPLINKS + 1;
	CHECK_EQ(um_relay_transport_init(&p, &c), -UM_EINVAL);
}

/* Warm stream: the wss:// connection opens while UDP is tried, so a
 * UDP-blocked node registers over it as soon as it is open with nothing
 * heard from UDP (TCP and TLS took two round trips: UDP would have
 * answered in one), not after the silence and then three more; UDP that
 * answers closes it unused; all-wss:// warms nothing (the stream opens at
 * once anyway). */
static void test_warm_stream(void)
{
	struct um_relay_transport_config c = {.n_uplinks = 2, .stream = {false, true}, .warm_stream = true};
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	for (int warm = 0; warm <= 1; warm++) {
		world_init(w, 80 * MS);
		w->blocked_from = T0;
		w->blocked_to = T0 + 60 * SEC;
		w->stream_connect = 190 * MS; /* TCP, TLS (the Upgrade request carries frames) */
		w->stream_register = 160 * MS;
		c.warm_stream = warm;
		policy_init(w, &c);
		run_until(w, T0 + 2 * SEC);
		CHECK_EQ(first(w, UM_RELAY_TRANSPORT_WARM_STREAM, T0), warm ? T0 : NEVER);
		CHECK_EQ(first(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0), T0 + (warm ? 190 : 250) * MS);
		CHECK_EQ(first(w, UM_RELAY_TRANSPORT_USE_STREAM, T0), T0 + (warm ? 350 : 600) * MS);
		CHECK_EQ(count(w, UM_RELAY_TRANSPORT_CLOSE_STREAM, T0, w->now), 0);
		CHECK(w->on_stream);
		CHECK_EQ(w->policy.stats.streams_warmed, (uint64_t)warm);
	}

	/* A wss:// relay much nearer than the UDP one: not before half the
	 * silence. */
	world_init(w, 80 * MS);
	w->blocked_from = T0;
	w->blocked_to = T0 + 60 * SEC;
	w->stream_connect = 30 * MS;
	policy_init(w, &c);
	run_until(w, T0 + SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0), T0 + 125 * MS);

	/* UDP heard (a CHALLENGE piece) before the connection opened: UDP
	 * passes, the stream waits for the whole fallback wait. */
	struct um_relay_transport p;
	struct um_relay_transport_output out;
	CHECK_EQ(um_relay_transport_init(&p, &c), 0);
	um_relay_transport_start(&p, T0);
	CHECK_EQ(um_relay_transport_tick(&p, T0, &out), 1);
	CHECK_EQ(out.decision, UM_RELAY_TRANSPORT_WARM_STREAM);
	um_relay_transport_udp_heard(&p);
	CHECK_EQ(um_relay_transport_stream_connected(&p, TLS, T0 + 190 * MS), 0);
	CHECK_EQ(um_relay_transport_stream_connected(&p, UDP, T0 + 190 * MS), -UM_EINVAL);
	CHECK_EQ(um_relay_transport_tick(&p, T0 + 190 * MS, &out), 0);
	CHECK_EQ(um_relay_transport_next_deadline(&p), T0 + um_relay_transport_fallback_wait(&p));

	/* UDP answers: the warm connection goes with the first answer. */
	world_init(w, 80 * MS);
	w->stream_connect = 240 * MS;
	policy_init(w, &c);
	run_until(w, T0 + 2 * SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_USE_UDP, T0), T0 + 80 * MS);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_CLOSE_STREAM, T0), T0 + 80 * MS);
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0, w->now), 0);
	CHECK(w->on_udp && !w->stream_open && w->stream_connected_at == NEVER);
	CHECK(!w->policy.stream_warm);

	/* Only wss:// uplinks: opened at once, nothing warmed. */
	world_init(w, 80 * MS);
	w->blocked_from = T0; /* the world's UDP relay is uplink 0: not one here */
	w->blocked_to = T0 + 60 * SEC;
	struct um_relay_transport_config only = {.n_uplinks = 2, .stream = {true, true}, .warm_stream = true};
	policy_init(w, &only);
	run_until(w, T0 + SEC);
	CHECK_EQ(first(w, UM_RELAY_TRANSPORT_OPEN_STREAM, T0), T0);
	CHECK_EQ(count(w, UM_RELAY_TRANSPORT_WARM_STREAM, T0, w->now), 0);
	CHECK(!strcmp(um_relay_transport_decision_name(UM_RELAY_TRANSPORT_WARM_STREAM), "warm-stream"));
	free(w);
}

int main(void)
{
	RUN(test_blocked_then_unblocked);
	RUN(test_blocked_mid_session);
	RUN(test_slow_first_answer);
	RUN(test_heard_waits);
	RUN(test_slow_lossy_udp);
	RUN(test_flapping_damped);
	RUN(test_only_one_kind);
	RUN(test_slots);
	RUN(test_warm_stream);
	return um_test_end();
}
