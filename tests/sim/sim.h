/* SPDX-License-Identifier: MIT */
/* A DHT simulator: N (up to 2^20) real engines (src/dht/) in one process on a virtual
 * clock and event queue, over a virtual network with a per-pair RTT around
 * rtt_ms (uniform 0.5x..1.5x, symmetric, plus 2% jitter), loss, churn
 * (nodes killed without warning) and Sybils.
 *
 * Values are the simulator's own: owner ID | sequence | padding to
 * value_size | a MAC only the owner can make (keyed by a secret of the
 * simulator); the validator checks it, so a forged value that an engine
 * reports is measurable. Keys are hashes of the owner's ID. Identities are
 * real hybrid keys (um_identity_from_seed), so proofs of possession are
 * real. Tables start warm (as if every node had joined earlier: each
 * bucket filled from the nodes in its range, RTTs known), then contacts
 * only change through the engines.
 *
 * Sybil nodes run engines for routing but the simulator answers every
 * FIND_VALUE to them itself: with a forged value, a stale one (sequence
 * one lower, properly MACed) or none (a plain NODES); and they flood the
 * nodes whose cookies they saw with forged and stale STOREs. */
#ifndef UM_TESTS_SIM_H
#define UM_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"

struct um_sim_config {
	unsigned nodes;
	double rtt_ms;     /* mean round trip (default 100) */
	double loss_pct;   /* per datagram */
	double sybil_pct;  /* of nodes */
	unsigned k, alpha; /* engine config (0 = default) */
	unsigned disjoint_paths;
	unsigned bucket_width; /* engine config (0 = default) */
	unsigned value_size;   /* bytes (default 7,600) */
	uint64_t seed;
	double limit_s; /* virtual seconds a batch of ops may run (default 3,600) */
};

struct um_sim_result {
	unsigned lookups, succeeded, forged_accepted, stale_final;
	unsigned unfinished; /* lookups and puts that never ended (within limit_s) */
	/* In RTT multiples, over the lookups (first: those that found it). */
	double first_p50, first_p99, done_p50, done_p99, publish_p50, publish_p99;
	unsigned msgs_p50, msgs_p99, publishes, publish_ok;
	unsigned datagrams_p50; /* per lookup, pieces and all */
	double bytes_per_lookup_p50;
	size_t bytes_per_node; /* mean engine memory per live node */
	uint64_t datagrams, dropped_loss, dropped_dead;
};

struct um_sim;

/* 0 or -UM_ENOMEM / -UM_EINVAL. *out owned by the caller (um_sim_destroy). */
int um_sim_create(struct um_sim **out, const struct um_sim_config *config);
void um_sim_destroy(struct um_sim *sim);

/* Publish `count` values (owners: random live honest nodes, each puts its
 * own), run until all puts are done. */
void um_sim_publish(struct um_sim *sim, unsigned count);
/* Kill pct% of the nodes (honest and Sybil alike) without warning. */
void um_sim_churn(struct um_sim *sim, double pct);
/* Run `count` lookups of published keys from random live honest nodes
 * (never the owner), started `spacing_ms` apart, until all are done. */
void um_sim_lookups(struct um_sim *sim, unsigned count, double spacing_ms);
void um_sim_result(struct um_sim *sim, struct um_sim_result *r);

/* A cold start: a random live honest node restarts with an empty table
 * and one bootstrap address (another live honest node), joins (proof of
 * the bootstrap, a lookup of its own ID, every contact proven), then looks
 * up a published key. Times in RTT multiples from the restart. */
struct um_sim_cold {
	double bootstrap_rtt;        /* the node's round trip to its bootstrap */
	double join_rtt;             /* until the bootstrap proved itself (the lookup starts) */
	double first_rtt, total_rtt; /* until the value / the lookup's end */
	unsigned contacts;           /* in its table after the lookup */
	bool found;
};
int um_sim_cold_lookup(struct um_sim *sim, struct um_sim_cold *r);

/* For the unit tests: engine access and aggregate stats. */
unsigned um_sim_nodes(const struct um_sim *sim);
struct um_dht *um_sim_engine(struct um_sim *sim, unsigned i);
bool um_sim_alive(const struct um_sim *sim, unsigned i);
bool um_sim_is_sybil(const struct um_sim *sim, unsigned i);
/* Sum of every live honest engine's stats. */
void um_sim_stats(const struct um_sim *sim, struct um_dht_stats *sum);
uint64_t um_sim_now(const struct um_sim *sim);

#endif
