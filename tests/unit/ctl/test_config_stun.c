/* SPDX-License-Identifier: MIT */
/* The [node] stun = key: numeric servers, repeatable up to
 * UM_CONFIG_STUN_MAX, duplicates refused, errors naming file, line, key. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_TEST_FILE "s.conf"
#include "config_harness.h"

static void test_servers(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c,
		       "[node]\n"
		       "identity = /k\n"
		       "stun = 203.0.113.9:3478\n"
		       "stun=[2001:db8::9]:3479\n"
		       "relay = 203.0.113.2:51821\n",
		       err),
		 0);
	CHECK_EQ(c.n_stun, 2);
	CHECK_EQ(c.stun[0].family, UM_ADDR_IPV4);
	CHECK_EQ(c.stun[0].port, 3478);
	CHECK_MEM(c.stun[0].addr, ((const uint8_t[]){0xCB, 0x00, 0x71, 0x09}), 4);
	CHECK_EQ(c.stun[1].family, UM_ADDR_IPV6);
	CHECK_EQ(c.stun[1].port, 3479);
	CHECK_EQ(c.n_relays, 1);
	um_config_free(&c);
	/* None by default; um_config_free resets. */
	CHECK_EQ(c.n_stun, 0);
	CHECK_EQ(parse(&c, "[node]\nidentity = /k\n", err), 0);
	CHECK_EQ(c.n_stun, 0);
	um_config_free(&c);
	/* Four is the maximum. */
	CHECK_EQ(parse(&c,
		       "[node]\nidentity = /k\nstun = 203.0.113.1:1\nstun = 203.0.113.2:1\n"
		       "stun = 203.0.113.3:1\nstun = 203.0.113.1:2\n",
		       err),
		 0);
	CHECK_EQ(c.n_stun, UM_CONFIG_STUN_MAX);
	um_config_free(&c);
}

static void test_errors(void)
{
	expect_error("[node]\nidentity = /k\nstun = stun.example.org:3478\n",
		     "s.conf:3: key 'stun': 'stun.example.org:3478' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity = /k\nstun = 203.0.113.9\n",
		     "s.conf:3: key 'stun': '203.0.113.9' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity = /k\nstun = 203.0.113.9:0\n",
		     "s.conf:3: key 'stun': '203.0.113.9:0' is not IPv4:port or [IPv6]:port");
	expect_error("[node]\nidentity = /k\nstun = \n", "s.conf:3: key 'stun': empty value");
	expect_error("[node]\nidentity = /k\nstun = 203.0.113.9:3478\n\nstun = 203.0.113.9:3478\n",
		     "s.conf:5: key 'stun': '203.0.113.9:3478' listed twice");
	expect_error("[node]\nidentity = /k\nstun = 203.0.113.1:1\nstun = 203.0.113.2:1\n"
		     "stun = 203.0.113.3:1\nstun = 203.0.113.4:1\nstun = 203.0.113.5:1\n",
		     "s.conf:7: key 'stun': more than 4 STUN servers");
	expect_error("[relay]\nstun = 203.0.113.9:3478\n", "s.conf:2: key 'stun': unknown key in [relay]");
	expect_error("[node]\nidentity = /k\n[peer \"x\"]\nstun = 203.0.113.9:3478\n",
		     "s.conf:4: key 'stun': unknown key in [peer]");
}

int main(void)
{
	RUN(test_servers);
	RUN(test_errors);
	return um_test_end();
}
