/* SPDX-License-Identifier: MIT */
/* A full file system: the store on a 300 KiB tmpfs (mounted in a private
 * mount namespace, so root only; skipped with 77 otherwise) is filled by
 * single commits and by one group commit. The failing write returns
 * -ENOSPC, the failed transaction leaves nothing behind, everything
 * committed before stays readable, and once space is freed the store works
 * again. */
#include <unistd.h>

#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

#define BODY 4000

static struct store_fixture fx;
static char ballast[400];

static int setup(void)
{
	return store_tmpfs_setup(&fx, "messages.db", ballast, sizeof(ballast));
}

static void teardown(void)
{
	store_tmpfs_teardown(&fx);
}

static int add(struct um_store *s, uint64_t n)
{
	static uint8_t body[BODY];
	struct um_store_message m = {0};

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(n + i * 13);
	store_fill_peer(m.peer, 1);
	store_fill_id(m.id, n);
	m.body = body;
	m.len = sizeof(body);
	return um_store_inbox_add(s, &m);
}

struct counted {
	uint64_t n, max_id, bad;
};

static int count(void *ctx, const struct um_store_message *m)
{
	struct counted *c = ctx;
	uint64_t id = store_id_number(m->id);

	c->n++;
	if (id > c->max_id)
		c->max_id = id;
	for (size_t i = 0; i < m->len; i++)
		c->bad += m->body[i] != (uint8_t)(id + i * 13);
	c->bad += m->len != BODY;
	return 0;
}

/* After the failure: space is freed, the database reopens with exactly the
 * committed messages and accepts writes again. */
static void check_after_freeing(uint64_t committed)
{
	struct um_store *s = NULL;
	struct counted c = {0};

	CHECK_EQ(unlink(ballast), 0);
	CHECK_EQ(um_store_open(fx.path, &s), 0);
	if (!s)
		return;
	CHECK_EQ(um_store_integrity_check(s), 0);
	CHECK_EQ(um_store_messages(s, 0, 0, NULL, count, &c), 0);
	CHECK_EQ(c.n, committed);
	CHECK_EQ(c.max_id, committed);
	CHECK_EQ(c.bad, 0);
	CHECK_EQ(add(s, committed + 1000), 0);
	um_store_close(s);
}

static void test_single_commits_fill_up(void)
{
	struct um_store *s = NULL;
	struct counted c = {0};
	uint64_t n = 0;
	int rc;

	if (setup() != 0) {
		CHECK(!"tmpfs setup");
		return;
	}
	CHECK_EQ(um_store_open(fx.path, &s), 0);
	if (!s)
		goto out;
	while ((rc = add(s, n + 1)) == 0 && n < 1000)
		n++;
	fprintf(stderr, "  %llu messages of %d bytes committed before the file system filled up\n",
		(unsigned long long)n, BODY);
	CHECK_EQ(rc, -ENOSPC);
	CHECK(n > 0);
	/* The same handle still reads everything committed, and nothing of the
	 * failed write. */
	CHECK_EQ(um_store_messages(s, 0, 0, NULL, count, &c), 0);
	CHECK_EQ(c.n, n);
	CHECK_EQ(c.bad, 0);
	CHECK_EQ(um_store_integrity_check(s), 0);
	um_store_close(s);
	check_after_freeing(n);
out:
	teardown();
}

static void test_group_commit_fills_up(void)
{
	struct um_store *s = NULL;
	struct counted c = {0};
	uint64_t committed = 3, n;
	int rc = 0, first_error = 0;

	if (setup() != 0) {
		CHECK(!"tmpfs setup");
		return;
	}
	CHECK_EQ(um_store_open(fx.path, &s), 0);
	if (!s)
		goto out;
	for (n = 1; n <= committed; n++)
		CHECK_EQ(add(s, n), 0);
	/* 100 x 4 KB cannot fit: the batch fails at a write that spills, or at
	 * its commit, and then every later call of the batch says so. */
	CHECK_EQ(um_store_begin(s), 0);
	for (; n <= committed + 100; n++) {
		rc = add(s, n);
		if (rc && !first_error)
			first_error = rc;
	}
	CHECK(first_error == 0 || first_error == -ENOSPC);
	CHECK(first_error == 0 || rc == first_error);
	CHECK_EQ(um_store_commit(s), -ENOSPC);
	CHECK_EQ(um_store_messages(s, 0, 0, NULL, count, &c), 0);
	CHECK_EQ(c.n, committed); /* none of the batch */
	CHECK_EQ(um_store_integrity_check(s), 0);
	um_store_close(s);
	check_after_freeing(committed);
out:
	teardown();
}

int main(void)
{
	int skip = store_tmpfs_namespace();

	if (skip)
		return skip;
	if (setup() != 0) {
		fprintf(stderr, "skip: cannot mount a tmpfs: %s\n", strerror(errno));
		return 77;
	}
	teardown();
	RUN(test_single_commits_fill_up);
	RUN(test_group_commit_fills_up);
	return um_test_end();
}
