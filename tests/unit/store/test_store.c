/* SPDX-License-Identifier: MIT */
/* The store: every function, duplicates, receipts' state changes, group
 * commit, reopening, file transfers with bitmaps, presence, and the refusal
 * of a database others can read. Each case gets a fresh directory. */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

static struct store_fixture fx;
static struct um_store *st;

static void setup(void)
{
	CHECK(store_fixture_init(&fx, NULL) == 0);
	CHECK_EQ(um_store_open(fx.path, &st), 0);
}

static void teardown(void)
{
	um_store_close(st);
	st = NULL;
	store_fixture_cleanup(&fx);
}

static void reopen(void)
{
	um_store_close(st);
	st = NULL;
	CHECK_EQ(um_store_open(fx.path, &st), 0);
}

static struct um_store_message message(uint8_t peer_tag, uint64_t n, const char *text)
{
	struct um_store_message m = {0};

	store_fill_peer(m.peer, peer_tag);
	store_fill_id(m.id, n);
	m.kind = 0;
	m.sent_ms = 1700000000000ull + n;
	m.received_ms = m.sent_ms + 5;
	m.body = (const uint8_t *)text;
	m.len = strlen(text);
	return m;
}

/* Collects what a walk hands out (copies the bodies' first bytes). */
struct seen {
	size_t n;
	int64_t seq[256];
	uint64_t id[256];
	uint8_t state[256];
	bool outgoing[256];
	char body[256][32];
	size_t stop_after; /* 0 = never */
};

