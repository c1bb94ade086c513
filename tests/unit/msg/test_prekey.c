/* SPDX-License-Identifier: MIT */
/* Signed prekeys (msg/prekey.h): bundle verification (bad signature, wrong
 * owner, expired, from the future, malformed), the ring's rotation over 60
 * simulated days with its retention (an envelope to a prekey past retention
 * cannot be opened, even by the identity), and the ring file (0600, 0644
 * refused, damage detected, atomic replace). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg/envelope.h"
#include "msg/prekey.h"
#include "test.h"
#include "util/error.h"

#define NOW_MS 1800000000000ULL
#define DAY    UM_PREKEY_DAY_MS
#define HOUR   UM_PREKEY_HOUR_MS

static struct um_identity owner, other;
static struct um_prekey_ring *ring;
static uint8_t bundle[UM_PREKEY_BUNDLE_BYTES + 8];
static size_t bundle_len;
static uint8_t plain[UM_ENVELOPE_SIZE_MAX];
static char dir[64];

static void setup(void)
{
	CHECK_EQ(um_identity_generate(&owner), 0);
	CHECK_EQ(um_identity_generate(&other), 0);
	CHECK_EQ(um_prekey_ring_new(&ring), 0);
	CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &bundle_len), -UM_ENOTFOUND);
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &bundle_len), 0);
	CHECK_EQ(bundle_len, (size_t)UM_PREKEY_BUNDLE_BYTES);
}

static void teardown(void)
{
	um_prekey_ring_free(ring);
	ring = NULL;
	um_identity_wipe(&owner);
	um_identity_wipe(&other);
}

static void test_bundle_verify(void)
{
	struct um_prekey_public pub, untouched;
	uint8_t copy[sizeof(bundle)];

	setup();
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len, owner.public_key, NOW_MS, &pub), 0);
	CHECK_MEM(pub.owner, owner.id.bytes, UM_PEER_ID_BYTES);
	CHECK_EQ(pub.created_ms, NOW_MS);
	CHECK_EQ(pub.expires_ms, NOW_MS + UM_PREKEY_LIFETIME_DEFAULT);
	CHECK(um_prekey_ring_find(ring, pub.id) != NULL);
	CHECK_MEM(um_prekey_ring_find(ring, pub.id)->pub.pk, pub.pk, UM_HKEM_PK_BYTES);

	memset(&untouched, 0xee, sizeof(untouched));
	pub = untouched;
	/* Wrong owner: another identity's key. */
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len, other.public_key, NOW_MS, &pub), -UM_EBADMSG);
	/* Bad signature, and every signed field changed. */
	size_t offsets[] = {1,
			    33,
			    37,
			    45,
			    53,
			    53 + 800,
			    UM_PREKEY_SIGNED_BYTES,
			    UM_PREKEY_SIGNED_BYTES + 100,
			    UM_PREKEY_BUNDLE_BYTES - 1};
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		int expect = offsets[i] < 33 ? -UM_EBADMSG : -UM_EBADMSG;
		memcpy(copy, bundle, bundle_len);
		copy[offsets[i]] ^= 0x01;
		int rc = um_prekey_bundle_verify(copy, bundle_len, owner.public_key, NOW_MS, &pub);
		if (offsets[i] >= 37 && offsets[i] < 53)
			CHECK(rc == -UM_EBADMSG || rc == -UM_EINVAL || rc == -UM_EREPLAY || rc == -UM_ERANGE);
		else
			CHECK_EQ(rc, expect);
	}
	/* Expired: at expiry and after. Future: created more than 1 h ahead. */
	CHECK_EQ(
	    um_prekey_bundle_verify(bundle, bundle_len, owner.public_key, NOW_MS + UM_PREKEY_LIFETIME_DEFAULT, &pub),
	    -UM_EREPLAY);
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len, owner.public_key, NOW_MS + 100 * DAY, &pub), -UM_EREPLAY);
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len, owner.public_key, NOW_MS - HOUR, &pub), 0);
	pub = untouched;
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len, owner.public_key, NOW_MS - HOUR - 1, &pub), -UM_ERANGE);
	/* Layout. */
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len - 1, owner.public_key, NOW_MS, &pub), -UM_ETRUNC);
	CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len + 1, owner.public_key, NOW_MS, &pub), -UM_EINVAL);
	CHECK_EQ(um_prekey_bundle_verify(bundle, 0, owner.public_key, NOW_MS, &pub), -UM_ETRUNC);
	memcpy(copy, bundle, bundle_len);
	copy[0] = 2;
	CHECK_EQ(um_prekey_bundle_verify(copy, bundle_len, owner.public_key, NOW_MS, &pub), -UM_EVERSION);
	CHECK_MEM(&pub, &untouched, sizeof(pub)); /* failures never write out */
	teardown();
}

