/* SPDX-License-Identifier: MIT */
/* Sealed records for private networks: a peer or relay record encrypted
 * under the network's seal key, wrapped in an envelope a storer without the
 * network key can still check.
 *
 *   0   u8 version (1)   1 u8 type (3 peer, 4 relay)   2 u16 reserved (0)
 *   4   outer Ed25519 public key [32]
 *   36  owner [32]: the DHT key (peer); a keyed tag of the relay ID (relay)
 *   68  u64 sequence    76 u64 expires (unix seconds)
 *   84  nonce [24]
 *   108 XChaCha20-Poly1305(seal key, inner record; AD = DHT key || bytes 0..84)
 *   ..  Ed25519 signature by the outer key over everything before it.
 * Storer: key == SHA3-256(label || outer pk) with the label of the type
 * ("umbra dht private key" / "umbra dht relays"), owner == key for a peer,
 * expiry, signature. The outer key derives from the network key, so only a
 * member can make one: outsiders can neither forge nor roll back a value,
 * and learn neither peer IDs nor endpoints (the outer key changes daily). A
 * member opens it and checks the inner hybrid record as a public one, and
 * that it names the peer (or relay) the key was derived for. */
#include <sodium.h>
#include <string.h>

#include "crypto/sha3.h"
#include "dht/record.h"
#include "dht/record_internal.h"
#include "util/error.h"

enum {
	SEALED_SIGNED_HEADER = 84, /* what the AD covers after the key */
	SEALED_NONCE_AT = 84,
	SEALED_CIPHER_AT = UM_DHT_SEALED_HEADER,
	SEALED_TAG_BYTES = crypto_aead_xchacha20poly1305_ietf_ABYTES,
	SEALED_SIG_BYTES = crypto_sign_BYTES,
	INNER_MIN = UM_DHT_RECORD_BODY_FIXED + UM_DHT_SIGNED_OVERHEAD,
};

_Static_assert(SEALED_CIPHER_AT == SEALED_NONCE_AT + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "layout");
_Static_assert(UM_DHT_SEALED_OVERHEAD == UM_DHT_SEALED_HEADER + SEALED_TAG_BYTES + SEALED_SIG_BYTES, "layout");

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void key_of_outer(uint8_t key[32], uint8_t type, const uint8_t *outer_pk)
{
	if (type == UM_DHT_RECORD_PRIVATE)
		um_dht_private_key_from_outer(key, outer_pk);
	else
		um_dht_relay_key_from_outer(key, outer_pk);
}

int um_dht_sealed_check(const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now, uint8_t owner[32],
			uint64_t *sequence, uint64_t *expires)
{
	uint8_t bound[32];
	size_t inner_len;
	uint64_t expiry;
	int rc;

	if (!key || (!value && len))
		return -UM_EINVAL;
	if (len < 2)
		return -UM_ETRUNC;
	if (value[0] != UM_DHT_RECORD_VERSION)
		return -UM_EVERSION;
	if (value[1] != UM_DHT_RECORD_PRIVATE && value[1] != UM_DHT_RECORD_PRIVATE_RELAY)
		return -UM_EINVAL;
	if (len < UM_DHT_SEALED_OVERHEAD + INNER_MIN)
		return -UM_ETRUNC;
	inner_len = len - UM_DHT_SEALED_OVERHEAD;
	if (inner_len > (value[1] == UM_DHT_RECORD_PRIVATE ? UM_DHT_PEER_RECORD_MAX : UM_DHT_RELAY_RECORD_MAX))
		return -UM_EINVAL;
	if (value[2] || value[3])
		return -UM_EINVAL;
	key_of_outer(bound, value[1], value + 4);
	if (sodium_memcmp(bound, key, 32) != 0)
		return -UM_EBADMSG;
	if (value[1] == UM_DHT_RECORD_PRIVATE && sodium_memcmp(value + 36, key, 32) != 0)
		return -UM_EBADMSG;
	expiry = get_u64(value + 76);
	rc = um_dht_expiry_check(expiry, now);
	if (rc < 0)
		return rc;
	if (crypto_sign_verify_detached(value + len - SEALED_SIG_BYTES, value, len - SEALED_SIG_BYTES, value + 4) != 0)
		return -UM_EBADMSG;
	if (owner)
		memcpy(owner, value + 36, 32);
	if (sequence)
		*sequence = get_u64(value + 68);
	if (expires)
		*expires = expiry;
	return 0;
}

/* Envelope around inner (inner_len bytes) into out. Secrets (outer_sk, seal)
 * stay the caller's to wipe. */
