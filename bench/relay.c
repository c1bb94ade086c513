/* SPDX-License-Identifier: MIT */
/* bench-relay: forwarding decisions per second of the relay core in memory
 * (no sockets): FORWARD in, FORWARDED out, among registered nodes, with
 * rate limits on (set high enough not to drop). One thread = one core.
 * Also prints the table memory per registered node. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "../tests/unit/relay/relay_harness.h"
#include "util/clock.h"

enum { NODES = 1024, PAYLOAD = 100 };

int main(int argc, char **argv)
{
	static struct um_relay relay;
	struct um_relay_config c;
	struct um_relay_output out;
	struct um_identity *ids = calloc(NODES, sizeof(*ids));
	struct um_addr *endpoints = calloc(NODES, sizeof(*endpoints));
	uint64_t packets = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000ULL;
	uint64_t wall = um_wall_ms();

	if (!ids || !endpoints || sodium_init() < 0)
		return 1;
	um_relay_default_config(&c);
	c.packets_per_s = 1000000000u;
	c.packet_burst = 1000000u;
	c.bytes_per_s = 4000000000u;
	c.byte_burst = 100000000u;
	c.verifications_per_s = 1000000u;
	c.verification_burst = 1000000u;
	c.prefix_verifications_per_s = 1000000u; /* every node is in one /24 */
	c.prefix_verification_burst = 1000000u;
	static struct um_identity relay_identity;
	if (harness_identity(&relay_identity, 60000) < 0)
		return 1;
	c.identity = &relay_identity;
	if (um_relay_init(&relay, &c) < 0)
		return 1;

	/* Registrations are handshakes: the relay's part (a CHALLENGE: KEM
	 * keygen and signature; a RESPONSE: decapsulation and verification)
	 * is what the rate measures, plus the node's half, which runs here
	 * too (the same thread), so the relay alone does about twice this. */
	uint64_t t0 = um_now_ns();
	for (unsigned i = 0; i < NODES; i++) {
		if (harness_identity(&ids[i], i) < 0)
			return 1;
		endpoints[i] = harness_endpoint(i, (uint16_t)(20000 + i));
		struct harness_node *n = harness_node_new(&ids[i], &relay_identity.id, &endpoints[i], NULL);
		if (!n || harness_register(&relay, n, um_now_ns(), um_wall_ms()) != 0) {
			fprintf(stderr, "registration %u failed\n", i);
			return 1;
		}
		harness_node_free(n);
	}
	uint64_t t1 = um_now_ns();
	printf("registered %u nodes (handshake with the relay, node side included) in %.2f s: %.0f registrations/s\n",
	       NODES, (double)(t1 - t0) / 1e9, NODES / ((double)(t1 - t0) / 1e9));
	printf("the relay's share: %.2f s in um_relay_input = %.0f registrations/s per relay core\n",
	       (double)harness_relay_ns / 1e9, NODES / ((double)harness_relay_ns / 1e9));

	/* Pre-built FORWARDs, one per source; the core rewrites the header in
	 * place, so restore type and destination before each use. */
	static uint8_t datagrams[NODES][UM_RELAY_FORWARD_HEADER_BYTES + PAYLOAD];
	static uint64_t handles[NODES]; /* each source's handle for its destination */
	for (unsigned i = 0; i < NODES; i++) {
		uint8_t payload[PAYLOAD] = {0};
		handles[i] = harness_handle(&relay, &ids[i].id, &ids[(i * 7 + 1) % NODES].id);
		if (!handles[i] ||
		    harness_forward(datagrams[i], sizeof(datagrams[i]), handles[i], payload, PAYLOAD) < 0)
			return 1;
	}
	uint64_t forwarded = 0, now = um_now_ns();
	t0 = now;
	for (uint64_t p = 0; p < packets; p++) {
		unsigned src = (unsigned)(p * 2654435761u) % NODES;
		uint8_t *d = datagrams[src];
		d[0] = UM_MSG_RELAY_FORWARD;
		struct um_peer_id route;
		um_relay_route_set(&route, handles[src]);
		memcpy(d + 4, route.bytes, UM_PEER_ID_BYTES);
		if ((p & 63) == 0)
			now = um_now_ns();
		forwarded += um_relay_input(&relay, &endpoints[src], d, sizeof(datagrams[src]), now, wall, &out) == 1 &&
			     d[0] == UM_MSG_RELAY_FORWARDED;
	}
	t1 = um_now_ns();
	double secs = (double)(t1 - t0) / 1e9;
	printf(
	    "forwarding core: %llu packets in %.2f s = %.2f M decisions/s on one core (%llu forwarded, %.0f ns each)\n",
	    (unsigned long long)packets, secs, (double)packets / secs / 1e6, (unsigned long long)forwarded,
	    secs * 1e9 / (double)packets);
	printf("memory: %zu bytes of tables for %u node slots = %zu bytes per registered node (goal <= 2048)\n",
	       um_relay_memory_bytes(&relay), c.max_nodes, um_relay_memory_bytes(&relay) / c.max_nodes);
	printf("drops: rate %llu/%llu unknown %llu not-registered %llu\n",
	       (unsigned long long)relay.stats.drop_rate_limited_packets,
	       (unsigned long long)relay.stats.drop_rate_limited_bytes,
	       (unsigned long long)relay.stats.drop_unknown_peer, (unsigned long long)relay.stats.drop_not_registered);
	um_relay_destroy(&relay);
	for (unsigned i = 0; i < NODES; i++)
		um_identity_wipe(&ids[i]);
	free(ids);
	free(endpoints);
	return forwarded == packets ? 0 : 1;
}