/* Signs a bundle with arbitrary times (what a buggy or hostile owner could publish). */
static void test_bundle_times(void)
{
	struct um_prekey_bundle b = {0};
	struct um_prekey_public pub;
	uint8_t pk[UM_HKEM_PK_BYTES], sk[UM_HKEM_SK_BYTES];

	setup();
	CHECK_EQ(um_hkem_keygen(pk, sk), 0);
	memcpy(b.owner, owner.id.bytes, UM_PEER_ID_BYTES);
	b.id = 9;
	b.pk = pk;
	struct {
		uint64_t created, expires;
		int expect;
	} cases[] = {
	    {NOW_MS, NOW_MS + DAY, 0},
	    {NOW_MS + DAY, NOW_MS, -UM_EINVAL},                        /* expires before created */
	    {NOW_MS, NOW_MS + UM_PREKEY_LIFETIME_MAX + 1, -UM_EINVAL}, /* too long */
	    {NOW_MS + 2 * HOUR, NOW_MS + DAY, -UM_ERANGE},             /* future */
	    {NOW_MS - DAY, NOW_MS, -UM_EREPLAY},                       /* expired */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.created_ms = cases[i].created;
		b.expires_ms = cases[i].expires;
		um_prekey_bundle_encode_signed(bundle, &b);
		CHECK_EQ(um_hsig_sign(bundle + UM_PREKEY_SIGNED_BYTES, bundle, UM_PREKEY_SIGNED_BYTES,
				      UM_PREKEY_CONTEXT, owner.secret_key),
			 0);
		CHECK_EQ(um_prekey_bundle_verify(bundle, UM_PREKEY_BUNDLE_BYTES, owner.public_key, NOW_MS, &pub),
			 cases[i].expect);
	}
	/* Signed under another context (an envelope's): refused. */
	b.created_ms = NOW_MS, b.expires_ms = NOW_MS + DAY;
	um_prekey_bundle_encode_signed(bundle, &b);
	CHECK_EQ(um_hsig_sign(bundle + UM_PREKEY_SIGNED_BYTES, bundle, UM_PREKEY_SIGNED_BYTES, UM_ENVELOPE_CONTEXT,
			      owner.secret_key),
		 0);
	CHECK_EQ(um_prekey_bundle_verify(bundle, UM_PREKEY_BUNDLE_BYTES, owner.public_key, NOW_MS, &pub), -UM_EBADMSG);
	sodium_memzero(sk, sizeof(sk));
	teardown();
}

static void test_rotate_arguments(void)
{
	setup();
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS, UM_PREKEY_LIFETIME_MIN - 1, 0), -UM_EINVAL);
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS, UM_PREKEY_LIFETIME_MAX + 1, 0), -UM_EINVAL);
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS, DAY, 31 * DAY), -UM_EINVAL);
	CHECK_EQ(um_prekey_ring_rotate(ring, &other, NOW_MS, DAY, DAY), -UM_ESTATE);
	/* Not due: nothing changes. */
	CHECK_EQ(
	    um_prekey_ring_rotate(ring, &owner, NOW_MS + HOUR, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT),
	    0);
	CHECK_EQ(um_prekey_ring_count(ring), 1u);
	CHECK_MEM(um_prekey_ring_owner(ring), owner.id.bytes, UM_PEER_ID_BYTES);
	teardown();
}

struct seen {
	uint32_t id;
	uint64_t expires_ms;
	size_t env_len;
	uint8_t env[16384];
};

/* 60 days in steps of one hour with the defaults (7 days, 30 days): a new
 * prekey one day before the current one expires; every prekey's secret kept
 * exactly until expiry + retention; an envelope sealed to each one opens
 * until then and never after, even from the ring saved to disk later. */