static int collect(void *ctx, const struct um_store_message *m)
{
	struct seen *s = ctx;

	if (s->n < 256) {
		s->seq[s->n] = m->seq;
		s->id[s->n] = store_id_number(m->id);
		s->state[s->n] = m->state;
		s->outgoing[s->n] = m->outgoing;
		snprintf(s->body[s->n], sizeof(s->body[0]), "%.*s", (int)(m->len < 31 ? m->len : 31),
			 (const char *)m->body);
	}
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static int file_mode(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static void test_open_creates_private_file(void)
{
	char wal[400];

	setup();
	CHECK_EQ(file_mode(fx.path), 0600);
	struct um_store_message m = message(1, 1, "hello");
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	snprintf(wal, sizeof(wal), "%s-wal", fx.path);
	CHECK_EQ(file_mode(wal), 0600); /* SQLite gives the log the database's mode */
	CHECK_EQ(um_store_integrity_check(st), 0);
	teardown();
}

static void test_open_refuses_shared_file(void)
{
	char wal[400];
	struct um_store *other = NULL;

	setup();
	um_store_close(st);
	st = NULL;
	CHECK_EQ(chmod(fx.path, 0644), 0);
	CHECK_EQ(um_store_open(fx.path, &other), -UM_EPERM);
	CHECK(other == NULL);
	CHECK_EQ(chmod(fx.path, 0640), 0);
	CHECK_EQ(um_store_open(fx.path, &other), -UM_EPERM);
	CHECK_EQ(chmod(fx.path, 0602), 0);
	CHECK_EQ(um_store_open(fx.path, &other), -UM_EPERM);
	CHECK_EQ(chmod(fx.path, 0600), 0);
	/* A readable log leaks as much as the database. */
	snprintf(wal, sizeof(wal), "%s-wal", fx.path);
	FILE *w = fopen(wal, "w");
	CHECK(w != NULL);
	if (w)
		fclose(w);
	CHECK_EQ(chmod(wal, 0644), 0);
	CHECK_EQ(um_store_open(fx.path, &other), -UM_EPERM);
	CHECK_EQ(chmod(wal, 0600), 0);
	CHECK_EQ(um_store_open(fx.path, &other), 0);
	um_store_close(other);
	/* No parent directory: not created. */
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/nope/messages.db", fx.dir);
	CHECK_EQ(um_store_open(missing, &other), -ENOENT);
	CHECK_EQ(um_store_open(fx.dir, &other), -EISDIR);
	CHECK_EQ(um_store_open("", &other), -UM_EINVAL);
	teardown();
}

static void test_outbox(void)
{
	struct seen seen = {0};
	uint8_t peer_a[32], peer_b[32];

	setup();
	store_fill_peer(peer_a, 1);
	store_fill_peer(peer_b, 2);
	CHECK_EQ(um_store_last_seq(st), 0);
	for (uint64_t n = 1; n <= 3; n++) {
		struct um_store_message m = message(1, n, n == 2 ? "two" : "other");
		CHECK_EQ(um_store_outbox_add(st, &m), 0);
		CHECK(um_store_last_seq(st) > 0);
	}
	int64_t last = um_store_last_seq(st);
	struct um_store_message b = message(2, 1, "to b");
	CHECK_EQ(um_store_outbox_add(st, &b), 0); /* same id, another peer */
	CHECK(um_store_last_seq(st) > last);
	struct um_store_message dup = message(1, 2, "again");
	CHECK_EQ(um_store_outbox_add(st, &dup), -UM_EEXIST);
	CHECK_EQ(um_store_inbox_add(st, &dup), 0); /* same id, the other direction */
	CHECK_EQ(um_store_outbox_pending(st, peer_a, collect, &seen), 0);
	CHECK_EQ(seen.n, 3);
	for (size_t i = 0; i < 3 && i < seen.n; i++) {
		CHECK_EQ(seen.id[i], i + 1);
		CHECK(seen.outgoing[i]);
		CHECK_EQ(seen.state[i], UM_STORE_OUT_QUEUED);
		if (i)
			CHECK(seen.seq[i] > seen.seq[i - 1]);
	}
	CHECK(strcmp(seen.body[1], "two") == 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_outbox_pending(st, peer_b, collect, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK(strcmp(seen.body[0], "to b") == 0);
	/* A callback's non-zero answer stops the walk and comes back. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	CHECK_EQ(um_store_outbox_pending(st, peer_a, collect, &seen), 42);
	CHECK_EQ(seen.n, 2);
	teardown();
}

static void test_message_limits(void)
{
	static uint8_t big[UM_STORE_BODY_MAX + 1];
	struct seen seen = {0};

	setup();
	struct um_store_message m = message(1, 1, "");
	m.body = NULL; /* an empty body needs no pointer */
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	m = message(1, 2, "");
	m.body = big;
	m.len = sizeof(big);
	CHECK_EQ(um_store_outbox_add(st, &m), -UM_ERANGE);
	m.len = UM_STORE_BODY_MAX;
	big[UM_STORE_BODY_MAX - 1] = 0x7f;
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	m = message(1, 3, "x");
	m.state = UM_STORE_IN_READ + 1;
	CHECK_EQ(um_store_inbox_add(st, &m), -UM_EINVAL);
	m.body = NULL;
	m.state = 0;
	CHECK_EQ(um_store_inbox_add(st, &m), -UM_EINVAL); /* len 1 without a body */
	CHECK_EQ(um_store_outbox_add(st, NULL), -UM_EINVAL);
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 2);
	CHECK(seen.body[0][0] == 0);
	teardown();
}

static void test_inbox_duplicate(void)
{
	struct seen seen = {0};

	setup();
	struct um_store_message m = message(3, 7, "first copy");
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	int64_t seq = um_store_last_seq(st);
	m.body = (const uint8_t *)"second copy";
	m.len = 11;
	CHECK_EQ(um_store_inbox_add(st, &m), -UM_EEXIST);
	CHECK_EQ(um_store_last_seq(st), seq);
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK(strcmp(seen.body[0], "first copy") == 0);
	CHECK(!seen.outgoing[0]);
	CHECK_EQ(seen.state[0], UM_STORE_IN_NEW);
	teardown();
}

static uint8_t state_of(uint64_t n, bool outgoing)
{
	struct seen seen = {0};
	uint8_t id[16];

	store_fill_id(id, n);
	if (um_store_message_get(st, id, outgoing, collect, &seen) != 0 || seen.n != 1)
		return 0xff;
	return seen.state[0];
}

static void test_state_transitions(void)
{
	uint8_t id[16], peer_a[32], peer_b[32];
	struct seen seen = {0};

	setup();
	store_fill_peer(peer_a, 1);
	store_fill_peer(peer_b, 2);
	for (uint64_t n = 1; n <= 3; n++) {
		struct um_store_message m = message(1, n, "out");
		CHECK_EQ(um_store_outbox_add(st, &m), 0);
	}
	store_fill_id(id, 1);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_SENT), 0);
	CHECK_EQ(state_of(1, true), UM_STORE_OUT_SENT);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_SENT), -UM_EEXIST);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_QUEUED), -UM_ESTATE);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_DELIVERED), 0);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_REFUSED), -UM_ESTATE);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_READ), 0);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_DELIVERED), -UM_ESTATE);
	CHECK_EQ(state_of(1, true), UM_STORE_OUT_READ);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_REFUSED + 1), -UM_EINVAL);
	/* An ACK can overtake our own "sent": queued -> delivered directly. */
	store_fill_id(id, 2);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_DELIVERED), 0);
	store_fill_id(id, 3);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_REFUSED), 0);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_READ), -UM_ESTATE);
	CHECK_EQ(state_of(3, true), UM_STORE_OUT_REFUSED);
	/* Delivered, read and refused messages are no longer pending. */
	struct um_store_message m = message(1, 4, "pending");
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	CHECK_EQ(um_store_outbox_pending(st, peer_a, collect, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK_EQ(seen.id[0], 4);
	store_fill_id(id, 99);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_SENT), -UM_ENOTFOUND);
	store_fill_id(id, 4);
	CHECK_EQ(um_store_message_set_state(st, id, false, UM_STORE_IN_READ), -UM_ENOTFOUND);

	/* Incoming: new -> read only. Two senders chose the same id. */
	m = message(1, 50, "from a");
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	m = message(2, 50, "from b");
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	store_fill_id(id, 50);
	CHECK_EQ(um_store_message_set_state(st, id, false, UM_STORE_IN_READ), -UM_EINVAL);
	CHECK_EQ(um_store_peer_message_set_state(st, peer_b, id, false, UM_STORE_IN_READ + 1), -UM_EINVAL);
	CHECK_EQ(um_store_peer_message_set_state(st, peer_b, id, false, UM_STORE_IN_READ), 0);
	CHECK_EQ(um_store_peer_message_set_state(st, peer_b, id, false, UM_STORE_IN_NEW), -UM_ESTATE);
	CHECK_EQ(um_store_peer_message_set_state(st, peer_b, id, false, UM_STORE_IN_READ), -UM_EEXIST);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_message_get(st, id, false, collect, &seen), 0);
	CHECK_EQ(seen.n, 2);
	CHECK(seen.n == 2 && seen.state[0] == UM_STORE_IN_NEW && seen.state[1] == UM_STORE_IN_READ);
	CHECK_EQ(um_store_message_get(st, id, true, collect, &seen), -UM_ENOTFOUND);
	teardown();
}

