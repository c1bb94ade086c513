/* SPDX-License-Identifier: MIT */
/* um_flood: sends bogus HELLOs at a fixed rate, for the cookie test.
 *
 *   um_flood PEER_ID IPV4:PORT RATE SECONDS [FIRST_SOURCE COUNT [STRIDE [cookies]]]
 *
 * Each HELLO is well-formed with a valid mac1 for PEER_ID (an attacker who
 * knows the responder's public peer ID can do as much) but random ephemeral
 * key, nonce and index, so each one would cost the responder real work if
 * the cookie check did not stop it. With FIRST_SOURCE and COUNT the packets
 * rotate over COUNT consecutive IPv4 source addresses (which must be
 * configured on a local interface), defeating a purely per-source limit.
 * STRIDE spaces them out (256: one address per /24, so per-prefix buckets
 * see COUNT different sites). With "cookies" each source acts like a real
 * host: it opens the COOKIE_REPLY the responder sends it and puts the
 * cookie (mac2) on its next HELLOs, so they get past the cookie check and
 * cost the responder a CHALLENGE each (review #3's attacker with real
 * addresses). Prints the number of datagrams sent and, with cookies, the
 * cookies taken and the handshake replies (CHALLENGE pieces) received. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "session/cookie.h"
#include "util/addr.h"
#include "util/clock.h"
#include "wire/handshake.h"
#include "wire/types.h"

enum { BATCH = 32, MAX_SOURCES = 256 };

static int usage(void)
{
	fprintf(stderr, "usage: um_flood PEER_ID IPV4:PORT RATE SECONDS [FIRST_SOURCE COUNT [STRIDE [cookies]]]\n");
	return 2;
}

struct replies {
	unsigned long long cookies, handshake, other;
};

/* Reads every datagram waiting on the ready sockets: a COOKIE_REPLY is
 * opened with that source's maker (so its next HELLOs carry mac2), the
 * rest is counted. */
static void drain(int epoll_fd, struct um_cookie_maker *makers, const int *fds, struct replies *r, uint64_t now)
{
	struct epoll_event events[64];
	static uint8_t buf[65536];
	int n = epoll_wait(epoll_fd, events, 64, 0);

	for (int i = 0; i < n; i++) {
		int slot = events[i].data.u32;
		ssize_t len;
		while ((len = recv(fds[slot], buf, sizeof(buf), 0)) > 0) {
			struct um_hs_cookie_reply reply;
			if (buf[0] == UM_TYPE_COOKIE_REPLY &&
			    um_hs_cookie_reply_decode(&reply, buf, (size_t)len) == 0 &&
			    um_cookie_reply_consume(&makers[slot], &reply, now) == 0)
				r->cookies++;
			else if (buf[0] >= UM_TYPE_HANDSHAKE_FIRST && buf[0] <= UM_TYPE_HANDSHAKE_LAST)
				r->handshake++;
			else
				r->other++;
		}
	}
}

static int make_hello(struct um_cookie_maker *maker, uint8_t *out, uint64_t now)
{
	uint8_t ephemeral[UM_HS_X25519_BYTES], nonce[UM_HS_NONCE_BYTES];
	struct um_hs_hello hello = {
	    .sender_index = randombytes_random(),
	    .ephemeral = ephemeral,
	    .nonce = nonce,
	    .timestamp_ms = um_wall_ms(),
	};

	randombytes_buf(ephemeral, sizeof(ephemeral));
	randombytes_buf(nonce, sizeof(nonce));
	int n = um_hs_hello_encode(out, UM_HS_HELLO_BYTES, &hello);
	if (n < 0)
		return n;
	um_cookie_add_macs(maker, out, (size_t)n, now);
	return n;
}

