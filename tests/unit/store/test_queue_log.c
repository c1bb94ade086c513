/* SPDX-License-Identifier: MIT */
/* The queue's segment log (src/store/queue_log.c) under queue.c: a torn tail
 * (a crash inside a write) is cut on open and every whole record survives; a
 * damaged byte is found by the CRC (integrity check and reads say -EIO);
 * compaction removes mostly dead segments and keeps order, contents and
 * deletes across reopening; a queue whose head was deleted starts empty and
 * its old segments go. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_fixture.h"
#include "store/queue.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

#define LEN_MAX 5000

static struct store_fixture fx;
static uint8_t alice[32], bob[32];

static void setup(void)
{
	CHECK(store_fixture_init(&fx, NULL) == 0);
	snprintf(fx.path, sizeof(fx.path), "%s/queue.db", fx.dir);
	store_fill_peer(alice, 1);
	store_fill_peer(bob, 2);
}

static struct um_queue *open_queue(void)
{
	struct um_queue_limits limits = {1000000, 100000, 1ull << 30};
	struct um_queue *q = NULL;

	CHECK_EQ(um_queue_open(fx.path, &limits, &q), 0);
	return q;
}

static int put(struct um_queue *q, const uint8_t to[32], uint64_t n)
{
	static uint8_t e[LEN_MAX];
	uint8_t id[16];
	size_t len = queue_envelope_len(n, LEN_MAX);

	store_fill_id(id, n);
	queue_envelope_fill(n, e, len);
	return um_queue_put(q, to, id, e, len, 1000);
}

struct seen {
	uint64_t ids[4096];
	size_t n;
	uint64_t bad;
};

static int collect(void *ctx, const struct um_queue_entry *e)
{
	struct seen *s = ctx;
	uint64_t n = store_id_number(e->id);

	s->bad += !queue_envelope_intact(n, e->envelope, e->len, LEN_MAX);
	if (s->n < 4096)
		s->ids[s->n++] = n;
	return 0;
}

static size_t pending(struct um_queue *q, const uint8_t to[32], struct seen *s)
{
	memset(s, 0, sizeof(*s));
	CHECK_EQ(um_queue_pending(q, to, 0, collect, s), 0);
	CHECK_EQ(s->bad, 0);
	return s->n;
}

static void segment_path(uint32_t number, char *out, size_t cap)
{
	snprintf(out, cap, "%s-%08u.log", fx.path, number);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Segment files in the directory. */
static size_t segments(void)
{
	DIR *dir = opendir(fx.dir);
	struct dirent *d;
	size_t n = 0;

	while (dir && (d = readdir(dir)))
		n += strstr(d->d_name, ".log") != NULL;
	if (dir)
		closedir(dir);
	return n;
}

