/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/control.h"

#define CONFIG_TEST_FILE "t.conf"
#include "config_harness.h"

static void test_full(void)
{
	char text[2048], err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "[node]\n"
		 "identity = /etc/umbra/node.key\n"
		 "listen-port=51820\n"
		 "  device =  um0  \n"
		 "mode = tap\n"
		 "address = 100.64.0.1/24\n"
		 "control-socket = /run/um/test.sock\n"
		 "log-level = debug\n"
		 "mtu = 1400\n"
		 "heartbeat-interval = 500ms\n"
		 "rekey-interval = 2\n"
		 "busy-poll-us = 0\n"
		 "quiet-cpu = 1\n"
		 "\n"
		 "; another comment\n"
		 "[peer \"alpha\"]\n"
		 "id = %s\n"
		 "endpoint = 198.51.100.2:51821\n"
		 "allowed-ips = 100.64.0.2/32, 203.0.113.0/24\n"
		 "allowed-ips = fd00::/64\n"
		 "keepalive = 25\n"
		 "[peer \"beta\"]\n"
		 "id = %s\n"
		 "endpoint = [2001:db8::1]:7\n",
		 id_a, id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(!strcmp(c.identity_path, "/etc/umbra/node.key"));
	CHECK_EQ(c.listen_port, 51820);
	CHECK(!strcmp(c.device, "um0"));
	CHECK_EQ(c.mode, UM_MODE_TAP);
	CHECK(c.has_address && c.address.family == UM_ADDR_IPV4 && c.address.len == 24);
	CHECK(!strcmp(c.control_socket, "/run/um/test.sock"));
	CHECK_EQ(c.log_level, UM_LOG_DEBUG);
	CHECK_EQ(c.mtu, 1400);
	CHECK_EQ(c.heartbeat_ms, 500);
	CHECK_EQ(c.rekey_ms, 2000);
	CHECK_EQ(c.busy_poll_us, 0);
	CHECK(c.gather);
	CHECK_EQ(c.gather_cpu, 1);
	CHECK_EQ(c.n_peers, 2);
	if (c.n_peers == 2) {
		struct um_peer_id expect;
		char ep[64];
		CHECK(!strcmp(c.peers[0].name, "alpha"));
		CHECK_EQ(um_peer_id_parse(&expect, id_a), 0);
		CHECK_MEM(&c.peers[0].id, &expect, sizeof(expect));
		CHECK_EQ(c.peers[0].n_allowed_ips, 3);
		CHECK_EQ(c.peers[0].keepalive_s, 25);
		CHECK_EQ(um_addr_format(&c.peers[0].endpoint, ep, sizeof(ep)), 0);
		CHECK(!strcmp(ep, "198.51.100.2:51821"));
		CHECK_EQ(um_addr_format(&c.peers[1].endpoint, ep, sizeof(ep)), 0);
		CHECK(!strcmp(ep, "[2001:db8::1]:7"));
		CHECK_EQ(c.peers[1].n_allowed_ips, 0);
	}
	um_config_free(&c);
	CHECK_EQ(c.n_peers, 0);
}

static void test_defaults(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c, "[node]\nidentity=k", err), 0); /* no final newline */
	CHECK_EQ(c.mode, UM_MODE_TUN);
	CHECK_EQ(c.rekey_ms, 120000);
	CHECK(!strcmp(c.control_socket, UM_CONFIG_DEFAULT_SOCKET));
	CHECK_EQ(c.busy_poll_us, UM_CONFIG_DEFAULT_BUSY_POLL_US);
	CHECK(c.gather);
	CHECK_EQ(c.gather_cpu, 0);
	um_config_free(&c);
	CHECK_EQ(parse(&c, "[node]\nidentity=k\nquiet-cpu = none\nbusy-poll-us = 2000\n", err), 0);
	CHECK(!c.gather);
	CHECK_EQ(c.busy_poll_us, 2000);
	um_config_free(&c);
}