static void test_history(void)
{
	uint8_t peer_b[32];
	struct seen seen = {0};

	setup();
	store_fill_peer(peer_b, 2);
	for (uint64_t n = 1; n <= 10; n++) {
		struct um_store_message m = message(n % 2 ? 1 : 2, n, "h");
		CHECK_EQ(n % 3 ? um_store_outbox_add(st, &m) : um_store_inbox_add(st, &m), 0);
	}
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 10);
	for (size_t i = 0; i < seen.n && i < 10; i++) {
		CHECK_EQ(seen.id[i], i + 1);
		CHECK_EQ(seen.outgoing[i], (i + 1) % 3 != 0);
	}
	int64_t fourth = seen.seq[3];
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_messages(st, fourth, 3, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 3);
	CHECK_EQ(seen.id[0], 5);
	CHECK_EQ(seen.id[2], 7);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_messages(st, 0, 0, peer_b, collect, &seen), 0);
	CHECK_EQ(seen.n, 5);
	for (size_t i = 0; i < seen.n && i < 5; i++)
		CHECK_EQ(seen.id[i], 2 * (i + 1));
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_messages(st, INT64_MAX, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 0);
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, NULL, NULL), -UM_EINVAL);
	teardown();
}

/* A callback that writes to the store while it is walked (what the node does
 * when it re-sends the outbox and marks each message sent). */