static void test_torn_tail_cut(void)
{
	struct um_queue *q;
	struct seen s;
	char seg[600];
	off_t whole, cut;

	setup();
	q = open_queue();
	for (uint64_t n = 1; n <= 10; n++)
		CHECK_EQ(put(q, alice, n), 0);
	um_queue_close(q);
	segment_path(1, seg, sizeof(seg));
	whole = file_size(seg);
	/* The last record half written: cut it to 10 bytes past its start. */
	cut = whole - (off_t)(84 + queue_envelope_len(10, LEN_MAX)) + 10;
	CHECK_EQ(truncate(seg, cut), 0);
	q = open_queue();
	CHECK_EQ(pending(q, alice, &s), 9);
	CHECK_EQ(s.ids[8], 9);
	CHECK_EQ(um_queue_integrity_check(q), 0);
	CHECK_EQ(file_size(seg), whole - (off_t)(84 + queue_envelope_len(10, LEN_MAX)));
	/* Appends go on after the cut. */
	CHECK_EQ(put(q, alice, 11), 0);
	um_queue_close(q);
	/* Garbage after the last record (a write of zeros, say): cut too. */
	int fd = open(seg, O_WRONLY | O_APPEND);
	uint8_t zeros[300] = {0};
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
	close(fd);
	q = open_queue();
	CHECK_EQ(pending(q, alice, &s), 10);
	CHECK_EQ(s.ids[9], 11);
	CHECK_EQ(um_queue_integrity_check(q), 0);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static int expect_error(void *ctx, const struct um_queue_entry *e)
{
	(void)ctx;
	(void)e;
	return 0;
}

static void test_damage_found(void)
{
	struct um_queue *q;
	char seg[600];
	uint8_t byte;
	int fd;

	setup();
	q = open_queue();
	CHECK_EQ(put(q, alice, 1), 0);
	CHECK_EQ(put(q, bob, 2), 0);
	/* One bit of alice's envelope flips under the queue's feet. */
	segment_path(1, seg, sizeof(seg));
	fd = open(seg, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &byte, 1, 32 + 84 + 3), 1);
	byte ^= 0x10;
	CHECK_EQ(pwrite(fd, &byte, 1, 32 + 84 + 3), 1);
	close(fd);
	CHECK_EQ(um_queue_integrity_check(q), -EIO);
	CHECK_EQ(um_queue_pending(q, alice, 0, expect_error, NULL), -EIO);
	CHECK_EQ(um_queue_pending(q, bob, 0, expect_error, NULL), 0);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_compaction(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	struct seen s;
	size_t before;

	setup();
	q = open_queue();
	CHECK_EQ(um_queue_set_segment_size(q, 64 * 1024), 0);
	/* Groups of 10 (rotation happens between groups): ~30 segments. */
	for (uint64_t n = 1; n <= 600; n += 10) {
		CHECK_EQ(um_queue_begin(q), 0);
		for (uint64_t k = n; k < n + 10; k++)
			CHECK_EQ(put(q, k % 3 ? alice : bob, k), 0);
		CHECK_EQ(um_queue_commit(q), 0);
	}
	before = segments();
	CHECK(before >= 10);
	/* Alice reads hers: every one but each 50th deleted. */
	CHECK_EQ(pending(q, alice, &s), 400);
	CHECK_EQ(um_queue_begin(q), 0);
	for (size_t i = 0; i < s.n; i++) {
		uint8_t id[16];

		store_fill_id(id, s.ids[i]);
		if (s.ids[i] % 50)
			CHECK_EQ(um_queue_delete(q, alice, id), 0);
	}
	CHECK_EQ(um_queue_commit(q), 0);
	/* Purges compact a few segments each. */
	for (int i = 0; i < 20; i++)
		CHECK_EQ(um_queue_purge(q, 1000), 0);
	CHECK(segments() < before);
	CHECK_EQ(um_queue_integrity_check(q), 0);
	CHECK_EQ(pending(q, bob, &s), 200);
	for (size_t i = 1; i < s.n; i++)
		CHECK(s.ids[i] > s.ids[i - 1]);
	CHECK_EQ(pending(q, alice, &s), 8);
	um_queue_close(q);
	/* The same after replaying what is left. */
	q = open_queue();
	CHECK_EQ(pending(q, alice, &s), 8);
	for (size_t i = 0; i < s.n; i++) {
		CHECK_EQ(s.ids[i] % 50, 0);
		CHECK(i == 0 || s.ids[i] > s.ids[i - 1]);
	}
	CHECK_EQ(pending(q, bob, &s), 200);
	for (size_t i = 1; i < s.n; i++)
		CHECK(s.ids[i] > s.ids[i - 1]);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.envelopes, 208);
	CHECK_EQ(um_queue_integrity_check(q), 0);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_head_deleted(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	char seg[600];

	setup();
	q = open_queue();
	for (uint64_t n = 1; n <= 5; n++)
		CHECK_EQ(put(q, alice, n), 0);
	um_queue_close(q);
	/* The operator deletes the queue file: its segments are a dead
	 * queue's. */
	CHECK_EQ(unlink(fx.path), 0);
	q = open_queue();
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.envelopes, 0);
	segment_path(1, seg, sizeof(seg));
	CHECK_EQ(file_size(seg), -1);
	CHECK_EQ(segments(), 1);
	CHECK_EQ(put(q, alice, 1), 0);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

int main(void)
{
	RUN(test_torn_tail_cut);
	RUN(test_damage_found);
	RUN(test_compaction);
	RUN(test_head_deleted);
	return um_test_end();
}
