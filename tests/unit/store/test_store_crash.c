/* SPDX-License-Identifier: MIT */
/* kill -9 at random moments: a child adds messages to the outbox in a loop
 * (single commits and groups of up to 64), and now and then marks a chunk of
 * a file transfer done, and tells the parent each id (chunk) only after the
 * add (the group's commit, the chunk_done) returned 0. The parent SIGKILLs it
 * after a random delay, 20 times; after each kill it reopens the database:
 * integrity_check says ok, every reported id is there exactly once with its
 * body intact, nothing beyond the last group in flight was stored, every
 * reported chunk's bit is set and bytes_done matches the bitmap (a chunk's
 * bit and its bytes are one commit). UM_TEST_SEED=N replays a run. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

#define ROUNDS    20
#define GROUP_MAX 64
#define BODY_MAX  1500
#define CHUNK_TAG (1ull << 63) /* a report with this bit names a chunk */
#define CHUNK     1024u
#define FILE_SIZE (1ull << 30) /* 2^20 chunks */

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* The body of message n: its length and bytes are a function of n. */
static size_t body_make(uint64_t n, uint8_t *out)
{
	size_t len = (size_t)(n * 37 % BODY_MAX);

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(n * 7 + i);
	return len;
}

static int add_one(struct um_store *s, uint64_t n)
{
	static uint8_t body[BODY_MAX];
	struct um_store_message m = {0};

	store_fill_peer(m.peer, 1);
	store_fill_id(m.id, n);
	m.sent_ms = n;
	m.len = body_make(n, body);
	m.body = body;
	return um_store_outbox_add(s, &m);
}

static void file_id(uint8_t id[16])
{
	memset(id, 0xf1, 16);
}

/* The transfer the child advances: created on its first run. */
static int file_ensure(struct um_store *s)
{
	struct um_store_file f;
	int rc;

	memset(&f, 0, sizeof(f));
	file_id(f.id);
	rc = um_store_file_get(s, f.id, false, &f);
	free(f.bitmap);
	if (rc != -UM_ENOTFOUND)
		return rc;
	memset(&f, 0, sizeof(f));
	file_id(f.id);
	store_fill_peer(f.peer, 1);
	snprintf(f.name, sizeof(f.name), "big.iso");
	f.size = FILE_SIZE;
	f.chunk_size = CHUNK;
	f.state = UM_STORE_FILE_ACTIVE;
	return um_store_file_put(s, &f);
}

static void report(int fd, uint64_t first, uint64_t count)
{
	for (uint64_t n = first; n < first + count; n++)
		if (write(fd, &n, sizeof(n)) != sizeof(n))
			_exit(5);
}

/* The child: never returns. Exit codes 2..6 say which step failed. */
static void child_run(const char *path, uint64_t next, uint64_t chunk, int fd, uint64_t seed)
{
	struct um_store *s;
	uint8_t id[16];

	rng_state = seed;
	file_id(id);
	if (um_store_open(path, &s) != 0 || file_ensure(s) != 0)
		_exit(2);
	for (;;) {
		uint64_t group = rng() % 4 == 0 ? 1 + rng() % GROUP_MAX : 0;

		if (rng() % 8 == 0) {
			if (um_store_file_chunk_done(s, id, false, (uint32_t)chunk, CHUNK) != 0)
				_exit(6);
			report(fd, CHUNK_TAG | chunk, 1);
			chunk++;
			continue;
		}

		if (!group) {
			if (add_one(s, next) != 0)
				_exit(3);
			report(fd, next, 1);
			next++;
			continue;
		}
		if (um_store_begin(s) != 0)
			_exit(4);
		for (uint64_t i = 0; i < group; i++)
			if (add_one(s, next + i) != 0)
				_exit(3);
		if (um_store_commit(s) != 0)
			_exit(4);
		report(fd, next, group);
		next += group;
	}
}

/* Ids the child reported, as flags indexed by id (grown on demand). */
struct id_set {
	uint8_t *flag;
	size_t cap;
	uint64_t max;
};

