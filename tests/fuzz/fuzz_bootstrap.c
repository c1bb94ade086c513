/* SPDX-License-Identifier: MIT */
/* Every body parser of the bootstrap API (http/bootstrap_api.h: the
 * server's register / heartbeat / unregister bodies; http/bootstrap_client.h:
 * the client's challenge, ttl, peer and peers answers). The first byte picks
 * the parser, the rest is the body. A write that parses goes on to the
 * registry (dht/bootstrap.h), which must refuse it without a challenge it
 * issued and change nothing. Selector 7 runs the rest as a program of
 * registry operations (challenges from eight addresses, writes over them,
 * listings, lookups, time passing) on a small registry, checking it after
 * every step: the caps hold, listings have no duplicates, and every listed
 * node is found by ID. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/bootstrap_api.h"
#include "http/bootstrap_client.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_bootstrap *registry;
static struct um_identity identities[4];

static void check_registry(struct um_bootstrap *b, uint64_t now, size_t max)
{
	struct um_bootstrap_peer list[UM_BOOTSTRAP_LIST_MAX], p;
	size_t n = um_bootstrap_list(b, now, list, UM_BOOTSTRAP_LIST_MAX);

	if (um_bootstrap_count(b) > max || n > um_bootstrap_count(b))
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (!memcmp(&list[i].id, &list[j].id, sizeof(list[i].id)))
				__builtin_trap();
		if (um_bootstrap_find(b, &list[i].id, false, now, &p) || memcmp(&p.id, &list[i].id, sizeof(p.id)))
			__builtin_trap();
	}
}

/* Two bytes per step: op and argument. */
static void run_program(const uint8_t *data, size_t size)
{
	struct um_bootstrap_config c;
	struct um_bootstrap *b;
	uint8_t challenges[4][UM_BOOTSTRAP_CHALLENGE_BYTES] = {{0}};
	uint8_t *sig = malloc(UM_HSIG_BYTES);
	uint64_t now = 1000000000ULL, ttl;

	um_bootstrap_default_config(&c);
	c.max_registrations = 3;
	c.max_challenges = 4;
	c.challenges_per_source = 3;
	c.registrations_per_source = 2;
	c.requests_per_s = c.request_burst = 1000;
	if (!sig || um_bootstrap_create(&b, &c))
		abort();
	for (size_t k = 0; k + 1 < size && k < 24; k += 2) {
		uint8_t op = data[k] % 8, arg = data[k + 1];
		const struct um_identity *who = &identities[arg & 3];
		struct um_addr source = {.family = UM_ADDR_IPV4, .addr = {10, 0, (uint8_t)(arg >> 5), 1}, .port = 9};
		struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX];
		struct um_bootstrap_request q = {.op = (enum um_bootstrap_op)(op % 3), .id = who->id};
		switch (op) {
		case 0:
		case 1:
		case 2:
			if (q.op == UM_BOOTSTRAP_OP_REGISTER) {
				q.public_key = who->public_key;
				q.endpoints[0] = source;
				q.n_endpoints = 1;
				q.is_public = arg & 4;
			}
			memcpy(q.challenge, challenges[(arg >> 3) & 3], sizeof(q.challenge));
			/* Unsigned: an ML-DSA signature costs ~40 ms under
			 * coverage instrumentation (the fuzzer would do nothing
			 * else). Writes reach the challenge checks and consume
			 * what they match; signed writes and the entries' index
			 * are tests/unit/dht/test_bootstrap.c's. */
			memset(sig, 0, UM_HSIG_BYTES);
			q.signature = sig;
			/* Never accepted, never a change. */
			size_t before = um_bootstrap_count(b);
			if (um_bootstrap_write(b, &source, &q, now, &ttl) == 0 || um_bootstrap_count(b) != before)
				__builtin_trap();
			break;
		case 3:
			um_bootstrap_challenge(b, &source, now, challenges[(arg >> 3) & 3], &ttl);
			break;
		case 4:
			um_bootstrap_list(b, now, peers, arg % (UM_BOOTSTRAP_LIST_MAX + 1));
			break;
		case 5:
			um_bootstrap_find(b, &who->id, arg & 4, now, &peers[0]);
			break;
		case 6:
			now += (uint64_t)arg * 1000000000ULL;
			break;
		case 7:
			um_bootstrap_expire(b, now);
			break;
		}
		check_registry(b, now, c.max_registrations);
	}
	um_bootstrap_free(b);
	free(sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct um_bootstrap_api_buffers bufs;
	struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX], peer;
	struct um_bootstrap_request q;
	struct um_addr source = {.family = UM_ADDR_IPV4, .addr = {192, 0, 2, 1}, .port = 1};
	uint8_t challenge[UM_BOOTSTRAP_CHALLENGE_BYTES];
	const char *error;
	uint64_t ttl;
	size_t n;

	if (!registry) {
		if (um_bootstrap_create(&registry, NULL))
			abort();
		for (int i = 0; i < 4; i++) {
			uint8_t seed[UM_HSIG_SEED_BYTES] = {(uint8_t)(i + 1)};
			if (um_identity_from_seed(&identities[i], seed))
				abort();
		}
	}
	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 8) {
	case 0:
	case 1:
	case 2: {
		enum um_bootstrap_op op = (enum um_bootstrap_op)(data[0] % 8);
		if (um_bootstrap_api_parse_write(op, (const uint8_t *)body, len, &q, &bufs, &error) == 0) {
			if (error || q.op != op || q.n_endpoints > UM_BOOTSTRAP_ENDPOINTS_MAX || !q.signature)
				__builtin_trap();
			if (op == UM_BOOTSTRAP_OP_REGISTER && (!q.public_key || q.n_endpoints == 0))
				__builtin_trap();
			if (um_bootstrap_write(registry, &source, &q, 1000000000ULL, &ttl) != -UM_EREPLAY ||
			    um_bootstrap_count(registry) != 0)
				__builtin_trap();
		} else if (!error) {
			__builtin_trap();
		}
		break;
	}
	case 3:
		um_bootstrap_client_parse_challenge(body, len, challenge);
		break;
	case 4:
		um_bootstrap_client_parse_ttl(body, len, &ttl);
		break;
	case 5:
		if (um_bootstrap_client_parse_peer(body, len, &peer) == 0 &&
		    peer.n_endpoints > UM_BOOTSTRAP_ENDPOINTS_MAX)
			__builtin_trap();
		break;
	case 6:
		if (um_bootstrap_client_parse_peers(body, len, peers, UM_BOOTSTRAP_LIST_MAX, &n) == 0 &&
		    n > UM_BOOTSTRAP_LIST_MAX)
			__builtin_trap();
		break;
	case 7:
		run_program(data + 1, size - 1);
		break;
	}
	return 0;
}
