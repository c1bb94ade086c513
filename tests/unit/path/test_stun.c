/* SPDX-License-Identifier: MIT */
/* STUN codec against the RFC 5769 test vectors, the RFC 8489 retransmission
 * schedule, the transaction state machine, source matching, and the
 * blocking query against a loopback responder that drops the first
 * request. (The loop-driven driver is node/stun.c, covered by the netns
 * tests stun.sh and stun_candidates.sh.) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/stun_query.h"
#include "path/stun.h"
#include "path/stun_client.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"

static size_t unhex(uint8_t *out, size_t cap, const char *text)
{
	size_t n = 0;
	int hi = -1;
	for (const char *p = text; *p; p++) {
		int v;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (n < cap)
				out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

/* RFC 5769 section 2.1-2.3 (data only; SOFTWARE/USERNAME pad with spaces). */
static const char sample_request[] = "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
				     "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
				     "00 24 00 04 6e 00 01 ff"
				     "80 29 00 08 93 2f f9 b1 51 26 3b 36"
				     "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
				     "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
				     "80 28 00 04 e5 7a 3b cf";
static const char sample_ipv4[] = "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
				  "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
				  "00 20 00 08 00 01 a1 47 e1 12 a6 43"
				  "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
				  "80 28 00 04 c0 7d 4c 96";
static const char sample_ipv6[] = "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
				  "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
				  "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
				  "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
				  "80 28 00 04 c8 fb 0b 4c";