static void id_set_add(struct id_set *set, uint64_t n)
{
	if (n >= set->cap) {
		size_t cap = set->cap ? set->cap : 4096;

		while (cap <= n)
			cap *= 2;
		set->flag = realloc(set->flag, cap);
		if (!set->flag)
			abort();
		memset(set->flag + set->cap, 0, cap - set->cap);
		set->cap = cap;
	}
	set->flag[n]++;
	if (n > set->max)
		set->max = n;
}

/* What the parent finds in the database after a kill. */
struct found {
	struct id_set ids;
	uint64_t bad_body, bad_peer;
};

static int check_row(void *ctx, const struct um_store_message *m)
{
	static uint8_t body[BODY_MAX];
	struct found *f = ctx;
	uint64_t n = store_id_number(m->id);
	uint8_t peer[32];
	size_t len = body_make(n, body);

	store_fill_peer(peer, 1);
	if (m->len != len || (len && memcmp(m->body, body, len) != 0) || m->sent_ms != n)
		f->bad_body++;
	if (memcmp(m->peer, peer, 32) != 0 || !m->outgoing)
		f->bad_peer++;
	id_set_add(&f->ids, n);
	return 0;
}

/* What the child reported: message ids and chunk indexes. */
struct reports {
	struct id_set ids, chunks;
	uint64_t count;
};

/* Reads the reports of the child until the deadline (ms from now; -1:
 * none), EOF, or until reports in all. */
static void drain(int fd, struct reports *reported, int deadline_ms, uint64_t until)
{
	struct timespec start, now;
	uint64_t buf[512];
	size_t have = 0; /* bytes of a partial id */

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int left = -1;

		if (deadline_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			left = deadline_ms - (int)spent;
			if (left <= 0)
				return;
		}
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(fd, (uint8_t *)buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		have += (size_t)r;
		for (size_t i = 0; i < have / sizeof(uint64_t); i++) {
			if (buf[i] & CHUNK_TAG)
				id_set_add(&reported->chunks, buf[i] & ~CHUNK_TAG);
			else
				id_set_add(&reported->ids, buf[i]);
			reported->count++;
		}
		size_t rest = have % sizeof(uint64_t);
		memmove(buf, (uint8_t *)buf + have - rest, rest);
		have = rest;
		if (reported->count >= until)
			return;
	}
}

/* The messages after a kill: each reported id once, intact; at most the
 * group in flight committed unreported (then counted as reported, so the
 * next child goes on after it). Returns the number of ids now known. */
static uint64_t check_messages(struct um_store *s, struct id_set *reported)
{
	struct found found = {0};
	uint64_t missing = 0, twice = 0, unreported = 0, beyond = 0;

	CHECK_EQ(um_store_messages(s, 0, 0, NULL, check_row, &found), 0);
	CHECK_EQ(found.bad_body, 0);
	CHECK_EQ(found.bad_peer, 0);
	for (uint64_t n = 1; n <= reported->max; n++) {
		if (reported->flag[n] != 1) {
			twice++; /* the child reports each id once */
			continue;
		}
		if (n >= found.ids.cap || found.ids.flag[n] == 0)
			missing++;
	}
	for (uint64_t n = 1; n < found.ids.cap; n++) {
		if (found.ids.flag[n] > 1)
			twice++;
		if (found.ids.flag[n] && (n >= reported->cap || !reported->flag[n]))
			unreported++;
		if (found.ids.flag[n] && n > reported->max + GROUP_MAX)
			beyond++;
	}
	CHECK_EQ(missing, 0);
	CHECK_EQ(twice, 0);
	CHECK_EQ(beyond, 0);
	CHECK(unreported <= GROUP_MAX);
	for (uint64_t n = reported->max + 1; n < found.ids.cap; n++)
		if (found.ids.flag[n])
			id_set_add(reported, n);
	free(found.ids.flag);
	return unreported;
}

/* The transfer after a kill: every reported chunk's bit set, at most one
 * more (done, not yet reported: then counted as reported), and bytes_done
 * counting exactly the set bits. Returns the next chunk for the child. */
