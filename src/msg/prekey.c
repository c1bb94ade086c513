/* SPDX-License-Identifier: MIT */
/* Signed prekeys and the recipient's ring (msg/prekey.h). */
#include "msg/prekey.h"

#include <sodium.h>
#include <string.h>

#include "crypto/secmem.h"
#include "crypto/secret_file.h"
#include "crypto/sha3.h"
#include "util/buf.h"
#include "util/error.h"

#define FILE_MAGIC     "umbra-prekeys-"
#define FILE_MAGIC_V1  "umbra-prekeys-1\n"
#define FILE_MAGIC_LEN 16

enum {
	FILE_HEAD_BYTES = FILE_MAGIC_LEN + UM_PEER_ID_BYTES + 4 + 4 + UM_HSIG_BYTES,
	FILE_ENTRY_BYTES = 4 + 8 + 8 + UM_HKEM_PK_BYTES + UM_HKEM_SK_BYTES,
	FILE_MAX_BYTES = FILE_HEAD_BYTES + UM_PREKEY_RING_MAX * FILE_ENTRY_BYTES + UM_SHA3_256_BYTES,
};

struct um_prekey_ring {
	bool has_owner;
	bool has_current;
	bool unsaved; /* changed since the last save or load */
	uint8_t owner[UM_PEER_ID_BYTES];
	uint32_t current_id;
	uint8_t current_sig[UM_HSIG_BYTES];
	size_t count;
	struct um_prekey_entry entries[UM_PREKEY_RING_MAX]; /* oldest first */
};