static const char password[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t vector_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void test_crc32(void)
{
	CHECK_EQ(um_stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	CHECK_EQ(um_stun_crc32(NULL, 0), 0);
}

static void test_rfc5769_request(void)
{
	uint8_t msg[256];
	struct um_stun_message m;
	size_t len = unhex(msg, sizeof(msg), sample_request);

	CHECK_EQ(len, 108);
	CHECK(um_stun_looks_like(msg, len));
	CHECK_EQ(um_stun_parse(&m, msg, len), 0);
	CHECK_EQ(m.type, UM_STUN_BINDING_REQUEST);
	CHECK_MEM(m.txid, vector_txid, 12);
	CHECK(m.has_fingerprint);
	CHECK(m.has_integrity);
	/* PRIORITY (0x0024) is comprehension-required and unknown to us. */
	CHECK_EQ(m.unknown_required, 1);
	CHECK_EQ(um_stun_check_integrity(&m, msg, len, (const uint8_t *)password, sizeof(password) - 1), 0);
	CHECK_EQ(um_stun_check_integrity(&m, msg, len, (const uint8_t *)"wrong", 5), -UM_EBADMSG);
}

static void test_rfc5769_ipv4(void)
{
	uint8_t msg[256];
	struct um_stun_message m;
	struct um_addr a;
	size_t len = unhex(msg, sizeof(msg), sample_ipv4);
	static const uint8_t want[4] = {192, 0, 2, 1};

	CHECK_EQ(len, 80);
	CHECK_EQ(um_stun_parse(&m, msg, len), 0);
	CHECK_EQ(m.type, UM_STUN_BINDING_SUCCESS);
	CHECK(m.has_xor_mapped && m.has_fingerprint && m.has_integrity);
	CHECK_EQ(um_stun_mapped_address(&m, &a), 0);
	CHECK_EQ(a.family, 4);
	CHECK_EQ(a.port, 32853);
	CHECK_MEM(a.addr, want, 4);
	CHECK_EQ(um_stun_check_integrity(&m, msg, len, (const uint8_t *)password, sizeof(password) - 1), 0);

	/* FINGERPRINT catches every single-bit flip. */
	for (size_t i = 0; i < len * 8; i++) {
		msg[i / 8] ^= (uint8_t)(1u << (i % 8));
		struct um_stun_message m2;
		int rc = um_stun_parse(&m2, msg, len);
		/* (A flipped FINGERPRINT type just makes it an ignored attribute
		 * after MESSAGE-INTEGRITY.) */
		if (i / 8 < len - 8 || i / 8 >= len - 4)
			CHECK(rc < 0);
		msg[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* Every truncation is rejected. */
	for (size_t l = 0; l < len; l++)
		CHECK(um_stun_parse(&m, msg, l) < 0);
}

static void test_rfc5769_ipv6(void)
{
	uint8_t msg[256];
	struct um_stun_message m;
	struct um_addr a;
	size_t len = unhex(msg, sizeof(msg), sample_ipv6);
	static const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
					 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

	CHECK_EQ(len, 92);
	CHECK_EQ(um_stun_parse(&m, msg, len), 0);
	CHECK_EQ(um_stun_mapped_address(&m, &a), 0);
	CHECK_EQ(a.family, 6);
	CHECK_EQ(a.port, 32853);
	CHECK_MEM(a.addr, want, 16);
	CHECK_EQ(um_stun_check_integrity(&m, msg, len, (const uint8_t *)password, sizeof(password) - 1), 0);

	/* Our encoder reproduces the vector's XOR-MAPPED-ADDRESS bytes. */
	uint8_t out[UM_STUN_RESPONSE_MAX_BYTES];
	int n = um_stun_encode_response(out, sizeof(out), vector_txid, &a);
	CHECK_EQ(n, 20 + 24 + 8);
	CHECK_MEM(out + 20, msg + 36, 24);
	struct um_stun_message m2;
	CHECK_EQ(um_stun_parse(&m2, out, (size_t)n), 0);
	CHECK(m2.has_fingerprint);
}

static void test_mapped_fallback_and_errors(void)
{
	/* An RFC 3489-style answer: MAPPED-ADDRESS only, no FINGERPRINT. */
	uint8_t msg[64] = {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42};
	struct um_stun_message m;
	struct um_addr a;
	memcpy(msg + 8, vector_txid, 12);
	uint8_t attr[12] = {0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x12, 0x34, 203, 0, 113, 9};
	memcpy(msg + 20, attr, sizeof(attr));
	CHECK_EQ(um_stun_parse(&m, msg, 32), 0);
	CHECK(!m.has_fingerprint);
	CHECK_EQ(um_stun_mapped_address(&m, &a), 0);
	CHECK_EQ(a.port, 0x1234);
	CHECK_EQ(a.addr[0], 203);
	CHECK_EQ(a.addr[3], 9);

	/* Bad family, bad length for the family, nonzero top bits, bad cookie. */
	msg[25] = 0x03;
	CHECK_EQ(um_stun_parse(&m, msg, 32), -UM_EINVAL);
	msg[25] = 0x02;
	CHECK_EQ(um_stun_parse(&m, msg, 32), -UM_EINVAL);
	msg[25] = 0x01;
	msg[0] = 0x41;
	CHECK(um_stun_parse(&m, msg, 32) < 0);
	CHECK(!um_stun_looks_like(msg, 32));
	msg[0] = 0x01;
	msg[7] = 0x43;
	CHECK_EQ(um_stun_parse(&m, msg, 32), -UM_EINVAL);
	msg[7] = 0x42;
	/* Length field disagreeing with the datagram. */
	CHECK_EQ(um_stun_parse(&m, msg, 36), -UM_ETRUNC);
	/* Attribute overrunning the message. */
	msg[23] = 0x0c;
	CHECK_EQ(um_stun_parse(&m, msg, 32), -UM_ETRUNC);
	msg[23] = 0x08;

	/* Error response: ERROR-CODE 420, no address. */
	uint8_t err[32] = {0x01, 0x11, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42};
	memcpy(err + 8, vector_txid, 12);
	uint8_t ec[8] = {0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x04, 20};
	memcpy(err + 20, ec, 8);
	CHECK_EQ(um_stun_parse(&m, err, 28), 0);
	CHECK_EQ(m.error_code, 420);
	CHECK_EQ(um_stun_mapped_address(&m, &a), -UM_ENOTFOUND);
}

static void test_request_encoding(void)
{
	uint8_t out[UM_STUN_REQUEST_BYTES];
	struct um_stun_message m;
	CHECK_EQ(um_stun_encode_request(out, sizeof(out), vector_txid), UM_STUN_REQUEST_BYTES);
	CHECK_EQ(um_stun_parse(&m, out, sizeof(out)), 0);
	CHECK_EQ(m.type, UM_STUN_BINDING_REQUEST);
	CHECK(m.has_fingerprint);
	CHECK_EQ(um_stun_encode_request(out, sizeof(out) - 1, vector_txid), -UM_ERANGE);
}

static void test_schedule(void)
{
	const uint64_t ms = UM_NSEC_PER_MSEC;
	const uint64_t want[] = {0, 500, 1500, 3500, 7500, 15500, 31500, 39500};
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(um_stun_retransmit_offset(500 * ms, 7, 16, i), want[i] * ms);
	CHECK_EQ(um_stun_retransmit_offset(500 * ms, 7, 16, 100), 39500 * ms);
	CHECK_EQ(um_stun_retransmit_offset(UINT64_MAX / 2, 7, 16, 7), UINT64_MAX);
	CHECK_EQ(um_stun_retransmit_offset(100, 1, 16, 1), 1600);

	/* The state machine follows it. */
	struct um_stun_transaction t;
	struct um_stun_options o;
	uint64_t deadline = 0, base = 1000 * ms;
	um_stun_default_options(&o);
	um_stun_transaction_begin(&t, &o, base);
	unsigned sends = 0;
	CHECK_EQ(um_stun_transaction_poll(&t, base - 1, &deadline), UM_STUN_WAIT);
	CHECK_EQ(um_stun_transaction_poll(&t, base, &deadline), UM_STUN_SEND);
	sends++;
	for (unsigned i = 1; i < 8; i++) {
		uint64_t at = base + want[i] * ms;
		CHECK_EQ(um_stun_transaction_poll(&t, at - 1, &deadline), UM_STUN_WAIT);
		CHECK_EQ(deadline, at);
		int rc = um_stun_transaction_poll(&t, at, &deadline);
		if (i < 7)
			sends += rc == UM_STUN_SEND;
		else
			CHECK_EQ(rc, -ETIMEDOUT);
	}
	CHECK_EQ(sends, 7);
}

static void test_transaction_matching(void)
{
	struct um_stun_transaction t;
	struct um_stun_result r;
	uint8_t resp[UM_STUN_RESPONSE_MAX_BYTES];
	uint64_t deadline;
	struct um_addr a = {.family = 4, .addr = {198, 51, 100, 7}, .port = 40000};

	um_stun_transaction_begin(&t, NULL, 0);
	int n = um_stun_encode_response(resp, sizeof(resp), t.request + 8, &a);
	CHECK(n > 0);
	/* Nothing sent yet: not ours. */
	CHECK_EQ(um_stun_transaction_input(&t, resp, (size_t)n, 0, &r), -UM_ENOTFOUND);
	CHECK_EQ(um_stun_transaction_poll(&t, 0, &deadline), UM_STUN_SEND);
	/* Other transaction ID, and the request itself (not a response). */
	resp[8] ^= 1;
	CHECK_EQ(um_stun_transaction_input(&t, resp, (size_t)n, 5, &r), -UM_ENOTFOUND);
	resp[8] ^= 1;
	CHECK_EQ(um_stun_transaction_input(&t, t.request, sizeof(t.request), 5, &r), -UM_ENOTFOUND);
	/* A umbra HELLO-like datagram is not STUN. */
	uint8_t hello[64] = {0x01};
	CHECK_EQ(um_stun_transaction_input(&t, hello, sizeof(hello), 5, &r), -UM_ENOTFOUND);
	CHECK_EQ(um_stun_transaction_input(&t, resp, (size_t)n, 7, &r), 0);
	CHECK(um_addr_equal(&r.mapped, &a));
	CHECK_EQ(r.rtt_ns, 7);
	CHECK_EQ(r.requests_sent, 1);
	/* Done: a duplicate answer is not consumed again. */
	CHECK_EQ(um_stun_transaction_input(&t, resp, (size_t)n, 8, &r), -UM_ENOTFOUND);
}

/* A loopback STUN responder that ignores the first `drop` requests. */
struct responder {
	int fd;
	int drop;
	int answered;
};

static void *responder_main(void *arg)
{
	struct responder *s = arg;
	uint8_t buf[2048], out[UM_STUN_RESPONSE_MAX_BYTES];
	for (int seen = 0; seen < s->drop + 1;) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		struct um_stun_message m;
		if (n <= 0 || um_stun_parse(&m, buf, (size_t)n) < 0 || m.type != UM_STUN_BINDING_REQUEST)
			continue;
		if (seen++ < s->drop)
			continue;
		struct um_addr a;
		um_addr_from_sockaddr(&a, (struct sockaddr *)&from, fl);
		int len = um_stun_encode_response(out, sizeof(out), m.txid, &a);
		/* Some noise first: a non-STUN datagram and a wrong transaction. */
		sendto(s->fd, "junk", 4, 0, (struct sockaddr *)&from, fl);
		out[19] ^= 0xff;
		sendto(s->fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
		out[19] ^= 0xff;
		sendto(s->fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
		s->answered++;
	}
	return NULL;
}

static int loopback_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t len = sizeof(*addr);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0)
		return -1;
	return fd;
}

static void test_blocking_query(void)
{
	struct sockaddr_in server, client;
	struct responder s = {.drop = 1};
	pthread_t thread;
	struct um_stun_options o;
	struct um_stun_result r;

	s.fd = loopback_socket(&server);
	int fd = loopback_socket(&client);
	CHECK(s.fd >= 0 && fd >= 0);
	CHECK_EQ(pthread_create(&thread, NULL, responder_main, &s), 0);
	um_stun_default_options(&o);
	o.rto_ns = 20 * UM_NSEC_PER_MSEC; /* fast retransmission for the test */
	CHECK_EQ(um_stun_query(fd, (struct sockaddr *)&server, sizeof(server), &o, &r), 0);
	pthread_join(thread, NULL);
	CHECK_EQ(s.answered, 1);
	CHECK_EQ(r.requests_sent, 2);
	CHECK_EQ(r.mapped.family, 4);
	CHECK_EQ(r.mapped.port, ntohs(client.sin_port));
	CHECK_MEM(r.mapped.addr, &client.sin_addr, 4);

	/* Nobody answers: the whole (shortened) schedule, then -ETIMEDOUT. */
	o.rto_ns = 2 * UM_NSEC_PER_MSEC;
	o.rc = 3;
	o.rm = 4;
	uint64_t t0 = um_now_ns();
	CHECK_EQ(um_stun_query(fd, (struct sockaddr *)&server, sizeof(server), &o, &r), -ETIMEDOUT);
	uint64_t took = um_now_ns() - t0;
	CHECK(took >= 14 * UM_NSEC_PER_MSEC); /* 2 * (4 - 1) + 4 * 2 ms */
	CHECK_EQ(r.requests_sent, 3);
	close(fd);
	close(s.fd);
}

/* v4-mapped sources match a server given as IPv4; other families fail. */
static void test_endpoint_from_sockaddr(void)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(3478)};
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(3478)};
	struct um_addr a, b;

	inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr);
	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	CHECK_EQ(um_addr_from_sockaddr(&a, (struct sockaddr *)&s6, sizeof(s6)), 0);
	CHECK_EQ(um_addr_from_sockaddr(&b, (struct sockaddr *)&s4, sizeof(s4)), 0);
	CHECK_EQ(a.family, 4);
	CHECK(um_addr_equal(&a, &b));
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	CHECK_EQ(um_addr_from_sockaddr(&a, (struct sockaddr *)&s6, sizeof(s6)), 0);
	CHECK_EQ(a.family, 6);
	CHECK(!um_addr_equal(&a, &b));
	struct sockaddr bad = {.sa_family = AF_UNIX};
	CHECK(um_addr_from_sockaddr(&a, &bad, sizeof(bad)) < 0);
	CHECK(um_stun_send_error_fatal(EPERM));
	CHECK(!um_stun_send_error_fatal(EAGAIN));
}

int main(void)
{
	RUN(test_crc32);
	RUN(test_rfc5769_request);
	RUN(test_rfc5769_ipv4);
	RUN(test_rfc5769_ipv6);
	RUN(test_mapped_fallback_and_errors);
	RUN(test_request_encoding);
	RUN(test_schedule);
	RUN(test_transaction_matching);
	RUN(test_blocking_query);
	RUN(test_endpoint_from_sockaddr);
	return um_test_end();
}
