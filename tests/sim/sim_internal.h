/* SPDX-License-Identifier: MIT */
/* The simulator's state, shared by sim.c (network, Sybils, setup) and
 * sim_report.c (results and accessors). */
#ifndef UM_TESTS_SIM_INTERNAL_H
#define UM_TESTS_SIM_INTERNAL_H

#include "crypto/identity.h"
#include "sim.h"
#include "wire/dht.h"

#define MS 1000000ULL

enum { EV_DELIVER, EV_TIMER };

struct sim_msg {
	uint32_t from;
	uint16_t len;
	uint8_t bytes[];
};

struct sim_event {
	uint64_t at;
	uint64_t seq;
	uint32_t node;
	uint8_t kind;
	struct sim_msg *msg;
};

struct sim_node {
	struct um_identity *identity;
	struct um_dht *dht;
	struct um_addr addr;
	bool alive, sybil, owner;
	uint64_t timer_at;
};

struct sim_value {
	unsigned owner;
	uint8_t key[32];
	uint64_t sequence;
};

enum { OP_PUT, OP_GET, OP_COLD };

struct sim_op {
	unsigned node, value;
	uint8_t kind;
	bool done, found, forged;
	uint64_t id, start_ns, first_ns, done_ns, best_seq;
	unsigned messages, datagrams, storers;
};

struct sim_harvest {
	int sybil; /* the Sybil this node gave a cookie to, -1 none */
	uint8_t cookie[UM_DHT_COOKIE_BYTES];
};

struct um_sim {
	struct um_sim_config cfg;
	struct sim_node *nodes;
	struct um_identity *identities;
	uint64_t now, seq;
	struct sim_event *heap;
	size_t n_heap, cap_heap;
	uint64_t rng;
	uint8_t mac_secret[32];
	struct sim_value *values;
	unsigned n_values;
	struct sim_op *ops;
	unsigned n_ops, cap_ops;
	struct sim_harvest *harvest;
	struct um_dht_output out;
	uint64_t datagrams, dropped_loss, dropped_dead, next_flood;
	bool flooding;
};

#endif
