/* SPDX-License-Identifier: MIT */
/* node/demux.c: which handler each first byte reaches, by route, for all
 * 256 values, against the registry in wire/types.h. */
#include "node/demux.h"
#include "test.h"
#include "wire/types.h"

static const char *expected(unsigned type, bool via_relay)
{
	if (type >= UM_TYPE_HELLO && type <= UM_TYPE_FRAGMENT_ACK)
		return "handshake";
	if (type >= UM_TYPE_RELAY_FIRST && type <= UM_TYPE_RELAY_LAST)
		return via_relay ? NULL : "relay"; /* a peer cannot speak for a relay */
	if (type >= UM_TYPE_PATH_FIRST && type <= UM_TYPE_PATH_LAST)
		return "path";
	if (type >= UM_TYPE_DHT_FIRST && type <= UM_TYPE_DHT_LAST)
		return via_relay ? NULL : "dht"; /* straight from the network only */
	return NULL;
}

static void test_every_type_both_routes(void)
{
	for (unsigned type = 0; type < 256; type++)
		for (int via_relay = 0; via_relay < 2; via_relay++) {
			const char *want = expected(type, via_relay),
				   *got = um_node_demux_route((uint8_t)type, via_relay);
			if (!want != !got || (want && strcmp(want, got) != 0))
				fprintf(stderr, "  type 0x%02x via_relay %d: %s, want %s\n", type, via_relay,
					got ? got : "drop", want ? want : "drop");
			CHECK(!want == !got);
			CHECK(!want || !got || strcmp(want, got) == 0);
		}
}

/* Reserved ranges and DATA (the data plane's own) reach no handler; DHT
 * only when it came straight from the network. */
static void test_reserved_ranges_dropped(void)
{
	static const unsigned ranges[][2] = {
	    {UM_TYPE_DATA_FIRST, UM_TYPE_DATA_LAST},
	    {UM_TYPE_MESSAGE_FIRST, UM_TYPE_MESSAGE_LAST},
	    {UM_TYPE_ONION_FIRST, UM_TYPE_ONION_LAST},
	    {UM_TYPE_SIGNALING_FIRST, UM_TYPE_SIGNALING_LAST},
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		for (unsigned t = ranges[i][0]; t <= ranges[i][1]; t++) {
			CHECK(um_node_demux_route((uint8_t)t, false) == NULL);
			CHECK(um_node_demux_route((uint8_t)t, true) == NULL);
		}
	CHECK(um_node_demux_route(0x00, false) == NULL);
	/* DHT: its own row, never through a relay. */
	for (unsigned t = UM_TYPE_DHT_FIRST; t <= UM_TYPE_DHT_LAST; t++) {
		CHECK(um_node_demux_route((uint8_t)t, false) != NULL);
		CHECK(um_node_demux_route((uint8_t)t, true) == NULL);
	}
}

/* The registry's ranges do not overlap and the named types sit inside. */
static void test_registry_ranges_disjoint(void)
{
	static const unsigned ranges[][2] = {
	    {UM_TYPE_HANDSHAKE_FIRST, UM_TYPE_HANDSHAKE_LAST},
	    {UM_TYPE_DATA_FIRST, UM_TYPE_DATA_LAST},
	    {UM_TYPE_RELAY_FIRST, UM_TYPE_RELAY_LAST},
	    {UM_TYPE_PATH_FIRST, UM_TYPE_PATH_LAST},
	    {UM_TYPE_DHT_FIRST, UM_TYPE_DHT_LAST},
	    {UM_TYPE_MESSAGE_FIRST, UM_TYPE_MESSAGE_LAST},
	    {UM_TYPE_ONION_FIRST, UM_TYPE_ONION_LAST},
	    {UM_TYPE_SIGNALING_FIRST, UM_TYPE_SIGNALING_LAST},
	};
	size_t n = sizeof(ranges) / sizeof(ranges[0]);

	for (size_t i = 0; i < n; i++) {
		CHECK(ranges[i][0] <= ranges[i][1]);
		for (size_t j = i + 1; j < n; j++)
			CHECK(ranges[i][1] < ranges[j][0] || ranges[j][1] < ranges[i][0]);
	}
	CHECK(UM_TYPE_FRAGMENT <= UM_TYPE_HANDSHAKE_LAST);
	CHECK(UM_TYPE_PATH_PROBE_REPLY <= UM_TYPE_PATH_LAST);
	CHECK(UM_TYPE_RELAY_ERROR <= UM_TYPE_RELAY_LAST);
}

int main(void)
{
	RUN(test_every_type_both_routes);
	RUN(test_reserved_ranges_dropped);
	RUN(test_registry_ranges_disjoint);
	return um_test_end();
}
