/* SPDX-License-Identifier: MIT */
/* stun_probe HOST PORT [LOCAL_PORT]: one STUN Binding transaction with
 * umbra's client (src/node/stun_query.h); prints the reflexive address as
 * "mapped ADDRESS PORT requests N rtt_us N" and exits 0, or exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/stun_query.h"
#include "util/error.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage server = {0}, local = {0};
	socklen_t len;
	struct um_stun_options options;
	struct um_stun_result result;
	char text[INET6_ADDRSTRLEN];

	if (argc < 3) {
		fprintf(stderr, "usage: %s HOST PORT [LOCAL_PORT]\n", argv[0]);
		return 2;
	}
	uint16_t port = (uint16_t)atoi(argv[2]);
	uint16_t local_port = argc > 3 ? (uint16_t)atoi(argv[3]) : 0;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&server;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&server;
	if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
		struct sockaddr_in *l4 = (struct sockaddr_in *)&local;
		l4->sin_family = AF_INET;
		l4->sin_port = htons(local_port);
	} else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
		struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&local;
		l6->sin6_family = AF_INET6;
		l6->sin6_port = htons(local_port);
	} else {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 2;
	}
	int fd = socket(server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&local, len) < 0) {
		perror("socket/bind");
		return 1;
	}
	um_stun_default_options(&options);
	options.rto_ns = 200 * 1000000ULL; /* a LAN-fast RTO keeps the test short */
	options.rc = 5;
	options.rm = 8;
	int rc = um_stun_query(fd, (struct sockaddr *)&server, len, &options, &result);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "stun: %s (error code %u, %u requests)\n", um_strerror(rc), result.error_code,
			result.requests_sent);
		return 1;
	}
	inet_ntop(result.mapped.family == 4 ? AF_INET : AF_INET6, result.mapped.addr, text, sizeof(text));
	printf("mapped %s %u requests %u rtt_us %llu\n", text, result.mapped.port, result.requests_sent,
	       (unsigned long long)(result.rtt_ns / 1000));
	return 0;
}
