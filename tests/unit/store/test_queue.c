/* SPDX-License-Identifier: MIT */
/* The relay's queue (src/store/queue.h): limits per recipient (count, bytes,
 * TTL against now_ms), idempotent duplicates, arrival order, deletes that
 * reach only the caller's own envelopes, purge, reopening, the 0600 rule,
 * group commits with refusals inside, and what an operator finds in the
 * files: the schema has no sender column and the files hold no byte string
 * that was never given (the envelopes are random bytes around a marker:
 * P's sealed envelopes were not merged when this was written). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "queue_fixture.h"
#include "store/queue.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

#define LEN_MAX 3000

static struct store_fixture fx;
static uint8_t alice[32], bob[32];

static void setup(void)
{
	CHECK(store_fixture_init(&fx, NULL) == 0);
	snprintf(fx.path, sizeof(fx.path), "%s/queue.db", fx.dir);
	store_fill_peer(alice, 1);
	store_fill_peer(bob, 2);
}

static struct um_queue *open_queue(uint64_t ttl, uint32_t count, uint64_t bytes)
{
	struct um_queue_limits limits = {ttl, count, bytes};
	struct um_queue *q = NULL;

	CHECK_EQ(um_queue_open(fx.path, &limits, &q), 0);
	return q;
}

/* Puts envelope n (its id carries n) for to, arrived at now. */
static int put(struct um_queue *q, const uint8_t to[32], uint64_t n, uint64_t now)
{
	static uint8_t e[LEN_MAX];
	uint8_t id[16];
	size_t len = queue_envelope_len(n, LEN_MAX);

	store_fill_id(id, n);
	queue_envelope_fill(n, e, len);
	return um_queue_put(q, to, id, e, len, now);
}

struct seen {
	uint64_t ids[512];
	size_t n;
	uint64_t bad;
	const uint8_t *recipient;
	struct um_queue *delete_from; /* delete each one seen */
	size_t stop_after;
};

