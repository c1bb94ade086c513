/* SPDX-License-Identifier: MIT */
/* Prekey publication at a mailbox relay (http/prekey_api.h) over real
 * HTTP: the node's client (queue_client.h) against the relay queue service
 * (node/relay_queue.h, which serves it) on 127.0.0.1, a fresh directory
 * per case and a fake clock. Publish and fetch; a key that is not the
 * owner's refused; an older bundle refused once a newer one is kept (no
 * rollback), the same one accepted again; expiry; the database kept across
 * a restart. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "http/queue_client.h"
#include "msg/prekey.h"
#include "node/relay_queue.h"
#include "relay_fixture.h"
#include "test.h"
#include "util/error.h"

static struct um_identity owner, other;
static struct um_prekey_ring *ring;
static char base[128], dir[64], db[96];
static struct um_http_server *server;
static struct um_relay_queue *rq;
static _Atomic uint64_t fake_ms;
static uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], got[UM_PREKEY_BUNDLE_BYTES], got_pk[UM_HSIG_PK_BYTES];

static uint64_t fake_clock(void)
{
	return fake_ms;
}

static void start(void)
{
	struct um_config_relay_server rc = {0};
	struct um_queue_api_config ac = {.requests_per_s = 100000, .request_burst = 100000, .wall_ms = fake_clock};

	snprintf(rc.queue_path, sizeof(rc.queue_path), "%s", db);
	relay_service_start(&rc, &ac, &rq, &server, base, sizeof(base));
}

static void stop(void)
{
	relay_service_stop(&rq, &server);
}

static void setup(void)
{
	fake_ms = 1800000000000ULL;
	snprintf(dir, sizeof(dir), "/tmp/um-prekey-api-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/queue.db", dir);
	CHECK_EQ(um_identity_generate(&owner), 0);
	CHECK_EQ(um_identity_generate(&other), 0);
	CHECK_EQ(um_prekey_ring_new(&ring), 0);
	start();
}

static void teardown(void)
{
	stop();
	um_prekey_ring_free(ring);
	relay_files_remove(db);
	CHECK_EQ(rmdir(dir), 0); /* nothing else was left behind */
}

/* The ring's current bundle at the fake time (rotated when due). */
static void current_bundle(uint64_t lifetime_ms)
{
	size_t len = 0;

	CHECK(um_prekey_ring_rotate(ring, &owner, fake_ms, lifetime_ms, lifetime_ms) >= 0);
	CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &len), 0);
	CHECK_EQ(len, sizeof(bundle));
}

static int put(const uint8_t *b, const uint8_t *pk)
{
	struct um_queue_client c;
	CHECK_EQ(um_queue_client_init(&c, base), 0);
	int r = um_queue_client_prekey_put(&c, b, pk);
	um_queue_client_close(&c);
	return r;
}

static int get(const struct um_identity *who)
{
	struct um_queue_client c;
	CHECK_EQ(um_queue_client_init(&c, base), 0);
	int r = um_queue_client_prekey_get(&c, who->id.bytes, got, got_pk);
	um_queue_client_close(&c);
	return r;
}

static void test_publish_fetch(void)
{
	struct um_prekey_public pub;

	setup();
	current_bundle(UM_PREKEY_LIFETIME_DEFAULT);
	CHECK_EQ(get(&owner), -UM_ENOTFOUND);
	CHECK_EQ(put(bundle, owner.public_key), 0);
	CHECK_EQ(get(&owner), 0);
	CHECK_MEM(got, bundle, sizeof(bundle));
	CHECK_MEM(got_pk, owner.public_key, sizeof(got_pk));
	/* What a sender does with it. */
	CHECK_EQ(um_prekey_bundle_verify(got, sizeof(got), got_pk, fake_ms, &pub), 0);
	CHECK_MEM(pub.owner, owner.id.bytes, 32);
	CHECK_EQ(get(&other), -UM_ENOTFOUND);
	/* The same again: idempotent. */
	CHECK_EQ(put(bundle, owner.public_key), 0);
	/* Kept across a restart of the relay. */
	stop();
	start();
	CHECK_EQ(get(&owner), 0);
	CHECK_MEM(got, bundle, sizeof(bundle));
	teardown();
}

static void test_forged(void)
{
	setup();
	current_bundle(UM_PREKEY_LIFETIME_DEFAULT);
	/* Another identity's key does not hash to the bundle's owner. */
	CHECK_EQ(put(bundle, other.public_key), -UM_EBADMSG);
	/* A damaged signature. */
	bundle[sizeof(bundle) - 1] ^= 1;
	CHECK_EQ(put(bundle, owner.public_key), -UM_EBADMSG);
	CHECK_EQ(get(&owner), -UM_ENOTFOUND);
	teardown();
}

static void test_no_rollback_and_expiry(void)
{
	uint8_t old[UM_PREKEY_BUNDLE_BYTES];

	setup();
	current_bundle(UM_PREKEY_LIFETIME_MIN * 4); /* 4 h */
	memcpy(old, bundle, sizeof(old));
	CHECK_EQ(put(old, owner.public_key), 0);
	fake_ms += 3 * UM_PREKEY_HOUR_MS; /* within the refresh lead: a new prekey */
	current_bundle(UM_PREKEY_LIFETIME_MIN * 4);
	CHECK(memcmp(old, bundle, sizeof(old)) != 0);
	CHECK_EQ(put(bundle, owner.public_key), 0);
	/* The older one (still valid) is refused: 409. */
	CHECK_EQ(put(old, owner.public_key), -UM_ELIMIT);
	CHECK_EQ(get(&owner), 0);
	CHECK_MEM(got, bundle, sizeof(bundle));
	/* Past the newer one's expiry it is gone. */
	fake_ms += 5 * UM_PREKEY_HOUR_MS;
	CHECK_EQ(get(&owner), -UM_ENOTFOUND);
	CHECK_EQ(put(bundle, owner.public_key), -UM_EBADMSG); /* expired: 403 */
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_publish_fetch);
	RUN(test_forged);
	RUN(test_no_rollback_and_expiry);
	return um_test_end();
}
