/* SPDX-License-Identifier: MIT */
/* bench-relay-socket: the relay server's forwarding rate over real UDP
 * sockets on loopback, the daemon's code path end to end (recvmmsg, core,
 * sendmmsg). The relay runs on its own thread and core; a load generator
 * on the other core registers 2 x PAIRS nodes with real signed
 * REGISTERs, then each sender streams FORWARDs to its partner, which
 * counts the FORWARDEDs it receives. The generator sends with UDP GSO and
 * receives with UDP GRO so that it is not the bottleneck; the relay gets
 * ordinary datagrams either way (the kernel splits GSO batches for a
 * socket without UDP_GRO).
 *   bench-relay-socket [SECONDS=5] [PAIRS=8] [PAYLOAD=100] [gso|single]
 * "single" sends every datagram as its own message instead (sendmmsg), the
 * case of many interleaved small flows where nothing can be coalesced.
 * Prints forwarded packets/s, the relay thread's CPU use, and loss. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../tests/unit/relay/relay_harness.h"
#include "net/udp.h" /* UDP_SEGMENT, UDP_GRO */
#include "relay/server.h"
#include "util/clock.h"

enum { MAX_PAIRS = 64, SEGMENTS = 32 };

struct bench_node {
	struct um_identity id;
	int fd;
	uint64_t received;
};

static struct um_relay_server server;
static struct um_loop *relay_loop;
static atomic_bool relay_stop;
static double relay_cpu_s;
static struct bench_node nodes[2 * MAX_PAIRS];

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *relay_thread(void *arg)
{
	(void)arg;
	pin(1);
	double c0 = thread_cpu_s();
	while (!atomic_load(&relay_stop))
		um_loop_run_once(relay_loop, 50);
	relay_cpu_s = thread_cpu_s() - c0;
	return NULL;
}

