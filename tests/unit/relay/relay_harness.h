/* SPDX-License-Identifier: MIT */
/* Shared by the relay core test and benchmark: deterministic identities and
 * a helper that sends a (fragmented) REGISTER through the core. */
#ifndef UM_TEST_RELAY_HARNESS_H
#define UM_TEST_RELAY_HARNESS_H

#include <string.h>

#include "crypto/identity.h"
#include "relay/relay.h"
#include "wire/fragment.h"
#include "wire/relay.h"

static inline int harness_identity(struct um_identity *identity, unsigned n)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(n * 31 + i);
	seed[0] = (uint8_t)n;
	seed[1] = (uint8_t)(n >> 8);
	return um_identity_from_seed(identity, seed);
}

static inline struct um_addr harness_endpoint(unsigned host, uint16_t port)
{
	struct um_addr a = {.family = 4, .addr = {198, 51, (uint8_t)(100 + (host >> 8)), (uint8_t)host}, .port = port};
	return a;
}

/* Sends the registration of `identity` from `from` in FRAGMENTs (or whole
 * when whole is true); returns what the last input returned, out set. */
static inline int harness_register(struct um_relay *relay, const struct um_identity *identity,
				   const struct um_addr *from, uint64_t now_ns, uint64_t wall_ms, uint64_t timestamp_ms,
				   unsigned nonce_seed, bool include_key, const uint8_t *admission_key, bool whole,
				   struct um_relay_output *out)
{
	static uint8_t msg[UM_RELAY_REGISTER_MAX_BYTES];
	uint8_t piece[UM_HS_MAX_DATAGRAM];
	uint8_t nonce[UM_RELAY_NONCE_BYTES] = {0};
	memcpy(nonce, &nonce_seed, sizeof(nonce_seed));
	memcpy(nonce + 8, identity->id.bytes, 8);
	int len = um_relay_register_build(msg, sizeof(msg), identity, timestamp_ms, nonce, include_key, admission_key);
	if (len < 0)
		return len;
	if (whole)
		return um_relay_input(relay, from, msg, (size_t)len, now_ns, wall_ms, out);
	unsigned count = um_fragment_count((size_t)len);
	int rc = 0;
	for (unsigned i = 0; i < count; i++) {
		int n =
		    um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 0, nonce_seed, msg, (size_t)len, i);
		if (n < 0)
			return n;
		rc = um_relay_input(relay, from, piece, (size_t)n, now_ns, wall_ms, out);
	}
	return rc;
}

#endif