static int collect(void *ctx, const struct um_queue_entry *e)
{
	struct seen *s = ctx;
	uint64_t n = store_id_number(e->id);

	if (!queue_envelope_intact(n, e->envelope, e->len, LEN_MAX) || memcmp(e->recipient, s->recipient, 32) != 0)
		s->bad++;
	if (s->n < 512)
		s->ids[s->n++] = n;
	if (s->delete_from && um_queue_delete(s->delete_from, e->recipient, e->id) != 0)
		s->bad++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static size_t pending(struct um_queue *q, const uint8_t to[32], struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->recipient = to;
	CHECK_EQ(um_queue_pending(q, to, 0, collect, s), 0);
	CHECK_EQ(s->bad, 0);
	return s->n;
}

/* What a second handle replaying the files finds, against q's index: the
 * number of totals that differ (0: the files hold exactly what q says). */
static int orphans(struct um_queue *q)
{
	struct um_queue_stats mine, theirs;
	struct um_queue *second = NULL;
	int diff;

	if (um_queue_open(fx.path, NULL, &second) != 0)
		return -1;
	um_queue_stats(q, &mine);
	um_queue_stats(second, &theirs);
	diff = (mine.envelopes != theirs.envelopes) + (mine.bytes != theirs.bytes) +
	       (mine.recipients != theirs.recipients) + (um_queue_integrity_check(second) != 0);
	um_queue_close(second);
	return diff;
}

static void test_limit_count(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	struct seen s;

	setup();
	q = open_queue(1000000, 5, 1 << 20);
	for (uint64_t n = 1; n <= 5; n++)
		CHECK_EQ(put(q, alice, n, 1000 + n), 0);
	CHECK_EQ(put(q, alice, 6, 2000), -UM_ELIMIT);
	CHECK_EQ(put(q, bob, 7, 2000), 0); /* another recipient's own limit */
	CHECK_EQ(pending(q, alice, &s), 5);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.envelopes, 6);
	CHECK_EQ(st.recipients, 2);
	CHECK_EQ(st.puts, 6);
	CHECK_EQ(st.refused_full, 1);
	/* One delivered and deleted: room for one more. */
	CHECK_EQ(um_queue_delete(q, alice,
				 (uint8_t[16]){0, 0, 0, 0, 0, 0, 0, 3, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5}),
		 0);
	CHECK_EQ(put(q, alice, 6, 2001), 0);
	CHECK_EQ(put(q, alice, 8, 2002), -UM_ELIMIT);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_limit_bytes(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	uint64_t total = 0, n;
	static uint8_t big[10000] = {1};
	uint8_t id[16];

	setup();
	q = open_queue(1000000, 1000, 10000);
	for (n = 1; total + queue_envelope_len(n, LEN_MAX) <= 10000; n++) {
		CHECK_EQ(put(q, alice, n, 5), 0);
		total += queue_envelope_len(n, LEN_MAX);
	}
	CHECK_EQ(put(q, alice, n, 5), -UM_ELIMIT);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.bytes, total);
	/* Exactly up to the limit fits; one byte more does not. */
	store_fill_id(id, 999);
	CHECK_EQ(um_queue_put(q, bob, id, big, 4096, 5), 0);
	store_fill_id(id, 1000);
	CHECK_EQ(um_queue_put(q, bob, id, big, 4096, 5), 0);
	store_fill_id(id, 1001);
	CHECK_EQ(um_queue_put(q, bob, id, big, 10000 - 2 * 4096 + 1, 5), -UM_ELIMIT);
	CHECK_EQ(um_queue_put(q, bob, id, big, 10000 - 2 * 4096, 5), 0);
	/* Bad sizes. */
	CHECK_EQ(um_queue_put(q, bob, id, big, 0, 5), -UM_ERANGE);
	CHECK_EQ(um_queue_put(q, bob, id, big, UM_QUEUE_ENVELOPE_MAX + 1, 5), -UM_ERANGE);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_ttl(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	struct seen s;

	setup();
	q = open_queue(1000, 3, 1 << 20);
	CHECK_EQ(put(q, alice, 1, 10000), 0);
	CHECK_EQ(put(q, alice, 2, 10500), 0);
	CHECK_EQ(put(q, bob, 3, 10200), 0);
	CHECK_EQ(um_queue_purge(q, 10999), 0); /* nothing expired yet */
	CHECK_EQ(pending(q, alice, &s), 2);
	CHECK_EQ(um_queue_purge(q, 11000), 1); /* alice's first: expires at 10000 + ttl */
	CHECK_EQ(pending(q, alice, &s), 1);
	CHECK_EQ(s.ids[0], 2);
	CHECK_EQ(um_queue_purge(q, 1000000), 2);
	CHECK_EQ(pending(q, alice, &s), 0);
	CHECK_EQ(pending(q, bob, &s), 0);
	/* A full queue of expired envelopes makes room without a purge. */
	CHECK_EQ(put(q, alice, 4, 20000), 0);
	CHECK_EQ(put(q, alice, 5, 20000), 0);
	CHECK_EQ(put(q, alice, 6, 20500), 0);
	CHECK_EQ(put(q, alice, 7, 20999), -UM_ELIMIT);
	CHECK_EQ(put(q, alice, 7, 21000), 0); /* 4 and 5 dropped */
	CHECK_EQ(pending(q, alice, &s), 2);
	CHECK_EQ(s.ids[0], 6);
	CHECK_EQ(s.ids[1], 7);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.purged, 5);
	CHECK_EQ(st.envelopes, 2);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_purge_in_batches(void)
{
	struct um_queue *q;
	struct seen s;

	setup();
	q = open_queue(100, 10000, 1ull << 30);
	CHECK_EQ(um_queue_begin(q), 0);
	for (uint64_t n = 1; n <= 1000; n++)
		CHECK_EQ(put(q, n % 2 ? alice : bob, n, n < 900 ? 1000 : 5000), 0);
	CHECK_EQ(um_queue_commit(q), 0);
	CHECK_EQ(um_queue_purge(q, 1100), 899); /* more than one batch */
	CHECK_EQ(orphans(q), 0);
	CHECK_EQ(pending(q, alice, &s) + pending(q, bob, &s), 101);
	CHECK_EQ(um_queue_integrity_check(q), 0);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_duplicates(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	struct seen s;

	setup();
	q = open_queue(1000000, 2, 1 << 20);
	CHECK_EQ(put(q, alice, 1, 1), 0);
	CHECK_EQ(put(q, alice, 1, 2), -UM_EEXIST);
	CHECK_EQ(put(q, bob, 1, 2), 0); /* the same id for another recipient */
	CHECK_EQ(put(q, alice, 2, 3), 0);
	/* Full, but a retry of a queued one is still a duplicate (acked again). */
	CHECK_EQ(put(q, alice, 2, 4), -UM_EEXIST);
	CHECK_EQ(put(q, alice, 3, 4), -UM_ELIMIT);
	/* Inside a group: the refusal leaves the group going. */
	CHECK_EQ(um_queue_begin(q), 0);
	CHECK_EQ(put(q, bob, 1, 5), -UM_EEXIST);
	CHECK_EQ(put(q, bob, 4, 5), 0);
	CHECK_EQ(put(q, bob, 5, 5), -UM_ELIMIT);
	CHECK_EQ(um_queue_commit(q), 0);
	CHECK_EQ(pending(q, alice, &s), 2);
	CHECK_EQ(pending(q, bob, &s), 2);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.refused_dup, 3);
	CHECK_EQ(st.refused_full, 2);
	CHECK_EQ(st.envelopes, 4);
	CHECK_EQ(orphans(q), 0); /* a refused duplicate's body went with it */
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_order_and_paging(void)
{
	struct um_queue *q;
	struct seen s;
	uint64_t order[100];
	bool ok = true;

	setup();
	q = open_queue(0, 0, 0); /* defaults: 100 messages, 1 MB */
	/* Ids not in arrival order; arrival times going backwards (a clock
	 * step): the order is the order of the puts. */
	for (int i = 0; i < 100; i++) {
		order[i] = (uint64_t)(i * 37 % 100) + 1;
		CHECK_EQ(put(q, alice, order[i], 100000 - (uint64_t)i), 0);
		if (i % 10 == 0)
			CHECK_EQ(put(q, bob, 1000 + (uint64_t)i, 1), 0);
	}
	CHECK_EQ(put(q, alice, 500, 1), -UM_ELIMIT); /* the default count */
	CHECK_EQ(pending(q, alice, &s), 100);
	for (int i = 0; i < 100; i++)
		ok &= s.ids[i] == order[i];
	CHECK(ok);
	/* A limit, and a callback stopping the walk. */
	memset(&s, 0, sizeof(s));
	s.recipient = alice;
	CHECK_EQ(um_queue_pending(q, alice, 33, collect, &s), 0);
	CHECK_EQ(s.n, 33);
	CHECK_EQ(s.ids[32], order[32]);
	memset(&s, 0, sizeof(s));
	s.recipient = alice;
	s.stop_after = 20;
	CHECK_EQ(um_queue_pending(q, alice, 0, collect, &s), 42);
	CHECK_EQ(s.n, 20);
	/* Delivered and deleted from inside the walk. */
	memset(&s, 0, sizeof(s));
	s.recipient = alice;
	s.delete_from = q;
	CHECK_EQ(um_queue_pending(q, alice, 0, collect, &s), 0);
	CHECK_EQ(s.n, 100);
	CHECK_EQ(s.bad, 0);
	CHECK_EQ(pending(q, alice, &s), 0);
	CHECK_EQ(pending(q, bob, &s), 10);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_delete_own_only(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	struct seen s;
	uint8_t id[16];

	setup();
	q = open_queue(0, 0, 0);
	CHECK_EQ(put(q, alice, 1, 1), 0);
	CHECK_EQ(put(q, alice, 2, 1), 0);
	CHECK_EQ(put(q, bob, 3, 1), 0);
	CHECK_EQ(put(q, bob, 4, 1), 0);
	store_fill_id(id, 3);
	CHECK_EQ(um_queue_delete(q, alice, id), -UM_ENOTFOUND); /* bob's */
	CHECK_EQ(um_queue_delete(q, bob, id), 0);
	CHECK_EQ(um_queue_delete(q, bob, id), -UM_ENOTFOUND);
	CHECK_EQ(um_queue_delete_all(q, alice), 2);
	CHECK_EQ(um_queue_delete_all(q, alice), 0);
	CHECK_EQ(pending(q, alice, &s), 0);
	CHECK_EQ(pending(q, bob, &s), 1);
	CHECK_EQ(s.ids[0], 4);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.deleted, 3);
	CHECK_EQ(st.envelopes, 1);
	CHECK_EQ(st.recipients, 1);
	CHECK_EQ(st.bytes, queue_envelope_len(4, LEN_MAX));
	CHECK_EQ(orphans(q), 0); /* deleted envelopes took their bodies */
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_reopen_keeps_all(void)
{
	struct um_queue *q;
	struct um_queue_stats st;
	struct seen s;
	bool ok = true;

	setup();
	q = open_queue(0, 0, 0);
	CHECK_EQ(um_queue_begin(q), 0);
	for (uint64_t n = 1; n <= 60; n++)
		CHECK_EQ(put(q, n % 3 ? alice : bob, n, n), 0);
	CHECK_EQ(um_queue_commit(q), 0);
	CHECK_EQ(put(q, alice, 61, 61), 0);
	/* A batch left open at close is not committed. */
	CHECK_EQ(um_queue_begin(q), 0);
	CHECK_EQ(put(q, alice, 62, 62), 0);
	um_queue_close(q);
	q = open_queue(0, 0, 0);
	CHECK_EQ(um_queue_integrity_check(q), 0);
	CHECK_EQ(pending(q, alice, &s), 41);
	for (size_t i = 0, n = 1; i < s.n; i++, n++) {
		while (n % 3 == 0)
			n++;
		ok &= s.ids[i] == n;
	}
	CHECK(ok);
	CHECK_EQ(pending(q, bob, &s), 20);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.envelopes, 61);
	CHECK_EQ(st.puts, 0); /* counted since this open */
	/* The totals the limits use were kept across the reopen. */
	uint64_t bytes = 0;
	for (uint64_t n = 1; n <= 61; n++)
		bytes += queue_envelope_len(n, LEN_MAX);
	CHECK_EQ(st.bytes, bytes);
	um_queue_close(q);
	store_fixture_cleanup(&fx);
}

static void test_permissions(void)
{
	struct um_queue *q = NULL;
	char side[400];

	setup();
	q = open_queue(0, 0, 0);
	CHECK_EQ(put(q, alice, 1, 1), 0);
	um_queue_close(q);
	struct stat st;
	CHECK_EQ(stat(fx.path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(chmod(fx.path, 0644), 0);
	q = NULL;
	CHECK_EQ(um_queue_open(fx.path, NULL, &q), -UM_EPERM);
	CHECK(q == NULL);
	CHECK_EQ(chmod(fx.path, 0600), 0);
	/* A segment readable by others is refused too. */
	snprintf(side, sizeof(side), "%s-00000001.log", fx.path);
	CHECK_EQ(stat(side, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(chmod(side, 0640), 0);
	CHECK_EQ(um_queue_open(fx.path, NULL, &q), -UM_EPERM);
	CHECK_EQ(chmod(side, 0600), 0);
	CHECK_EQ(um_queue_open(fx.path, NULL, &q), 0);
	um_queue_close(q);
	/* Not a queue of this umbra: a newer format version in the head. */
	int fd = open(fx.path, O_WRONLY);
	uint8_t version[4] = {99, 0, 0, 0};
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, version, 4, 8), 4);
	close(fd);
	CHECK_EQ(um_queue_open(fx.path, NULL, &q), -UM_EVERSION);
	/* Nor an SQLite queue of session 9's umbra. */
	fd = open(fx.path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "SQLite format 3", 16), 16);
	close(fd);
	CHECK_EQ(um_queue_open(fx.path, NULL, &q), -UM_EVERSION);
	store_fixture_cleanup(&fx);
}

/* Counts the occurrences of needle in the file (0 when it is missing). */
static size_t file_count(const char *path, const uint8_t *needle, size_t len)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0, size;
	uint8_t *data;

	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	data = malloc(size + 1);
	if (data && fread(data, 1, size, f) == size)
		for (size_t i = 0; i + len <= size; i++)
			n += memcmp(data + i, needle, len) == 0;
	free(data);
	fclose(f);
	return n;
}

/* The operator's view: the sender's ID (known to the test, never given to
 * the queue) is nowhere in the files; the marker the envelopes carry is
 * (the scan finds what is there). */
static void test_operator_view(void)
{
	static const uint8_t marker[16] = "UMBRA-MARKER-*!*";
	struct um_queue *q;
	uint8_t sender[32], env[4096], id[16];
	char file[600];
	size_t hits = 0, bytes = 0;

	setup();
	/* Random: a pattern could match bytes of the recipients' IDs. */
	CHECK_EQ(getrandom(sender, sizeof(sender), 0), (ssize_t)sizeof(sender));
	q = open_queue(0, 0, 0);
	for (uint64_t n = 1; n <= 20; n++) {
		queue_envelope_fill(n, env, sizeof(env));
		memcpy(env + 1000, marker, sizeof(marker));
		store_fill_id(id, n);
		CHECK_EQ(um_queue_put(q, n % 2 ? alice : bob, id, env, sizeof(env), n), 0);
	}
	/* While open and after the close: every file of the directory. */
	for (int pass = 0; pass < 2; pass++) {
		DIR *dir = opendir(fx.dir);
		struct dirent *d;
		struct stat st;

		hits = bytes = 0;
		CHECK(dir != NULL);
		while (dir && (d = readdir(dir))) {
			if (d->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", fx.dir, d->d_name);
			CHECK_EQ(file_count(file, sender, sizeof(sender)), 0);
			CHECK_EQ(file_count(file, sender, 8), 0); /* not even a part */
			hits += file_count(file, marker, sizeof(marker));
			CHECK_EQ(stat(file, &st), 0);
			CHECK_EQ(st.st_mode & 0777, 0600);
			bytes += (size_t)st.st_size;
		}
		if (dir)
			closedir(dir);
		CHECK(hits >= 20);
		/* What the format can hold: the head (32 bytes), a segment's
		 * header (32) and per envelope an 84-byte header (CRC, type,
		 * length, seq, arrival, expiry, recipient, id) and its bytes:
		 * nothing else, so no sender. */
		CHECK_EQ(bytes, 32 + 32 + 20 * (84 + sizeof(env)));
		if (pass == 0)
			um_queue_close(q);
	}
	store_fixture_cleanup(&fx);
}

int main(void)
{
	RUN(test_limit_count);
	RUN(test_limit_bytes);
	RUN(test_ttl);
	RUN(test_purge_in_batches);
	RUN(test_duplicates);
	RUN(test_order_and_paging);
	RUN(test_delete_own_only);
	RUN(test_reopen_keeps_all);
	RUN(test_permissions);
	RUN(test_operator_view);
	return um_test_end();
}
