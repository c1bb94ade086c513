/* SPDX-License-Identifier: MIT */
/* bench-queue: envelopes the relay's queue (src/store/queue.c, the segment
 * log of queue_log.c) accepts per
 * second on the current directory's file system with every acknowledgement
 * after fsync: groups of 1, 16, 64 and 256 puts per commit (group commit),
 * 4 KiB and 16 KiB envelopes spread over 1000 recipients; p50/p99 latency of
 * one commit (what the senders of a group wait for their acknowledgement);
 * then the time to read and delete a full queue of 100 for one recipient.
 *   bench-queue [SECONDS [KIB GROUP]]   (default 2 s per mode; all modes)
 * Each mode starts on a fresh database (bench-queue-PID.db), removed after. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "store/queue.h"
#include "util/clock.h"
#include "util/error.h"

#define LATENCIES_MAX 1000000
#define RECIPIENTS    1000

static uint8_t envelope[16384];
static uint64_t latencies[LATENCIES_MAX];
static char path[64];

static void recipient_of(uint64_t n, uint8_t to[32])
{
	memset(to, 0x42, 32);
	to[0] = (uint8_t)(n % RECIPIENTS);
	to[1] = (uint8_t)(n % RECIPIENTS >> 8);
}

static int put(struct um_queue *q, const uint8_t to[32], uint64_t n, size_t len)
{
	uint8_t id[16] = {0};

	memcpy(id, &n, sizeof(n));
	memcpy(envelope, &n, sizeof(n)); /* not all alike */
	return um_queue_put(q, to, id, envelope, len, um_wall_ms());
}

/* The queue's head and its segments. */
static void remove_files(void)
{
	char side[96];

	unlink(path);
	for (unsigned n = 1; n < 1000000; n++) {
		snprintf(side, sizeof(side), "%s-%08u.log", path, n);
		if (unlink(side) < 0 && n > 1)
			break;
	}
}

/* CPU time (user + system) of this process, ns. */
static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int open_fresh(struct um_queue **q)
{
	/* Limits out of the way: the puts measure the store, not refusals. */
	struct um_queue_limits limits = {UM_QUEUE_TTL_MS_DEFAULT, 1000000, 1ull << 40};
	int rc;

	remove_files();
	rc = um_queue_open(path, &limits, q);
	if (rc)
		fprintf(stderr, "bench-queue: open %s: %s\n", path, um_strerror(rc));
	return rc;
}

/* Puts for `seconds`, `group` per commit; prints the figures. */
static int run_puts(unsigned group, size_t len, double seconds)
{
	struct um_queue *q = NULL;
	uint64_t start, end, now, next = 1, cpu;
	size_t commits = 0, puts = 0;
	uint8_t to[32];
	int rc;

	rc = open_fresh(&q);
	if (rc)
		return rc;
	cpu = cpu_ns();
	start = now = um_now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	while (now < end) {
		uint64_t t0 = now;

		rc = um_queue_begin(q);
		for (unsigned i = 0; i < group && rc == 0; i++, next++) {
			recipient_of(next, to);
			rc = put(q, to, next, len);
		}
		if (rc == 0)
			rc = um_queue_commit(q);
		else
			um_queue_commit(q);
		if (rc)
			break;
		now = um_now_ns();
		if (commits < LATENCIES_MAX)
			latencies[commits] = now - t0;
		commits++;
		puts += group;
	}
	cpu = cpu_ns() - cpu;
	um_queue_close(q);
	if (rc) {
		fprintf(stderr, "bench-queue: %s\n", um_strerror(rc));
		return rc;
	}
	/* A restart: the index is rebuilt from the log (page cache warm). */
	uint64_t t_open = um_now_ns();
	struct um_queue_limits limits = {UM_QUEUE_TTL_MS_DEFAULT, 1000000, 1ull << 40};
	rc = um_queue_open(path, &limits, &q);
	t_open = um_now_ns() - t_open;
	um_queue_close(q);
	if (rc)
		return rc;
	double spent = (double)(now - start) / 1e9;
	size_t kept = commits < LATENCIES_MAX ? commits : LATENCIES_MAX;
	qsort(latencies, kept, sizeof(latencies[0]), cmp_u64);
	/* CPU per envelope: what the machine's load does not blur. */
	printf("%2zu KiB group %3u %7.0f envelopes/s %6.0f commits/s %6.1f MB/s  commit p50 %7.3f ms p99 %7.3f ms"
	       "  CPU %5.1f us/envelope (%zu, reopened in %.0f ms)\n",
	       len / 1024, group, (double)puts / spent, (double)commits / spent, (double)(puts * len) / spent / 1e6,
	       kept ? (double)latencies[kept / 2] / 1e6 : 0.0, kept ? (double)latencies[kept * 99 / 100] / 1e6 : 0.0,
	       (double)cpu / 1e3 / (double)(puts ? puts : 1), puts, (double)t_open / 1e6);
	return 0;
}

