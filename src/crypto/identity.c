/* SPDX-License-Identifier: MIT */
/* Node identities: seeds, peer IDs and the private identity file.
 *
 * Peer ID: SHA3-256("umbra-peer-id-v1" || ed25519_pk || mldsa87_pk), 32 bytes
 * (16-byte label, no separator: both keys have fixed lengths).
 *
 * Peer ID text: bech32m (BIP 350) with human-readable part "umbra", i.e.
 * "umbra1" + 52 data characters (the 256 bits, 5 at a time, zero padded)
 * + 6 checksum characters = 64 characters, lowercase, no padding, alphabet
 * "qpzry9x8gf2tvdw0s3jn54khce6mua7l". The checksum is a BCH code that
 * detects ANY error touching up to 4 characters (so every substitution and
 * every adjacent transposition) and misses random garbage with probability
 * about 2^-30; a plain hash checksum would only make those misses unlikely.
 * Short form: the first 14 characters of the text ("umbra1" + 8 data
 * characters, 40 bits), a literal prefix of the full form for humans to
 * compare; never used to pin an identity.
 *
 * Private identity file: one line (115 bytes with the newline)
 *   umbra-identity-1 <seed> <check>\n
 * <seed>: the 64 seed bytes (ed25519 seed || ML-DSA xi) in standard padded
 * base64, 88 characters. <check>: 8 lowercase hex digits, the first 4 bytes
 * of SHA3-256 of everything before the last space ("umbra-identity-1 <seed>").
 * The trailing newline is optional ("\r\n" accepted). Errors: -UM_ETRUNC for
 * a cut line, -UM_EVERSION for "umbra-identity-N" with N != 1, -UM_ECHECKSUM
 * for a line of the right shape whose checksum field is not 8 lowercase hex
 * digits or does not match, -UM_EINVAL for anything else. */
#include "crypto/identity.h"

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

static const char peer_id_label[] = "umbra-peer-id-v1";
static const char file_magic[] = "umbra-identity-"; /* followed by the version */
static const char file_tag[] = "umbra-identity-1 ";

enum {
	FILE_TAG_LEN = sizeof(file_tag) - 1,                          /* 17 */
	FILE_SEED_B64_LEN = 88,                                       /* base64 of 64 bytes */
	FILE_CHECK_BYTES = 4,                                         /* 8 hex digits */
	FILE_BODY_LEN = FILE_SEED_B64_LEN + 1 + 2 * FILE_CHECK_BYTES, /* after the tag: 97 */
	FILE_LINE_LEN = FILE_TAG_LEN + FILE_BODY_LEN,                 /* 114, without newline */
	FILE_MAX_BYTES = 256,                                         /* refuse bigger files unread */
	ED25519_PK_BYTES = 32,
};

/* ---- peer IDs ---- */

static const char hrp[] = "umbra";
static const char bech32_alphabet[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

enum {
	HRP_LEN = sizeof(hrp) - 1,
	PEER_ID_DATA_CHARS = (UM_PEER_ID_BYTES * 8 + 4) / 5, /* 52 */
	PEER_ID_CHECK_CHARS = 6,
	PEER_ID_TEXT_LEN = HRP_LEN + 1 + PEER_ID_DATA_CHARS + PEER_ID_CHECK_CHARS, /* 64 */
	PEER_ID_SHORT_LEN = HRP_LEN + 1 + 8,                                       /* 14 */
	BECH32M_CONST = 0x2bc830a3,
};

/* BCH checksum step over 5-bit values (BIP 173 generator). */
static uint32_t bech32_polymod_step(uint32_t chk, uint8_t value)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t top = chk >> 25;

	chk = ((chk & 0x1ffffff) << 5) ^ value;
	for (int i = 0; i < 5; i++)
		chk ^= (uint32_t)(-((top >> i) & 1)) & gen[i];
	return chk;
}

static uint32_t bech32_polymod_hrp(void)
{
	uint32_t chk = 1;

	for (int i = 0; i < HRP_LEN; i++)
		chk = bech32_polymod_step(chk, (uint8_t)hrp[i] >> 5);
	chk = bech32_polymod_step(chk, 0);
	for (int i = 0; i < HRP_LEN; i++)
		chk = bech32_polymod_step(chk, (uint8_t)hrp[i] & 31);
	return chk;
}

/* 32 bytes -> 52 five-bit groups, last one zero padded. */
static void peer_id_to_groups(uint8_t groups[PEER_ID_DATA_CHARS], const uint8_t bytes[UM_PEER_ID_BYTES])
{
	uint32_t acc = 0;
	int bits = 0, n = 0;

	for (int i = 0; i < UM_PEER_ID_BYTES; i++) {
		acc = (acc << 8) | bytes[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			groups[n++] = (acc >> bits) & 31;
		}
	}
	groups[n] = (uint8_t)((acc << (5 - bits)) & 31);
}

