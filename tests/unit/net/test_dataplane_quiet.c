/* SPDX-License-Identifier: MIT */
/* What a quiet data plane worker does (net/quiet.h), end to end on the
 * dataplane fixture: busy polling for an answer after a quiet spell, and
 * gathering the worker on one CPU in lulls (side A) and spreading it under
 * sustained traffic. Timing-driven: waits are retried or their counts
 * bounded, so a loaded machine does not fail them. */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dataplane_fixture.h"
#include "net/quiet.h"
#include "test.h"
#include "util/error.h"

/* Threads of this process allowed on exactly one CPU. */
static int pinned_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	int pinned = 0;
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		char path[300], line[256];
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "Cpus_allowed_list:", 18) && !strpbrk(line + 18, "-,"))
				pinned++;
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
	return pinned;
}

/* n packets A -> B as fast as the socket takes them; all arrive. */
static bool a_to_b(int n, size_t payload)
{
	size_t len = make_udp(buf, "100.64.0.1", "100.64.0.2", payload, 7);
	for (int i = 0; i < n; i++)
		if (send(A.dev[0], buf, len, 0) != (ssize_t)len)
			return false;
	for (int i = 0; i < n; i++)
		if (read_dev(B.dev[0], got, sizeof(got), 2000) != (ssize_t)len)
			return false;
	return true;
}

static void test_gather(void)
{
	cpu_set_t all;
	CHECK_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
	bool several = CPU_COUNT(&all) > 1;
	/* A's worker pinned itself when it started; B's, spread, never did.
	 * After a lull, A's worker is pinned. */
	usleep(UM_QUIET_GATHER_AFTER_NS / 1000 + 10000);
	CHECK(a_to_b(1, 100));
	CHECK(global(&A, UM_DP_GLOBAL_GATHERS) >= 1);
	if (several)
		CHECK_EQ(pinned_threads(), 1);
	/* Sustained traffic spreads it over every CPU. "Sustained" is
	 * UM_QUIET_SPREAD_AFTER short waits in a row, which a loaded machine
	 * may interrupt: retry a few bursts before calling it a failure. */
	uint64_t spreads = global(&A, UM_DP_GLOBAL_SPREADS), gathers = global(&A, UM_DP_GLOBAL_GATHERS);
	for (int i = 0; i < 10 && global(&A, UM_DP_GLOBAL_SPREADS) == spreads; i++)
		CHECK(a_to_b(400, 100));
	CHECK(global(&A, UM_DP_GLOBAL_SPREADS) > spreads);
	/* ...and a lull gathers it again when traffic resumes (a stall inside
	 * the bursts may have gathered and spread it more than once). */
	usleep(UM_QUIET_GATHER_AFTER_NS / 1000 + 10000);
	CHECK(a_to_b(1, 100));
	CHECK(global(&A, UM_DP_GLOBAL_GATHERS) > gathers);
	if (several)
		CHECK_EQ(pinned_threads(), 1);
	CHECK_EQ(global(&B, UM_DP_GLOBAL_GATHERS) + global(&B, UM_DP_GLOBAL_SPREADS), 0);
}

/* After 25 ms of quiet, a packet A -> B, and B's device answers at once
 * (reply) or not. True when the answer came back through A. */
static bool quiet_exchange(bool reply)
{
	usleep(25000);
	if (!a_to_b(1, 60))
		return false;
	if (!reply)
		return true;
	size_t len = make_udp(buf, "100.64.0.2", "100.64.0.1", 60, 9);
	return send(B.dev[0], buf, len, 0) == (ssize_t)len &&
	       read_dev(A.dev[0], got, sizeof(got), 2000) == (ssize_t)len;
}

static void test_busy_poll(void)
{
	const enum um_dp_global HITS = UM_DP_GLOBAL_BUSY_POLL_HITS, MISSES = UM_DP_GLOBAL_BUSY_POLL_MISSES;
	CHECK_EQ(um_dataplane_set_busy_poll(A.dp, UM_BUSY_POLL_MAX_US + 1), -UM_EINVAL);
	/* Off (the default here): nothing spins. */
	CHECK(quiet_exchange(true));
	CHECK_EQ(global(&A, HITS) + global(&A, MISSES), 0);
	CHECK_EQ(um_dataplane_set_busy_poll(A.dp, UM_BUSY_POLL_MAX_US), 0);
	/* A quiet request: A polls for the answer and takes it without sleeping. */
	uint64_t hits = global(&A, HITS);
	for (int i = 0; i < 10 && global(&A, HITS) == hits; i++)
		CHECK(quiet_exchange(true));
	CHECK(global(&A, HITS) > hits);
	/* Packets that get no answer: at most UM_BUSY_POLL_MISS_LIMIT misses
	 * (fewer if answers above came too late for a loaded machine's poll and
	 * already counted), then A stops polling: more quiet packets add none. */
	uint64_t misses = global(&A, MISSES);
	hits = global(&A, HITS);
	for (int i = 0; i < UM_BUSY_POLL_MISS_LIMIT + 3; i++)
		CHECK(quiet_exchange(false));
	CHECK(global(&A, MISSES) - misses <= UM_BUSY_POLL_MISS_LIMIT);
	misses = global(&A, MISSES);
	for (int i = 0; i < 3; i++)
		CHECK(quiet_exchange(false));
	CHECK_EQ(global(&A, MISSES), misses);
	CHECK_EQ(global(&A, HITS), hits);
	/* An answer that a poll would have caught brings polling back. */
	for (int i = 0; i < 10 && global(&A, HITS) == hits; i++)
		CHECK(quiet_exchange(true));
	CHECK(global(&A, HITS) > hits);
	/* B sent nothing of its own after a quiet spell: it never polled. */
	CHECK_EQ(global(&B, HITS) + global(&B, MISSES), 0);
	CHECK_EQ(um_dataplane_set_busy_poll(A.dp, 0), 0);
}

int main(void)
{
	RUN_CASE(test_gather);
	RUN_CASE(test_busy_poll);
	return um_test_end();
}
