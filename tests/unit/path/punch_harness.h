/* SPDX-License-Identifier: MIT */
/* A simulated network for path-engine tests: two engines (A and B) on a
 * fake clock, a relay that always delivers, and a direct path the test
 * opens and closes. Datagrams take 1 ms either way. Events are applied the
 * way node/path.c applies them (DIRECT sets the endpoint and leaves the
 * relay, FALLBACK goes back to it) and counted per side. Every datagram
 * sent is searched, as a passive observer would, for either peer's ID and
 * public key and for any candidate address as path messages encode it
 * (s.leaks). */
#ifndef UM_TEST_PUNCH_HARNESS_H
#define UM_TEST_PUNCH_HARNESS_H

#include <sodium.h>
#include <string.h>

#include "path/punch.h"
#include "util/clock.h"

#define MS  (UM_NSEC_PER_MSEC)
#define SEC (UM_NSEC_PER_SEC)

enum { SIM_QUEUE = 512, SIM_LATENCY_NS = 1000000 };

struct sim_side {
	struct um_punch p;
	struct um_peer_id id;   /* what the node would be known by ... */
	uint8_t public_key[64]; /* ... (a prefix of its key; the engine never has either) */
	struct um_punch_env env;
	struct um_addr addr;    /* where it receives direct datagrams */
	struct um_addr seen_as; /* the source its direct datagrams carry */
	struct um_path_candidate local[4];
	size_t n_local;
	uint64_t events[UM_PUNCH_EVENT_PING + 1];
	uint64_t direct_at, fallback_at, gave_up_at, started_at; /* last time of each event */
	uint64_t dropped_inputs;
};

struct sim_packet {
	uint64_t at;
	int to; /* side index */
	bool via_relay;
	struct um_addr from;
	uint16_t len;
	uint8_t data[UM_PATH_CANDIDATES_MAX_BYTES];
};

struct sim {
	uint64_t now;
	struct sim_side side[2];
	struct um_addr relay;
	bool direct_open; /* the internet lets direct datagrams through */
	bool rx_counts;   /* direct datagrams count as DATA received (a busy tunnel) */
	struct sim_packet queue[SIM_QUEUE];
	unsigned n_queue;
	uint64_t lost;
	/* What an observer of the network records: per side, the last PROBE
	 * and PROBE_REPLY it sent (delivered or lost) and the last ones it
	 * received (delivered). .to is the receiving side. */
	struct sim_packet sent_probe[2], sent_reply[2], got_probe[2], got_reply[2];
	struct um_addr watch; /* datagrams each side sends there are counted */
	uint64_t to_watch[2];
	uint64_t sent[UM_MSG_PATH_PROBE_REPLY + 1]; /* datagrams sent, by type */
	uint64_t leaks;                             /* datagrams with an ID, key or address in them */
	unsigned installs;
};

/* The session indices of install k: side i receives at sim_index(i, k). */
static inline uint32_t sim_index(int i, unsigned k)
{
	return (i ? 0xb0000000u : 0xa0000000u) + k;
}

/* An address as path messages encode it: family | port | address. */
static inline size_t sim_addr_bytes(const struct um_addr *a, uint8_t *out)
{
	out[0] = a->family;
	out[1] = (uint8_t)(a->port >> 8);
	out[2] = (uint8_t)a->port;
	memcpy(out + 3, a->addr, a->family == 4 ? 4 : 16);
	return a->family == 4 ? 7 : 19;
}

static inline bool sim_contains(const uint8_t *data, size_t len, const uint8_t *what, size_t n)
{
	for (size_t k = 0; k + n <= len; k++)
		if (!memcmp(data + k, what, n))
			return true;
	return false;
}

/* Would these bytes show an observer either side's ID, key or addresses? */
static inline bool sim_leaks(const struct sim *s, const uint8_t *data, size_t len)
{
	uint8_t enc[19];

	for (int i = 0; i < 2; i++) {
		const struct sim_side *x = &s->side[i];
		if (sim_contains(data, len, x->id.bytes, sizeof(x->id.bytes)) ||
		    sim_contains(data, len, x->public_key, sizeof(x->public_key)))
			return true;
		for (size_t k = 0; k < x->n_local; k++)
			if (sim_contains(data, len, enc, sim_addr_bytes(&x->local[k].addr, enc)))
				return true;
		if (sim_contains(data, len, enc, sim_addr_bytes(&x->seen_as, enc)))
			return true;
	}
	return false;
}