struct drained {
	uint8_t ids[100][16];
	size_t n, bytes;
};

static int collect(void *ctx, const struct um_queue_entry *e)
{
	struct drained *d = ctx;

	if (d->n < 100)
		memcpy(d->ids[d->n++], e->id, 16);
	d->bytes += e->len;
	return 0;
}

/* A full queue of 100 (1000 other recipients' envelopes around it): read it
 * all, then delete each (the recipient's acknowledgements) in one group, or
 * one commit each. */
static int run_drain(size_t len, bool one_group)
{
	struct um_queue *q = NULL;
	struct drained d = {0};
	uint8_t me[32], to[32];
	uint64_t t0, t1, t2;
	int rc;

	rc = open_fresh(&q);
	if (rc)
		return rc;
	memset(me, 0x99, sizeof(me));
	rc = um_queue_begin(q);
	for (uint64_t n = 1; n <= 1100 && rc == 0; n++) {
		if (n % 11 == 0) {
			rc = put(q, me, n, len);
		} else {
			recipient_of(n, to);
			rc = put(q, to, n, len);
		}
	}
	rc = rc ? rc : um_queue_commit(q);
	t0 = um_now_ns();
	if (rc == 0)
		rc = um_queue_pending(q, me, 0, collect, &d);
	t1 = um_now_ns();
	if (rc == 0 && one_group)
		rc = um_queue_begin(q);
	for (size_t i = 0; i < d.n && rc == 0; i++)
		rc = um_queue_delete(q, me, d.ids[i]);
	if (rc == 0 && one_group)
		rc = um_queue_commit(q);
	t2 = um_now_ns();
	um_queue_close(q);
	if (rc == 0 && d.n != 100)
		rc = -UM_ESTATE;
	if (rc) {
		fprintf(stderr, "bench-queue: drain: %s\n", um_strerror(rc));
		return rc;
	}
	printf("%2zu KiB drain 100: read %7.3f ms + delete %8.3f ms (%s) = %8.3f ms\n", len / 1024,
	       (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, one_group ? "one commit" : "100 commits",
	       (double)(t2 - t0) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned groups[] = {1, 16, 64, 256};
	static const size_t sizes[] = {4096, 16384};
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	size_t only_len = argc > 3 ? (size_t)atol(argv[2]) * 1024 : 0;
	unsigned only_group = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	struct statfs fs;
	int rc = 0;

	if (seconds <= 0 || only_len > sizeof(envelope) || (argc > 3 && (!only_len || !only_group))) {
		fprintf(stderr, "usage: bench-queue [SECONDS [KIB<=16 GROUP]]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(envelope); i++)
		envelope[i] = (uint8_t)(i * 31 + 7);
	snprintf(path, sizeof(path), "bench-queue-%d.db", (int)getpid());
	if (statfs(".", &fs) == 0)
		printf("file system type 0x%lx, segment log (write + fdatasync per group), %d recipients, %.1f s per "
		       "mode\n",
		       (unsigned long)fs.f_type, RECIPIENTS, seconds);
	if (only_len) {
		rc = run_puts(only_group, only_len, seconds);
		remove_files();
		return rc ? 1 : 0;
	}
	for (size_t s = 0; s < 2 && rc == 0; s++)
		for (size_t g = 0; g < 4 && rc == 0; g++)
			rc = run_puts(groups[g], sizes[s], seconds);
	for (size_t s = 0; s < 2 && rc == 0; s++) {
		rc = run_drain(sizes[s], true);
		if (rc == 0)
			rc = run_drain(sizes[s], false);
	}
	remove_files();
	return rc ? 1 : 0;
}
