/* SPDX-License-Identifier: MIT */
/* bench-handshake-loss: the handshake engine over a simulated lossy path
 * (tests/unit/session/hs_lossy.h: fake clock, fixed delay, random loss per
 * datagram and direction), with FRAGMENT_ACK and without it (whole-message
 * resends, as before it existed), in the same run on the same seeds.
 *
 *   bench-handshake-loss [runs [rtt_ms]]     defaults: 200 runs, 40 ms
 *
 * Per loss rate (0, 2, 5, 10%) and mode: handshakes completed within the
 * 10 s give-up, completion time (mean, p50, p95, worst) and datagrams and
 * bytes sent per handshake. "cold" starts every handshake on fresh nodes
 * (no RTT estimate: 1 s initial RTO); "warm" runs one clean handshake
 * first, so the RTO comes from a measured round trip. */
#include <stdio.h>
#include <stdlib.h>

#include "hs_lossy.h"
#include "session/handshake_internal.h"

#define MS UM_NSEC_PER_MSEC

static struct hs_node A, B;
static struct lossy_net net;
static uint64_t rng_state;
static unsigned loss_permille;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static int drop_random(struct lossy_net *n, int from, const uint8_t *d, uint16_t len)
{
	(void)n;
	(void)from;
	(void)d;
	(void)len;
	return rng() % 1000 < loss_permille;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void run(unsigned permille, bool acks, bool warm, unsigned runs, uint64_t rtt_ns, uint64_t *times)
{
	unsigned done = 0;
	double datagrams = 0, bytes = 0, sum_ms = 0;

	loss_permille = permille;
	for (unsigned seed = 1; seed <= runs; seed++) {
		hs_node_init(&A, 1);
		hs_node_init(&B, 2);
		hs_pair(&A, &B);
		A.engine->acks_disabled = B.engine->acks_disabled = !acks;
		struct um_handshake_time start = hs_time(100);
		if (warm) {
			lossy_init(&net, &A, &B, rtt_ns / 2, start);
			lossy_run(&net, 10000 * MS);
			start.mono_ns = net.now_ns + 1000 * MS;
			start.wall_ms += (start.mono_ns - hs_time(100).mono_ns) / MS;
		}
		/* The warm-up's counts are not this handshake's. */
		const struct um_handshake_stats *sa = um_handshake_get_stats(A.engine);
		const struct um_handshake_stats *sb = um_handshake_get_stats(B.engine);
		uint64_t frags0 = sa->fragments_sent + sb->fragments_sent, acks0 = sa->acks_sent + sb->acks_sent;
		rng_state = 0x9e3779b97f4a7c15ULL * seed;
		lossy_init(&net, &A, &B, rtt_ns / 2, start);
		net.drop = drop_random;
		if (lossy_run(&net, 10000 * MS) == 0) {
			uint64_t t = net.done_ns - net.base_ns;
			times[done++] = t;
			sum_ms += (double)t / 1e6;
			datagrams += net.sent[0] + net.sent[1];
			/* FRAGMENTs are full datagrams but the last piece; close enough
			 * for a comparison: count them at the cap, the rest at size. */
			bytes += (double)(sa->fragments_sent + sb->fragments_sent - frags0) * UM_HS_MAX_DATAGRAM +
				 (double)(net.sent_type[0][UM_TYPE_HELLO] + net.sent_type[1][UM_TYPE_HELLO]) *
				     UM_HS_HELLO_BYTES +
				 (double)(sa->acks_sent + sb->acks_sent - acks0) * UM_FRAG_ACK_BYTES +
				 (double)(net.sent_type[1][UM_TYPE_ESTABLISHED]) * UM_HS_ESTABLISHED_BYTES;
		}
		hs_node_free(&A);
		hs_node_free(&B);
	}
	qsort(times, done, sizeof(times[0]), cmp_u64);
	printf("%5.1f%%  %-4s  %-13s  %4u/%-4u", permille / 10.0, warm ? "warm" : "cold",
	       acks ? "FRAGMENT_ACK" : "whole resend", done, runs);
	if (done)
		printf("  %7.0f  %7.0f  %7.0f  %7.0f   %6.2f  %8.0f\n", sum_ms / done, (double)times[done / 2] / 1e6,
		       (double)times[(done * 95) / 100 < done ? (done * 95) / 100 : done - 1] / 1e6,
		       (double)times[done - 1] / 1e6, datagrams / done, bytes / done);
	else
		printf("\n");
}

int main(int argc, char **argv)
{
	unsigned runs = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
	uint64_t rtt_ns = (argc > 2 ? (uint64_t)atoi(argv[2]) : 40) * MS;
	static const unsigned losses[] = {0, 20, 50, 100};

	if (sodium_init() < 0 || runs == 0)
		return 1;
	uint64_t *times = calloc(runs, sizeof(*times));
	if (!times)
		return 1;
	printf("handshake over a simulated path: RTT %llu ms, random loss per datagram and direction, %u runs\n",
	       (unsigned long long)(rtt_ns / MS), runs);
	printf("%6s  %-4s  %-13s  %-9s  %7s  %7s  %7s  %7s   %6s  %8s\n", "loss", "rto", "mode", "done", "mean ms",
	       "p50 ms", "p95 ms", "max ms", "dgrams", "bytes");
	for (size_t i = 0; i < sizeof(losses) / sizeof(losses[0]); i++)
		for (int warm = 0; warm < 2; warm++)
			for (int acks = 0; acks < 2; acks++)
				run(losses[i], acks, warm, runs, rtt_ns, times);
	free(times);
	return 0;
}