static uint64_t add_saturated(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int um_prekey_bundle_verify(const uint8_t *bundle, size_t len, const uint8_t owner_pk[UM_HSIG_PK_BYTES],
			    uint64_t now_ms, struct um_prekey_public *out)
{
	struct um_prekey_bundle b;
	struct um_peer_id owner;
	int rc;

	if (!owner_pk || !out)
		return -UM_EINVAL;
	rc = um_prekey_bundle_decode(bundle, len, &b);
	if (rc < 0)
		return rc;
	if (b.created_ms > b.expires_ms || b.expires_ms - b.created_ms > UM_PREKEY_LIFETIME_MAX)
		return -UM_EINVAL;
	um_peer_id_from_public_key(&owner, owner_pk);
	if (sodium_memcmp(owner.bytes, b.owner, UM_PEER_ID_BYTES) != 0)
		return -UM_EBADMSG;
	if (b.expires_ms <= now_ms)
		return -UM_EREPLAY;
	if (b.created_ms > add_saturated(now_ms, UM_PREKEY_FUTURE_MAX))
		return -UM_ERANGE;
	/* Last: a forged bundle costs a hash unless it names a real key. */
	if (um_hsig_verify(b.signature, bundle, UM_PREKEY_SIGNED_BYTES, UM_PREKEY_CONTEXT, owner_pk) != 0)
		return -UM_EBADMSG;
	memcpy(out->owner, b.owner, UM_PEER_ID_BYTES);
	out->id = b.id;
	out->created_ms = b.created_ms;
	out->expires_ms = b.expires_ms;
	memcpy(out->pk, b.pk, UM_HKEM_PK_BYTES);
	return 0;
}

int um_prekey_ring_new(struct um_prekey_ring **out)
{
	*out = um_secmem_alloc(sizeof(**out)); /* zeroed */
	return *out ? 0 : -UM_ENOMEM;
}

void um_prekey_ring_free(struct um_prekey_ring *ring)
{
	um_secmem_free(ring); /* zeroes every secret key */
}

/* Wipes entry i and closes the gap (order kept). */
static void ring_drop(struct um_prekey_ring *ring, size_t i)
{
	if (ring->has_current && ring->entries[i].pub.id == ring->current_id)
		ring->has_current = false;
	memmove(&ring->entries[i], &ring->entries[i + 1], (ring->count - i - 1) * sizeof(ring->entries[0]));
	ring->count--;
	sodium_memzero(&ring->entries[ring->count], sizeof(ring->entries[0]));
	ring->unsaved = true;
}

const struct um_prekey_entry *um_prekey_ring_find(const struct um_prekey_ring *ring, uint32_t prekey_id)
{
	for (size_t i = 0; ring && i < ring->count; i++)
		if (ring->entries[i].pub.id == prekey_id)
			return &ring->entries[i];
	return NULL;
}

size_t um_prekey_ring_count(const struct um_prekey_ring *ring)
{
	return ring->count;
}

const uint8_t *um_prekey_ring_owner(const struct um_prekey_ring *ring)
{
	return ring->has_owner ? ring->owner : NULL;
}

bool um_prekey_ring_unsaved(const struct um_prekey_ring *ring)
{
	return ring->unsaved;
}

static void bundle_fields(const struct um_prekey_entry *e, struct um_prekey_bundle *b)
{
	memcpy(b->owner, e->pub.owner, UM_PEER_ID_BYTES);
	b->id = e->pub.id;
	b->created_ms = e->pub.created_ms;
	b->expires_ms = e->pub.expires_ms;
	b->pk = e->pub.pk;
	b->signature = NULL;
}

/* Makes, signs and appends a new current prekey (the ring has room). */
static int ring_add(struct um_prekey_ring *ring, const struct um_identity *identity, uint64_t now_ms,
		    uint64_t lifetime_ms)
{
	struct um_prekey_entry *e = &ring->entries[ring->count];
	uint8_t signed_part[UM_PREKEY_SIGNED_BYTES];
	struct um_prekey_bundle b;
	uint32_t id;
	int rc;

	do
		id = randombytes_random();
	while (um_prekey_ring_find(ring, id));
	rc = um_hkem_keygen(e->pub.pk, e->sk);
	if (rc < 0)
		goto out;
	memcpy(e->pub.owner, identity->id.bytes, UM_PEER_ID_BYTES);
	e->pub.id = id;
	e->pub.created_ms = now_ms;
	e->pub.expires_ms = add_saturated(now_ms, lifetime_ms);
	bundle_fields(e, &b);
	um_prekey_bundle_encode_signed(signed_part, &b);
	rc = um_hsig_sign(ring->current_sig, signed_part, sizeof(signed_part), UM_PREKEY_CONTEXT, identity->secret_key);
	if (rc < 0)
		goto out;
	ring->count++;
	ring->current_id = id;
	ring->has_current = true;
	ring->unsaved = true;
out:
	if (rc < 0)
		sodium_memzero(e, sizeof(*e));
	return rc;
}

int um_prekey_ring_rotate(struct um_prekey_ring *ring, const struct um_identity *identity, uint64_t now_ms,
			  uint64_t lifetime_ms, uint64_t retention_ms)
{
	const struct um_prekey_entry *current;
	uint64_t lead = lifetime_ms / 2 < UM_PREKEY_REFRESH_MS ? lifetime_ms / 2 : UM_PREKEY_REFRESH_MS;
	int rc;

	if (!ring || !identity)
		return -UM_EINVAL;
	if (lifetime_ms < UM_PREKEY_LIFETIME_MIN || lifetime_ms > UM_PREKEY_LIFETIME_MAX ||
	    retention_ms > 30 * lifetime_ms)
		return -UM_EINVAL;
	if (ring->has_owner && memcmp(ring->owner, identity->id.bytes, UM_PEER_ID_BYTES) != 0)
		return -UM_ESTATE;
	/* Secrets past their retention go first, whatever else happens. */
	for (size_t i = ring->count; i-- > 0;)
		if (add_saturated(ring->entries[i].pub.expires_ms, retention_ms) <= now_ms)
			ring_drop(ring, i);
	current = ring->has_current ? um_prekey_ring_find(ring, ring->current_id) : NULL;
	if (current && now_ms < current->pub.expires_ms && current->pub.expires_ms - now_ms > lead)
		return 0;
	if (ring->count == UM_PREKEY_RING_MAX)
		ring_drop(ring, 0); /* a clock that jumped: lose the oldest early rather than keep it */
	rc = ring_add(ring, identity, now_ms, lifetime_ms);
	if (rc < 0)
		return rc;
	memcpy(ring->owner, identity->id.bytes, UM_PEER_ID_BYTES);
	ring->has_owner = true;
	return 1;
}

int um_prekey_ring_public(const struct um_prekey_ring *ring, uint8_t *buf, size_t cap, size_t *len)
{
	const struct um_prekey_entry *e = ring->has_current ? um_prekey_ring_find(ring, ring->current_id) : NULL;
	struct um_prekey_bundle b;

	if (!e)
		return -UM_ENOTFOUND;
	if (!buf || cap < UM_PREKEY_BUNDLE_BYTES)
		return -UM_ERANGE;
	bundle_fields(e, &b);
	um_prekey_bundle_encode_signed(buf, &b);
	memcpy(buf + UM_PREKEY_SIGNED_BYTES, ring->current_sig, UM_HSIG_BYTES);
	*len = UM_PREKEY_BUNDLE_BYTES;
	return 0;
}

int um_prekey_ring_save(struct um_prekey_ring *ring, const char *path)
{
	size_t len = FILE_HEAD_BYTES + ring->count * FILE_ENTRY_BYTES + UM_SHA3_256_BYTES;
	uint8_t *buf;
	struct um_writer w;
	int rc;

	if (!ring->has_owner || !ring->has_current)
		return -UM_ESTATE;
	buf = um_secmem_alloc(len);
	if (!buf)
		return -UM_ENOMEM;
	um_writer_init(&w, buf, len);
	um_write_bytes(&w, FILE_MAGIC_V1, FILE_MAGIC_LEN);
	um_write_bytes(&w, ring->owner, UM_PEER_ID_BYTES);
	um_write_u32(&w, (uint32_t)ring->count);
	um_write_u32(&w, ring->current_id);
	um_write_bytes(&w, ring->current_sig, UM_HSIG_BYTES);
	for (size_t i = 0; i < ring->count; i++) {
		const struct um_prekey_entry *e = &ring->entries[i];

		um_write_u32(&w, e->pub.id);
		um_write_u64(&w, e->pub.created_ms);
		um_write_u64(&w, e->pub.expires_ms);
		um_write_bytes(&w, e->pub.pk, UM_HKEM_PK_BYTES);
		um_write_bytes(&w, e->sk, UM_HKEM_SK_BYTES);
	}
	um_sha3_256(buf + w.pos, buf, w.pos);
	rc = um_secret_blob_save(path, buf, len, true);
	if (rc == 0)
		ring->unsaved = false;
	um_secmem_free(buf);
	return rc;
}

/* Parses a ring file into fresh (zeroed) ring r. */
static int ring_parse(struct um_prekey_ring *r, const uint8_t *buf, size_t len)
{
	uint8_t sum[UM_SHA3_256_BYTES];
	struct um_reader rd;
	uint32_t count;
	int rc = -UM_EINVAL;

	if (len < sizeof(FILE_MAGIC) - 1 || memcmp(buf, FILE_MAGIC, sizeof(FILE_MAGIC) - 1) != 0)
		return -UM_EINVAL;
	if (len < FILE_MAGIC_LEN || memcmp(buf, FILE_MAGIC_V1, FILE_MAGIC_LEN) != 0)
		return -UM_EVERSION;
	if (len < FILE_HEAD_BYTES + UM_SHA3_256_BYTES)
		return -UM_EINVAL;
	um_reader_init(&rd, buf + FILE_MAGIC_LEN, len - FILE_MAGIC_LEN);
	um_read_copy(&rd, r->owner, UM_PEER_ID_BYTES);
	count = um_read_u32(&rd);
	if (count < 1 || count > UM_PREKEY_RING_MAX ||
	    len != FILE_HEAD_BYTES + (size_t)count * FILE_ENTRY_BYTES + UM_SHA3_256_BYTES)
		return -UM_EINVAL;
	um_sha3_256(sum, buf, len - UM_SHA3_256_BYTES);
	if (sodium_memcmp(sum, buf + len - UM_SHA3_256_BYTES, UM_SHA3_256_BYTES) != 0)
		return -UM_ECHECKSUM;
	r->current_id = um_read_u32(&rd);
	um_read_copy(&rd, r->current_sig, UM_HSIG_BYTES);
	for (uint32_t i = 0; i < count; i++) {
		struct um_prekey_entry *e = &r->entries[i];

		e->pub.id = um_read_u32(&rd);
		e->pub.created_ms = um_read_u64(&rd);
		e->pub.expires_ms = um_read_u64(&rd);
		um_read_copy(&rd, e->pub.pk, UM_HKEM_PK_BYTES);
		um_read_copy(&rd, e->sk, UM_HKEM_SK_BYTES);
		memcpy(e->pub.owner, r->owner, UM_PEER_ID_BYTES);
		if (e->pub.created_ms > e->pub.expires_ms || um_prekey_ring_find(r, e->pub.id))
			goto out; /* find sees entries [0, count): the earlier ones */
		r->count = i + 1;
	}
	if (um_reader_error(&rd) || !um_prekey_ring_find(r, r->current_id))
		goto out;
	r->has_owner = r->has_current = true;
	rc = 0;
out:
	return rc;
}

int um_prekey_ring_load(struct um_prekey_ring *ring, const char *path)
{
	struct um_prekey_ring *fresh = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!ring || !path)
		return -UM_EINVAL;
	rc = um_secret_blob_load(path, FILE_MAX_BYTES, &buf, &len);
	if (rc < 0)
		goto out;
	rc = um_prekey_ring_new(&fresh);
	if (rc < 0)
		goto out;
	rc = ring_parse(fresh, buf, len);
	if (rc < 0)
		goto out;
	memcpy(ring, fresh, sizeof(*ring)); /* both in locked memory; the old secrets overwritten */
out:
	um_prekey_ring_free(fresh);
	um_secmem_free(buf);
	return rc;
}