void um_peer_id_from_public_key(struct um_peer_id *id, const uint8_t public_key[UM_HSIG_PK_BYTES])
{
	struct um_keccak h;

	um_sha3_256_init(&h);
	um_keccak_absorb(&h, (const uint8_t *)peer_id_label, sizeof(peer_id_label) - 1);
	um_keccak_absorb(&h, public_key, ED25519_PK_BYTES);
	um_keccak_absorb(&h, public_key + ED25519_PK_BYTES, UM_MLDSA87_PK_BYTES);
	um_keccak_squeeze(&h, id->bytes, UM_PEER_ID_BYTES);
}

int um_peer_id_format(const struct um_peer_id *id, char *out, size_t out_size)
{
	uint8_t groups[PEER_ID_DATA_CHARS];
	uint32_t chk = bech32_polymod_hrp();
	char *p = out;

	if (!id || !out || out_size < PEER_ID_TEXT_LEN + 1)
		return -UM_ERANGE;
	peer_id_to_groups(groups, id->bytes);
	memcpy(p, hrp, HRP_LEN);
	p += HRP_LEN;
	*p++ = '1';
	for (int i = 0; i < PEER_ID_DATA_CHARS; i++) {
		chk = bech32_polymod_step(chk, groups[i]);
		*p++ = bech32_alphabet[groups[i]];
	}
	for (int i = 0; i < PEER_ID_CHECK_CHARS; i++)
		chk = bech32_polymod_step(chk, 0);
	chk ^= BECH32M_CONST;
	for (int i = 0; i < PEER_ID_CHECK_CHARS; i++)
		*p++ = bech32_alphabet[(chk >> (5 * (5 - i))) & 31];
	*p = '\0';
	return 0;
}

int um_peer_id_format_short(const struct um_peer_id *id, char *out, size_t out_size)
{
	char full[PEER_ID_TEXT_LEN + 1];
	int rc;

	if (!out || out_size < PEER_ID_SHORT_LEN + 1)
		return -UM_ERANGE;
	rc = um_peer_id_format(id, full, sizeof(full));
	if (rc < 0)
		return rc;
	memcpy(out, full, PEER_ID_SHORT_LEN);
	out[PEER_ID_SHORT_LEN] = '\0';
	return 0;
}

static int bech32_value(char c)
{
	const char *at = c ? strchr(bech32_alphabet, c) : NULL;

	return at ? (int)(at - bech32_alphabet) : -1;
}

