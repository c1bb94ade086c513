/* SPDX-License-Identifier: MIT */
/* bench-handshake: complete hybrid handshakes between two engines, first
 * in memory, then over a pair of loopback UDP sockets (real sendto/recvfrom
 * of every datagram, fragments included), printing median and p99 wall
 * time per handshake and the time each step takes.
 *   bench-handshake [iterations]   (default 200) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session/handshake.h"
#include "util/clock.h"

struct side {
	struct um_identity identity;
	struct um_handshake_engine *engine;
	struct um_handshake_peer *peer;
	struct um_addr addr;
	int fd;
	int established;
};

static struct um_handshake_output out;
static struct side a, b;

enum { QMAX = 32 };
struct queue {
	unsigned n;
	uint16_t len[QMAX];
	uint8_t data[QMAX][UM_HS_MAX_DATAGRAM];
};

static void take(struct side *self, struct queue *q)
{
	q->n = 0;
	for (unsigned i = 0; i < out.n_datagrams && i < QMAX; i++) {
		memcpy(q->data[i], out.datagrams[i], out.lengths[i]);
		q->len[q->n++] = out.lengths[i];
	}
	if (out.event == UM_HS_EVENT_ESTABLISHED) {
		self->established++;
		um_handshake_output_wipe(&out);
	}
}

/* Step timings (ns), accumulated: responder HELLO->CHALLENGE, initiator
 * CHALLENGE->RESPONSE, responder RESPONSE->ESTABLISHED, initiator finish. */
static uint64_t step_ns[4];

static int handshake_memory(void)
{
	static struct queue q, next;
	struct side *from = &a, *to = &b;
	int ea = a.established, eb = b.established;
	unsigned step = 0;
	um_handshake_initiate(a.engine, a.peer, &b.addr, um_handshake_time_now(), &out);
	take(&a, &q);
	while (q.n && step < 4) {
		uint64_t t0 = um_now_ns();
		next.n = 0;
		for (unsigned i = 0; i < q.n; i++) {
			um_handshake_receive(to->engine, &from->addr, q.data[i], q.len[i], um_handshake_time_now(),
					     &out);
			if (out.n_datagrams || out.event)
				take(to, &next);
		}
		step_ns[step++] += um_now_ns() - t0;
		q = next;
		struct side *t = from;
		from = to;
		to = t;
	}
	return a.established == ea + 1 && b.established == eb + 1 ? 0 : -1;
}

static int udp_socket(struct um_addr *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	um_addr_from_sockaddr(addr, (struct sockaddr *)&sin, len);
	return fd;
}

static void send_out(struct side *self)
{
	struct sockaddr_storage ss;
	int sl = um_addr_to_sockaddr(&out.to, &ss);
	for (unsigned i = 0; i < out.n_datagrams; i++)
		sendto(self->fd, out.datagrams[i], out.lengths[i], 0, (struct sockaddr *)&ss, (socklen_t)sl);
	if (out.event == UM_HS_EVENT_ESTABLISHED) {
		self->established++;
		um_handshake_output_wipe(&out);
	}
}