int main(int argc, char **argv)
{
	struct um_peer_id id;
	struct um_addr to_addr;
	struct sockaddr_storage to;
	int to_len;
	static struct um_cookie_maker makers[MAX_SOURCES];
	int fds[MAX_SOURCES], n_fds = 0, epoll_fd = -1;
	bool cookies = false;
	struct replies replies = {0};
	static uint8_t packets[BATCH][UM_HS_HELLO_BYTES];

	if (argc < 5 || argc == 6 || argc > 9)
		return usage();
	if (sodium_init() < 0 || um_peer_id_parse(&id, argv[1]) || um_addr_parse(&to_addr, argv[2]) ||
	    to_addr.family != UM_ADDR_IPV4 || (to_len = um_addr_to_sockaddr(&to_addr, &to)) < 0)
		return usage();
	long rate = atol(argv[3]), seconds = atol(argv[4]);
	if (rate <= 0 || seconds <= 0)
		return usage();
	struct in_addr first = {0};
	long count = 1, stride = 1;
	if (argc >= 7) {
		if (inet_pton(AF_INET, argv[5], &first) != 1)
			return usage();
		count = atol(argv[6]);
		if (count <= 0 || count > MAX_SOURCES)
			return usage();
	}
	if (argc >= 8 && (stride = atol(argv[7])) <= 0)
		return usage();
	if (argc == 9) {
		if (strcmp(argv[8], "cookies"))
			return usage();
		cookies = true;
		if ((epoll_fd = epoll_create1(0)) < 0)
			return perror("epoll_create1"), 1;
	}
	for (long i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return perror("socket"), 1;
		if (argc >= 7) {
			struct sockaddr_in src = {.sin_family = AF_INET};
			src.sin_addr.s_addr = htonl(ntohl(first.s_addr) + (uint32_t)(i * stride));
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
				return perror("bind"), 1;
		}
		if (cookies) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)n_fds};
			if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev))
				return perror("epoll_ctl"), 1;
		}
		um_cookie_maker_init(&makers[n_fds], &id);
		fds[n_fds++] = fd;
	}

	uint64_t start = um_now_ns(), end = start + (uint64_t)seconds * UM_NSEC_PER_SEC;
	unsigned long long sent = 0, errors = 0;
	int next_fd = 0;
	for (;;) {
		uint64_t now = um_now_ns();
		if (now >= end)
			break;
		if (cookies)
			drain(epoll_fd, makers, fds, &replies, now);
		unsigned long long due =
		    (unsigned long long)((now - start) * (unsigned long long)rate / UM_NSEC_PER_SEC);
		if (sent + errors >= due) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
			continue;
		}
		unsigned batch = due - sent - errors > BATCH ? BATCH : (unsigned)(due - sent - errors);
		struct mmsghdr msgs[BATCH];
		struct iovec iov[BATCH];
		memset(msgs, 0, sizeof(msgs));
		for (unsigned i = 0; i < batch; i++) {
			int n = make_hello(&makers[next_fd], packets[i], now);
			if (n < 0)
				return fprintf(stderr, "encode failed\n"), 1;
			iov[i] = (struct iovec){packets[i], (size_t)n};
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &to;
			msgs[i].msg_hdr.msg_namelen = (socklen_t)to_len;
		}
		int r = sendmmsg(fds[next_fd], msgs, batch, 0);
		next_fd = (next_fd + 1) % n_fds;
		if (r < 0) {
			errors += batch; /* a full socket buffer: counts as offered, not sent */
			continue;
		}
		sent += (unsigned)r;
		errors += batch - (unsigned)r;
	}
	double elapsed = (double)(um_now_ns() - start) / 1e9;
	printf("sent %llu hellos in %.2f s (%.0f/s), %llu not sent", sent, elapsed, (double)sent / elapsed, errors);
	if (cookies)
		printf("; cookies taken %llu, handshake replies %llu, other %llu", replies.cookies, replies.handshake,
		       replies.other);
	printf("\n");
	for (int i = 0; i < n_fds; i++) {
		um_cookie_maker_wipe(&makers[i]);
		close(fds[i]);
	}
	if (epoll_fd >= 0)
		close(epoll_fd);
	return 0;
}
