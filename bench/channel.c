/* SPDX-License-Identifier: MIT */
/* bench-channel: the message channel (msg/channel.h) in memory.
 * 1. Engine throughput: two channels handing segments to each other
 *    directly (no loss, no delay, no copies besides the channel's own), in
 *    MB/s of wall clock on one core: what the engine costs per byte.
 * 2. Throughput over the simulated link of tests/unit/msg/channel_link.h
 *    (RTT 20 ms, 0%, 2% and 10% loss, 1% duplicates, 5% reordered), in MB/s
 *    of simulated time: what congestion control and loss recovery achieve.
 * 3. Memory of an idle channel (heap bytes per channel, 1000 of them).
 * Usage: bench-channel [MB for part 1 (default 1000)] [MB for part 2 (20)] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "channel_link.h"
#include "msg/channel.h"
#include "util/clock.h"

static double engine_throughput(uint64_t total)
{
	static uint8_t chunk[64 << 10], sink[64 << 10];
	uint8_t seg[UM_CHANNEL_SEGMENT_MAX];
	struct um_channel *a, *b;
	uint64_t now = 1000000000, written = 0, received = 0;
	size_t len;

	if (um_channel_new(NULL, 0xa, now, &a) < 0 || um_channel_new(NULL, 0xb, now, &b) < 0)
		exit(1);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	uint64_t start = um_now_ns();
	while (received < total) {
		bool moved = false;
		while (written < total) {
			size_t n = um_channel_writable(a);
			if (n > sizeof(chunk))
				n = sizeof(chunk);
			if (n > total - written)
				n = (size_t)(total - written);
			if (n == 0 || um_channel_write(a, chunk, n) != 0)
				break;
			written += n;
		}
		while (um_channel_output(a, now, seg, sizeof(seg), &len) == 0 && len) {
			um_channel_input(b, seg, len, now);
			moved = true;
		}
		size_t got;
		while ((got = um_channel_read(b, sink, sizeof(sink))) > 0)
			received += got;
		while (um_channel_output(b, now, seg, sizeof(seg), &len) == 0 && len) {
			um_channel_input(a, seg, len, now);
			moved = true;
		}
		if (!moved) {
			uint64_t d = um_channel_deadline(a), e = um_channel_deadline(b);
			now = d < e ? d : e;
			if (now == UINT64_MAX)
				break;
		}
	}
	double secs = (double)(um_now_ns() - start) / 1e9;
	um_channel_free(a);
	um_channel_free(b);
	return (double)received / 1e6 / secs;
}

static void link_throughput(double loss, uint64_t total)
{
	struct link_params p = {.loss = loss,
				.duplicate = loss > 0 ? 0.01 : 0,
				.reorder = loss > 0 ? 0.05 : 0,
				.reorder_ns = 5000000,
				.delay_ns = 10000000};
	struct link *l = link_new(&p, 1234);
	static uint8_t buf[64 << 10];
	uint64_t written = 0, received = 0, start = l->now, wall = um_now_ns();
	struct um_channel_stats s;

	while (received < total) {
		size_t n;
		while ((n = um_channel_writable(l->ch[0])) > 0 && written < total) {
			if (n > sizeof(buf))
				n = sizeof(buf);
			if (n > total - written)
				n = (size_t)(total - written);
			if (um_channel_write(l->ch[0], buf, n) != 0)
				break;
			written += n;
		}
		while ((n = um_channel_read(l->ch[1], buf, sizeof(buf))) > 0)
			received += n;
		if (!link_pump(l))
			break;
	}
	um_channel_stats(l->ch[0], &s);
	double secs = (double)(l->now - start) / 1e9;
	printf("  loss %4.1f%%: %7.2f MB/s simulated (%.1f s for %llu MB; wall %.2f s), srtt %.1f ms, "
	       "retransmitted %.1f%%, %llu timeouts\n",
	       loss * 100, (double)received / 1e6 / secs, secs, (unsigned long long)(total >> 20),
	       (double)(um_now_ns() - wall) / 1e9, (double)s.srtt_ns / 1e6,
	       100.0 * (double)s.bytes_retransmitted / (double)(s.bytes_sent ? s.bytes_sent : 1),
	       (unsigned long long)s.timeouts);
	link_free(l);
}

static void idle_memory(void)
{
	enum { N = 1000 };
	static struct um_channel *ch[N];
	struct um_channel_stats st;
	size_t before = mallinfo2().uordblks;

	for (unsigned i = 0; i < N; i++)
		if (um_channel_new(NULL, i + 1, 0, &ch[i]) < 0)
			exit(1);
	size_t after = mallinfo2().uordblks;
	um_channel_stats(ch[0], &st);
	for (unsigned i = 0; i < N; i++)
		um_channel_free(ch[i]);
	printf("idle channel: %zu bytes of heap each (%llu by its own count; buffers grow on demand up to "
	       "4 MiB + 4 MiB, um_channel_trim gives them back)\n",
	       (after - before) / N, (unsigned long long)st.memory_bytes);
}

int main(int argc, char **argv)
{
	uint64_t mb1 = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
	uint64_t mb2 = argc > 2 ? strtoull(argv[2], NULL, 10) : 20;

	printf("channel engine, in memory (1152-byte segments, 4 MiB buffers): %.0f MB/s\n",
	       engine_throughput(mb1 << 20));
	idle_memory();
	printf("simulated link, RTT 20 ms:\n");
	link_throughput(0, mb2 << 20);
	link_throughput(0.02, mb2 << 20);
	link_throughput(0.10, mb2 << 20);
	return 0;
}
