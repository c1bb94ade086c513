/* SPDX-License-Identifier: MIT */
/* Relay wire decoders and the relay core on arbitrary datagrams: never
 * crash, accepted messages re-encode to the same bytes, and the core never
 * emits a reply larger than what caused it (except REGISTER_ACK, which only
 * a verified registration earns; random input cannot forge one). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay.h"
#include "util/error.h"
#include "wire/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_relay relay;
static int relay_ready;

static void round_trips(const uint8_t *data, size_t size)
{
	uint8_t out[UM_RELAY_MAX_DATAGRAM];
	struct um_relay_register reg;
	struct um_relay_register_ack ack;
	struct um_relay_keepalive k;
	struct um_relay_forward f;
	struct um_relay_error e;
	int n;

	(void)um_relay_register_decode(&reg, data, size);
	if (um_relay_register_ack_decode(&ack, data, size) == 0) {
		n = um_relay_register_ack_encode(out, sizeof(out), &ack, NULL);
		if (n != (int)size || memcmp(out, data, size))
			abort();
	}
	if (um_relay_keepalive_decode(&k, data, size) == 0) {
		n = um_relay_keepalive_encode(out, sizeof(out), &k, NULL);
		if (n != (int)size || memcmp(out, data, size))
			abort();
	}
	for (uint8_t type = UM_MSG_RELAY_FORWARD; type <= UM_MSG_RELAY_FORWARDED; type++) {
		if (um_relay_forward_decode(&f, type, data, size) == 0) {
			n = um_relay_forward_encode(out, sizeof(out), type, &f);
			if (n != (int)size || memcmp(out, data, size))
				abort();
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
		um_relay_default_config(&c);
		c.max_nodes = 256;
		if (um_relay_init(&relay, &c) != 0)
			abort();
		relay_ready = 1;
	}
	if (size == 0 || size > UM_RELAY_REGISTER_MAX_BYTES)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct um_addr from = {.family = 4, .addr = {198, 51, 100, data[0]}, .port = 4000};
	now += 1000000;
	if (um_relay_input(&relay, &from, copy, size, now, 1700000000000ULL, &out) == 1) {
		/* (A FRAGMENT completing a REGISTER may be smaller than its answer.) */
		if (out.len > size && data[0] != UM_MSG_FRAGMENT && out.data[0] != UM_MSG_RELAY_REGISTER_ACK)
			abort();
		if (!out.data || out.len == 0)
			abort();
	}
	free(copy);
	(void)um_relay_expire(&relay, now, 16);
	return 0;
}