static int mark_sent(void *ctx, const struct um_store_message *m)
{
	size_t *count = ctx;

	(*count)++;
	return um_store_peer_message_set_state(st, m->peer, m->id, true, UM_STORE_OUT_DELIVERED);
}

static void test_walk_reentrant(void)
{
	uint8_t peer[32];
	size_t count = 0;

	setup();
	store_fill_peer(peer, 1);
	CHECK_EQ(um_store_begin(st), 0);
	for (uint64_t n = 1; n <= 100; n++) { /* several pages */
		struct um_store_message m = message(1, n, "p");
		CHECK_EQ(um_store_outbox_add(st, &m), 0);
	}
	CHECK_EQ(um_store_commit(st), 0);
	CHECK_EQ(um_store_outbox_pending(st, peer, mark_sent, &count), 0);
	CHECK_EQ(count, 100);
	count = 0;
	CHECK_EQ(um_store_outbox_pending(st, peer, mark_sent, &count), 0);
	CHECK_EQ(count, 0);
	teardown();
}

static void test_batch(void)
{
	struct seen seen = {0};

	setup();
	CHECK_EQ(um_store_commit(st), -UM_ESTATE);
	CHECK_EQ(um_store_begin(st), 0);
	for (uint64_t n = 1; n <= 5; n++) {
		struct um_store_message m = message(1, n, "batch");
		CHECK_EQ(um_store_inbox_add(st, &m), 0);
	}
	CHECK_EQ(um_store_begin(st), 0); /* nested: counted */
	struct um_store_message dup = message(1, 3, "dup");
	CHECK_EQ(um_store_inbox_add(st, &dup), -UM_EEXIST); /* a refusal keeps the batch */
	struct um_store_message six = message(1, 6, "six");
	CHECK_EQ(um_store_inbox_add(st, &six), 0);
	CHECK_EQ(um_store_commit(st), 0);
	CHECK_EQ(um_store_presence_put(st, six.peer, UM_STORE_PRESENCE_AWAY, 5, "lunch"), 0);
	CHECK_EQ(um_store_commit(st), 0);
	reopen();
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 6);
	struct um_store_presence p;
	CHECK_EQ(um_store_presence_get(st, six.peer, &p), 0);

	/* A batch never committed is not there after a restart. */
	CHECK_EQ(um_store_begin(st), 0);
	struct um_store_message lost = message(1, 7, "lost");
	CHECK_EQ(um_store_inbox_add(st, &lost), 0);
	reopen(); /* closes with the batch open: rolled back */
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 6);
	CHECK_EQ(um_store_inbox_add(st, &lost), 0); /* its id is free */
	teardown();
}

static struct um_store_file file_template(uint8_t peer_tag, uint64_t n, uint64_t size, uint32_t chunk);

/* Refusals of file writes inside a batch undo only themselves. */
static void test_batch_file_refusals(void)
{
	struct um_store_file f = file_template(1, 1, 8 * 4096, 4096), thief = file_template(2, 1, 4096, 4096), got;

	setup();
	CHECK_EQ(um_store_begin(st), 0);
	CHECK_EQ(um_store_file_put(st, &f), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 3, 4096), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 3, 4096), -UM_EEXIST);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 8, 4096), -UM_ERANGE);
	CHECK_EQ(um_store_file_put(st, &thief), -UM_EEXIST);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 4, 100), 0);
	CHECK_EQ(um_store_commit(st), 0);
	reopen();
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_EQ(got.bytes_done, 4096 + 100);
	CHECK(got.bitmap_len == 1 && got.bitmap[0] == 0x18);
	CHECK_MEM(got.peer, f.peer, 32);
	free(got.bitmap);
	teardown();
}

