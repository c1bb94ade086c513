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

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "crypto/sha3.h"
#include "util/error.h"

static const char file_magic[] = "umbra-network-key-"; /* followed by the version */
static const char file_tag[] = "umbra-network-key-1 ";
static const char private_key_label[] = "umbra dht private key";
static const char relays_label[] = "umbra dht relays";

enum {
	FILE_TAG_LEN = sizeof(file_tag) - 1,                         /* 20 */
	FILE_KEY_B64_LEN = 44,                                       /* base64 of 32 bytes */
	FILE_CHECK_BYTES = 4,                                        /* 8 hex digits */
	FILE_BODY_LEN = FILE_KEY_B64_LEN + 1 + 2 * FILE_CHECK_BYTES, /* 53 */
	FILE_LINE_LEN = FILE_TAG_LEN + FILE_BODY_LEN,                /* 73, without newline */
	FILE_MAX_BYTES = 256,                                        /* refuse bigger files unread */
};

_Static_assert(FILE_LINE_LEN + 2 <= UM_NETWORK_KEY_TEXT_MAX, "network key line buffer");

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

/* ---- the file ---- */

static void file_checksum(uint8_t check[FILE_CHECK_BYTES], const char *text, size_t len)
{
	uint8_t digest[UM_SHA3_256_BYTES];

	um_sha3_256(digest, (const uint8_t *)text, len);
	memcpy(check, digest, FILE_CHECK_BYTES);
	sodium_memzero(digest, sizeof(digest));
}

