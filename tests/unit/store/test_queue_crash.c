/* SPDX-License-Identifier: MIT */
/* kill -9 at random moments: a child puts envelopes into the relay's queue
 * in groups of random size (1 .. 256, one commit each) for a few
 * recipients, now and then deletes one it put before, and tells the parent
 * each id only after the group's commit (the delete) returned 0: what a
 * relay would acknowledge. The parent SIGKILLs it after a random delay, 20
 * times; after each kill it reopens the queue: integrity_check says ok,
 * every reported id is there exactly once with its bytes intact (unless its
 * deletion was reported), at most the group in flight was committed
 * unreported, and the totals the limits are checked against equal the rows.
 * Then the same with small segments, the oldest envelopes deleted first and
 * purges (compaction) while the kills land. UM_TEST_SEED=N replays a run. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "queue_fixture.h"
#include "store/queue.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

#define ROUNDS     20
#define GROUP_MAX  256
#define LEN_MAX    6000
#define RECIPIENTS 5
#define DELETE_TAG (1ull << 63) /* a report with this bit names a deletion */
#define INTENT_TAG (1ull << 62) /* ... this one a deletion about to start */

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

static void recipient_of(uint64_t n, uint8_t to[32])
{
	store_fill_peer(to, (uint8_t)(1 + n % RECIPIENTS));
}

static int put_one(struct um_queue *q, uint64_t n)
{
	static uint8_t e[LEN_MAX];
	uint8_t to[32], id[16];
	size_t len = queue_envelope_len(n, LEN_MAX);

	recipient_of(n, to);
	store_fill_id(id, n);
	queue_envelope_fill(n, e, len);
	return um_queue_put(q, to, id, e, len, 1000 + n);
}

static void report(int fd, uint64_t value)
{
	if (write(fd, &value, sizeof(value)) != sizeof(value))
		_exit(5);
}

/* The child: never returns. Exit codes 2..6 say which step failed. */
static int oldest_one(void *ctx, const struct um_queue_entry *e)
{
	*(uint64_t *)ctx = store_id_number(e->id);
	return 1;
}

/* compact: small segments, the oldest envelopes deleted first (whole
 * segments die) and a purge every few steps, so segments rotate and are
 * compacted (copied, removed) while the kills land. */
static void child_run(const char *path, uint64_t next, int fd, uint64_t seed, bool compact)
{
	struct um_queue_limits limits = {UINT32_MAX, UINT32_MAX, UINT64_MAX / 2};
	struct um_queue *q;
	uint64_t step = 0;

	rng_state = seed;
	if (um_queue_open(path, &limits, &q) != 0)
		_exit(2);
	if (compact && um_queue_set_segment_size(q, 64 * 1024) != 0)
		_exit(7);
	for (;;) {
		uint64_t group = compact ? 1 + rng() % 4 : rng() % 2 ? 1 + rng() % 16 : 1 + rng() % GROUP_MAX;
		uint64_t oldest = 0;

		if (compact && rng() % 3 != 0) {
			uint8_t to[32];

			recipient_of(rng(), to);
			if (um_queue_pending(q, to, 1, oldest_one, &oldest) < 0)
				_exit(9);
		}

		if (compact && ++step % 8 == 0 && um_queue_purge(q, 0) < 0)
			_exit(8);
		if (next > 1 && (compact ? oldest != 0 : rng() % 8 == 0)) {
			uint64_t victim = compact ? oldest : 1 + rng() % (next - 1);
			uint8_t to[32], id[16];
			int rc;

			recipient_of(victim, to);
			store_fill_id(id, victim);
			report(fd, INTENT_TAG | victim);
			rc = um_queue_delete(q, to, id);
			if (rc == 0)
				report(fd, DELETE_TAG | victim);
			else if (rc != -UM_ENOTFOUND)
				_exit(6);
			continue;
		}
		if (um_queue_begin(q) != 0)
			_exit(4);
		for (uint64_t i = 0; i < group; i++)
			if (put_one(q, next + i) != 0)
				_exit(3);
		if (um_queue_commit(q) != 0)
			_exit(4);
		for (uint64_t i = 0; i < group; i++)
			report(fd, next + i);
		next += group;
	}
}