static void test_rotation_60_days(void)
{
	static struct seen seen[32];
	struct um_envelope_opened o;
	size_t n_seen = 0, max_count = 0, saves = 0;
	uint64_t t;
	int changes = 0;
	char path[128];
	struct um_prekey_ring *loaded;

	setup();
	snprintf(path, sizeof(path), "%s/ring60", dir);
	CHECK(um_prekey_ring_unsaved(ring));
	CHECK_EQ(um_prekey_ring_save(ring, path), 0);
	for (t = NOW_MS; t <= NOW_MS + 60 * DAY; t += HOUR) {
		size_t count_before = um_prekey_ring_count(ring);
		int rc =
		    um_prekey_ring_rotate(ring, &owner, t, UM_PREKEY_LIFETIME_DEFAULT, UM_PREKEY_RETENTION_DEFAULT);
		struct um_prekey_public pub;

		CHECK(rc == 0 || rc == 1 || (t == NOW_MS && rc == 0));
		CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &bundle_len), 0);
		if (rc == 1 || t == NOW_MS) {
			CHECK_EQ(um_prekey_bundle_verify(bundle, bundle_len, owner.public_key, t, &pub), 0);
			/* Rotated a day before the old one's expiry. */
			if (n_seen)
				CHECK_EQ(seen[n_seen - 1].expires_ms - t, UM_PREKEY_REFRESH_MS);
			CHECK(n_seen < 32);
			seen[n_seen].id = pub.id;
			seen[n_seen].expires_ms = pub.expires_ms;
			uint8_t id[UM_ENVELOPE_ID_BYTES] = {(uint8_t)n_seen};
			CHECK_EQ(um_envelope_seal(&other, &pub, id, t, 1, (const uint8_t *)"hello", 5, true,
						  seen[n_seen].env, sizeof(seen[n_seen].env), &seen[n_seen].env_len),
				 0);
			n_seen++;
			changes += rc;
		}
		if (um_prekey_ring_count(ring) > max_count)
			max_count = um_prekey_ring_count(ring);
		/* Saved whenever a prekey came or went (as the node does). */
		CHECK_EQ(um_prekey_ring_unsaved(ring), rc == 1 || um_prekey_ring_count(ring) != count_before);
		if (um_prekey_ring_unsaved(ring)) {
			CHECK_EQ(um_prekey_ring_save(ring, path), 0);
			saves++;
		}
		CHECK(!um_prekey_ring_unsaved(ring));
		/* Each day: every prekey kept iff within retention, and its envelope opens iff kept. */
		if ((t - NOW_MS) % DAY == 0 || rc == 1) {
			for (size_t i = 0; i < n_seen; i++) {
				bool kept = t < seen[i].expires_ms + UM_PREKEY_RETENTION_DEFAULT;
				CHECK_EQ(um_prekey_ring_find(ring, seen[i].id) != NULL, kept);
				memset(&o, 0, sizeof(o));
				o.buf = plain;
				o.cap = sizeof(plain);
				CHECK_EQ(um_envelope_open(ring, owner.id.bytes, seen[i].env, seen[i].env_len, NULL, &o),
					 kept ? 0 : -UM_ENOKEY);
			}
		}
	}
	fprintf(stderr, "60 days: %zu prekeys, at most %zu kept at once\n", n_seen, max_count);
	CHECK_EQ(n_seen, 11u); /* day 0, then every 6 days: 6, 12, ..., 60 */
	CHECK_EQ(changes, 10);
	CHECK(max_count <= 7);
	CHECK(um_prekey_ring_find(ring, seen[0].id) == NULL);
	CHECK(um_prekey_ring_find(ring, seen[n_seen - 1].id) != NULL);

	/* 10 new prekeys and 4 wiped (at days 37, 43, 49 and 55). */
	fprintf(stderr, "60 days: %zu saves\n", saves);
	CHECK_EQ(saves, 10u + 4u);
	/* The ring as saved last: the first prekeys are gone from the file
	 * too, and the identity alone cannot open their envelopes (prekey
	 * secrets are random, not derived from it). */
	CHECK_EQ(um_prekey_ring_new(&loaded), 0);
	CHECK_EQ(um_prekey_ring_load(loaded, path), 0);
	CHECK_EQ(um_prekey_ring_count(loaded), um_prekey_ring_count(ring));
	memset(&o, 0, sizeof(o));
	o.buf = plain;
	o.cap = sizeof(plain);
	CHECK_EQ(um_envelope_open(loaded, owner.id.bytes, seen[0].env, seen[0].env_len, NULL, &o), -UM_ENOKEY);
	CHECK_EQ(um_envelope_open(loaded, owner.id.bytes, seen[n_seen - 1].env, seen[n_seen - 1].env_len, NULL, &o), 0);
	um_prekey_ring_free(loaded);
	unlink(path);

	/* Far in the future: everything old wiped, one fresh current. */
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS + 400 * DAY, UM_PREKEY_LIFETIME_DEFAULT,
				       UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK_EQ(um_prekey_ring_count(ring), 1u);
	/* Retention 0: a prekey's secret goes at its expiry. */
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS + 500 * DAY, DAY, 0), 1);
	CHECK_EQ(um_prekey_ring_count(ring), 1u);
	teardown();
}