/* A second handle on the same file (another process, in life) sees only
 * committed writes: each add outside a batch is committed when it returns. */
static void test_commit_visible_elsewhere(void)
{
	struct um_store *other = NULL;
	struct seen seen = {0};

	setup();
	CHECK_EQ(um_store_open(fx.path, &other), 0);
	struct um_store_message m = message(1, 1, "now");
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	CHECK_EQ(um_store_messages(other, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK_EQ(um_store_begin(st), 0);
	m = message(1, 2, "later");
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_messages(other, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK_EQ(um_store_commit(st), 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_messages(other, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 2);
	um_store_close(other);
	teardown();
}

static struct um_store_file file_template(uint8_t peer_tag, uint64_t n, uint64_t size, uint32_t chunk)
{
	struct um_store_file f;

	memset(&f, 0, sizeof(f));
	store_fill_id(f.id, n);
	store_fill_peer(f.peer, peer_tag);
	f.outgoing = false;
	snprintf(f.name, sizeof(f.name), "report-%llu.pdf", (unsigned long long)n);
	snprintf(f.path, sizeof(f.path), "/home/u/downloads/.report-%llu.pdf.umbra-part", (unsigned long long)n);
	f.size = size;
	f.chunk_size = chunk;
	memset(f.hash, (int)n, sizeof(f.hash));
	f.state = UM_STORE_FILE_ACCEPTED;
	f.created_ms = 1700000000000ull;
	f.updated_ms = f.created_ms + 1;
	return f;
}

struct file_seen {
	size_t n;
	uint64_t id[8];
	bool outgoing[8];
};

static int collect_file(void *ctx, const struct um_store_file *f)
{
	struct file_seen *s = ctx;

	if (s->n < 8) {
		s->id[s->n] = store_id_number(f->id);
		s->outgoing[s->n] = f->outgoing;
	}
	s->n++;
	return 0;
}

static void test_files(void)
{
	struct um_store_file f = file_template(1, 1, 10 * 65536 + 1, 65536), got;
	uint8_t wrong[3] = {0};
	struct file_seen fs = {0};

	setup();
	CHECK_EQ(um_store_file_put(st, &f), 0); /* 11 chunks, empty bitmap of 2 bytes */
	memset(&got, 0x55, sizeof(got));
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_MEM(got.id, f.id, 16);
	CHECK_MEM(got.peer, f.peer, 32);
	CHECK_MEM(got.hash, f.hash, 32);
	CHECK(strcmp(got.name, f.name) == 0 && strcmp(got.path, f.path) == 0);
	CHECK_EQ(got.size, f.size);
	CHECK_EQ(got.chunk_size, 65536);
	CHECK_EQ(got.state, UM_STORE_FILE_ACCEPTED);
	CHECK_EQ(got.bytes_done, 0);
	CHECK_EQ(got.created_ms, f.created_ms);
	CHECK_EQ(got.updated_ms, f.updated_ms);
	CHECK(!got.outgoing);
	CHECK_EQ(got.bitmap_len, 2);
	CHECK(got.bitmap && got.bitmap[0] == 0 && got.bitmap[1] == 0);
	free(got.bitmap);
	CHECK_EQ(um_store_file_get(st, f.id, true, &got), -UM_ENOTFOUND);

	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 0, 65536), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 10, 1), 0); /* the short last chunk */
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 9, 65536), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 9, 65536), -UM_EEXIST);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 11, 1), -UM_ERANGE);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, true, 0, 1), -UM_ENOTFOUND);
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_EQ(got.bytes_done, 2 * 65536 + 1);
	CHECK(got.bitmap && got.bitmap[0] == 0x01 && got.bitmap[1] == 0x06);
	free(got.bitmap);

	/* A resumed sender's view: its own row, its own bitmap. */
	struct um_store_file out = file_template(1, 1, 3 * 4096, 4096);
	uint8_t acked[1] = {0x05};
	out.outgoing = true;
	out.bitmap = acked;
	out.bitmap_len = 1;
	CHECK_EQ(um_store_file_put(st, &out), 0);
	CHECK_EQ(um_store_file_get(st, out.id, true, &got), 0);
	CHECK(got.bitmap_len == 1 && got.bitmap[0] == 0x05);
	free(got.bitmap);
	out.bitmap = wrong;
	out.bitmap_len = sizeof(wrong);
	CHECK_EQ(um_store_file_put(st, &out), -UM_EINVAL);

	/* Replace by the same peer; another peer cannot take the id. */
	f.state = UM_STORE_FILE_ACTIVE;
	f.bytes_done = 7;
	CHECK_EQ(um_store_file_put(st, &f), 0);
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_EQ(got.state, UM_STORE_FILE_ACTIVE);
	CHECK_EQ(got.bytes_done, 7);
	CHECK(got.bitmap[0] == 0 && got.bitmap[1] == 0); /* put replaces the bitmap */
	free(got.bitmap);
	struct um_store_file thief = file_template(9, 1, 5, 4096);
	CHECK_EQ(um_store_file_put(st, &thief), -UM_EEXIST);
	thief.chunk_size = 0;
	CHECK_EQ(um_store_file_put(st, &thief), -UM_EINVAL);
	thief = file_template(9, 2, 5, 4096);
	thief.state = UM_STORE_FILE_FAILED + 1;
	CHECK_EQ(um_store_file_put(st, &thief), -UM_EINVAL);
	thief.state = 0;
	memset(thief.name, 'n', sizeof(thief.name)); /* unterminated */
	CHECK_EQ(um_store_file_put(st, &thief), -UM_EINVAL);

	CHECK_EQ(um_store_file_set_state(st, f.id, false, UM_STORE_FILE_DONE, 1800000000000ull), 0);
	CHECK_EQ(um_store_file_set_state(st, f.id, false, UM_STORE_FILE_FAILED + 1, 1), -UM_EINVAL);
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_EQ(got.state, UM_STORE_FILE_DONE);
	CHECK_EQ(got.updated_ms, 1800000000000ull);
	free(got.bitmap);

	CHECK_EQ(um_store_file_list(st, collect_file, &fs), 0);
	CHECK_EQ(fs.n, 2);
	CHECK(fs.n == 2 && fs.id[0] == 1 && !fs.outgoing[0] && fs.outgoing[1]);
	CHECK_EQ(um_store_file_delete(st, out.id, true), 0);
	CHECK_EQ(um_store_file_delete(st, out.id, true), -UM_ENOTFOUND);
	CHECK_EQ(um_store_file_set_state(st, out.id, true, 1, 1), -UM_ENOTFOUND);
	memset(&fs, 0, sizeof(fs));
	CHECK_EQ(um_store_file_list(st, collect_file, &fs), 0);
	CHECK_EQ(fs.n, 1);
	teardown();
}

