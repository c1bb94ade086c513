/* SPDX-License-Identifier: MIT */
/* The rung that carried a message (store.h: um_store_message_set_via, the
 * via column of schema 2): stored with a received message, a live rung set
 * once and never over the queue, the queue over a live rung and for good,
 * every row reader returns it; a schema 1 database is migrated in place
 * with its messages kept (via 0). */
#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"
#include "store_fixture.h"
#include "test.h"
#include "util/error.h"

static struct store_fixture fx;
static struct um_store *st;
static uint8_t peer[32];
static const uint8_t body[] = "hello";

static void setup(void)
{
	CHECK_EQ(store_fixture_init(&fx, NULL), 0);
	CHECK_EQ(um_store_open(fx.path, &st), 0);
	store_fill_peer(peer, 7);
}

static void teardown(void)
{
	um_store_close(st);
	st = NULL;
	store_fixture_cleanup(&fx);
}

static struct um_store_message message(uint64_t n, uint8_t via)
{
	struct um_store_message m = {
	    .kind = 0, .sent_ms = 1000 + n, .received_ms = 2000 + n, .via = via, .body = body, .len = sizeof(body) - 1};
	memcpy(m.peer, peer, 32);
	store_fill_id(m.id, n);
	return m;
}

static int got_via(void *ctx, const struct um_store_message *m)
{
	*(int *)ctx = m->via;
	return 0;
}

static int via_of(uint64_t n, bool outgoing)
{
	uint8_t id[16];
	int via = -1;

	store_fill_id(id, n);
	CHECK_EQ(um_store_message_get(st, id, outgoing, got_via, &via), 0);
	return via;
}

static void test_set_via(void)
{
	struct um_store_message m;
	uint8_t unknown[16];

	setup();
	/* Received: the rung comes with the row. */
	m = message(1, UM_STORE_VIA_RELAY_TCP);
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	CHECK_EQ(via_of(1, false), UM_STORE_VIA_RELAY_TCP);
	/* Sent: none until written; the first live rung stays. */
	m = message(2, UM_STORE_VIA_NONE);
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	CHECK_EQ(via_of(2, true), UM_STORE_VIA_NONE);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_DIRECT), 0);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_RELAY), -UM_EEXIST);
	CHECK_EQ(via_of(2, true), UM_STORE_VIA_DIRECT);
	/* The session broke, the message was queued: the queue wins, for good. */
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_QUEUE), 0);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_QUEUE), -UM_EEXIST);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_DIRECT), -UM_EEXIST);
	CHECK_EQ(via_of(2, true), UM_STORE_VIA_QUEUE);
	/* The direction and the peer are part of the key. */
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, false, UM_STORE_VIA_DIRECT), -UM_ENOTFOUND);
	store_fill_id(unknown, 99);
	CHECK_EQ(um_store_message_set_via(st, peer, unknown, true, UM_STORE_VIA_DIRECT), -UM_ENOTFOUND);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_NONE), -UM_EINVAL);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_QUEUE + 1), -UM_EINVAL);
	/* Inside a batch, and kept across a reopen. */
	m = message(3, UM_STORE_VIA_NONE);
	CHECK_EQ(um_store_outbox_add(st, &m), 0);
	CHECK_EQ(um_store_begin(st), 0);
	CHECK_EQ(um_store_message_set_via(st, peer, m.id, true, UM_STORE_VIA_QUEUE), 0);
	CHECK_EQ(um_store_commit(st), 0);
	um_store_close(st);
	CHECK_EQ(um_store_open(fx.path, &st), 0);
	CHECK_EQ(via_of(3, true), UM_STORE_VIA_QUEUE);
	CHECK_EQ(via_of(1, false), UM_STORE_VIA_RELAY_TCP);
	teardown();
}

/* A database of schema 1 (made by turning a fresh one back) is migrated:
 * its messages stay, with via 0. */
static void test_migration(void)
{
	struct um_store_message m;
	sqlite3 *db = NULL;

	setup();
	um_store_close(st);
	st = NULL;
	CHECK_EQ(sqlite3_open(fx.path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(db,
			      "ALTER TABLE messages DROP COLUMN via;"
			      "UPDATE schema_version SET version = 1;"
			      "INSERT INTO messages (peer, id, outgoing, kind, sent_ms, received_ms, state, body)"
			      " VALUES (zeroblob(32), x'0000000000000000a5a5a5a5a5a5a5a5', 0, 0, 1, 2, 0, x'6869');",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ(um_store_open(fx.path, &st), 0);
	memset(peer, 0, sizeof(peer));
	CHECK_EQ(via_of(0, false), UM_STORE_VIA_NONE);
	m = message(5, UM_STORE_VIA_QUEUE);
	CHECK_EQ(um_store_inbox_add(st, &m), 0);
	CHECK_EQ(via_of(5, false), UM_STORE_VIA_QUEUE);
	teardown();
}

int main(void)
{
	RUN(test_set_via);
	RUN(test_migration);
	return um_test_end();
}