static int open_node(struct bench_node *n, unsigned index, bool gro)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, size = 8 << 20;

	if (harness_identity(&n->id, index) < 0)
		return -1;
	n->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(n->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (gro)
		setsockopt(n->fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	return 0;
}

/* Registers through a relay client engine (relay/client.h) over the
 * node's socket: the handshake with the relay, the sealed REGISTER, and
 * the first keepalive echoing the ACK's challenge (which binds). */
static int register_node(struct bench_node *n, const struct sockaddr_in *relay, unsigned index)
{
	static struct um_relay_client client;
	static struct um_relay_client_output out;
	struct um_relay_client_config cc = {.identity = &n->id, .n_uplinks = 1, .has_relay_id = {true}};
	uint8_t reply[2048];
	int rc = -1;

	(void)index;
	cc.relay_id[0] = server.identity->id;
	if (um_relay_client_init(&client, &cc) < 0)
		return -1;
	um_relay_client_start(&client, um_now_ns());
	uint64_t deadline = um_now_ns() + 5 * UM_NSEC_PER_SEC;
	while (um_now_ns() < deadline) {
		while (um_relay_client_tick(&client, um_now_ns(), um_wall_ms(), &out) > 0)
			for (unsigned k = 0; k < out.n_datagrams; k++)
				if (sendto(n->fd, out.datagrams[k], out.lengths[k], 0, (const struct sockaddr *)relay,
					   sizeof(*relay)) != out.lengths[k])
					goto out;
		if (client.uplinks[0].state == UM_RELAY_CLIENT_REGISTERED && !client.uplinks[0].echo_due &&
		    !client.uplinks[0].ka_outstanding && client.uplinks[0].ka_sequence > 0) {
			rc = 0; /* the echo was answered: bound */
			break;
		}
		struct pollfd p = {.fd = n->fd, .events = POLLIN};
		if (poll(&p, 1, 50) == 1) {
			ssize_t r = recv(n->fd, reply, sizeof(reply), 0);
			if (r > 0)
				um_relay_client_input(&client, 0, reply, (size_t)r, um_now_ns(), um_wall_ms());
		}
	}
out:
	um_relay_client_destroy(&client);
	return rc;
}

/* Drains one receiver; GRO hands several datagrams in one read. */
static void drain(struct bench_node *n, size_t datagram)
{
	static uint8_t buf[65536];
	union {
		char buf[64];
		struct cmsghdr align;
	} control;

	for (;;) {
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr h = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = control.buf,
				   .msg_controllen = sizeof(control.buf)};
		ssize_t r = recvmsg(n->fd, &h, MSG_DONTWAIT);
		if (r <= 0)
			return;
		size_t segment = (size_t)r;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
			if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO)
				segment = *(int *)CMSG_DATA(c);
		if (segment == datagram)
			n->received += ((size_t)r + segment - 1) / segment;
	}
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;
	unsigned pairs = argc > 2 ? (unsigned)atoi(argv[2]) : 8;
	size_t payload = argc > 3 ? (size_t)atoi(argv[3]) : 100;
	size_t datagram = UM_RELAY_FORWARD_HEADER_BYTES + payload;
	bool single = argc > 4 && !strcmp(argv[4], "single");
	struct um_relay_config rc;
	struct sockaddr_in listen = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	if (pairs < 1 || pairs > MAX_PAIRS || payload < 1 || payload > UM_RELAY_MAX_PAYLOAD || sodium_init() < 0) {
		fprintf(stderr, "usage: bench-relay-socket [SECONDS] [PAIRS 1..%d] [PAYLOAD 1..%d]\n", MAX_PAIRS,
			UM_RELAY_MAX_PAYLOAD);
		return 2;
	}
	um_relay_default_config(&rc);
	rc.packets_per_s = 1000000000u;
	rc.packet_burst = 10000000u;
	rc.bytes_per_s = 4000000000u;
	rc.byte_burst = 1000000000u;
	struct um_relay_server_config sc = {
	    .listen = (struct sockaddr *)&listen, .listen_len = sizeof(listen), .relay = &rc};
	if (um_loop_new(&relay_loop) < 0 || um_relay_server_start(&server, relay_loop, &sc) < 0) {
		fprintf(stderr, "relay server: cannot start\n");
		return 1;
	}
	listen.sin_port = htons(server.port);
	pthread_t relay;
	pthread_create(&relay, NULL, relay_thread, NULL);
	pin(0);

	for (unsigned i = 0; i < 2 * pairs; i++)
		if (open_node(&nodes[i], i, i >= pairs) < 0 || register_node(&nodes[i], &listen, i) < 0) {
			fprintf(stderr, "node %u: cannot open or register\n", i);
			return 1;
		}

	/* Each sender's batch: SEGMENTS FORWARDs to its partner in one GSO send. */
	static uint8_t batch[MAX_PAIRS][SEGMENTS * UM_RELAY_MAX_DATAGRAM];
	for (unsigned i = 0; i < pairs; i++) {
		uint8_t body[UM_RELAY_MAX_PAYLOAD] = {0};
		/* The routing handle, taken from the core's table directly: the
		 * relay thread is idle between the registrations and the run. */
		struct um_relay_forward f = {.payload = body, .payload_len = payload};
		uint64_t handle = harness_handle(&server.core, &nodes[i].id.id, &nodes[pairs + i].id.id);
		if (!handle) {
			fprintf(stderr, "pair %u: no handle\n", i);
			return 1;
		}
		um_relay_route_set(&f.peer, handle);
		for (unsigned s = 0; s < SEGMENTS; s++)
			um_relay_forward_encode(batch[i] + s * datagram, datagram, UM_MSG_RELAY_FORWARD, &f);
	}
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} control;
	uint64_t sent = 0, full = 0;
	uint64_t forwarded0 = server.core.stats.forwarded_packets;
	uint64_t t0 = um_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	while (um_now_ns() < end) {
		for (unsigned i = 0; i < pairs && single; i++) {
			struct iovec iov[SEGMENTS];
			struct mmsghdr m[SEGMENTS];
			for (unsigned k = 0; k < SEGMENTS; k++) {
				iov[k] = (struct iovec){batch[i] + k * datagram, datagram};
				m[k].msg_hdr = (struct msghdr){.msg_name = &listen,
							       .msg_namelen = sizeof(listen),
							       .msg_iov = &iov[k],
							       .msg_iovlen = 1};
			}
			int r = sendmmsg(nodes[i].fd, m, SEGMENTS, MSG_DONTWAIT);
			if (r > 0)
				sent += (uint64_t)r;
			if (r < SEGMENTS)
				full++;
		}
		for (unsigned i = 0; i < pairs && !single; i++) {
			struct iovec iov = {batch[i], SEGMENTS * datagram};
			struct msghdr h = {.msg_name = &listen,
					   .msg_namelen = sizeof(listen),
					   .msg_iov = &iov,
					   .msg_iovlen = 1,
					   .msg_control = control.buf,
					   .msg_controllen = sizeof(control.buf)};
			struct cmsghdr *c = CMSG_FIRSTHDR(&h);
			c->cmsg_level = IPPROTO_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			*(uint16_t *)CMSG_DATA(c) = (uint16_t)datagram;
			if (sendmsg(nodes[i].fd, &h, MSG_DONTWAIT) > 0)
				sent += SEGMENTS;
			else
				full++;
		}
		for (unsigned i = pairs; i < 2 * pairs; i++)
			drain(&nodes[i], datagram);
	}
	uint64_t t1 = um_now_ns();
	usleep(200 * 1000);
	for (unsigned i = pairs; i < 2 * pairs; i++)
		drain(&nodes[i], datagram);
	atomic_store(&relay_stop, true);
	pthread_join(relay, NULL);

	uint64_t received = 0;
	for (unsigned i = pairs; i < 2 * pairs; i++)
		received += nodes[i].received;
	double wall = (double)(t1 - t0) / 1e9;
	uint64_t forwarded = server.core.stats.forwarded_packets - forwarded0;
	printf("relay over loopback UDP: %u pairs, %zu-byte datagrams (%zu payload), %.1f s\n", pairs, datagram,
	       payload, wall);
	printf("offered   %10.0f packets/s (generator, %s x%d; %llu sends refused: socket full)\n", (double)sent / wall,
	       single ? "sendmmsg" : "GSO", SEGMENTS, (unsigned long long)full);
	printf("forwarded %10.0f packets/s by the relay (%.2f Gbit/s of datagrams)\n", (double)forwarded / wall,
	       (double)forwarded * (double)datagram * 8 / wall / 1e9);
	printf("received  %10.0f packets/s at the partners; lost in kernel buffers %.1f %%\n", (double)received / wall,
	       sent ? 100.0 * (double)(sent - received) / (double)sent : 0.0);
	printf("relay thread CPU %.2f s of %.2f s: %.0f packets per relay CPU-second\n", relay_cpu_s, wall,
	       relay_cpu_s > 0 ? (double)forwarded / relay_cpu_s : 0.0);
	printf("relay I/O: %llu batches, %.1f datagrams per recvmmsg\n", (unsigned long long)server.stats.batches,
	       server.stats.batches ? (double)server.stats.rx_datagrams / (double)server.stats.batches : 0.0);
	um_relay_server_stop(&server);
	um_loop_free(relay_loop);
	return 0;
}