static uint64_t check_chunks(struct um_store *s, struct id_set *reported)
{
	struct um_store_file f;
	uint64_t set = 0, next = 0, missing = 0, unreported = 0;
	uint8_t id[16];
	int rc;

	file_id(id);
	memset(&f, 0, sizeof(f));
	rc = um_store_file_get(s, id, false, &f);
	if (rc == -UM_ENOTFOUND) {
		CHECK(reported->cap == 0); /* killed before its put committed */
		return 0;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(f.bitmap_len, (FILE_SIZE / CHUNK + 7) / 8);
	for (uint64_t i = 0; f.bitmap && i < f.bitmap_len * 8; i++) {
		bool bit = f.bitmap[i / 8] >> (i % 8) & 1;
		bool told = i < reported->cap && reported->flag[i];

		set += bit;
		missing += told && !bit;
		unreported += bit && !told;
		if (bit)
			next = i + 1;
	}
	CHECK_EQ(missing, 0);
	CHECK(unreported <= 1);
	CHECK_EQ(f.bytes_done, set * CHUNK);
	/* A chunk done but not reported is durable: count it in (as ids). */
	for (uint64_t i = 0; f.bitmap && i < f.bitmap_len * 8; i++)
		if ((f.bitmap[i / 8] >> (i % 8) & 1) && !(i < reported->cap && reported->flag[i]))
			id_set_add(reported, i);
	free(f.bitmap);
	return next;
}

static void test_kill_at_random_moments(void)
{
	struct store_fixture fx;
	struct reports reported = {0};
	uint64_t next = 1, next_chunk = 0, seed;
	const char *env = getenv("UM_TEST_SEED");

	seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
	fprintf(stderr, "seed %llu (UM_TEST_SEED replays it)\n", (unsigned long long)seed);
	rng_state = seed;
	CHECK(store_fixture_init(&fx, NULL) == 0);
	for (int round = 0; round < ROUNDS; round++) {
		int fds[2], status = 0;
		/* Early kills land in open and migration; later ones amid writes. */
		int delay_ms = round < 2 ? (int)(rng() % 5) : (int)(rng() % 150);
		uint64_t child_seed = rng(), before = reported.count;

		CHECK(pipe(fds) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_run(fx.path, next, next_chunk, fds[1], child_seed);
		}
		close(fds[1]);
		/* Past the first rounds, the delay runs from the child's first
		 * write: a loaded machine slows its start, not the test's reach. */
		if (round >= 2)
			drain(fds[0], &reported, 10000, before + 1);
		drain(fds[0], &reported, delay_ms, UINT64_MAX);
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK(waitpid(pid, &status, 0) == pid);
		/* Killed by us, not a failure of its own (exit codes 2..6). */
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		drain(fds[0], &reported, -1, UINT64_MAX); /* EOF: the child's end is closed */
		close(fds[0]);

		struct um_store *s = NULL;
		CHECK_EQ(um_store_open(fx.path, &s), 0);
		if (!s)
			break;
		CHECK_EQ(um_store_integrity_check(s), 0);
		uint64_t unreported = check_messages(s, &reported.ids);
		next_chunk = check_chunks(s, &reported.chunks);
		um_store_close(s);
		fprintf(stderr,
			"round %2d: killed %3d ms after %s, %llu new reports, ids up to %llu (%llu "
			"committed unreported), chunks up to %llu\n",
			round, delay_ms, round < 2 ? "the start" : "the first write",
			(unsigned long long)(reported.count - before), (unsigned long long)reported.ids.max,
			(unsigned long long)unreported, (unsigned long long)next_chunk);
		next = reported.ids.max + 1;
	}
	/* A run in which the child never got a write in proves nothing. */
	CHECK(reported.ids.max >= ROUNDS);
	CHECK(next_chunk > 0);
	free(reported.ids.flag);
	free(reported.chunks.flag);
	store_fixture_cleanup(&fx);
}

int main(void)
{
	RUN(test_kill_at_random_moments);
	return um_test_end();
}