/* Per id: put reported, deletion reported, times found. */
struct ids {
	uint8_t *put, *deleted, *found;
	size_t cap;
	uint64_t max;
	uint64_t intent; /* the last deletion announced (0 none) */
};

static void ids_grow(struct ids *s, uint64_t n)
{
	size_t cap = s->cap ? s->cap : 4096;

	if (n < s->cap)
		return;
	while (cap <= n)
		cap *= 2;
	s->put = realloc(s->put, cap);
	s->deleted = realloc(s->deleted, cap);
	s->found = realloc(s->found, cap);
	if (!s->put || !s->deleted || !s->found)
		abort();
	memset(s->put + s->cap, 0, cap - s->cap);
	memset(s->deleted + s->cap, 0, cap - s->cap);
	memset(s->found + s->cap, 0, cap - s->cap);
	s->cap = cap;
}

/* Reads the child's reports until the deadline (ms from now; -1: none), EOF
 * or until reports in all. Returns how many were read. */
static uint64_t drain(int fd, struct ids *s, int deadline_ms, uint64_t until)
{
	struct timespec start, now;
	uint64_t buf[512], count = 0;
	size_t have = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int left = -1;

		if (deadline_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			left = deadline_ms - (int)spent;
			if (left <= 0)
				return count;
		}
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(fd, (uint8_t *)buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return count;
		have += (size_t)r;
		for (size_t i = 0; i < have / sizeof(uint64_t); i++) {
			uint64_t n = buf[i] & ~(DELETE_TAG | INTENT_TAG);

			ids_grow(s, n);
			if (buf[i] & INTENT_TAG) {
				s->intent = n;
			} else if (buf[i] & DELETE_TAG) {
				s->deleted[n]++;
			} else {
				s->put[n]++;
				if (n > s->max)
					s->max = n;
			}
			count++;
		}
		size_t rest = have % sizeof(uint64_t);
		memmove(buf, (uint8_t *)buf + have - rest, rest);
		have = rest;
		if (count >= until)
			return count;
	}
}

struct walk {
	struct ids *ids;
	uint64_t bad, rows, bytes;
	int64_t last_seq_id;
};

static int check_row(void *ctx, const struct um_queue_entry *e)
{
	struct walk *w = ctx;
	uint64_t n = store_id_number(e->id);
	uint8_t to[32];

	recipient_of(n, to);
	if (!queue_envelope_intact(n, e->envelope, e->len, LEN_MAX) || memcmp(to, e->recipient, 32) != 0 ||
	    e->arrival_ms != 1000 + n)
		w->bad++;
	/* Arrival order: a recipient's ids grow (the child puts in id order). */
	if ((int64_t)n <= w->last_seq_id)
		w->bad++;
	w->last_seq_id = (int64_t)n;
	ids_grow(w->ids, n);
	w->ids->found[n]++;
	w->rows++;
	w->bytes += e->len;
	return 0;
}

/* Checks the queue after a kill; returns the next id for the child. */
static uint64_t check_queue(struct um_queue *q, struct ids *s)
{
	struct walk w = {.ids = s};
	struct um_queue_stats st;
	uint64_t gaps = 0, missing = 0, twice = 0, resurrected = 0, unreported = 0, lost_by_delete = 0, next;

	if (s->cap)
		memset(s->found, 0, s->cap);
	for (int r = 1; r <= RECIPIENTS; r++) {
		uint8_t to[32];

		store_fill_peer(to, (uint8_t)r);
		w.last_seq_id = -1;
		CHECK_EQ(um_queue_pending(q, to, 0, check_row, &w), 0);
	}
	CHECK_EQ(w.bad, 0);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.envelopes, w.rows);
	CHECK_EQ(st.bytes, w.bytes);
	next = s->max + 1;
	for (uint64_t n = 1; n < s->cap; n++) {
		if (s->found[n] > 1 || s->put[n] > 1)
			twice++;
		if (s->deleted[n] && s->found[n])
			resurrected++;
		if (s->put[n] && !s->deleted[n] && !s->found[n]) {
			/* Only the delete in flight at the kill may explain it. */
			if (n == s->intent)
				lost_by_delete++;
			else
				missing++;
			s->deleted[n] = 1;
		}
		if (s->found[n] && !s->put[n]) {
			unreported++;
			gaps += n <= s->max; /* not of the group in flight */
			s->put[n] = 1;
			if (n >= next)
				next = n + 1;
		}
	}
	CHECK_EQ(missing, 0);
	CHECK_EQ(gaps, 0);
	CHECK_EQ(twice, 0);
	CHECK_EQ(resurrected, 0);
	CHECK(unreported <= GROUP_MAX);
	s->intent = 0;
	if (next - 1 > s->max)
		s->max = next - 1;
	fprintf(stderr, "  %llu envelopes queued, %llu committed unreported, %llu deleted unreported\n",
		(unsigned long long)w.rows, (unsigned long long)unreported, (unsigned long long)lost_by_delete);
	return next;
}