static void format_line(char line[FILE_LINE_LEN + 2], const struct um_network_key *key)
{
	uint8_t check[FILE_CHECK_BYTES];

	memcpy(line, file_tag, FILE_TAG_LEN);
	sodium_bin2base64(line + FILE_TAG_LEN, FILE_KEY_B64_LEN + 1, key->bytes, UM_NETWORK_KEY_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	file_checksum(check, line, FILE_TAG_LEN + FILE_KEY_B64_LEN);
	line[FILE_TAG_LEN + FILE_KEY_B64_LEN] = ' ';
	sodium_bin2hex(line + FILE_TAG_LEN + FILE_KEY_B64_LEN + 1, 2 * FILE_CHECK_BYTES + 1, check, FILE_CHECK_BYTES);
	line[FILE_LINE_LEN] = '\n';
	line[FILE_LINE_LEN + 1] = '\0';
}

int um_network_key_format(const struct um_network_key *key, char *out, size_t out_size)
{
	if (!key || !out || out_size < FILE_LINE_LEN + 2)
		return -UM_ERANGE;
	format_line(out, key);
	return 0;
}

int um_network_key_parse(struct um_network_key *key, const char *text, size_t len)
{
	uint8_t bytes[UM_NETWORK_KEY_BYTES];
	uint8_t check[FILE_CHECK_BYTES], expect[FILE_CHECK_BYTES];
	size_t magic_len = sizeof(file_magic) - 1, key_len = 0, hex_len = 0, version_end;
	const char *body, *b64_end = NULL;
	int rc;

	if (!key || (!text && len))
		return -UM_EINVAL;
	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	if (!len)
		return -UM_ETRUNC;
	if (len < magic_len)
		return memcmp(text, file_magic, len) == 0 ? -UM_ETRUNC : -UM_EINVAL;
	if (memcmp(text, file_magic, magic_len) != 0)
		return -UM_EINVAL;
	for (version_end = magic_len; version_end < len && text[version_end] != ' '; version_end++)
		;
	if (version_end == magic_len)
		return version_end == len ? -UM_ETRUNC : -UM_EINVAL;
	if (version_end - magic_len != 1 || text[magic_len] != '1') {
		for (size_t i = magic_len; i < version_end; i++)
			if (text[i] < '0' || text[i] > '9')
				return -UM_EINVAL;
		return -UM_EVERSION;
	}
	if (len < FILE_LINE_LEN)
		return -UM_ETRUNC;
	if (len > FILE_LINE_LEN)
		return -UM_EINVAL;
	body = text + FILE_TAG_LEN;
	if (body[FILE_KEY_B64_LEN] != ' ')
		return -UM_EINVAL;

	/* Right shape: from here on, damaged content is a checksum failure. */
	rc = -UM_ECHECKSUM;
	file_checksum(expect, text, FILE_TAG_LEN + FILE_KEY_B64_LEN);
	if (sodium_hex2bin(check, sizeof(check), body + FILE_KEY_B64_LEN + 1, 2 * FILE_CHECK_BYTES, NULL, &hex_len,
			   NULL) != 0 ||
	    hex_len != FILE_CHECK_BYTES)
		goto out;
	for (int i = 0; i < 2 * FILE_CHECK_BYTES; i++) {
		char c = body[FILE_KEY_B64_LEN + 1 + i];

		if (c >= 'A' && c <= 'F')
			goto out; /* lowercase only: one canonical line per key */
	}
	if (sodium_memcmp(check, expect, FILE_CHECK_BYTES) != 0)
		goto out;
	rc = -UM_EINVAL;
	if (sodium_base642bin(bytes, sizeof(bytes), body, FILE_KEY_B64_LEN, NULL, &key_len, &b64_end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    key_len != sizeof(bytes) || b64_end != body + FILE_KEY_B64_LEN)
		goto out;
	/* One canonical line per key: the padding bits of the last character
	 * must be zero, which re-encoding shows. */
	{
		char again[FILE_KEY_B64_LEN + 1];

		sodium_bin2base64(again, sizeof(again), bytes, sizeof(bytes), sodium_base64_VARIANT_ORIGINAL);
		rc = memcmp(again, body, FILE_KEY_B64_LEN) == 0 ? 0 : -UM_EINVAL;
		sodium_memzero(again, sizeof(again));
	}
	if (rc == 0)
		memcpy(key->bytes, bytes, sizeof(bytes));
out:
	sodium_memzero(bytes, sizeof(bytes));
	return rc;
}

int um_network_key_load(struct um_network_key *key, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = 0;

	if (!key || !path)
		return -UM_EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -UM_EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		rc = -UM_EPERM; /* checked before reading: a leaked key is never used */
		goto out;
	}
	buf = um_secmem_alloc(FILE_MAX_BYTES + 1);
	if (!buf) {
		rc = -UM_ENOMEM;
		goto out;
	}
	while (len <= FILE_MAX_BYTES) {
		ssize_t n = read(fd, buf + len, FILE_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > FILE_MAX_BYTES) {
		rc = -UM_EINVAL;
		goto out;
	}
	rc = um_network_key_parse(key, buf, len);
out:
	um_secmem_free(buf);
	close(fd);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* As in crypto/identity.c: a rename that never replaces an existing file. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (link(from, to) != 0)
		return -errno;
	unlink(from);
	return 0;
}

int um_network_key_save(const struct um_network_key *key, const char *path)
{
	char line[FILE_LINE_LEN + 2];
	uint8_t salt[8];
	char hex[2 * sizeof(salt) + 1];
	char *tmp = NULL;
	struct stat st;
	int fd = -1, rc;

	if (!key || !path || !*path)
		return -UM_EINVAL;
	if (lstat(path, &st) == 0)
		return -EEXIST; /* early answer; rename_noreplace is the real guard */
	randombytes_buf(salt, sizeof(salt));
	sodium_bin2hex(hex, sizeof(hex), salt, sizeof(salt));
	if (asprintf(&tmp, "%s.tmp-%s", path, hex) < 0)
		return -UM_ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		tmp = NULL; /* not ours: never unlink it */
		goto out;
	}
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) { /* whatever the umask */
		rc = -errno;
		goto out;
	}
	format_line(line, key);
	rc = write_all(fd, line, FILE_LINE_LEN + 1);
	if (rc < 0)
		goto out;
	if (fsync(fd) != 0) {
		rc = -errno;
		goto out;
	}
	rc = close(fd) != 0 ? -errno : 0;
	fd = -1;
	if (rc < 0)
		goto out;
	rc = rename_noreplace(tmp, path);
	if (rc == 0) {
		free(tmp);
		tmp = NULL;
	}
out:
	sodium_memzero(line, sizeof(line));
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
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