static inline struct um_addr sim_addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct um_addr x = {.family = 4, .addr = {a, b, c, d}, .port = port};
	return x;
}

static inline void sim_env_refresh(struct sim *s, int i)
{
	s->side[i].env.now = s->now;
	s->side[i].env.wall_ms = 1700000000000ULL + s->now / MS;
}

/* Both sides with a session through the relay; no keys yet. */
static inline void sim_init(struct sim *s, uint64_t connect_timeout, uint64_t retry, uint64_t health)
{
	struct um_punch_config c = {
	    .connect_timeout_ns = connect_timeout, .retry_interval_ns = retry, .health_interval_ns = health};

	memset(s, 0, sizeof(*s));
	s->now = 1000 * SEC;
	s->relay = sim_addr(203, 0, 113, 2, 51821);
	s->direct_open = true;
	for (int i = 0; i < 2; i++) {
		struct sim_side *x = &s->side[i];
		for (size_t k = 0; k < sizeof(x->id.bytes); k++)
			x->id.bytes[k] = (uint8_t)(k * 7 + (i ? 0xb1 : 0xa1));
		for (size_t k = 0; k < sizeof(x->public_key); k++)
			x->public_key[k] = (uint8_t)(k * 13 + (i ? 0x3b : 0x3a));
		um_punch_init(&x->p, &c);
		x->addr = x->seen_as = sim_addr(198, 51, 100, i ? 6 : 2, 51820);
		x->local[0] = (struct um_path_candidate){.kind = UM_PATH_CAND_REFLEXIVE, .addr = x->addr};
		x->local[1] = (struct um_path_candidate){.kind = UM_PATH_CAND_LOCAL,
							 .addr = sim_addr(100, 64, i ? 2 : 1, 2, 51820)};
		x->n_local = 2;
		x->env.enabled = true;
		x->env.relay_ready = true;
		x->env.via_relay = true;
		sim_env_refresh(s, i);
	}
}

static inline int sim_side_at(const struct sim *s, const struct um_addr *to)
{
	for (int i = 0; i < 2; i++)
		if (um_addr_equal(&s->side[i].addr, to) || um_addr_equal(&s->side[i].seen_as, to))
			return i;
	return -1;
}

/* Queues i's datagrams, applies its events (as node/path.c does). */
static inline void sim_take(struct sim *s, int i, struct um_punch_output *out)
{
	struct sim_side *x = &s->side[i];

	if (out->candidates_wanted)
		um_punch_candidates_send(&x->p, x->local, x->n_local, &x->env, out);
	for (unsigned k = 0; k < out->n_datagrams; k++) {
		const struct um_punch_datagram *d = &out->datagrams[k];
		int to = 1 - i;
		struct sim_packet *rec = d->data[0] == UM_MSG_PATH_PROBE         ? &s->sent_probe[i]
					 : d->data[0] == UM_MSG_PATH_PROBE_REPLY ? &s->sent_reply[i]
										 : NULL;
		if (s->watch.family && !d->via_relay && um_addr_equal(&d->to, &s->watch))
			s->to_watch[i]++;
		if (d->data[0] <= UM_MSG_PATH_PROBE_REPLY)
			s->sent[d->data[0]]++;
		if (sim_leaks(s, d->data, d->len))
			s->leaks++;
		if (rec) {
			rec->at = s->now;
			rec->to = to;
			rec->via_relay = d->via_relay;
			rec->from = d->via_relay ? s->relay : x->seen_as;
			rec->len = d->len;
			memcpy(rec->data, d->data, d->len);
		}
		if (!d->via_relay && (!s->direct_open || sim_side_at(s, &d->to) != to)) {
			s->lost++;
			continue;
		}
		if (s->n_queue >= SIM_QUEUE) {
			s->lost++;
			continue;
		}
		struct sim_packet *q = &s->queue[s->n_queue++];
		q->at = s->now + SIM_LATENCY_NS;
		q->to = to;
		q->via_relay = d->via_relay;
		q->from = d->via_relay ? s->relay : x->seen_as;
		q->len = d->len;
		memcpy(q->data, d->data, d->len);
	}
	for (unsigned k = 0; k < out->n_events; k++) {
		const struct um_punch_event *e = &out->events[k];
		x->events[e->kind]++;
		switch (e->kind) {
		case UM_PUNCH_EVENT_DIRECT:
			x->env.via_relay = false;
			x->env.endpoint = e->addr;
			x->direct_at = s->now;
			break;
		case UM_PUNCH_EVENT_FALLBACK:
			x->env.via_relay = true;
			x->fallback_at = s->now;
			break;
		case UM_PUNCH_EVENT_GAVE_UP:
			x->gave_up_at = s->now;
			break;
		case UM_PUNCH_EVENT_PUNCH_STARTED:
			x->started_at = s->now;
			break;
		default:
			break;
		}
	}
}