int um_peer_id_parse(struct um_peer_id *id, const char *text)
{
	uint8_t groups[PEER_ID_DATA_CHARS + PEER_ID_CHECK_CHARS];
	uint32_t chk = bech32_polymod_hrp();
	uint32_t acc = 0;
	size_t len;
	int bits = 0, n = 0;

	if (!id || !text)
		return -UM_EINVAL;
	len = strnlen(text, PEER_ID_TEXT_LEN + 1);
	if (!len || memcmp(text, "umbra1", len < HRP_LEN + 1 ? len : HRP_LEN + 1) != 0)
		return -UM_EINVAL;
	if (len < PEER_ID_TEXT_LEN)
		return -UM_ETRUNC;
	if (len > PEER_ID_TEXT_LEN)
		return -UM_EINVAL;
	/* From here on the shape is right: any damage is a typo. */
	for (int i = 0; i < PEER_ID_DATA_CHARS + PEER_ID_CHECK_CHARS; i++) {
		int v = bech32_value(text[HRP_LEN + 1 + i]);

		if (v < 0)
			return -UM_ECHECKSUM;
		groups[i] = (uint8_t)v;
		chk = bech32_polymod_step(chk, groups[i]);
	}
	if (chk != BECH32M_CONST)
		return -UM_ECHECKSUM;
	for (int i = 0; i < PEER_ID_DATA_CHARS; i++) {
		acc = (acc << 5) | groups[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			id->bytes[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Four padding bits remain and must be zero (one canonical text per ID). */
	if (acc & ((1u << bits) - 1))
		return -UM_EINVAL;
	return 0;
}

/* ---- identities ---- */

void um_identity_wipe(struct um_identity *identity)
{
	if (identity)
		sodium_memzero(identity, sizeof(*identity));
}

int um_identity_from_seed(struct um_identity *identity, const uint8_t seed[UM_HSIG_SEED_BYTES])
{
	int rc;

	if (!identity || !seed)
		return -UM_EINVAL;
	if (identity->seed != seed)
		memmove(identity->seed, seed, UM_HSIG_SEED_BYTES);
	rc = um_hsig_keygen_seed(identity->public_key, identity->secret_key, identity->seed);
	if (rc < 0) {
		um_identity_wipe(identity);
		return rc;
	}
	um_peer_id_from_public_key(&identity->id, identity->public_key);
	return 0;
}

int um_identity_generate(struct um_identity *identity)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	int rc;

	if (sodium_init() < 0)
		return -UM_EINVAL;
	randombytes_buf(seed, sizeof(seed));
	rc = um_identity_from_seed(identity, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

/* First 4 bytes of SHA3-256 over the line before " <check>". */
static void file_checksum(uint8_t check[FILE_CHECK_BYTES], const char *text, size_t len)
{
	uint8_t digest[UM_SHA3_256_BYTES];

	um_sha3_256(digest, (const uint8_t *)text, len);
	memcpy(check, digest, FILE_CHECK_BYTES);
	sodium_memzero(digest, sizeof(digest));
}

/* Writes the line with its newline into line[FILE_LINE_LEN + 2] (NUL ended). */
static void identity_format_line(char line[FILE_LINE_LEN + 2], const struct um_identity *identity)
{
	uint8_t check[FILE_CHECK_BYTES];

	memcpy(line, file_tag, FILE_TAG_LEN);
	sodium_bin2base64(line + FILE_TAG_LEN, FILE_SEED_B64_LEN + 1, identity->seed, UM_HSIG_SEED_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	file_checksum(check, line, FILE_TAG_LEN + FILE_SEED_B64_LEN);
	line[FILE_TAG_LEN + FILE_SEED_B64_LEN] = ' ';
	sodium_bin2hex(line + FILE_TAG_LEN + FILE_SEED_B64_LEN + 1, 2 * FILE_CHECK_BYTES + 1, check, FILE_CHECK_BYTES);
	line[FILE_LINE_LEN] = '\n';
	line[FILE_LINE_LEN + 1] = '\0';
}

int um_identity_format(const struct um_identity *identity, char *out, size_t out_size)
{
	if (!identity || !out || out_size < FILE_LINE_LEN + 2)
		return -UM_ERANGE;
	identity_format_line(out, identity);
	return 0;
}

int um_identity_parse(struct um_identity *identity, const char *text, size_t len)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	uint8_t check[FILE_CHECK_BYTES], expect[FILE_CHECK_BYTES];
	size_t magic_len = sizeof(file_magic) - 1, seed_len = 0, hex_len = 0, version_end;
	const char *body, *b64_end = NULL;
	int rc;

	if (!identity || (!text && len))
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
	if (body[FILE_SEED_B64_LEN] != ' ')
		return -UM_EINVAL;

	/* Right shape: from here on, damaged content is a checksum failure. */
	rc = -UM_ECHECKSUM;
	file_checksum(expect, text, FILE_TAG_LEN + FILE_SEED_B64_LEN);
	if (sodium_hex2bin(check, sizeof(check), body + FILE_SEED_B64_LEN + 1, 2 * FILE_CHECK_BYTES, NULL, &hex_len,
			   NULL) != 0 ||
	    hex_len != FILE_CHECK_BYTES)
		goto out;
	for (int i = 0; i < 2 * FILE_CHECK_BYTES; i++) {
		char c = body[FILE_SEED_B64_LEN + 1 + i];

		if (c >= 'A' && c <= 'F')
			goto out; /* lowercase only: one canonical line per seed */
	}
	if (sodium_memcmp(check, expect, FILE_CHECK_BYTES) != 0)
		goto out;
	/* The checksum matched, so bad base64 here was written that way. */
	rc = -UM_EINVAL;
	if (sodium_base642bin(seed, sizeof(seed), body, FILE_SEED_B64_LEN, NULL, &seed_len, &b64_end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    seed_len != sizeof(seed) || b64_end != body + FILE_SEED_B64_LEN)
		goto out;
	rc = um_identity_from_seed(identity, seed);
out:
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int um_identity_load(struct um_identity *identity, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = 0;

	if (!identity || !path)
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
	rc = um_identity_parse(identity, buf, len);
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

/* Rename that refuses to replace an existing file; link()+unlink() where the
 * file system lacks RENAME_NOREPLACE (link also fails with EEXIST). */
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

/* fsync the directory holding path so the rename itself is durable. */
static int sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, rc = 0;

	if (!dir)
		return -UM_ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL) /* some file systems cannot sync directories */
		rc = -errno;
	close(fd);
	return rc;
}

int um_identity_save(const struct um_identity *identity, const char *path)
{
	char line[FILE_LINE_LEN + 2];
	char *tmp = NULL;
	int fd = -1, rc;
	struct stat st;

	if (!identity || !path || !*path)
		return -UM_EINVAL;
	if (lstat(path, &st) == 0)
		return -EEXIST; /* early answer; rename_noreplace is the real guard */
	/* A random name beside the target (64 bits: no retry needed), created
	 * exclusively, so nothing placed there beforehand is followed or reused. */
	uint8_t salt[8];
	char hex[2 * sizeof(salt) + 1];
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
	/* open() applies the umask; set 0600 exactly whatever it is. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
		rc = -errno;
		goto out;
	}
	identity_format_line(line, identity);
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
	if (rc < 0)
		goto out;
	free(tmp);
	tmp = NULL;
	rc = sync_parent_dir(path);
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