static void run_kills(bool compact)
{
	struct store_fixture fx;
	struct ids ids = {0};
	uint64_t next = 1, seed, reports = 0;
	const char *env = getenv("UM_TEST_SEED");

	seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
	fprintf(stderr, "seed %llu (UM_TEST_SEED replays it)\n", (unsigned long long)seed);
	rng_state = seed;
	CHECK(store_fixture_init(&fx, NULL) == 0);
	snprintf(fx.path, sizeof(fx.path), "%s/queue.db", fx.dir);
	for (int round = 0; round < ROUNDS; round++) {
		int fds[2], status = 0;
		/* Early kills land in open and migration; later ones amid writes. */
		int delay_ms = round < 2 ? (int)(rng() % 5) : (int)(rng() % 200);
		uint64_t child_seed = rng(), got = 0;

		CHECK(pipe(fds) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_run(fx.path, next, fds[1], child_seed, compact);
		}
		close(fds[1]);
		/* Past the first rounds the delay runs from the child's first
		 * report: a loaded machine slows its start, not the test's reach. */
		if (round >= 2)
			got += drain(fds[0], &ids, 10000, 1);
		got += drain(fds[0], &ids, delay_ms, UINT64_MAX);
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK(waitpid(pid, &status, 0) == pid);
		/* Killed by us, not a failure of its own (exit codes 2..9). */
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		got += drain(fds[0], &ids, -1, UINT64_MAX); /* EOF */
		close(fds[0]);
		reports += got;

		struct um_queue *q = NULL;
		CHECK_EQ(um_queue_open(fx.path, NULL, &q), 0);
		if (!q)
			break;
		CHECK_EQ(um_queue_integrity_check(q), 0);
		fprintf(stderr, "round %2d: killed %3d ms after %s, %llu reports\n", round, delay_ms,
			round < 2 ? "the start" : "the first report", (unsigned long long)got);
		next = check_queue(q, &ids);
		um_queue_close(q);
	}
	/* A run in which the child never got a commit in proves nothing. */
	CHECK(ids.max >= ROUNDS * 10);
	if (compact) {
		/* Segments were made and the dead ones compacted away. */
		DIR *dir = opendir(fx.dir);
		struct dirent *d;
		unsigned files = 0, highest = 0;

		while (dir && (d = readdir(dir))) {
			const char *dash = strrchr(d->d_name, '-');

			if (!dash || !strstr(d->d_name, ".log"))
				continue;
			files++;
			if ((unsigned)atoi(dash + 1) > highest)
				highest = (unsigned)atoi(dash + 1);
		}
		if (dir)
			closedir(dir);
		fprintf(stderr, "  %u segment files left of %u made\n", files, highest);
		CHECK(highest >= 10);
		CHECK(files * 2 < highest);
	}
	CHECK(reports > 0);
	free(ids.put);
	free(ids.deleted);
	free(ids.found);
	store_fixture_cleanup(&fx);
}

static void test_kill_at_random_moments(void)
{
	run_kills(false);
}

static void test_kill_while_compacting(void)
{
	run_kills(true);
}

int main(void)
{
	RUN(test_kill_at_random_moments);
	RUN(test_kill_while_compacting);
	return um_test_end();
}
