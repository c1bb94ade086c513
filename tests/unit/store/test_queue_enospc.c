/* SPDX-License-Identifier: MIT */
/* A full file system under the relay's queue: a 300 KiB tmpfs (mounted in a
 * private mount namespace, so root only; skipped with 77 otherwise) is
 * filled by single puts and by one group commit. The refused put (or
 * commit) returns -ENOSPC, nothing of the failed transaction is left, every
 * envelope committed before stays intact and counted, and once space is
 * freed the queue takes envelopes again. */
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "queue_fixture.h"
#include "store/queue.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

#define LEN 4000

static struct store_fixture fx;
static char ballast[400];
static const struct um_queue_limits limits = {1000000, 100000, 1ull << 30};

/* A fresh 300 KiB tmpfs for the case, with 64 KiB of ballast to free later. */
static int setup(void)
{
	static uint8_t zeros[64 * 1024];
	FILE *f;

	if (store_fixture_init(&fx, NULL) != 0)
		return -1;
	if (mount("tmpfs", fx.dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=300k,mode=0700") != 0) {
		rmdir(fx.dir);
		return -1;
	}
	snprintf(fx.path, sizeof(fx.path), "%s/queue.db", fx.dir);
	snprintf(ballast, sizeof(ballast), "%s/ballast", fx.dir);
	f = fopen(ballast, "w");
	if (!f || fwrite(zeros, 1, sizeof(zeros), f) != sizeof(zeros) || fclose(f) != 0)
		return -1;
	return 0;
}

static void teardown(void)
{
	umount2(fx.dir, MNT_DETACH);
	rmdir(fx.dir);
}

static int put(struct um_queue *q, uint64_t n)
{
	static uint8_t e[LEN];
	uint8_t to[32], id[16];

	store_fill_peer(to, (uint8_t)(n % 3));
	store_fill_id(id, n);
	queue_envelope_fill(n, e, LEN);
	return um_queue_put(q, to, id, e, LEN, 1000);
}

struct counted {
	uint64_t n, max_id, bad;
};

static int count(void *ctx, const struct um_queue_entry *e)
{
	static uint8_t want[LEN];
	struct counted *c = ctx;
	uint64_t id = store_id_number(e->id);

	c->n++;
	if (id > c->max_id)
		c->max_id = id;
	queue_envelope_fill(id, want, LEN);
	c->bad += e->len != LEN || memcmp(want, e->envelope, LEN) != 0;
	return 0;
}

/* Every envelope committed, intact, and the totals agree. */
static void check_committed(struct um_queue *q, uint64_t committed)
{
	struct counted c = {0};
	struct um_queue_stats st;

	for (int r = 0; r < 3; r++) {
		uint8_t to[32];

		store_fill_peer(to, (uint8_t)r);
		CHECK_EQ(um_queue_pending(q, to, 0, count, &c), 0);
	}
	CHECK_EQ(c.n, committed);
	CHECK_EQ(c.max_id, committed);
	CHECK_EQ(c.bad, 0);
	CHECK_EQ(um_queue_stats(q, &st), 0);
	CHECK_EQ(st.envelopes, committed);
	CHECK_EQ(st.bytes, committed * LEN);
	CHECK_EQ(um_queue_integrity_check(q), 0);
}

/* After the failure: space is freed, the queue reopens with exactly the
 * committed envelopes and accepts puts again. */
static void check_after_freeing(uint64_t committed)
{
	struct um_queue *q = NULL;

	CHECK_EQ(unlink(ballast), 0);
	CHECK_EQ(um_queue_open(fx.path, &limits, &q), 0);
	if (!q)
		return;
	check_committed(q, committed);
	CHECK_EQ(put(q, committed + 1), 0);
	um_queue_close(q);
}

static void test_single_puts_fill_up(void)
{
	struct um_queue *q = NULL;
	uint64_t n = 0;
	int rc;

	if (setup() != 0) {
		CHECK(!"tmpfs setup");
		return;
	}
	CHECK_EQ(um_queue_open(fx.path, &limits, &q), 0);
	if (!q)
		goto out;
	while ((rc = put(q, n + 1)) == 0 && n < 1000)
		n++;
	fprintf(stderr, "  %llu envelopes of %d bytes committed before the file system filled up\n",
		(unsigned long long)n, LEN);
	CHECK_EQ(rc, -ENOSPC);
	CHECK(n > 0);
	/* The same handle reads everything committed, nothing of the refused. */
	check_committed(q, n);
	/* Refused again while full, and still nothing damaged. */
	CHECK_EQ(put(q, n + 1), -ENOSPC);
	check_committed(q, n);
	um_queue_close(q);
	check_after_freeing(n);
out:
	teardown();
}

static void test_group_commit_fills_up(void)
{
	struct um_queue *q = NULL;
	uint64_t committed = 5, n;
	int rc = 0, first_error = 0;

	if (setup() != 0) {
		CHECK(!"tmpfs setup");
		return;
	}
	CHECK_EQ(um_queue_open(fx.path, &limits, &q), 0);
	if (!q)
		goto out;
	CHECK_EQ(um_queue_begin(q), 0);
	for (n = 1; n <= committed; n++)
		CHECK_EQ(put(q, n), 0);
	CHECK_EQ(um_queue_commit(q), 0);
	/* 100 x 4 KB cannot fit: the group fails at a put that spills or at its
	 * commit, and then every later call of the group says so. */
	CHECK_EQ(um_queue_begin(q), 0);
	for (; n <= committed + 100; n++) {
		rc = put(q, n);
		if (rc && !first_error)
			first_error = rc;
	}
	CHECK(first_error == 0 || first_error == -ENOSPC);
	CHECK(first_error == 0 || rc == first_error);
	CHECK_EQ(um_queue_commit(q), -ENOSPC);
	check_committed(q, committed); /* none of the group */
	um_queue_close(q);
	check_after_freeing(committed);
out:
	teardown();
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skip: mounting a tmpfs needs root\n");
		return 77;
	}
	/* Our own mount namespace: the tmpfs is invisible to everything else and
	 * goes away with this process. */
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		fprintf(stderr, "skip: no private mount namespace: %s\n", strerror(errno));
		return 77;
	}
	if (setup() != 0) {
		fprintf(stderr, "skip: cannot mount a tmpfs: %s\n", strerror(errno));
		return 77;
	}
	teardown();
	RUN(test_single_puts_fill_up);
	RUN(test_group_commit_fills_up);
	return um_test_end();
}
