/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "net/lpm.h"
#include "test.h"
#include "util/error.h"

static void test_prefix_parse(void)
{
	struct um_addr_prefix p;
	char buf[64];
	CHECK_EQ(um_addr_prefix_parse(&p, "10.0.0.0/8", false), 0);
	CHECK_EQ(p.family, UM_ADDR_IPV4);
	CHECK_EQ(p.len, 8);
	um_addr_prefix_format(&p, buf, sizeof(buf));
	CHECK(strcmp(buf, "10.0.0.0/8") == 0);
	CHECK_EQ(um_addr_prefix_parse(&p, "10.0.0.1/8", false), -UM_EINVAL); /* host bits */
	CHECK_EQ(um_addr_prefix_parse(&p, "10.0.0.1/8", true), 0);
	CHECK_EQ(um_addr_prefix_parse(&p, "10.0.0.1", false), 0);
	CHECK_EQ(p.len, 32);
	CHECK_EQ(um_addr_prefix_parse(&p, "fd00::/64", false), 0);
	CHECK_EQ(p.family, UM_ADDR_IPV6);
	CHECK_EQ(p.len, 64);
	CHECK_EQ(um_addr_prefix_parse(&p, "::/0", false), 0);
	const char *bad[] = {"",    "/8", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8", "300.0.0.0/8", "10.0.0.0/0008",
			     "host"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(um_addr_prefix_parse(&p, bad[i], true), -UM_EINVAL);
	/* A length beyond the family's width is out of range, not malformed. */
	CHECK_EQ(um_addr_prefix_parse(&p, "10.0.0.0/33", true), -UM_ERANGE);
	CHECK_EQ(um_addr_prefix_parse(&p, "fd00::/129", true), -UM_ERANGE);
}

static uint32_t look4(const struct um_lpm *lpm, const char *text)
{
	uint8_t a[4];
	inet_pton(AF_INET, text, a);
	return um_lpm_lookup4(lpm, a);
}

static uint32_t look6(const struct um_lpm *lpm, const char *text)
{
	uint8_t a[16];
	inet_pton(AF_INET6, text, a);
	return um_lpm_lookup6(lpm, a);
}

static void test_longest_match(void)
{
	const char *prefixes[] = {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24",   "10.1.2.3/32",  "0.0.0.0/0",
				  "fd00::/8",   "fd00:1::/32", "fd00:1::5/128", "2001:db8::/32"};
	struct um_lpm_entry e[9];
	for (uint32_t i = 0; i < 9; i++) {
		CHECK_EQ(um_addr_prefix_parse(&e[i].prefix, prefixes[i], false), 0);
		e[i].value = i;
	}
	struct um_lpm *lpm;
	CHECK_EQ(um_lpm_build(e, 9, &lpm), 0);
	CHECK_EQ(look4(lpm, "10.9.9.9"), 0);
	CHECK_EQ(look4(lpm, "10.1.9.9"), 1);
	CHECK_EQ(look4(lpm, "10.1.2.4"), 2);
	CHECK_EQ(look4(lpm, "10.1.2.3"), 3);
	CHECK_EQ(look4(lpm, "192.0.2.1"), 4);
	CHECK_EQ(look6(lpm, "fd12::1"), 5);
	CHECK_EQ(look6(lpm, "fd00:1::6"), 6);
	CHECK_EQ(look6(lpm, "fd00:1::5"), 7);
	CHECK_EQ(look6(lpm, "2001:db8:1::1"), 8);
	CHECK_EQ(look6(lpm, "2001:db9::1"), UM_LPM_NONE);
	um_lpm_free(lpm);
	/* Without a default route, unmatched v4 returns NONE; empty table works. */
	CHECK_EQ(um_lpm_build(e, 4, &lpm), 0);
	CHECK_EQ(look4(lpm, "192.0.2.1"), UM_LPM_NONE);
	CHECK_EQ(look6(lpm, "fd00::1"), UM_LPM_NONE);
	um_lpm_free(lpm);
	CHECK_EQ(um_lpm_build(NULL, 0, &lpm), 0);
	CHECK_EQ(look4(lpm, "10.0.0.1"), UM_LPM_NONE);
	um_lpm_free(lpm);
}

static void test_many_prefixes(void)
{
	/* 1000 /24s: each address maps to its own prefix. */
	static struct um_lpm_entry e[1000];
	for (uint32_t i = 0; i < 1000; i++) {
		e[i].prefix.family = UM_ADDR_IPV4;
		e[i].prefix.len = 24;
		e[i].prefix.addr[0] = 10;
		e[i].prefix.addr[1] = (uint8_t)(i >> 8);
		e[i].prefix.addr[2] = (uint8_t)i;
		e[i].value = i;
	}
	struct um_lpm *lpm;
	CHECK_EQ(um_lpm_build(e, 1000, &lpm), 0);
	int wrong = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t a[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 77};
		wrong += um_lpm_lookup4(lpm, a) != i;
	}
	CHECK_EQ(wrong, 0);
	um_lpm_free(lpm);
}

int main(void)
{
	RUN(test_prefix_parse);
	RUN(test_longest_match);
	RUN(test_many_prefixes);
	return um_test_end();
}
