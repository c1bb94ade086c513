/* SPDX-License-Identifier: MIT */
/* The network key file and the DHT keys derived from it.
 *
 * Derivations (SHAKE256 unless named; every label is absorbed with a one-byte
 * length prefix, every input has a fixed length, days are u64 big-endian):
 *   outer seed (peer)  = SHAKE256("umbra dht private outer v1", nk, peer ID, day)[0..32]
 *   outer seed (relay) = SHAKE256("umbra dht private relays v1", nk, day)[0..32]
 *   seal key           = SHAKE256("umbra dht seal key v1", nk)[0..32]
 *   relay owner tag    = SHAKE256("umbra dht relay owner v1", nk, relay ID, day)[0..32]
 *   fingerprint        = SHAKE256("umbra dht network name v1", nk)[0..4]
 * An outer seed becomes an Ed25519 key pair (crypto_sign_seed_keypair). The
 * DHT keys hash the outer public key with a plain SHA3-256 and the labels of
 * network_key.h, so a storer can check the binding without the network key. */
#include "dht/network_key.h"

#include <sodium.h>
#include <string.h>

#include "crypto/secret_file.h"
#include "crypto/sha3.h"
#include "util/error.h"

static const char private_key_label[] = "umbra dht private key";
static const char relays_label[] = "umbra dht relays";

_Static_assert((int)UM_NETWORK_KEY_BYTES <= (int)UM_SECRET_BYTES_MAX, "network key line");

void um_network_key_wipe(struct um_network_key *key)
{
	if (key)
		sodium_memzero(key, sizeof(*key));
}

int um_network_key_generate(struct um_network_key *key)
{
	if (!key)
		return -UM_EINVAL;
	if (sodium_init() < 0)
		return -UM_EINVAL;
	randombytes_buf(key->bytes, sizeof(key->bytes));
	return 0;
}

/* ---- the file: a one-line secret file (crypto/secret_file.h) ---- */

static const char file_kind[] = "network-key";

int um_network_key_format(const struct um_network_key *key, char *out, size_t out_size)
{
	if (!key)
		return -UM_ERANGE;
	return um_secret_line_format(file_kind, key->bytes, UM_NETWORK_KEY_BYTES, out, out_size);
}

int um_network_key_parse(struct um_network_key *key, const char *text, size_t len)
{
	if (!key)
		return -UM_EINVAL;
	return um_secret_line_parse(file_kind, text, len, key->bytes, UM_NETWORK_KEY_BYTES);
}

int um_network_key_load(struct um_network_key *key, const char *path)
{
	if (!key || !path)
		return -UM_EINVAL;
	return um_secret_file_load(file_kind, path, key->bytes, UM_NETWORK_KEY_BYTES);
}

int um_network_key_save(const struct um_network_key *key, const char *path)
{
	if (!key)
		return -UM_EINVAL;
	return um_secret_file_save(file_kind, path, key->bytes, UM_NETWORK_KEY_BYTES);
}

/* ---- derivations ---- */

static void put_u64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

/* SHAKE256(len(label) || label || a || b || day) into out; day absorbed
 * only when with_day. */
static void derive(uint8_t *out, size_t out_len, const char *label, const uint8_t *a, size_t a_len, const uint8_t *b,
		   size_t b_len, int with_day, uint64_t day)
{
	struct um_keccak h;
	uint8_t label_len = (uint8_t)strlen(label), day_bytes[8];

	um_shake256_init(&h);
	um_keccak_absorb(&h, &label_len, 1);
	um_keccak_absorb(&h, (const uint8_t *)label, label_len);
	um_keccak_absorb(&h, a, a_len);
	if (b_len)
		um_keccak_absorb(&h, b, b_len);
	if (with_day) {
		put_u64(day_bytes, day);
		um_keccak_absorb(&h, day_bytes, sizeof(day_bytes));
	}
	um_keccak_squeeze(&h, out, out_len);
	um_keccak_wipe(&h);
}

static void hash_label_pk(uint8_t out[32], const char *label, const uint8_t *pk)
{
	struct um_keccak h;

	um_sha3_256_init(&h);
	um_keccak_absorb(&h, (const uint8_t *)label, strlen(label));
	if (pk)
		um_keccak_absorb(&h, pk, UM_DHT_OUTER_PK_BYTES);
	um_keccak_squeeze(&h, out, 32);
}

uint64_t um_dht_day(uint64_t unix_seconds)
{
	return unix_seconds / UM_DHT_DAY_SECONDS;
}