/* A 4 GiB file in 4 KiB chunks: 2^20 chunks, a 128 KiB bitmap; the last
 * chunk's bit is the last bit. */
static void test_file_large_bitmap(void)
{
	struct um_store_file f = file_template(1, 2, 4ull << 30, 4096), got;

	setup();
	CHECK_EQ(um_store_file_put(st, &f), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, (1u << 20) - 1, 4096), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 1u << 20, 4096), -UM_ERANGE);
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_EQ(got.bitmap_len, 131072);
	CHECK(got.bitmap && got.bitmap[131071] == 0x80 && got.bitmap[0] == 0);
	free(got.bitmap);
	/* More chunks than a u32 index can name. */
	f = file_template(1, 3, (1ull << 32) * 2 + 1, 1);
	CHECK_EQ(um_store_file_put(st, &f), -UM_ERANGE);
	teardown();
}

struct presence_seen {
	size_t n;
	struct um_store_presence p[4];
};

static int collect_presence(void *ctx, const struct um_store_presence *p)
{
	struct presence_seen *s = ctx;

	if (s->n < 4)
		s->p[s->n] = *p;
	s->n++;
	return 0;
}

static void test_presence(void)
{
	char text[UM_STORE_PRESENCE_TEXT_MAX + 2];
	struct um_store_presence p;
	struct presence_seen all = {0};
	uint8_t peer[32], other[32];

	setup();
	store_fill_peer(peer, 1);
	store_fill_peer(other, 2);
	CHECK_EQ(um_store_presence_get(st, peer, &p), -UM_ENOTFOUND);
	CHECK_EQ(um_store_self_presence_get(st, &p), -UM_ENOTFOUND);
	CHECK_EQ(um_store_presence_put(st, peer, UM_STORE_PRESENCE_BUSY, 123, "in a meeting"), 0);
	CHECK_EQ(um_store_presence_get(st, peer, &p), 0);
	CHECK_EQ(p.state, UM_STORE_PRESENCE_BUSY);
	CHECK_EQ(p.last_seen_ms, 123);
	CHECK(strcmp(p.text, "in a meeting") == 0);
	CHECK_MEM(p.peer, peer, 32);
	CHECK_EQ(um_store_presence_put(st, peer, UM_STORE_PRESENCE_ONLINE, 456, NULL), 0);
	CHECK_EQ(um_store_presence_get(st, peer, &p), 0);
	CHECK_EQ(p.state, UM_STORE_PRESENCE_ONLINE);
	CHECK_EQ(p.last_seen_ms, 456);
	CHECK(p.text[0] == 0);
	memset(text, 'a', sizeof(text));
	text[UM_STORE_PRESENCE_TEXT_MAX] = 0;
	CHECK_EQ(um_store_presence_put(st, other, UM_STORE_PRESENCE_AWAY, 9, text), 0);
	text[UM_STORE_PRESENCE_TEXT_MAX] = 'a';
	text[UM_STORE_PRESENCE_TEXT_MAX + 1] = 0;
	CHECK_EQ(um_store_presence_put(st, other, UM_STORE_PRESENCE_AWAY, 9, text), -UM_ERANGE);
	CHECK_EQ(um_store_presence_put(st, other, UM_STORE_PRESENCE_BUSY + 1, 9, "x"), -UM_EINVAL);
	CHECK_EQ(um_store_presence_get(st, other, &p), 0);
	CHECK_EQ(strlen(p.text), UM_STORE_PRESENCE_TEXT_MAX);

	CHECK_EQ(um_store_self_presence_put(st, UM_STORE_PRESENCE_AWAY, 77, "back soon"), 0);
	CHECK_EQ(um_store_self_presence_put(st, UM_STORE_PRESENCE_BUSY, 78, "busy"), 0);
	CHECK_EQ(um_store_self_presence_get(st, &p), 0);
	CHECK_EQ(p.state, UM_STORE_PRESENCE_BUSY);
	CHECK_EQ(p.last_seen_ms, 78);
	CHECK(strcmp(p.text, "busy") == 0);
	CHECK_EQ(um_store_self_presence_put(st, 4, 78, NULL), -UM_EINVAL);

	CHECK_EQ(um_store_presence_list(st, collect_presence, &all), 0);
	CHECK_EQ(all.n, 2); /* our own is not in the list */
	CHECK(all.n == 2 && memcmp(all.p[0].peer, all.p[1].peer, 32) < 0);
	for (size_t i = 0; i < all.n && i < 2; i++)
		CHECK_EQ(all.p[i].last_seen_ms, memcmp(all.p[i].peer, peer, 32) == 0 ? 456 : 9);
	teardown();
}

