/* SPDX-License-Identifier: MIT */
/* The relay client engine (relay/client.h) on arbitrary datagrams from its
 * relay, in every state it reaches by itself (asking the relay's ID,
 * handshaking): never crash, never register on junk, and every datagram it
 * emits is a relay message of its own kinds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "relay/client.h"
#include "util/error.h"
#include "wire/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_identity identity;
static struct um_relay_client client;
static struct um_relay_client_output out;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now = 1000000000ULL;
	const uint64_t wall = 1700000000000ULL;

	if (!ready) {
		uint8_t seed[UM_HSIG_SEED_BYTES] = {9};
		struct um_relay_client_config cc = {
		    .identity = &identity, .n_uplinks = 2, .has_relay_id = {true, false}};
		if (um_identity_from_seed(&identity, seed) != 0)
			abort();
		cc.relay_id[0].bytes[0] = 1; /* pinned (to nobody real) */
		if (um_relay_client_init(&client, &cc) != 0)
			abort();
		um_relay_client_start(&client, now);
		ready = 1;
	}
	now += 7000000; /* 7 ms a datagram: timers fire now and then */
	if (size > 0)
		(void)um_relay_client_input(&client, data[0] & 1, data + 1, size - 1, now, wall);
	for (unsigned guard = 0; guard < 64 && um_relay_client_tick(&client, now, wall, &out) > 0; guard++)
		for (unsigned k = 0; k < out.n_datagrams; k++) {
			uint8_t t = out.datagrams[k][0];
			if (out.lengths[k] == 0 || out.lengths[k] > UM_RELAY_CLIENT_DATAGRAM_BYTES ||
			    (t != UM_MSG_RELAY_ID && t != UM_MSG_RELAY_HANDSHAKE && t != UM_MSG_RELAY_SEALED))
				abort();
		}
	/* Random bytes never complete a handshake with a pinned relay. */
	if (client.uplinks[0].state == UM_RELAY_CLIENT_REGISTERED)
		abort();
	return 0;
}
