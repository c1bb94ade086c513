/* SPDX-License-Identifier: MIT */
/* util/addr: endpoint and prefix parsing, formatting, comparison, sockaddr
 * conversion and the 20-byte wire encoding. Every case builds its own
 * values (no shared fixtures). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "test.h"
#include "util/addr.h"
#include "util/error.h"

/* Parse text and format it back: the canonical form must be `expect`. */
static void round_trip(const char *text, const char *expect)
{
	struct um_addr a, b;
	char out[UM_ADDR_TEXT_MAX];

	CHECK_EQ(um_addr_parse(&a, text), 0);
	CHECK_EQ(um_addr_format(&a, out, sizeof(out)), 0);
	if (strcmp(out, expect))
		fprintf(stderr, "  %s -> %s, want %s\n", text, out, expect);
	CHECK(strcmp(out, expect) == 0);
	CHECK_EQ(um_addr_parse(&b, out), 0);
	CHECK(um_addr_equal(&a, &b));
}

static void test_parse_valid(void)
{
	struct um_addr a;

	CHECK_EQ(um_addr_parse(&a, "198.51.100.2:51820"), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV4);
	CHECK_EQ(a.port, 51820);
	CHECK_EQ(a.addr[0], 198);
	CHECK_EQ(a.addr[3], 2);
	for (int i = 4; i < 16; i++)
		CHECK_EQ(a.addr[i], 0);

	CHECK_EQ(um_addr_parse(&a, "[2001:db8::2]:443"), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV6);
	CHECK_EQ(a.port, 443);
	CHECK_EQ(a.addr[0], 0x20);
	CHECK_EQ(a.addr[15], 2);

	round_trip("198.51.100.2:51820", "198.51.100.2:51820");
	round_trip("0.0.0.0:1", "0.0.0.0:1");
	round_trip("255.255.255.255:65535", "255.255.255.255:65535");
	round_trip("[::1]:1", "[::1]:1");
	round_trip("[2001:DB8:0:0:0:0:0:1]:80", "[2001:db8::1]:80");
	round_trip("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	round_trip("[::]:9", "[::]:9");
	/* A v4-mapped literal is one host: stored and printed as IPv4. */
	round_trip("[::ffff:192.0.2.7]:53", "192.0.2.7:53");
	round_trip("1.2.3.4:00080", "1.2.3.4:80");
}

static void test_parse_malformed(void)
{
	static const struct {
		const char *text;
		int error;
	} bad[] = {
	    {"", -UM_EINVAL},
	    {"1.2.3.4", -UM_EINVAL},        /* no port */
	    {"1.2.3.4:", -UM_EINVAL},       /* empty port */
	    {":80", -UM_EINVAL},            /* empty host */
	    {"1.2.3.4:0", -UM_ERANGE},      /* port 0 */
	    {"1.2.3.4:65536", -UM_ERANGE},  /* port too large */
	    {"1.2.3.4:000080", -UM_ERANGE}, /* more than 5 digits */
	    {"1.2.3.4:8o", -UM_EINVAL},     /* not a number */
	    {"1.2.3.4:+80", -UM_EINVAL},    /* sign */
	    {"1.2.3.4:-1", -UM_EINVAL},
	    {"1.2.3.4: 80", -UM_EINVAL}, /* whitespace */
	    {" 1.2.3.4:80", -UM_EINVAL},
	    {"1.2.3:80", -UM_EINVAL},        /* short IPv4 */
	    {"1.2.3.256:80", -UM_EINVAL},    /* octet out of range */
	    {"01.2.3.4:80", -UM_EINVAL},     /* leading zero octet (inet_pton) */
	    {"host.example:80", -UM_EINVAL}, /* names are not resolved */
	    {"2001:db8::1:80", -UM_EINVAL},  /* IPv6 without brackets */
	    {"[2001:db8::1]80", -UM_EINVAL}, /* no colon after bracket */
	    {"[2001:db8::1]", -UM_EINVAL},   /* no port */
	    {"[2001:db8::1:80", -UM_EINVAL}, /* unclosed bracket */
	    {"[1.2.3.4]:80", -UM_EINVAL},    /* brackets are for IPv6 */
	    {"[]:80", -UM_EINVAL},
	    {"[fe80::1%eth0]:80", -UM_EINVAL}, /* no scope ids */
	    {"[2001:db8::1]:80x", -UM_EINVAL},
	    {"[2001:db8:::1]:80", -UM_EINVAL},
	    {"[2001:db8::1]:65536", -UM_ERANGE},
	    {"[0000:0000:0000:0000:0000:0000:0000:0000:1]:1", -UM_EINVAL}, /* too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct um_addr a;
		memset(&a, 0xa5, sizeof(a));
		int r = um_addr_parse(&a, bad[i].text);
		if (r != bad[i].error)
			fprintf(stderr, "  \"%s\": %d (%s), want %d\n", bad[i].text, r, um_strerror(r), bad[i].error);
		CHECK_EQ(r, bad[i].error);
		CHECK_EQ(a.family, UM_ADDR_NONE); /* zeroed on error */
		CHECK_EQ(a.port, 0);
	}
}

static void test_parse_host(void)
{
	struct um_addr a;
	char out[UM_ADDR_TEXT_MAX];

	CHECK_EQ(um_addr_parse_host(&a, "192.0.2.1"), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV4);
	CHECK_EQ(a.port, 0);
	CHECK_EQ(um_addr_format_host(&a, out, sizeof(out)), 0);
	CHECK(strcmp(out, "192.0.2.1") == 0);
	CHECK_EQ(um_addr_parse_host(&a, "2001:db8::1"), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV6);
	CHECK_EQ(um_addr_format_host(&a, out, sizeof(out)), 0);
	CHECK(strcmp(out, "2001:db8::1") == 0);
	CHECK_EQ(um_addr_parse_host(&a, "::ffff:10.0.0.1"), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV4);
	CHECK_EQ(um_addr_parse_host(&a, "[2001:db8::1]"), -UM_EINVAL);
	CHECK_EQ(um_addr_parse_host(&a, "1.2.3.4:5"), -UM_EINVAL);
	CHECK_EQ(um_addr_parse_host(&a, ""), -UM_EINVAL);
	CHECK_EQ(a.family, UM_ADDR_NONE);
}

static void test_format(void)
{
	struct um_addr a;
	char out[UM_ADDR_TEXT_MAX], small[8];

	memset(&a, 0, sizeof(a));
	CHECK_EQ(um_addr_format(&a, out, sizeof(out)), 0);
	CHECK(strcmp(out, "(none)") == 0);
	CHECK_EQ(um_addr_format_host(&a, out, sizeof(out)), 0);
	CHECK(strcmp(out, "(none)") == 0);

	/* The longest text fits UM_ADDR_TEXT_MAX; one byte less does not. */
	CHECK_EQ(um_addr_parse(&a, "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535"), 0);
	CHECK_EQ(um_addr_format(&a, out, sizeof(out)), 0);
	size_t len = strlen(out);
	CHECK(len < UM_ADDR_TEXT_MAX);
	CHECK_EQ(um_addr_format(&a, out, len), -UM_ERANGE);
	CHECK_EQ(um_addr_format(&a, out, len + 1), 0);

	CHECK_EQ(um_addr_parse(&a, "192.0.2.1:5"), 0);
	CHECK_EQ(um_addr_format(&a, small, sizeof(small)), -UM_ERANGE);
	a.family = 5;
	CHECK_EQ(um_addr_format(&a, out, sizeof(out)), -UM_EINVAL);
}

static void test_compare(void)
{
	struct um_addr a, b, c, d, none1, none2;

	CHECK_EQ(um_addr_parse(&a, "192.0.2.1:5"), 0);
	CHECK_EQ(um_addr_parse(&b, "192.0.2.1:6"), 0);
	CHECK_EQ(um_addr_parse(&c, "192.0.2.200:5"), 0);
	CHECK_EQ(um_addr_parse(&d, "[::ffff:192.0.2.1]:5"), 0);
	CHECK(um_addr_equal(&a, &d)); /* mapped form is the same endpoint */
	CHECK(!um_addr_equal(&a, &b));
	CHECK(um_addr_same_host(&a, &b));
	CHECK(!um_addr_same_host(&a, &c));
	CHECK(um_addr_same_network(&a, &c, UM_ADDR_SUBSCRIBER_V4_BITS, UM_ADDR_SUBSCRIBER_V6_BITS));
	CHECK(!um_addr_same_network(&a, &c, 32, 64));
	CHECK(um_addr_same_network(&a, &c, 0, 0));
	CHECK(um_addr_same_network(&a, &c, 24, 0));
	CHECK(!um_addr_same_network(&a, &c, 25, 0));

	/* Junk in the unused bytes of an IPv4 address does not matter. */
	c = a;
	c.addr[9] = 0x77;
	CHECK(um_addr_equal(&a, &c));
	CHECK(um_addr_same_host(&a, &c));

	struct um_addr v6a, v6b, v6c;
	CHECK_EQ(um_addr_parse(&v6a, "[2001:db8:1:2:aaaa::1]:5"), 0);
	CHECK_EQ(um_addr_parse(&v6b, "[2001:db8:1:2:bbbb::9]:7"), 0);
	CHECK_EQ(um_addr_parse(&v6c, "[2001:db8:1:3::1]:5"), 0);
	CHECK(um_addr_same_network(&v6a, &v6b, 24, UM_ADDR_SUBSCRIBER_V6_BITS));
	CHECK(!um_addr_same_network(&v6a, &v6c, 24, UM_ADDR_SUBSCRIBER_V6_BITS));
	CHECK(!um_addr_same_host(&v6a, &v6b));
	CHECK(!um_addr_same_network(&a, &v6a, 0, 0));     /* families differ */
	CHECK(um_addr_same_network(&v6a, &v6c, 200, 63)); /* bits capped at width; 63 covers ...:2/...:3 */

	memset(&none1, 0, sizeof(none1));
	memset(&none2, 0, sizeof(none2));
	CHECK(um_addr_equal(&none1, &none2));
	CHECK(!um_addr_same_host(&none1, &none2));
	CHECK(!um_addr_equal(&none1, &a));
	CHECK(!um_addr_same_network(&none1, &none2, 0, 0));

	struct um_addr_prefix net;
	CHECK_EQ(um_addr_network(&v6a, 24, 64, &net), 0);
	CHECK_EQ(net.len, 64);
	CHECK(um_addr_prefix_contains(&net, &v6b));
	CHECK(!um_addr_prefix_contains(&net, &v6c));
	for (int i = 8; i < 16; i++)
		CHECK_EQ(net.addr[i], 0);
	CHECK_EQ(um_addr_network(&a, 24, 64, &net), 0);
	CHECK_EQ(net.addr[3], 0);
	CHECK_EQ(net.len, 24);
	CHECK_EQ(um_addr_network(&none1, 24, 64, &net), -UM_EINVAL);
}

static void test_sockaddr(void)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
	struct um_addr a, b;

	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(51820);
	inet_pton(AF_INET, "203.0.113.9", &in4.sin_addr);
	CHECK_EQ(um_addr_from_sockaddr(&a, (struct sockaddr *)&in4, sizeof(in4)), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV4);
	CHECK_EQ(a.port, 51820);
	CHECK_EQ(um_addr_to_sockaddr(&a, &ss), (int)sizeof(struct sockaddr_in));
	CHECK_EQ(ss.ss_family, AF_INET);
	CHECK_MEM(&((struct sockaddr_in *)&ss)->sin_addr, &in4.sin_addr, 4);
	CHECK_EQ(((struct sockaddr_in *)&ss)->sin_port, htons(51820));
	CHECK_EQ(um_addr_from_sockaddr(&b, (struct sockaddr *)&in4, sizeof(in4) - 1), -UM_EINVAL);
	CHECK_EQ(um_addr_from_sockaddr(&b, NULL, 0), -UM_EINVAL);

	/* For a dual-stack socket IPv4 goes out v4-mapped, and comes back IPv4. */
	CHECK_EQ(um_addr_to_sockaddr_for(&a, AF_INET6, &ss), (int)sizeof(struct sockaddr_in6));
	CHECK_EQ(ss.ss_family, AF_INET6);
	CHECK(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
	CHECK_EQ(um_addr_from_sockaddr(&b, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6)), 0);
	CHECK(um_addr_equal(&a, &b));
	CHECK_EQ(b.family, UM_ADDR_IPV4);
	CHECK_EQ(um_addr_to_sockaddr_for(&a, AF_INET, &ss), (int)sizeof(struct sockaddr_in));

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::42", &in6.sin6_addr);
	CHECK_EQ(um_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof(in6)), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV6);
	CHECK_EQ(a.port, 443);
	CHECK_EQ(um_addr_to_sockaddr_for(&a, AF_INET6, &ss), (int)sizeof(struct sockaddr_in6));
	CHECK_MEM(&((struct sockaddr_in6 *)&ss)->sin6_addr, &in6.sin6_addr, 16);
	CHECK_EQ(um_addr_to_sockaddr_for(&a, AF_INET, &ss), -UM_EINVAL);
	CHECK_EQ(um_addr_from_sockaddr(&b, (struct sockaddr *)&in6, sizeof(struct sockaddr_in)), -UM_EINVAL);

	memset(&a, 0, sizeof(a));
	CHECK_EQ(um_addr_to_sockaddr(&a, &ss), -UM_EINVAL);
	struct sockaddr unix_like = {.sa_family = AF_UNIX};
	CHECK_EQ(um_addr_from_sockaddr(&b, &unix_like, sizeof(unix_like)), -UM_EINVAL);

	CHECK_EQ(um_addr_family_to_af(UM_ADDR_IPV4), AF_INET);
	CHECK_EQ(um_addr_family_to_af(UM_ADDR_IPV6), AF_INET6);
	CHECK_EQ(um_addr_family_to_af(3), AF_UNSPEC);
	CHECK_EQ(um_addr_family_from_af(AF_INET6), UM_ADDR_IPV6);
	CHECK_EQ(um_addr_family_from_af(AF_UNIX), UM_ADDR_NONE);
}