static int sealed_build(uint8_t *out, size_t cap, size_t *out_len, uint8_t type, const uint8_t outer_pk[32],
			const uint8_t outer_sk[64], const uint8_t dht_key[32], const uint8_t owner[32],
			uint64_t sequence, uint64_t expires, const uint8_t seal[32], const uint8_t *inner,
			size_t inner_len)
{
	uint8_t ad[32 + SEALED_SIGNED_HEADER];
	unsigned long long cipher_len = 0;
	struct um_writer w;
	size_t total = inner_len + UM_DHT_SEALED_OVERHEAD;

	if (total > cap || total > UM_DHT_VALUE_MAX)
		return -UM_ERANGE;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, UM_DHT_RECORD_VERSION);
	um_write_u8(&w, type);
	um_write_u16(&w, 0);
	um_write_bytes(&w, outer_pk, 32);
	um_write_bytes(&w, owner, 32);
	um_write_u64(&w, sequence);
	um_write_u64(&w, expires);
	randombytes_buf(out + SEALED_NONCE_AT, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	memcpy(ad, dht_key, 32);
	memcpy(ad + 32, out, SEALED_SIGNED_HEADER);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEALED_CIPHER_AT, &cipher_len, inner, inner_len, ad,
						   sizeof(ad), NULL, out + SEALED_NONCE_AT, seal);
	crypto_sign_detached(out + SEALED_CIPHER_AT + cipher_len, NULL, out, SEALED_CIPHER_AT + cipher_len, outer_sk);
	*out_len = total;
	return 0;
}

/* AEAD open of a value that passed um_dht_sealed_check into plain
 * (UM_DHT_PEER_RECORD_MAX bytes); *plain_len its length. */
static int sealed_open(uint8_t *plain, size_t *plain_len, const uint8_t dht_key[32], const uint8_t *value, size_t len,
		       const struct um_network_key *key)
{
	uint8_t ad[32 + SEALED_SIGNED_HEADER], seal[UM_DHT_SEAL_KEY_BYTES];
	unsigned long long out_len = 0;
	int rc;

	memcpy(ad, dht_key, 32);
	memcpy(ad + 32, value, SEALED_SIGNED_HEADER);
	um_dht_seal_key(seal, key);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &out_len, NULL, value + SEALED_CIPHER_AT,
							len - SEALED_CIPHER_AT - SEALED_SIG_BYTES, ad, sizeof(ad),
							value + SEALED_NONCE_AT, seal) == 0
		 ? 0
		 : -UM_EBADMSG;
	sodium_memzero(seal, sizeof(seal));
	*plain_len = (size_t)out_len;
	return rc;
}

int um_dht_private_record_seal(uint8_t *out, size_t cap, size_t *out_len, uint8_t dht_key[32], const uint8_t *record,
			       size_t record_len, const struct um_network_key *key, uint64_t day)
{
	struct um_dht_peer_record rec;
	uint8_t pk[UM_DHT_OUTER_PK_BYTES], sk[UM_DHT_OUTER_SK_BYTES], seal[UM_DHT_SEAL_KEY_BYTES];
	size_t body_len;
	int rc;

	if (!out || !out_len || !dht_key || !key)
		return -UM_EINVAL;
	rc = um_dht_peer_record_parse(&rec, record, record_len, &body_len);
	if (rc < 0)
		return rc;
	rc = um_dht_private_keypair(pk, sk, key, &rec.id, day);
	if (rc < 0)
		goto out;
	um_dht_private_key_from_outer(dht_key, pk);
	um_dht_seal_key(seal, key);
	rc = sealed_build(out, cap, out_len, UM_DHT_RECORD_PRIVATE, pk, sk, dht_key, dht_key, rec.sequence, rec.expires,
			  seal, record, record_len);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seal, sizeof(seal));
	return rc;
}

int um_dht_private_record_build(uint8_t *out, size_t cap, size_t *out_len, uint8_t dht_key[32],
				const struct um_dht_peer_record *rec, const struct um_identity *identity,
				const struct um_network_key *key)
{
	uint8_t inner[UM_DHT_PEER_RECORD_MAX];
	size_t inner_len = 0;
	int rc;

	if (!rec)
		return -UM_EINVAL;
	rc = um_dht_peer_record_sign(inner, sizeof(inner), &inner_len, rec, identity);
	if (rc < 0)
		return rc;
	rc = um_dht_private_record_seal(out, cap, out_len, dht_key, inner, inner_len, key, um_dht_day(rec->issued));
	sodium_memzero(inner, sizeof(inner)); /* the endpoints are what the seal hides */
	return rc;
}

/* Which of yesterday, today, tomorrow (around now) derives dht_key: the day,
 * or -UM_EBADMSG. */
static int64_t private_day_of(const uint8_t dht_key[32], const struct um_network_key *key,
			      const struct um_peer_id *peer, uint64_t now)
{
	uint64_t today = um_dht_day(now);
	uint8_t candidate[32];

	for (uint64_t day = today ? today - 1 : 0; day <= today + 1; day++) {
		int rc = peer ? um_dht_private_key(candidate, key, peer, day)
			      : um_dht_relay_key_private(candidate, key, day);

		if (rc < 0)
			return rc;
		if (sodium_memcmp(candidate, dht_key, 32) == 0)
			return (int64_t)day;
	}
	return -UM_EBADMSG;
}