static void test_ring_file(void)
{
	char path[128];
	struct stat st;
	struct um_prekey_ring *loaded;
	uint8_t again[UM_PREKEY_BUNDLE_BYTES];
	size_t again_len = 0;

	setup();
	snprintf(path, sizeof(path), "%s/ring", dir);
	/* An empty ring has nothing to save. */
	CHECK_EQ(um_prekey_ring_new(&loaded), 0);
	CHECK_EQ(um_prekey_ring_save(loaded, path), -UM_ESTATE);
	/* Two prekeys, saved, mode 0600, loaded back identical. */
	CHECK_EQ(um_prekey_ring_rotate(ring, &owner, NOW_MS + 6 * DAY, UM_PREKEY_LIFETIME_DEFAULT,
				       UM_PREKEY_RETENTION_DEFAULT),
		 1);
	CHECK_EQ(um_prekey_ring_count(ring), 2u);
	CHECK_EQ(um_prekey_ring_save(ring, path), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(um_prekey_ring_load(loaded, path), 0);
	CHECK_EQ(um_prekey_ring_count(loaded), 2u);
	CHECK(!um_prekey_ring_unsaved(loaded));
	CHECK_MEM(um_prekey_ring_owner(loaded), owner.id.bytes, UM_PEER_ID_BYTES);
	CHECK_EQ(um_prekey_ring_public(ring, bundle, sizeof(bundle), &bundle_len), 0);
	CHECK_EQ(um_prekey_ring_public(loaded, again, sizeof(again), &again_len), 0);
	CHECK_EQ(again_len, bundle_len);
	CHECK_MEM(again, bundle, bundle_len);
	CHECK_EQ(um_prekey_bundle_verify(again, again_len, owner.public_key, NOW_MS + 6 * DAY, NULL), -UM_EINVAL);
	struct um_prekey_public pub;
	CHECK_EQ(um_prekey_bundle_verify(again, again_len, owner.public_key, NOW_MS + 6 * DAY, &pub), 0);
	const struct um_prekey_entry *a = um_prekey_ring_find(ring, pub.id), *b = um_prekey_ring_find(loaded, pub.id);
	CHECK(a && b && memcmp(a, b, sizeof(*a)) == 0);
	/* The loaded ring rotates on under the same identity, not another's. */
	CHECK_EQ(um_prekey_ring_rotate(loaded, &other, NOW_MS + 6 * DAY, DAY, 0), -UM_ESTATE);
	/* Saving again replaces the file atomically. */
	CHECK_EQ(um_prekey_ring_save(loaded, path), 0);
	CHECK_EQ(um_prekey_ring_load(loaded, path), 0);

	/* Readable by others: refused before reading; the ring is unchanged. */
	CHECK_EQ(chmod(path, 0644), 0);
	CHECK_EQ(um_prekey_ring_load(loaded, path), -UM_EPERM);
	CHECK_EQ(chmod(path, 0640), 0);
	CHECK_EQ(um_prekey_ring_load(loaded, path), -UM_EPERM);
	CHECK_EQ(um_prekey_ring_count(loaded), 2u);
	CHECK_EQ(chmod(path, 0600), 0);

	/* Damage: one byte in a secret key, the version, a cut file. */
	int fd = open(path, O_RDWR);
	uint8_t byte;
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &byte, 1, (off_t)st.st_size - 100), 1);
	byte ^= 1;
	CHECK_EQ(pwrite(fd, &byte, 1, (off_t)st.st_size - 100), 1);
	CHECK_EQ(um_prekey_ring_load(loaded, path), -UM_ECHECKSUM);
	CHECK_EQ(pwrite(fd, "2", 1, 14), 1);
	CHECK_EQ(um_prekey_ring_load(loaded, path), -UM_EVERSION);
	CHECK_EQ(pwrite(fd, "X", 1, 0), 1);
	CHECK_EQ(um_prekey_ring_load(loaded, path), -UM_EINVAL);
	CHECK_EQ(ftruncate(fd, 100), 0);
	CHECK_EQ(um_prekey_ring_load(loaded, path), -UM_EINVAL);
	close(fd);
	CHECK_EQ(um_prekey_ring_count(loaded), 2u);
	CHECK_EQ(um_prekey_ring_load(loaded, "/nonexistent/ring"), -ENOENT);
	unlink(path);
	um_prekey_ring_free(loaded);
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/umbra-prekey-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(test_bundle_verify);
	RUN(test_bundle_times);
	RUN(test_rotate_arguments);
	RUN(test_rotation_60_days);
	RUN(test_ring_file);
	rmdir(dir);
	return um_test_end();
}