static void test_reopen_keeps_everything(void)
{
	struct um_store_file f = file_template(4, 9, 100000, 4096), got;
	struct um_store_presence p;
	struct seen seen = {0};
	uint8_t peer[32];

	setup();
	store_fill_peer(peer, 4);
	for (uint64_t n = 1; n <= 40; n++) {
		struct um_store_message m = message(4, n, n % 2 ? "odd" : "even");
		CHECK_EQ(n % 2 ? um_store_outbox_add(st, &m) : um_store_inbox_add(st, &m), 0);
	}
	uint8_t id[16];
	store_fill_id(id, 1);
	CHECK_EQ(um_store_message_set_state(st, id, true, UM_STORE_OUT_DELIVERED), 0);
	CHECK_EQ(um_store_file_put(st, &f), 0);
	CHECK_EQ(um_store_file_chunk_done(st, f.id, false, 24, 100000 - 24 * 4096), 0);
	CHECK_EQ(um_store_presence_put(st, peer, UM_STORE_PRESENCE_AWAY, 31, "afk"), 0);
	CHECK_EQ(um_store_self_presence_put(st, UM_STORE_PRESENCE_ONLINE, 32, "here"), 0);
	int64_t last = um_store_last_seq(st);
	reopen();
	CHECK_EQ(um_store_integrity_check(st), 0);
	CHECK_EQ(um_store_messages(st, 0, 0, NULL, collect, &seen), 0);
	CHECK_EQ(seen.n, 40);
	CHECK_EQ(seen.seq[39], last);
	for (size_t i = 0; i < seen.n && i < 40; i++) {
		CHECK_EQ(seen.id[i], i + 1);
		CHECK(strcmp(seen.body[i], i % 2 ? "even" : "odd") == 0);
	}
	CHECK_EQ(seen.state[0], UM_STORE_OUT_DELIVERED);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(um_store_outbox_pending(st, peer, collect, &seen), 0);
	CHECK_EQ(seen.n, 19);
	CHECK_EQ(um_store_file_get(st, f.id, false, &got), 0);
	CHECK_EQ(got.bytes_done, 100000 - 24 * 4096);
	CHECK(got.bitmap_len == 4 && got.bitmap[3] == 0x01);
	free(got.bitmap);
	CHECK_EQ(um_store_presence_get(st, peer, &p), 0);
	CHECK(p.state == UM_STORE_PRESENCE_AWAY && strcmp(p.text, "afk") == 0);
	CHECK_EQ(um_store_self_presence_get(st, &p), 0);
	CHECK(p.state == UM_STORE_PRESENCE_ONLINE && strcmp(p.text, "here") == 0);
	/* seq keeps growing after a restart: clients page with after=SEQ. */
	struct um_store_message m = message(4, 41, "new");
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	CHECK(um_store_last_seq(st) > last);
	teardown();
}