int um_dht_private_record_open(struct um_dht_peer_record *rec, const struct um_network_key *key,
			       const struct um_peer_id *peer, const uint8_t dht_key[32], const uint8_t *value,
			       size_t len, uint64_t now)
{
	uint8_t plain[UM_DHT_PEER_RECORD_MAX];
	struct um_dht_peer_record scratch;
	uint64_t sequence = 0, expires = 0;
	size_t plain_len = 0;
	int64_t day;
	int rc;

	if (!rec)
		rec = &scratch;
	memset(rec, 0, sizeof(*rec));
	if (!key || !peer || !dht_key)
		return -UM_EINVAL;
	if (len >= 2 && value && value[0] == UM_DHT_RECORD_VERSION && value[1] != UM_DHT_RECORD_PRIVATE)
		return -UM_EINVAL;
	rc = um_dht_sealed_check(dht_key, value, len, now, NULL, &sequence, &expires);
	if (rc < 0)
		return rc;
	/* Cheap before the AEAD: is this where peer publishes? */
	day = private_day_of(dht_key, key, peer, now);
	if (day < 0)
		return (int)day;
	rc = sealed_open(plain, &plain_len, dht_key, value, len, key);
	if (rc == 0)
		rc = um_dht_peer_record_verify(rec, NULL, plain, plain_len, now);
	if (rc == 0 && (memcmp(rec->id.bytes, peer->bytes, UM_PEER_ID_BYTES) != 0 || rec->sequence != sequence ||
			rec->expires != expires))
		rc = -UM_EBADMSG;
	if (rc < 0)
		memset(rec, 0, sizeof(*rec));
	sodium_memzero(plain, sizeof(plain)); /* a member's endpoints: not left on the stack */
	return rc;
}

int um_dht_private_relay_seal(uint8_t *out, size_t cap, size_t *out_len, uint8_t dht_key[32], const uint8_t *record,
			      size_t record_len, const struct um_network_key *key, uint64_t day)
{
	struct um_dht_relay_record rec;
	uint8_t pk[UM_DHT_OUTER_PK_BYTES], sk[UM_DHT_OUTER_SK_BYTES], seal[UM_DHT_SEAL_KEY_BYTES], owner[32];
	size_t body_len;
	int rc;

	if (!out || !out_len || !dht_key || !key)
		return -UM_EINVAL;
	rc = um_dht_relay_record_parse(&rec, record, record_len, &body_len);
	if (rc < 0)
		return rc;
	rc = um_dht_relay_keypair(pk, sk, key, day);
	if (rc < 0)
		goto out;
	um_dht_relay_key_from_outer(dht_key, pk);
	um_dht_relay_owner_tag(owner, key, &rec.id, day);
	um_dht_seal_key(seal, key);
	rc = sealed_build(out, cap, out_len, UM_DHT_RECORD_PRIVATE_RELAY, pk, sk, dht_key, owner, rec.sequence,
			  rec.expires, seal, record, record_len);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seal, sizeof(seal));
	return rc;
}

int um_dht_private_relay_open(struct um_dht_relay_record *rec, const struct um_network_key *key,
			      const uint8_t dht_key[32], const uint8_t *value, size_t len, uint64_t now)
{
	uint8_t plain[UM_DHT_PEER_RECORD_MAX], owner[32], expect[32];
	struct um_dht_relay_record scratch;
	uint64_t sequence = 0, expires = 0;
	size_t plain_len = 0;
	int64_t day;
	int rc;

	if (!rec)
		rec = &scratch;
	memset(rec, 0, sizeof(*rec));
	if (!key || !dht_key)
		return -UM_EINVAL;
	if (len >= 2 && value && value[0] == UM_DHT_RECORD_VERSION && value[1] != UM_DHT_RECORD_PRIVATE_RELAY)
		return -UM_EINVAL;
	rc = um_dht_sealed_check(dht_key, value, len, now, owner, &sequence, &expires);
	if (rc < 0)
		return rc;
	day = private_day_of(dht_key, key, NULL, now);
	if (day < 0)
		return (int)day;
	rc = sealed_open(plain, &plain_len, dht_key, value, len, key);
	if (rc == 0)
		rc = um_dht_relay_record_verify(rec, NULL, plain, plain_len, now);
	if (rc == 0) {
		um_dht_relay_owner_tag(expect, key, &rec->id, (uint64_t)day);
		if (sodium_memcmp(expect, owner, 32) != 0 || rec->sequence != sequence || rec->expires != expires)
			rc = -UM_EBADMSG;
	}
	if (rc < 0)
		memset(rec, 0, sizeof(*rec));
	sodium_memzero(plain, sizeof(plain));
	return rc;
}
