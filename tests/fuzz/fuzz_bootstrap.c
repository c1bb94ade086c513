/* SPDX-License-Identifier: MIT */
/* Every body parser of the bootstrap API (http/bootstrap_api.h: the
 * server's register / heartbeat / unregister bodies; http/bootstrap_client.h:
 * the client's challenge, ttl, peer and peers answers). The first byte picks
 * the parser, the rest is the body. A write that parses goes on to the
 * registry (dht/bootstrap.h), which must refuse it without a challenge it
 * issued and change nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/bootstrap_api.h"
#include "http/bootstrap_client.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_bootstrap *registry;

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

	if (!registry && um_bootstrap_create(&registry, NULL))
		abort();
	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 7) {
	case 0:
	case 1:
	case 2: {
		enum um_bootstrap_op op = (enum um_bootstrap_op)(data[0] % 7);
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
	}
	return 0;
}
