/* SPDX-License-Identifier: MIT */
/* bench-ping-interleaved: ICMP echo round trips to several IPv4 addresses,
 * one at a time in rotation, so that tunnels compared side by side see the
 * same moments of a noisy machine (the VM's speed drifts over minutes; a
 * comparison of runs made one after the other measures the drift). The
 * reply time is the kernel's receive timestamp. Needs a raw socket (root).
 *   bench-ping-interleaved COUNT INTERVAL_S ADDRESS...
 * Every address gets COUNT pings; consecutive pings are INTERVAL_S / n
 * apart, so each tunnel idles INTERVAL_S between its own pings (0.1 s in
 * the peer lab). Prints min, p10, p50, p90 and mean in microseconds. */
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double usec(struct timespec t)
{
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static uint16_t checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One echo to `to`; its round trip in us, or -1 after a second without reply. */
static double ping_once(int fd, const struct sockaddr_in *to, uint16_t id, uint16_t seq)
{
	uint8_t packet[64] = {0};
	struct icmphdr *echo = (struct icmphdr *)packet;
	echo->type = ICMP_ECHO;
	echo->un.echo.id = htons(id);
	echo->un.echo.sequence = htons(seq);
	echo->checksum = checksum(packet, sizeof(packet));
	struct timespec sent;
	clock_gettime(CLOCK_REALTIME, &sent);
	if (sendto(fd, packet, sizeof(packet), 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		return -1;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 1000) <= 0)
			return -1;
		uint8_t reply[256], control[256];
		struct iovec iov = {reply, sizeof(reply)};
		struct msghdr msg = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
		ssize_t n = recvmsg(fd, &msg, 0);
		if (n < (ssize_t)sizeof(struct iphdr))
			continue;
		size_t ihl = (size_t)(reply[0] & 15) * 4;
		if ((size_t)n < ihl + sizeof(struct icmphdr))
			continue;
		const struct icmphdr *r = (const struct icmphdr *)(reply + ihl);
		if (r->type != ICMP_ECHOREPLY || r->un.echo.id != htons(id) || r->un.echo.sequence != htons(seq))
			continue;
		struct timespec received;
		clock_gettime(CLOCK_REALTIME, &received);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS)
				memcpy(&received, CMSG_DATA(c), sizeof(received));
		return usec(received) - usec(sent);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4 || atoi(argv[1]) < 1 || atof(argv[2]) <= 0) {
		fprintf(stderr, "usage: bench-ping-interleaved COUNT INTERVAL_S ADDRESS...\n");
		return 2;
	}
	int count = atoi(argv[1]), targets = argc - 3, on = 1;
	double interval = atof(argv[2]);
	struct sockaddr_in *to = calloc((size_t)targets, sizeof(*to));
	double *rtt = calloc((size_t)count * (size_t)targets, sizeof(*rtt));
	int *got = calloc((size_t)targets, sizeof(*got));
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (!to || !rtt || !got || fd < 0 || setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) {
		perror("bench-ping-interleaved");
		return 1;
	}
	for (int t = 0; t < targets; t++) {
		to[t].sin_family = AF_INET;
		if (inet_pton(AF_INET, argv[3 + t], &to[t].sin_addr) != 1) {
			fprintf(stderr, "bench-ping-interleaved: bad address %s\n", argv[3 + t]);
			return 2;
		}
	}
	for (int i = 0; i < count; i++) {
		for (int k = 0; k < targets; k++) {
			int t = (k + i) % targets; /* rotate who goes first */
			usleep((useconds_t)(interval * 1e6 / targets));
			double r = ping_once(fd, &to[t], (uint16_t)(0x5500 + t), (uint16_t)i);
			if (r >= 0)
				rtt[t * count + got[t]++] = r;
		}
	}
	for (int t = 0; t < targets; t++) {
		double *v = rtt + t * count, sum = 0;
		int n = got[t];
		if (n == 0) {
			printf("%-15s no replies\n", argv[3 + t]);
			continue;
		}
		qsort(v, (size_t)n, sizeof(*v), compare);
		for (int i = 0; i < n; i++)
			sum += v[i];
		printf("%-15s n %4d min %5.0f p10 %5.0f p50 %5.0f p90 %5.0f mean %5.0f us\n", argv[3 + t], n, v[0],
		       v[n / 10], v[n / 2], v[n * 9 / 10], sum / n);
	}
	close(fd);
	free(to);
	free(rtt);
	free(got);
	return 0;
}
