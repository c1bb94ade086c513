/* SPDX-License-Identifier: MIT */
/* um_flood: sends bogus HELLOs at a fixed rate, for the cookie test.
 *
 *   um_flood PEER_ID IPV4:PORT RATE SECONDS [FIRST_SOURCE COUNT]
 *
 * Each HELLO is well-formed with a valid mac1 for PEER_ID (an attacker who
 * knows the responder's public peer ID can do as much) but random ephemeral
 * key, nonce and index, so each one would cost the responder real work if
 * the cookie check did not stop it. With FIRST_SOURCE and COUNT the packets
 * rotate over COUNT consecutive IPv4 source addresses (which must be
 * configured on a local interface), defeating a purely per-source limit.
 * Prints the number of datagrams sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "session/cookie.h"
#include "util/addr.h"
#include "util/clock.h"
#include "wire/handshake.h"

enum { BATCH = 32, MAX_SOURCES = 256 };

static int usage(void)
{
	fprintf(stderr, "usage: um_flood PEER_ID IPV4:PORT RATE SECONDS [FIRST_SOURCE COUNT]\n");
	return 2;
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
	struct um_cookie_maker maker;
	int fds[MAX_SOURCES], n_fds = 0;
	static uint8_t packets[BATCH][UM_HS_HELLO_BYTES];

	if (argc != 5 && argc != 7)
		return usage();
	if (sodium_init() < 0 || um_peer_id_parse(&id, argv[1]) || um_addr_parse(&to_addr, argv[2]) ||
	    to_addr.family != UM_ADDR_IPV4 || (to_len = um_addr_to_sockaddr(&to_addr, &to)) < 0)
		return usage();
	long rate = atol(argv[3]), seconds = atol(argv[4]);
	if (rate <= 0 || seconds <= 0)
		return usage();
	struct in_addr first = {0};
	long count = 1;
	if (argc == 7) {
		if (inet_pton(AF_INET, argv[5], &first) != 1)
			return usage();
		count = atol(argv[6]);
		if (count <= 0 || count > MAX_SOURCES)
			return usage();
	}
	for (long i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return perror("socket"), 1;
		if (argc == 7) {
			struct sockaddr_in src = {.sin_family = AF_INET};
			src.sin_addr.s_addr = htonl(ntohl(first.s_addr) + (uint32_t)i);
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
				return perror("bind"), 1;
		}
		fds[n_fds++] = fd;
	}
	um_cookie_maker_init(&maker, &id);

	uint64_t start = um_now_ns(), end = start + (uint64_t)seconds * UM_NSEC_PER_SEC;
	unsigned long long sent = 0, errors = 0;
	int next_fd = 0;
	for (;;) {
		uint64_t now = um_now_ns();
		if (now >= end)
			break;
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
			int n = make_hello(&maker, packets[i], now);
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
	printf("sent %llu hellos in %.2f s (%.0f/s), %llu not sent\n", sent, elapsed, (double)sent / elapsed, errors);
	um_cookie_maker_wipe(&maker);
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	return 0;
}
