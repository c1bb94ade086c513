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

#include <sodium.h>
#include <string.h>

#include "crypto/secret_file.h"
#include "crypto/sha3.h"
#include "util/error.h"

static const char peer_id_label[] = "umbra-peer-id-v1";
enum {
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

/* The private file is a one-line secret file (crypto/secret_file.h) of
 * kind "identity" holding the 64 seed bytes. */
static const char file_kind[] = "identity";

int um_identity_format(const struct um_identity *identity, char *out, size_t out_size)
{
	if (!identity)
		return -UM_ERANGE;
	return um_secret_line_format(file_kind, identity->seed, UM_HSIG_SEED_BYTES, out, out_size);
}

int um_identity_parse(struct um_identity *identity, const char *text, size_t len)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	int rc;

	if (!identity)
		return -UM_EINVAL;
	rc = um_secret_line_parse(file_kind, text, len, seed, sizeof(seed));
	if (rc == 0)
		rc = um_identity_from_seed(identity, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int um_identity_load(struct um_identity *identity, const char *path)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	int rc;

	if (!identity || !path)
		return -UM_EINVAL;
	rc = um_secret_file_load(file_kind, path, seed, sizeof(seed));
	if (rc == 0)
		rc = um_identity_from_seed(identity, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int um_identity_save(const struct um_identity *identity, const char *path)
{
	if (!identity)
		return -UM_EINVAL;
	return um_secret_file_save(file_kind, path, identity->seed, UM_HSIG_SEED_BYTES);
}