/* One thread drives both sockets with poll(), as a daemon's loop would. */
static int handshake_udp(void)
{
	static uint8_t buf[2048];
	int ea = a.established, eb = b.established;
	um_handshake_initiate(a.engine, a.peer, &b.addr, um_handshake_time_now(), &out);
	send_out(&a);
	uint64_t deadline = um_now_ns() + UM_NSEC_PER_SEC;
	while ((a.established == ea || b.established == eb) && um_now_ns() < deadline) {
		struct pollfd pfd[2] = {{.fd = a.fd, .events = POLLIN}, {.fd = b.fd, .events = POLLIN}};
		if (poll(pfd, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			struct side *s = i == 0 ? &a : &b;
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (n <= 0)
				continue;
			struct um_addr src;
			um_addr_from_sockaddr(&src, (struct sockaddr *)&from, fl);
			if (um_handshake_receive(s->engine, &src, buf, (size_t)n, um_handshake_time_now(), &out) == 0)
				send_out(s);
		}
	}
	return a.established == ea + 1 && b.established == eb + 1 ? 0 : -1;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * UM_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
	return p < q ? -1 : p > q;
}

static void report(const char *name, uint64_t *ns, int n, int failures)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	int p99 = (n * 99) / 100;
	if (p99 >= n)
		p99 = n - 1;
	printf("%-22s n=%d median %.3f ms  p99 %.3f ms  min %.3f ms  failures %d\n", name, n, ns[n / 2] / 1e6,
	       ns[p99] / 1e6, ns[0] / 1e6, failures);
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 200;
	if (iterations < 1 || sodium_init() < 0)
		return 1;
	uint64_t *ns = calloc((size_t)iterations, sizeof(*ns));
	uint64_t *cpu = calloc((size_t)iterations, sizeof(*cpu));
	if (!ns || !cpu)
		return 1;
	um_identity_generate(&a.identity);
	um_identity_generate(&b.identity);
	struct um_handshake_config ca = {.identity = &a.identity}, cb = {.identity = &b.identity};
	/* One source sends all the handshakes here: lift the per-source rate. */
	ca.hello_per_second = cb.hello_per_second = 1000000;
	ca.hello_burst = cb.hello_burst = 1000000;
	ca.prefix_hello_per_second = cb.prefix_hello_per_second = 1000000;
	ca.prefix_hello_burst = cb.prefix_hello_burst = 1000000;
	ca.challenges_per_second = cb.challenges_per_second = 1000000;
	ca.challenge_burst = cb.challenge_burst = 1000000;
	if (um_handshake_engine_new(&a.engine, &ca) < 0 || um_handshake_engine_new(&b.engine, &cb) < 0)
		return 1;
	um_handshake_peer_add(a.engine, &b.identity.id, &b, &a.peer);
	um_handshake_peer_add(b.engine, &a.identity.id, &a, &b.peer);
	a.addr = (struct um_addr){.family = 4, .addr = {10, 0, 0, 1}, .port = 1};
	b.addr = (struct um_addr){.family = 4, .addr = {10, 0, 0, 2}, .port = 2};

	printf("message sizes: HELLO %d, CHALLENGE %d (%u datagrams), RESPONSE %d (%u), ESTABLISHED %d bytes\n",
	       UM_HS_HELLO_BYTES, UM_HS_CHALLENGE_BYTES, um_fragment_count(UM_HS_CHALLENGE_BYTES), UM_HS_RESPONSE_BYTES,
	       um_fragment_count(UM_HS_RESPONSE_BYTES), UM_HS_ESTABLISHED_BYTES);

	int failures = 0;
	for (int i = 0; i < iterations; i++) {
		uint64_t t0 = um_now_ns(), c0 = cpu_ns();
		failures += handshake_memory() != 0;
		ns[i] = um_now_ns() - t0;
		cpu[i] = cpu_ns() - c0;
	}
	report("in-memory handshake", ns, iterations, failures);
	/* CPU time of both sides together: what the handshake costs when the
	 * machine is shared (wall time also counts other processes' slices). */
	report("  (CPU time, both sides)", cpu, iterations, failures);
	printf("  steps (mean): responder HELLO->CHALLENGE %.3f ms, initiator CHALLENGE->RESPONSE %.3f ms,\n"
	       "               responder RESPONSE->ESTABLISHED %.3f ms, initiator ESTABLISHED %.3f ms\n",
	       step_ns[0] / 1e6 / iterations, step_ns[1] / 1e6 / iterations, step_ns[2] / 1e6 / iterations,
	       step_ns[3] / 1e6 / iterations);

	if ((a.fd = udp_socket(&a.addr)) < 0 || (b.fd = udp_socket(&b.addr)) < 0) {
		printf("loopback UDP: cannot open sockets, skipped\n");
	} else {
		failures = 0;
		for (int i = 0; i < iterations; i++) {
			uint64_t t0 = um_now_ns(), c0 = cpu_ns();
			failures += handshake_udp() != 0;
			ns[i] = um_now_ns() - t0;
			cpu[i] = cpu_ns() - c0;
		}
		report("loopback UDP handshake", ns, iterations, failures);
		report("  (CPU time, both sides)", cpu, iterations, failures);
		close(a.fd);
		close(b.fd);
	}
	um_handshake_engine_free(a.engine);
	um_handshake_engine_free(b.engine);
	um_identity_wipe(&a.identity);
	um_identity_wipe(&b.identity);
	free(ns);
	free(cpu);
	return 0;
}