static void test_wire(void)
{
	uint8_t buf[UM_ADDR_WIRE_BYTES * 2];
	struct um_writer w;
	struct um_reader r;
	struct um_addr a, b, back;

	CHECK_EQ(um_addr_parse(&a, "192.0.2.1:258"), 0);
	CHECK_EQ(um_addr_parse(&b, "[2001:db8::1]:443"), 0);
	um_writer_init(&w, buf, sizeof(buf));
	um_addr_write(&w, &a);
	um_addr_write(&w, &b);
	CHECK(!um_writer_error(&w));
	CHECK_EQ(w.pos, 2 * UM_ADDR_WIRE_BYTES);
	/* family | 0 | port big-endian | IPv4 zero-padded */
	static const uint8_t expect_v4[UM_ADDR_WIRE_BYTES] = {4, 0, 1, 2, 192, 0, 2, 1};
	CHECK_MEM(buf, expect_v4, UM_ADDR_WIRE_BYTES);
	CHECK_EQ(buf[UM_ADDR_WIRE_BYTES], 6);
	CHECK_EQ(buf[UM_ADDR_WIRE_BYTES + 2], 443 >> 8);
	CHECK_EQ(buf[UM_ADDR_WIRE_BYTES + 3], 443 & 0xff);
	CHECK_EQ(buf[UM_ADDR_WIRE_BYTES + 4], 0x20);

	um_reader_init(&r, buf, sizeof(buf));
	CHECK_EQ(um_addr_read(&r, &back, false), 0);
	CHECK(um_addr_equal(&a, &back));
	CHECK_EQ(um_addr_read(&r, &back, false), 0);
	CHECK(um_addr_equal(&b, &back));
	CHECK_EQ(um_reader_left(&r), 0);
	CHECK_EQ(um_addr_read(&r, &back, true), -UM_ETRUNC);
	CHECK(um_reader_error(&r));

	uint8_t enc[UM_ADDR_WIRE_BYTES];
	um_addr_encode(&a, enc);
	CHECK_MEM(enc, expect_v4, sizeof(enc));
	/* Junk in unused bytes does not reach the encoding (it is a hash key). */
	struct um_addr junk = a;
	junk.addr[12] = 0xee;
	uint8_t enc2[UM_ADDR_WIRE_BYTES];
	um_addr_encode(&junk, enc2);
	CHECK_MEM(enc, enc2, sizeof(enc));

	/* Unset: 20 zero bytes, read back only when allowed. */
	struct um_addr none;
	memset(&none, 0, sizeof(none));
	none.port = 99; /* ignored: unset writes a zero port */
	um_addr_encode(&none, enc);
	static const uint8_t zero[UM_ADDR_WIRE_BYTES];
	CHECK_MEM(enc, zero, sizeof(enc));
	um_reader_init(&r, enc, sizeof(enc));
	CHECK_EQ(um_addr_read(&r, &back, true), 0);
	CHECK_EQ(back.family, UM_ADDR_NONE);
	um_reader_init(&r, enc, sizeof(enc));
	CHECK_EQ(um_addr_read(&r, &back, false), -UM_EINVAL);

	/* A short writer sets its error. */
	um_writer_init(&w, buf, UM_ADDR_WIRE_BYTES - 1);
	um_addr_write(&w, &a);
	CHECK(um_writer_error(&w));
}