/* Each bad input must fail with exactly this message. */
static void test_errors(void)
{
	char text[1024], msg[512];

	expect_error("[node]\nidentity=k\nbogus = 1\n", "t.conf:3: key 'bogus': unknown key in [node]");
	expect_error("[nodes]\n", "t.conf:1: unknown section [nodes]");
	expect_error("[node\n", "t.conf:1: malformed section header (missing ']')");
	expect_error("identity=k\n", "t.conf:1: key 'identity': outside any section (start with [node])");
	expect_error("[node]\nidentity=k\nidentity=j\n", "t.conf:3: key 'identity': given twice in this section");
	expect_error("[node]\nidentity=k\n[node]\n", "t.conf:3: duplicate [node] section");
	expect_error("[node]\nlisten-port = 70000\n",
		     "t.conf:2: key 'listen-port': '70000' is not a port number (0-65535)");
	expect_error("[node]\nlisten-port = -1\n", "t.conf:2: key 'listen-port': '-1' is not a port number (0-65535)");
	expect_error("[node]\nmode = tan\n", "t.conf:2: key 'mode': 'tan' is not tun or tap");
	expect_error("[node]\naddress = 10.0.0.1/33\n",
		     "t.conf:2: key 'address': '10.0.0.1/33' is not an address/prefix");
	expect_error("[node]\nrekey-interval = 0\n",
		     "t.conf:2: key 'rekey-interval': '0' is not a duration (e.g. 15, 15s, 500ms, 2m; at most 1 day)");
	expect_error("[node]\ncontrol-socket = rel.sock\n", "t.conf:2: key 'control-socket': must be an absolute path");
	expect_error("[node]\nmtu =\n", "t.conf:2: key 'mtu': empty value");
	expect_error("[node]\nbusy-poll-us = 2001\n",
		     "t.conf:2: key 'busy-poll-us': '2001' is not a number of microseconds from 0 to 2000");
	expect_error("[node]\nbusy-poll-us = 5ms\n",
		     "t.conf:2: key 'busy-poll-us': '5ms' is not a number of microseconds from 0 to 2000");
	expect_error("[node]\nquiet-cpu = -1\n",
		     "t.conf:2: key 'quiet-cpu': '-1' is not a CPU number (0-1023) or none");
	expect_error("[node]\nquiet-cpu = 1024\n",
		     "t.conf:2: key 'quiet-cpu': '1024' is not a CPU number (0-1023) or none");
	expect_error("[node]\njust text\n", "t.conf:2: expected 'key = value' or '[section]'");
	expect_error("[node]\n", "t.conf: [node]: key 'identity': required");
	expect_error("", "t.conf: missing [node] section");
	expect_error("[node]\nidentity=k\n[peer]\n", "t.conf:3: peer section needs a name: [peer \"name\"]");
	expect_error("[node]\nidentity=k\n[peer a]\n", "t.conf:3: peer name must be quoted: [peer \"name\"]");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nendpoint=1.2.3.4:5\n",
		     "t.conf:3: [peer \"a\"]: key 'id': required");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nid = nonsense\n",
		     "t.conf:4: key 'id': not a peer ID (invalid argument or malformed input)");

	/* A one-character typo in a peer ID is caught by the checksum. */
	snprintf(text, sizeof(text), "[node]\nidentity=k\n[peer \"a\"]\nid = %s\n", id_a);
	char *p = strstr(text, id_a) + 10;
	*p = *p == 'a' ? 'b' : 'a';
	int r = um_config_parse_buffer(&(struct um_config){0}, text, strlen(text), "t.conf", msg, sizeof(msg));
	CHECK(r == -UM_ECONFIG);
	CHECK(strstr(msg, "t.conf:4: key 'id': ") == msg);

	snprintf(text, sizeof(text), "[node]\nidentity=k\n[peer \"a\"]\nid=%s\n[peer \"b\"]\nid=%s\n", id_a, id_a);
	expect_error(text, "t.conf:6: key 'id': same ID as peer \"a\"");
	snprintf(text, sizeof(text), "[node]\nidentity=k\n[peer \"a\"]\nid=%s\n[peer \"a\"]\n", id_a);
	expect_error(text, "t.conf:5: duplicate peer \"a\" (first at line 3)");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nallowed-ips = 10.0.0.0/8, 10.1.0.0/8\n",
		     "t.conf:4: key 'allowed-ips': '10.1.0.0/8' listed twice");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nallowed-ips = 10.0.0.0/8,\n",
		     "t.conf:4: key 'allowed-ips': trailing comma");
	expect_error(
	    "[node]\nidentity=k\n[peer \"a\"]\nallowed-ips = 10.0.0.0/8\n[peer \"b\"]\nallowed-ips=10.0.0.0/8\n",
	    "t.conf:6: key 'allowed-ips': '10.0.0.0/8' already belongs to peer \"a\"");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nendpoint = ::1:5\n",
		     "t.conf:4: key 'endpoint': '::1:5' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nendpoint = 1.2.3.4:0\n",
		     "t.conf:4: key 'endpoint': '1.2.3.4:0' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nendpoint = host.example:5\n",
		     "t.conf:4: key 'endpoint': 'host.example:5' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity=k\n[peer \"a\"]\nkeepalive = 1e3\n",
		     "t.conf:4: key 'keepalive': '1e3' is not a number of seconds (0-3600)");
	expect_error("[node]\nid\0entity=k\n",
		     "t.conf:2: expected 'key = value' or '[section]'"); /* strlen stops at NUL */
	{
		static const char nul[] = "[node]\nid\0x=k\n";
		struct um_config c;
		CHECK_EQ(um_config_parse_buffer(&c, nul, sizeof(nul) - 1, "t.conf", msg, sizeof(msg)), -UM_ECONFIG);
		CHECK(!strcmp(msg, "t.conf:2: NUL byte in line"));
	}
}

