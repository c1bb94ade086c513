/* SPDX-License-Identifier: MIT */
/* Relay wire decoders (version 3) and the relay core on arbitrary
 * datagrams: never crash, accepted messages re-encode to the same bytes,
 * and the core never emits an unsealed reply larger than what caused it
 * (a handshake's CHALLENGE is the engine's, bounded by its own HELLO
 * padding and cookies; random input cannot carry a valid mac1 anyway). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "relay/relay.h"
#include "util/error.h"
#include "wire/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_relay relay;
static struct um_identity identity;
static int relay_ready;

static void round_trips(const uint8_t *data, size_t size)
{
	uint8_t out[UM_RELAY_MAX_DATAGRAM];
	static const uint8_t key[UM_RELAY_KEY_BYTES] = {1};
	struct um_relay_id_msg id;
	struct um_relay_control c;
	struct um_relay_forward f;
	struct um_relay_error e;
	uint32_t index;
	uint64_t counter, handle;
	int n;

	if (um_relay_id_decode(&id, data, size) == 0) {
		n = um_relay_id_encode(out, sizeof(out), &id);
		if (n != (int)size || memcmp(out, data, size))
			abort();
	}
	if (size >= UM_RELAY_CONTROL_BYTES && um_relay_control_decode(&c, data) == 0) {
		if (um_relay_control_encode(out, &c) != 0 || memcmp(out, data, UM_RELAY_CONTROL_BYTES))
			abort();
	}
	if (um_relay_sealed_header(data, size, &index, &counter) == 0)
		(void)um_relay_sealed_open(&c, data, size, key);
	for (uint8_t type = UM_MSG_RELAY_FORWARD; type <= UM_MSG_RELAY_FORWARDED; type++) {
		if (um_relay_forward_decode(&f, type, data, size) == 0) {
			n = um_relay_forward_encode(out, sizeof(out), type, &f);
			if (n != (int)size || memcmp(out, data, size))
				abort();
			if (um_relay_route_handle(&f.peer, &handle) == 0) {
				struct um_peer_id route;
				um_relay_route_set(&route, handle);
				if (memcmp(route.bytes, f.peer.bytes, sizeof(route.bytes)))
					abort();
			}
		}
	}
	if (um_relay_error_decode(&e, data, size) == 0) {
		n = um_relay_error_encode(out, sizeof(out), &e);
		if (n != (int)size || memcmp(out, data, size))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_relay_output out;
	static uint64_t now = 1000000000ULL;

	round_trips(data, size);
	if (!relay_ready) {
		struct um_relay_config c;
		uint8_t seed[UM_HSIG_SEED_BYTES] = {7};
		if (um_identity_from_seed(&identity, seed) != 0)
			abort();
		um_relay_default_config(&c);
		c.max_nodes = 256;
		c.identity = &identity;
		if (um_relay_init(&relay, &c) != 0)
			abort();
		relay_ready = 1;
	}
	if (size == 0 || size > UM_RELAY_MAX_DATAGRAM + 64)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct um_addr from = {.family = 4, .addr = {198, 51, 100, data[0]}, .port = 4000};
	now += 1000000;
	if (um_relay_input(&relay, &from, copy, size, now, 1700000000000ULL, &out) == 1) {
		if (!out.data || out.len == 0 || out.count == 0)
			abort();
		for (unsigned k = 0; k < out.count; k++)
			if (out.lengths[k] > size && data[0] != UM_MSG_RELAY_HANDSHAKE &&
			    out.datagrams[k][0] != UM_MSG_RELAY_SEALED)
				abort();
	}
	free(copy);
	(void)um_relay_expire(&relay, now, 1700000000000ULL, 16);
	return 0;
}
