/* SPDX-License-Identifier: MIT */
/* Push from a mailbox relay (http/mailbox_wait.h) over real HTTP: the
 * node's client against the relay queue service on 127.0.0.1. A wait is
 * answered when an envelope for the waiter is committed (not for another
 * recipient's), at once for one committed after after_ms, with false when
 * its time runs out; a key that is not the recipient's and a clock off by
 * more than a minute are refused (403); a cancelled wait returns at once. */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "http/queue_client.h"
#include "node/relay_queue.h"
#include "relay_fixture.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/envelope.h"

enum { ENV_LEN = 8192 };

static struct um_identity owner, other;
static char base[128], dir[64], db[96];
static struct um_http_server *server;
static struct um_relay_queue *rq;
static _Atomic int64_t skew_ms; /* the relay's clock = ours + skew */
static uint8_t env[ENV_LEN];

static uint64_t relay_clock(void)
{
	return (uint64_t)((int64_t)um_wall_ms() + skew_ms);
}

static void setup(void)
{
	struct um_config_relay_server rc = {0};
	struct um_queue_api_config ac = {.requests_per_s = 100000, .request_burst = 100000, .wall_ms = relay_clock};

	skew_ms = 0;
	snprintf(dir, sizeof(dir), "/tmp/um-mailbox-wait-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/queue.db", dir);
	snprintf(rc.queue_path, sizeof(rc.queue_path), "%s", db);
	CHECK_EQ(um_identity_generate(&owner), 0);
	CHECK_EQ(um_identity_generate(&other), 0);
	relay_service_start(&rc, &ac, &rq, &server, base, sizeof(base));
}

static void teardown(void)
{
	relay_service_stop(&rq, &server);
	relay_files_remove(db);
	CHECK_EQ(rmdir(dir), 0);
}

static void put_for(const struct um_identity *to)
{
	struct um_envelope_header h = {.version = UM_ENVELOPE_VERSION, .bucket = 0};
	struct um_queue_client c;
	const uint8_t *e = env;
	size_t len = ENV_LEN;
	int result = 99;

	memcpy(h.recipient, to->id.bytes, 32);
	randombytes_buf(h.id, sizeof(h.id));
	randombytes_buf(env, sizeof(env));
	um_envelope_header_encode(env, &h);
	CHECK_EQ(um_queue_client_init(&c, base), 0);
	CHECK_EQ(um_queue_client_put(&c, &e, &len, 1, &result), 0);
	CHECK_EQ(result, 0);
	um_queue_client_close(&c);
}

struct waiting {
	const struct um_identity *who;
	uint64_t after;
	uint32_t wait_s;
	const _Atomic bool *cancel;
	int r;
	bool arrived;
	uint64_t now_ms, took_ms;
};

static void *wait_thread(void *arg)
{
	struct waiting *w = arg;
	struct um_queue_client c;
	uint64_t start = um_now_ns();

	if (um_queue_client_init(&c, base)) {
		w->r = -UM_ENOMEM;
		return NULL;
	}
	c.cancel = w->cancel;
	w->r = um_queue_client_wait(&c, w->who, w->after, w->wait_s, &w->arrived, &w->now_ms);
	w->took_ms = (um_now_ns() - start) / UM_NSEC_PER_MSEC;
	um_queue_client_close(&c);
	return NULL;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_woken_by_put(void)
{
	struct waiting w = {.who = &owner, .wait_s = 20};
	pthread_t t;

	setup();
	CHECK_EQ(pthread_create(&t, NULL, wait_thread, &w), 0);
	sleep_ms(300);
	put_for(&other); /* another recipient's: no answer */
	sleep_ms(300);
	uint64_t put_at = um_now_ns();
	put_for(&owner);
	pthread_join(t, NULL);
	uint64_t after_put_ms = (um_now_ns() - put_at) / UM_NSEC_PER_MSEC;
	CHECK_EQ(w.r, 0);
	CHECK(w.arrived);
	CHECK(w.took_ms >= 500);    /* not answered before the put */
	CHECK(after_put_ms < 5000); /* but soon after it (slack for a loaded machine) */
	CHECK(w.now_ms > 0);
	fprintf(stderr, "woken %llu ms after the put returned\n", (unsigned long long)after_put_ms);
	/* Something committed after after_ms: at once. */
	struct waiting again = {.who = &owner, .after = w.now_ms - 1000, .wait_s = 20};
	wait_thread(&again);
	CHECK_EQ(again.r, 0);
	CHECK(again.arrived);
	CHECK(again.took_ms < 5000);
	/* Nothing since: the time runs out. */
	struct waiting quiet = {.who = &owner, .after = again.now_ms, .wait_s = 1};
	wait_thread(&quiet);
	CHECK_EQ(quiet.r, 0);
	CHECK(!quiet.arrived);
	CHECK(quiet.took_ms >= 900);
	teardown();
}

static void test_refused(void)
{
	struct um_identity forged = other;
	struct waiting w = {.who = &forged, .wait_s = 1};

	setup();
	forged.id = owner.id; /* the owner's ID, another key */
	wait_thread(&w);
	CHECK_EQ(w.r, -UM_EBADMSG);
	/* The relay's clock two minutes ahead: the signed time is stale. */
	skew_ms = 120000;
	struct waiting stale = {.who = &owner, .wait_s = 1};
	wait_thread(&stale);
	CHECK_EQ(stale.r, -UM_EBADMSG);
	teardown();
}

static void test_cancel(void)
{
	static _Atomic bool cancel;
	struct waiting w = {.who = &owner, .wait_s = 30, .cancel = &cancel};
	pthread_t t;

	setup();
	cancel = false;
	CHECK_EQ(pthread_create(&t, NULL, wait_thread, &w), 0);
	sleep_ms(300);
	cancel = true;
	pthread_join(t, NULL);
	CHECK(w.r != 0);
	CHECK(w.took_ms < 5000); /* libcurl looks at the flag about once a second */
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_woken_by_put);
	RUN(test_refused);
	RUN(test_cancel);
	return um_test_end();
}