int um_network_key_fingerprint(const struct um_network_key *key, char *out, size_t out_size)
{
	uint8_t digest[4];

	if (!key || !out || out_size < UM_NETWORK_KEY_FINGERPRINT_MAX)
		return -UM_ERANGE;
	derive(digest, sizeof(digest), "umbra dht network name v1", key->bytes, UM_NETWORK_KEY_BYTES, NULL, 0, 0, 0);
	snprintf(out, out_size, "umbra-net-%02x%02x%02x%02x", digest[0], digest[1], digest[2], digest[3]);
	return 0;
}

static int outer_keypair(uint8_t pk[UM_DHT_OUTER_PK_BYTES], uint8_t sk[UM_DHT_OUTER_SK_BYTES], const char *label,
			 const struct um_network_key *key, const struct um_peer_id *peer, uint64_t day)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int rc;

	if (!pk || !sk || !key)
		return -UM_EINVAL;
	derive(seed, sizeof(seed), label, key->bytes, UM_NETWORK_KEY_BYTES, peer ? peer->bytes : NULL,
	       peer ? UM_PEER_ID_BYTES : 0, 1, day);
	rc = crypto_sign_seed_keypair(pk, sk, seed) == 0 ? 0 : -UM_EINVAL;
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int um_dht_private_keypair(uint8_t pk[UM_DHT_OUTER_PK_BYTES], uint8_t sk[UM_DHT_OUTER_SK_BYTES],
			   const struct um_network_key *key, const struct um_peer_id *peer, uint64_t day)
{
	if (!peer)
		return -UM_EINVAL;
	return outer_keypair(pk, sk, "umbra dht private outer v1", key, peer, day);
}

void um_dht_private_key_from_outer(uint8_t dht_key[32], const uint8_t outer_pk[UM_DHT_OUTER_PK_BYTES])
{
	hash_label_pk(dht_key, private_key_label, outer_pk);
}

int um_dht_private_key(uint8_t dht_key[32], const struct um_network_key *key, const struct um_peer_id *peer,
		       uint64_t day)
{
	uint8_t pk[UM_DHT_OUTER_PK_BYTES], sk[UM_DHT_OUTER_SK_BYTES];
	int rc = um_dht_private_keypair(pk, sk, key, peer, day);

	sodium_memzero(sk, sizeof(sk));
	if (rc == 0)
		um_dht_private_key_from_outer(dht_key, pk);
	return rc;
}

int um_dht_private_lookup_keys(uint8_t keys[2][32], const struct um_network_key *key, const struct um_peer_id *peer,
			       uint64_t now)
{
	uint64_t day = um_dht_day(now);
	int rc = um_dht_private_key(keys[0], key, peer, day);

	if (rc < 0)
		return rc;
	if (now % UM_DHT_DAY_SECONDS >= UM_DHT_PRIVATE_OVERLAP || day == 0)
		return 1;
	rc = um_dht_private_key(keys[1], key, peer, day - 1);
	return rc < 0 ? rc : 2;
}

void um_dht_seal_key(uint8_t seal[UM_DHT_SEAL_KEY_BYTES], const struct um_network_key *key)
{
	derive(seal, UM_DHT_SEAL_KEY_BYTES, "umbra dht seal key v1", key->bytes, UM_NETWORK_KEY_BYTES, NULL, 0, 0, 0);
}

void um_dht_relay_key_public(uint8_t dht_key[32])
{
	hash_label_pk(dht_key, relays_label, NULL);
}

int um_dht_relay_keypair(uint8_t pk[UM_DHT_OUTER_PK_BYTES], uint8_t sk[UM_DHT_OUTER_SK_BYTES],
			 const struct um_network_key *key, uint64_t day)
{
	return outer_keypair(pk, sk, "umbra dht private relays v1", key, NULL, day);
}

void um_dht_relay_key_from_outer(uint8_t dht_key[32], const uint8_t outer_pk[UM_DHT_OUTER_PK_BYTES])
{
	hash_label_pk(dht_key, relays_label, outer_pk);
}

int um_dht_relay_key_private(uint8_t dht_key[32], const struct um_network_key *key, uint64_t day)
{
	uint8_t pk[UM_DHT_OUTER_PK_BYTES], sk[UM_DHT_OUTER_SK_BYTES];
	int rc = um_dht_relay_keypair(pk, sk, key, day);

	sodium_memzero(sk, sizeof(sk));
	if (rc == 0)
		um_dht_relay_key_from_outer(dht_key, pk);
	return rc;
}

void um_dht_relay_owner_tag(uint8_t tag[32], const struct um_network_key *key, const struct um_peer_id *relay,
			    uint64_t day)
{
	derive(tag, 32, "umbra dht relay owner v1", key->bytes, UM_NETWORK_KEY_BYTES, relay->bytes, UM_PEER_ID_BYTES, 1,
	       day);
}
