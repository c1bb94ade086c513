/* SPDX-License-Identifier: MIT */
/* The relay keys: [relay] section (relay-only and node + relay), relay =
 * lines in [node], defaults, and error messages naming file, line, key. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_TEST_FILE "r.conf"
#include "config_harness.h"

static void test_relay_only(void)
{
	char text[1024], err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	snprintf(text, sizeof(text),
		 "[relay]\n"
		 "listen = 203.0.113.2:3479\n"
		 "allow = %s, %s\n"
		 "admission-key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
		 "max-nodes = 1000\n"
		 "registration-timeout = 30s\n"
		 "keepalive-interval = 5\n"
		 "packets-per-second = 100\n"
		 "packet-burst = 10\n"
		 "bytes-per-second = 100000\n"
		 "byte-burst = 20000\n"
		 "verifications-per-second = 50\n"
		 "control-socket = /run/relay.sock\n"
		 "log-level = debug\n",
		 id_a, id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(!c.has_node);
	CHECK(c.relay.enabled);
	CHECK_EQ(c.relay.listen_port, 3479);
	CHECK_EQ(c.relay.listen.family, UM_ADDR_IPV4);
	CHECK_EQ(c.relay.n_allow, 2);
	CHECK(c.relay.has_admission_key);
	CHECK_EQ(c.relay.admission_key[31], 0x1f);
	CHECK_EQ(c.relay.max_nodes, 1000);
	CHECK_EQ(c.relay.registration_timeout_ms, 30000);
	CHECK_EQ(c.relay.keepalive_interval_ms, 5000);
	CHECK_EQ(c.relay.packets_per_s, 100);
	CHECK_EQ(c.relay.packet_burst, 10);
	CHECK_EQ(c.relay.bytes_per_s, 100000);
	CHECK_EQ(c.relay.byte_burst, 20000);
	CHECK_EQ(c.relay.verifications_per_s, 50);
	CHECK(!strcmp(c.control_socket, "/run/relay.sock"));
	CHECK_EQ(c.log_level, UM_LOG_DEBUG);
	um_config_free(&c);
	CHECK_EQ(c.relay.allow, NULL);

	/* Defaults: any address, port 51821, the core's limits, open admission. */
	CHECK_EQ(parse(&c, "[relay]\n", err), 0);
	CHECK_EQ(c.relay.listen.family, UM_ADDR_NONE);
	CHECK_EQ(c.relay.listen_port, UM_CONFIG_RELAY_PORT);
	CHECK_EQ(c.relay.max_nodes, 65536);
	CHECK_EQ(c.relay.keepalive_interval_ms, 25000);
	CHECK_EQ(c.relay.n_allow, 0);
	CHECK(!c.relay.has_admission_key);
	um_config_free(&c);
}