/* An attacker's datagram to side i from `from` (not through the relay):
 * the engine's output is left in *out for the test to look at, and is
 * not applied. Returns um_punch_input's result. */
static inline int sim_inject(struct sim *s, int i, const uint8_t *data, size_t len, const struct um_addr *from,
			     struct um_punch_output *out)
{
	sim_env_refresh(s, i);
	return um_punch_input(&s->side[i].p, data, len, from, false, &s->side[i].env, out);
}

/* Both sides install a new keypair (each call: the next rekey). */
static inline void sim_install(struct sim *s)
{
	static struct um_punch_output out;
	uint8_t k1[32], k2[32];

	/* A's send key is B's receive key and the other way round. */
	memset(k1, 0x11 + s->installs, sizeof(k1));
	memset(k2, 0x22 + s->installs, sizeof(k2));
	s->installs++;
	for (int i = 0; i < 2; i++) {
		sim_env_refresh(s, i);
		um_punch_session_installed(&s->side[i].p, i ? k2 : k1, i ? k1 : k2, sim_index(i, s->installs),
					   sim_index(1 - i, s->installs), &s->side[i].env, &out);
		sim_take(s, i, &out);
	}
}

/* Runs the network and both engines' deadlines until `until`. */
static inline void sim_run(struct sim *s, uint64_t until)
{
	static struct um_punch_output out;

	for (;;) {
		uint64_t next = UINT64_MAX;
		unsigned pick = SIM_QUEUE;
		for (unsigned k = 0; k < s->n_queue; k++)
			if (s->queue[k].at < next)
				next = s->queue[k].at, pick = k;
		for (int i = 0; i < 2; i++)
			if (um_punch_next_deadline(&s->side[i].p) < next)
				next = um_punch_next_deadline(&s->side[i].p), pick = SIM_QUEUE;
		if (next > until) {
			s->now = until;
			return;
		}
		if (next > s->now)
			s->now = next;
		if (pick < SIM_QUEUE) {
			struct sim_packet q = s->queue[pick];
			s->queue[pick] = s->queue[--s->n_queue];
			struct sim_side *x = &s->side[q.to];
			if (q.data[0] == UM_MSG_PATH_PROBE)
				s->got_probe[q.to] = q;
			else if (q.data[0] == UM_MSG_PATH_PROBE_REPLY)
				s->got_reply[q.to] = q;
			if (!q.via_relay && s->rx_counts)
				x->env.rx_direct++;
			sim_env_refresh(s, q.to);
			if (um_punch_input(&x->p, q.data, q.len, &q.from, q.via_relay, &x->env, &out))
				x->dropped_inputs++;
			else
				sim_take(s, q.to, &out);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (um_punch_next_deadline(&s->side[i].p) > s->now)
				continue;
			sim_env_refresh(s, i);
			um_punch_tick(&s->side[i].p, &s->side[i].env, &out);
			sim_take(s, i, &out);
		}
	}
}

#endif