/* One malformed encoding: refused, *out zeroed. */
static void expect_refused(const uint8_t enc[UM_ADDR_WIRE_BYTES], bool allow_unset, int error)
{
	struct um_reader r;
	struct um_addr out;

	memset(&out, 0x5a, sizeof(out));
	um_reader_init(&r, enc, UM_ADDR_WIRE_BYTES);
	CHECK_EQ(um_addr_read(&r, &out, allow_unset), error);
	CHECK_EQ(out.family, 0);
	CHECK_EQ(out.port, 0);
}

static void test_wire_malformed(void)
{
	uint8_t enc[UM_ADDR_WIRE_BYTES];
	struct um_addr a;

	CHECK_EQ(um_addr_parse(&a, "192.0.2.1:5"), 0);
	um_addr_encode(&a, enc);
	enc[1] = 1; /* reserved byte */
	expect_refused(enc, true, -UM_EINVAL);

	um_addr_encode(&a, enc);
	enc[19] = 1; /* IPv4 padding */
	expect_refused(enc, true, -UM_EINVAL);

	um_addr_encode(&a, enc);
	enc[0] = 5; /* unknown family */
	expect_refused(enc, true, -UM_EINVAL);
	enc[0] = 2; /* AF_INET is not a wire family */
	expect_refused(enc, true, -UM_EINVAL);

	memset(enc, 0, sizeof(enc));
	enc[3] = 1; /* unset with a port */
	expect_refused(enc, true, -UM_EINVAL);
	memset(enc, 0, sizeof(enc));
	enc[10] = 1; /* unset with address bytes */
	expect_refused(enc, true, -UM_EINVAL);

	/* Truncated at every length. */
	um_addr_encode(&a, enc);
	for (size_t len = 0; len < UM_ADDR_WIRE_BYTES; len++) {
		struct um_reader r;
		struct um_addr out;
		um_reader_init(&r, enc, len);
		CHECK_EQ(um_addr_read(&r, &out, true), -UM_ETRUNC);
	}

	/* A v4-mapped IPv6 on the wire is accepted as IPv6 as sent (the
	 * decoder does not rewrite); senders never produce it because
	 * um_addr_from_sockaddr and the parsers unmap. Port 0 is accepted. */
	CHECK_EQ(um_addr_parse_host(&a, "2001:db8::1"), 0);
	static const uint8_t mapped[UM_ADDR_WIRE_BYTES] = {6, 0, 0, 0, 0,    0,    0, 0, 0, 0,
							   0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
	struct um_reader r;
	um_reader_init(&r, mapped, sizeof(mapped));
	CHECK_EQ(um_addr_read(&r, &a, false), 0);
	CHECK_EQ(a.family, UM_ADDR_IPV6);
	CHECK_EQ(a.port, 0);
	um_addr_unmap(&a);
	CHECK_EQ(a.family, UM_ADDR_IPV4);
	CHECK_EQ(a.addr[0], 1);
	CHECK_EQ(a.addr[3], 4);
	CHECK_EQ(a.addr[12], 0);
}

static void prefix_round_trip(const char *text, bool host_bits, const char *expect, unsigned len)
{
	struct um_addr_prefix p, q;
	char out[UM_ADDR_PREFIX_TEXT_MAX];

	CHECK_EQ(um_addr_prefix_parse(&p, text, host_bits), 0);
	CHECK_EQ(p.len, len);
	CHECK_EQ(um_addr_prefix_format(&p, out, sizeof(out)), 0);
	if (strcmp(out, expect))
		fprintf(stderr, "  %s -> %s, want %s\n", text, out, expect);
	CHECK(strcmp(out, expect) == 0);
	CHECK_EQ(um_addr_prefix_parse(&q, out, true), 0);
	CHECK(um_addr_prefix_equal(&p, &q));
}

static void test_prefix_parse(void)
{
	prefix_round_trip("10.0.0.0/8", false, "10.0.0.0/8", 8);
	prefix_round_trip("0.0.0.0/0", false, "0.0.0.0/0", 0);
	prefix_round_trip("192.0.2.7/32", false, "192.0.2.7/32", 32);
	prefix_round_trip("192.0.2.7", false, "192.0.2.7/32", 32);
	prefix_round_trip("::/0", false, "::/0", 0);
	prefix_round_trip("2001:db8::1/128", false, "2001:db8::1/128", 128);
	prefix_round_trip("2001:db8::1", false, "2001:db8::1/128", 128);
	prefix_round_trip("fd00::/64", false, "fd00::/64", 64);
	prefix_round_trip("100.64.0.1/10", true, "100.64.0.1/10", 10); /* host bits kept */
	prefix_round_trip("10.0.0.0/08", false, "10.0.0.0/8", 8);
	/* A v4-mapped prefix names IPv6 space: it stays IPv6. */
	prefix_round_trip("::ffff:0.0.0.0/96", false, "::ffff:0.0.0.0/96", 96);

	static const struct {
		const char *text;
		bool host_bits;
		int error;
	} bad[] = {
	    {"", true, -UM_EINVAL},
	    {"/8", true, -UM_EINVAL},
	    {"10.0.0.0/", true, -UM_EINVAL},
	    {"10.0.0.0/33", true, -UM_ERANGE},
	    {"2001:db8::/129", true, -UM_ERANGE},
	    {"10.0.0.0/0032", true, -UM_EINVAL},
	    {"10.0.0.0/-1", true, -UM_EINVAL},
	    {"10.0.0.0/8/8", true, -UM_EINVAL},
	    {"10.0.0.0/ 8", true, -UM_EINVAL},
	    {"10.0.0/8", true, -UM_EINVAL},
	    {"10.0.0.1/8", false, -UM_EINVAL}, /* host bits */
	    {"10.0.0.1/31", false, -UM_EINVAL},
	    {"2001:db8::1/64", false, -UM_EINVAL},
	    {"::1/0", false, -UM_EINVAL},
	    {"[::1]/64", true, -UM_EINVAL},
	    {"1.2.3.4:5/8", true, -UM_EINVAL},
	    {"example.com/8", true, -UM_EINVAL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct um_addr_prefix p;
		memset(&p, 0xa5, sizeof(p));
		int r = um_addr_prefix_parse(&p, bad[i].text, bad[i].host_bits);
		if (r != bad[i].error)
			fprintf(stderr, "  \"%s\": %d (%s), want %d\n", bad[i].text, r, um_strerror(r), bad[i].error);
		CHECK_EQ(r, bad[i].error);
		CHECK_EQ(p.family, UM_ADDR_NONE);
		CHECK_EQ(p.len, 0);
	}

	struct um_addr_prefix p;
	char small[8];
	CHECK_EQ(um_addr_prefix_parse(&p, "2001:db8::/32", false), 0);
	CHECK_EQ(um_addr_prefix_format(&p, small, sizeof(small)), -UM_ERANGE);
	p.family = 0;
	CHECK_EQ(um_addr_prefix_format(&p, small, sizeof(small)), -UM_EINVAL);
}

static void test_prefix_contains(void)
{
	struct um_addr_prefix p, q;
	struct um_addr a;

	CHECK_EQ(um_addr_prefix_parse(&p, "100.64.0.1/10", true), 0);
	CHECK_EQ(um_addr_parse_host(&a, "100.127.255.255"), 0);
	CHECK(um_addr_prefix_contains(&p, &a)); /* host bits ignored */
	CHECK_EQ(um_addr_parse_host(&a, "100.128.0.0"), 0);
	CHECK(!um_addr_prefix_contains(&p, &a));
	CHECK_EQ(um_addr_parse_host(&a, "::ffff:100.64.0.1"), 0); /* unmapped: IPv4 */
	CHECK(um_addr_prefix_contains(&p, &a));
	CHECK_EQ(um_addr_parse_host(&a, "2001:db8::1"), 0);
	CHECK(!um_addr_prefix_contains(&p, &a)); /* other family */

	/* Length 0 holds its whole family and nothing else. */
	CHECK_EQ(um_addr_prefix_parse(&p, "0.0.0.0/0", false), 0);
	CHECK_EQ(um_addr_parse_host(&a, "255.255.255.255"), 0);
	CHECK(um_addr_prefix_contains(&p, &a));
	CHECK_EQ(um_addr_parse_host(&a, "::"), 0);
	CHECK(!um_addr_prefix_contains(&p, &a));
	CHECK_EQ(um_addr_prefix_parse(&p, "::/0", false), 0);
	CHECK(um_addr_prefix_contains(&p, &a));

	/* Full length: exactly one address. */
	CHECK_EQ(um_addr_prefix_parse(&p, "2001:db8::1/128", false), 0);
	CHECK_EQ(um_addr_parse_host(&a, "2001:db8::1"), 0);
	CHECK(um_addr_prefix_contains(&p, &a));
	a.addr[15] ^= 1;
	CHECK(!um_addr_prefix_contains(&p, &a));
	CHECK_EQ(um_addr_prefix_parse(&p, "192.0.2.1/32", false), 0);
	uint8_t bytes[4] = {192, 0, 2, 1};
	CHECK(um_addr_prefix_contains_bytes(&p, UM_ADDR_IPV4, bytes));
	bytes[3] = 0;
	CHECK(!um_addr_prefix_contains_bytes(&p, UM_ADDR_IPV4, bytes));
	CHECK(!um_addr_prefix_contains_bytes(&p, UM_ADDR_IPV6, bytes));

	/* Non-byte boundary. */
	CHECK_EQ(um_addr_prefix_parse(&p, "2001:db8:8000::/33", false), 0);
	CHECK_EQ(um_addr_parse_host(&a, "2001:db8:ffff::1"), 0);
	CHECK(um_addr_prefix_contains(&p, &a));
	CHECK_EQ(um_addr_parse_host(&a, "2001:db8:7fff::1"), 0);
	CHECK(!um_addr_prefix_contains(&p, &a));

	/* A corrupt length never reads past the address. */
	p.len = 200;
	CHECK(!um_addr_prefix_contains(&p, &a));

	/* Mask and equality. */
	CHECK_EQ(um_addr_prefix_parse(&p, "10.1.2.3/16", true), 0);
	CHECK_EQ(um_addr_prefix_parse(&q, "10.1.0.0/16", false), 0);
	CHECK(um_addr_prefix_equal(&p, &q));
	CHECK(memcmp(p.addr, q.addr, 16) != 0);
	um_addr_prefix_mask(&p);
	CHECK_MEM(p.addr, q.addr, 16);
	CHECK_EQ(um_addr_prefix_parse(&q, "10.1.0.0/17", false), 0);
	CHECK(!um_addr_prefix_equal(&p, &q));
	CHECK_EQ(um_addr_prefix_parse(&p, "2001:db8::ffff/0", true), 0);
	um_addr_prefix_mask(&p);
	static const uint8_t zero[16];
	CHECK_MEM(p.addr, zero, 16);
	CHECK_EQ(um_addr_prefix_parse(&p, "10.255.255.255/7", true), 0);
	um_addr_prefix_mask(&p);
	CHECK_EQ(p.addr[0], 10);
	CHECK_EQ(p.addr[1], 0);
}

int main(void)
{
	RUN(test_parse_valid);
	RUN(test_parse_malformed);
	RUN(test_parse_host);
	RUN(test_format);
	RUN(test_compare);
	RUN(test_sockaddr);
	RUN(test_wire);
	RUN(test_wire_malformed);
	RUN(test_prefix_parse);
	RUN(test_prefix_contains);
	return um_test_end();
}