static void test_small_parsers(void)
{
	struct um_addr_prefix cidr;
	uint64_t ms;
	uint8_t a[4] = {10, 1, 2, 3};
	char out[64];

	CHECK_EQ(um_addr_prefix_parse(&cidr, "10.1.0.0/16", true), 0);
	CHECK(um_addr_prefix_contains_bytes(&cidr, UM_ADDR_IPV4, a));
	a[1] = 2;
	CHECK(!um_addr_prefix_contains_bytes(&cidr, UM_ADDR_IPV4, a));
	CHECK_EQ(um_addr_prefix_parse(&cidr, "0.0.0.0/0", true), 0);
	CHECK(um_addr_prefix_contains_bytes(&cidr, UM_ADDR_IPV4, a));
	CHECK_EQ(um_addr_prefix_parse(&cidr, "10.1.0.7/13", true), 0);
	CHECK_EQ(um_addr_prefix_format(&cidr, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "10.1.0.7/13"));
	CHECK(um_addr_prefix_parse(&cidr, "10.1.0.0/", true) != 0);
	CHECK(um_addr_prefix_parse(&cidr, "/8", true) != 0);
	CHECK(um_addr_prefix_parse(&cidr, "fd00::/129", true) != 0);
	CHECK_EQ(um_addr_prefix_parse(&cidr, "fd00::1", true), 0);
	CHECK_EQ(cidr.len, 128);
	CHECK_EQ(um_duration_parse("2m", &ms), 0);
	CHECK_EQ(ms, 120000);
	CHECK(um_duration_parse("2h", &ms) != 0);
	CHECK(um_duration_parse("", &ms) != 0);
	CHECK(um_duration_parse("99999999999999999999999", &ms) != 0);
	CHECK(um_duration_parse("86401", &ms) != 0);
}

static void test_file(void)
{
	char path[] = "/tmp/um_test_config_XXXXXX", err[UM_CONFIG_ERROR_MAX];
	struct um_config c;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	static const char text[] = "[node]\nidentity = k\nmode = tun\nfoo = bar\n";
	CHECK_EQ(write(fd, text, sizeof(text) - 1), (long)sizeof(text) - 1);
	close(fd);
	CHECK_EQ(um_config_load(&c, path, err, sizeof(err)), -UM_ECONFIG);
	char want[256];
	snprintf(want, sizeof(want), "%s:4: key 'foo': unknown key in [node]", path);
	CHECK(!strcmp(err, want));
	unlink(path);
	CHECK(um_config_load(&c, path, err, sizeof(err)) == -2 /* -ENOENT */);
}

static void test_control_requests(void)
{
	struct um_control_request req;

	CHECK_EQ(um_control_parse_request(&req, "get=1\n\n", 7), 0);
	CHECK_EQ(req.op, UM_CONTROL_GET);
	CHECK_EQ(um_control_parse_request(&req, "rekey=alpha\n\n", 13), 0);
	CHECK_EQ(req.op, UM_CONTROL_REKEY);
	CHECK(!strcmp(req.peer, "alpha"));
	CHECK_EQ(um_control_parse_request(&req, "get=1\n", 6), -UM_ETRUNC);
	CHECK_EQ(um_control_parse_request(&req, "get=2\n\n", 7), -UM_EINVAL);
	CHECK_EQ(um_control_parse_request(&req, "get=1\nup=1\n\n", 12), -UM_EINVAL);
	CHECK_EQ(um_control_parse_request(&req, "\n", 1), -UM_EINVAL);
	CHECK_EQ(um_control_parse_request(&req, "get=1\n\nx", 8), -UM_EINVAL);
	CHECK_EQ(um_control_parse_request(&req, "rekey=a b\n\n", 11), -UM_EINVAL);
	CHECK_EQ(um_control_parse_request(&req, "ge\0=1\n\n", 7), -UM_EINVAL);
}

int main(void)
{
	make_ids();
	RUN(test_full);
	RUN(test_defaults);
	RUN(test_errors);
	RUN(test_small_parsers);
	RUN(test_file);
	RUN(test_control_requests);
	return um_test_end();
}