/* The schema version table: a database written by a newer umbra is refused,
 * not misread. */
static void test_schema_version(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	struct um_store *other = NULL;

	setup();
	um_store_close(st);
	st = NULL;
	CHECK_EQ(sqlite3_open(fx.path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &q, NULL), SQLITE_OK);
	CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
	CHECK_EQ(sqlite3_column_int(q, 0), UM_STORE_SCHEMA_VERSION);
	sqlite3_finalize(q);
	/* WAL is a property of the file: another connection sees it. */
	CHECK_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
	CHECK(strcmp((const char *)sqlite3_column_text(q, 0), "wal") == 0);
	sqlite3_finalize(q);
	CHECK_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ(um_store_open(fx.path, &other), -UM_EVERSION);
	CHECK(other == NULL);
	teardown();
}

int main(void)
{
	RUN(test_open_creates_private_file);
	RUN(test_open_refuses_shared_file);
	RUN(test_outbox);
	RUN(test_message_limits);
	RUN(test_inbox_duplicate);
	RUN(test_state_transitions);
	RUN(test_history);
	RUN(test_walk_reentrant);
	RUN(test_batch);
	RUN(test_batch_file_refusals);
	RUN(test_commit_visible_elsewhere);
	RUN(test_files);
	RUN(test_file_large_bitmap);
	RUN(test_presence);
	RUN(test_reopen_keeps_everything);
	RUN(test_schema_version);
	return um_test_end();
}
