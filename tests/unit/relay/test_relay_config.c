/* SPDX-License-Identifier: MIT */
/* The relay identity lines (ctl/config_keys.c): [relay] identity, and a
 * node's relay = [wss://][ID@]HOST:PORT, pinned or learned on first
 * contact; a bad ID is an error naming file, line and key. */
#define CONFIG_TEST_FILE "r.conf"

#include "../ctl/config_harness.h"

static void test_pinned_and_learned(void)
{
	char text[1024], err[UM_CONFIG_ERROR_MAX];
	struct um_config c;
	struct um_peer_id a, b;

	CHECK_EQ(um_peer_id_parse(&a, id_a), 0);
	CHECK_EQ(um_peer_id_parse(&b, id_b), 0);
	snprintf(text, sizeof(text),
		 "[node]\n"
		 "identity = /k\n"
		 "relay = %s@203.0.113.2:51821\n"
		 "relay = 203.0.113.3:51821\n"
		 "relay = wss://%s@[2001:db8::1]:443\n"
		 "relay = wss://203.0.113.4:443\n"
		 "[relay]\n"
		 "identity = /etc/umbra/relay.key\n",
		 id_a, id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK_EQ(c.n_relays, 4);
	CHECK(c.relay_has_id[0]);
	CHECK_MEM(c.relay_ids[0].bytes, a.bytes, UM_PEER_ID_BYTES);
	CHECK_EQ(c.relays[0].port, 51821);
	CHECK(!c.relay_has_id[1]);
	CHECK(c.relay_has_id[2]);
	CHECK(c.relay_tls[2]);
	CHECK_MEM(c.relay_ids[2].bytes, b.bytes, UM_PEER_ID_BYTES);
	CHECK_EQ(c.relays[2].family, UM_ADDR_IPV6);
	CHECK(!c.relay_has_id[3]);
	CHECK(c.relay_tls[3]);
	CHECK(!strcmp(c.relay.identity_path, "/etc/umbra/relay.key"));
	um_config_free(&c);

	/* No [relay] identity: empty (a new one each start). */
	CHECK_EQ(parse(&c, "[relay]\nlisten-port = 4000\n", err), 0);
	CHECK_EQ(c.relay.identity_path[0], 0);
	um_config_free(&c);
}

static void test_bad_ids(void)
{
	char text[512], typo[UM_PEER_ID_TEXT_MAX];

	/* One character changed: the checksum catches it. */
	snprintf(typo, sizeof(typo), "%s", id_a);
	typo[10] = typo[10] == 'q' ? 'p' : 'q';
	snprintf(text, sizeof(text), "[node]\nidentity = /k\nrelay = %s@203.0.113.2:51821\n", typo);
	char expected[512];
	snprintf(expected, sizeof(expected), "r.conf:3: key 'relay': relay peer ID '%s': checksum mismatch (a typo?)",
		 typo);
	expect_error(text, expected);
	snprintf(text, sizeof(text), "[node]\nidentity = /k\nrelay = wss://%s@203.0.113.2:443\n", typo);
	expect_error(text, expected);
	expect_error("[node]\nidentity = /k\nrelay = nonsense@203.0.113.2:51821\n",
		     "r.conf:3: key 'relay': 'nonsense' is not a relay peer ID (invalid argument or malformed input)");
	/* The address after a good ID is still checked. */
	snprintf(text, sizeof(text), "[node]\nidentity = /k\nrelay = %s@203.0.113.2\n", id_a);
	char msg[512];
	snprintf(msg, sizeof(msg), "r.conf:3: key 'relay': '%s@203.0.113.2' is not IPv4:port or [IPv6]:port", id_a);
	expect_error(text, msg);
}

int main(void)
{
	make_ids();
	RUN(test_pinned_and_learned);
	RUN(test_bad_ids);
	return um_test_end();
}