static void test_node_relays(void)
{
	char text[1024], err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	snprintf(text, sizeof(text),
		 "[node]\n"
		 "identity = /k\n"
		 "relay = 203.0.113.2:51821\n"
		 "relay = [2001:db8::1]:51821\n"
		 "relay-admission-key = 1111111111111111111111111111111111111111111111111111111111111111\n"
		 "relay-keepalive = 10s\n"
		 "[relay]\n"
		 "listen-port = 4000\n"
		 "[peer \"b\"]\n"
		 "id = %s\n"
		 "allowed-ips = 100.64.0.2/32\n",
		 id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(c.has_node);
	CHECK(c.relay.enabled);
	CHECK_EQ(c.relay.listen_port, 4000);
	CHECK_EQ(c.n_relays, 2);
	CHECK_EQ(c.relays[1].family, UM_ADDR_IPV6);
	CHECK(c.has_relay_admission_key);
	CHECK_EQ(c.relay_keepalive_ms, 10000);
	CHECK_EQ(c.peers[0].endpoint.family, UM_ADDR_NONE); /* reached through a relay */
	um_config_free(&c);
	/* Without [relay], a node is no relay. */
	CHECK_EQ(parse(&c, "[node]\nidentity = /k\n", err), 0);
	CHECK(!c.relay.enabled);
	CHECK_EQ(c.n_relays, 0);
	um_config_free(&c);
}

static void test_errors(void)
{
	char text[512], msg[512];

	expect_error("[relay]\nlisten = 203.0.113.2\n",
		     "r.conf:2: key 'listen': '203.0.113.2' is not IPv4:port or [IPv6]:port");
	expect_error("[relay]\nlisten = 203.0.113.2:1\nlisten-port = 5\n",
		     "r.conf:3: key 'listen-port': give either listen or listen-port");
	expect_error("[relay]\nlisten-port = 0\n", "r.conf:2: key 'listen-port': '0' is not a port number (1-65535)");
	expect_error("[relay]\nallow = umbra1nonsense\n", "r.conf:2: key 'allow': 'umbra1nonsense' is not a peer ID");
	snprintf(text, sizeof(text), "[relay]\nallow = %s\nallow = %s\n", id_a, id_a);
	snprintf(msg, sizeof(msg), "r.conf:3: key 'allow': '%s' listed twice", id_a);
	expect_error(text, msg);
	expect_error("[relay]\nadmission-key = 00ff\n", "r.conf:2: key 'admission-key': not a key of 64 hex digits");
	expect_error("[relay]\nmax-nodes = 0\n",
		     "r.conf:2: key 'max-nodes': '0' is not a number between 1 and 16777216");
	expect_error("[relay]\nkeepalive-interval = 500ms\n",
		     "r.conf:2: key 'keepalive-interval': between 1 s and 1 h");
	expect_error("[relay]\nregistration-timeout = 1s\n",
		     "r.conf:2: key 'registration-timeout': between 2 s and 65535 s");
	expect_error("[relay]\nbogus = 1\n", "r.conf:2: key 'bogus': unknown key in [relay]");
	expect_error("[relay]\n[relay]\n", "r.conf:2: duplicate [relay] section");
	expect_error("[node]\nidentity = /k\ncontrol-socket = /a\n[relay]\ncontrol-socket = /b\n",
		     "r.conf:5: key 'control-socket': already given in [node]");
	expect_error("[relay]\nlog-level = info\n[node]\nidentity = /k\nlog-level = info\n",
		     "r.conf:5: key 'log-level': already given in [relay]");
	expect_error("[node]\nidentity = /k\nrelay = 203.0.113.2\n",
		     "r.conf:3: key 'relay': '203.0.113.2' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity = /k\nrelay = 203.0.113.2:1\nrelay = 203.0.113.2:1\n",
		     "r.conf:4: key 'relay': '203.0.113.2:1' listed twice");
	expect_error("[node]\nidentity = /k\nrelay-keepalive = 100ms\n",
		     "r.conf:3: key 'relay-keepalive': at least 1 s");
	snprintf(text, sizeof(text), "[relay]\n[peer \"x\"]\nid = %s\n", id_a);
	expect_error(text, "r.conf:2: [peer \"x\"] needs a [node] section");
	expect_error("", "r.conf: missing [node] section");
	/* Nine relays: one too many. */
	char many[1024] = "[node]\nidentity = /k\n";
	for (int i = 1; i <= 9; i++) {
		char line[64];
		snprintf(line, sizeof(line), "relay = 203.0.113.%d:1\n", i);
		strcat(many, line);
	}
	expect_error(many, "r.conf:11: key 'relay': more than 8 relays");
}

static void test_tls(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c,
		       "[relay]\nlisten = 203.0.113.2:3479\nlisten-tls = 203.0.113.3:443\n"
		       "tls-certificate = /etc/umbra/relay.crt\ntls-key = /etc/umbra/relay.key\n"
		       "tls-max-connections = 64\n",
		       err),
		 0);
	CHECK_EQ(c.relay.listen_tls.family, UM_ADDR_IPV4);
	CHECK_EQ(c.relay.listen_tls.port, 443);
	CHECK(!strcmp(c.relay.tls_certificate, "/etc/umbra/relay.crt"));
	CHECK(!strcmp(c.relay.tls_key, "/etc/umbra/relay.key"));
	CHECK_EQ(c.relay.tls_max_connections, 64);
	um_config_free(&c);
	/* Defaults: no TLS listener; with one and no files: self-signed. */
	CHECK_EQ(parse(&c, "[relay]\n", err), 0);
	CHECK_EQ(c.relay.listen_tls.family, UM_ADDR_NONE);
	CHECK_EQ(c.relay.tls_max_connections, 1024);
	um_config_free(&c);
	CHECK_EQ(parse(&c, "[relay]\nlisten-tls = [2001:db8::3]:8443\n", err), 0);
	CHECK_EQ(c.relay.listen_tls.family, UM_ADDR_IPV6);
	CHECK_EQ(c.relay.tls_certificate[0], 0);
	um_config_free(&c);

	/* Nodes: wss:// relays next to UDP ones, the same address on both. */
	CHECK_EQ(parse(&c,
		       "[node]\nidentity = /k\nrelay = 203.0.113.3:443\nrelay = wss://203.0.113.3:443\n"
		       "relay = wss://[2001:db8::3]:443\nrelay-ca = /etc/umbra/relays.pem\n",
		       err),
		 0);
	CHECK(!strcmp(c.relay_ca, "/etc/umbra/relays.pem"));
	CHECK_EQ(c.n_relays, 3);
	CHECK(!c.relay_tls[0]);
	CHECK(c.relay_tls[1]);
	CHECK(c.relay_tls[2]);
	CHECK_EQ(c.relays[1].port, 443);
	CHECK_EQ(c.relays[2].family, UM_ADDR_IPV6);
	um_config_free(&c);

	expect_error("[node]\nidentity = /k\nrelay-ca = /a\nrelay-ca = /b\n",
		     "r.conf:4: key 'relay-ca': given twice in this section");
	expect_error("[relay]\nlisten-tls = 203.0.113.3\n",
		     "r.conf:2: key 'listen-tls': '203.0.113.3' is not IPv4:port or [IPv6]:port");
	expect_error("[relay]\nlisten-tls = 203.0.113.3:0\n",
		     "r.conf:2: key 'listen-tls': '203.0.113.3:0' is not IPv4:port or [IPv6]:port");
	expect_error("[relay]\nlisten-tls = 203.0.113.3:443\nlisten-tls = 203.0.113.3:444\n",
		     "r.conf:3: key 'listen-tls': given twice in this section");
	expect_error("[relay]\nlisten-tls = 203.0.113.3:443\ntls-certificate = /c\n",
		     "r.conf: [relay]: key 'tls-key': required with the other TLS keys");
	expect_error("[relay]\nlisten-tls = 203.0.113.3:443\ntls-key = /k\n",
		     "r.conf: [relay]: key 'tls-certificate': required with the other TLS keys");
	expect_error("[relay]\ntls-certificate = /c\ntls-key = /k\n",
		     "r.conf: [relay]: key 'listen-tls': required with the other TLS keys");
	expect_error("[relay]\ntls-max-connections = 0\n",
		     "r.conf:2: key 'tls-max-connections': '0' is not a number between 1 and 1048576");
	expect_error("[node]\nidentity = /k\nrelay = wss://203.0.113.3\n",
		     "r.conf:3: key 'relay': 'wss://203.0.113.3' is not wss://IPv4:port or wss://[IPv6]:port");
	expect_error("[node]\nidentity = /k\nrelay = wss://203.0.113.3:443/path\n",
		     "r.conf:3: key 'relay': 'wss://203.0.113.3:443/path' is not wss://IPv4:port or wss://[IPv6]:port");
	expect_error(
	    "[node]\nidentity = /k\nrelay = ws://203.0.113.3:80\n",
	    "r.conf:3: key 'relay': 'ws://203.0.113.3:80': only wss:// (TLS) or a plain UDP IPv4:port / [IPv6]:port");
	expect_error("[node]\nidentity = /k\nrelay = wss://203.0.113.3:443\nrelay = wss://203.0.113.3:443\n",
		     "r.conf:4: key 'relay': 'wss://203.0.113.3:443' listed twice");
}

int main(void)
{
	make_ids();
	RUN(test_relay_only);
	RUN(test_node_relays);
	RUN(test_errors);
	RUN(test_tls);
	return um_test_end();
}
