/* SPDX-License-Identifier: MIT */
/* Constant-time test (the ctgrind technique): run under valgrind memcheck
 * with every secret input marked undefined. Memcheck then reports any branch
 * or memory index that depends on a secret ("Conditional jump or move
 * depends on uninitialised value", "Use of uninitialised value of size N"),
 * and `valgrind --error-exitcode=1` turns a report into a failure.
 *
 * Only values that are public by design are declassified: here the outputs
 * (public keys, ciphertexts, signatures) and return codes; inside the crypto
 * sources (built again into this program with -DUM_CTGRIND) what FIPS 204
 * allows to be revealed (ML-DSA's rho, t1, c_tilde, per-attempt reject bit)
 * and whether an X25519 result is all zero (a property of the public point).
 * Shared secrets and secret keys stay undefined to the end.
 *
 * libsodium's randomness is replaced by a deterministic generator whose
 * output is marked undefined, so internally drawn randomness (ML-KEM seeds,
 * X25519 ephemerals, the ML-DSA hedge) is checked as secret as well.
 *
 * Usage: ct_crypto OPERATION, one of the names in the table at the end. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "crypto/chacha20poly1305.h"
#include "crypto/hybrid.h"
#include "crypto/mldsa.h"
#include "crypto/mlkem.h"
#include "util/error.h"

static void mark_secret(const void *ptr, size_t len)
{
	VALGRIND_MAKE_MEM_UNDEFINED(ptr, len);
}

static void declassify(const void *ptr, size_t len)
{
	VALGRIND_MAKE_MEM_DEFINED(ptr, len);
}

static int check_rc(int rc, const char *what)
{
	declassify(&rc, sizeof(rc));
	if (rc != 0) {
		fprintf(stderr, "ct: %s failed: %d\n", what, rc);
		return 1;
	}
	return 0;
}

/* ---- secret randomness: SHAKE-free xorshift stream, marked undefined ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static int rng_public; /* set while preparing inputs that are not under test */

static void ct_random_buf(void *const buf, const size_t size)
{
	uint8_t *out = buf;

	for (size_t i = 0; i < size; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		out[i] = (uint8_t)rng_state;
	}
	if (!rng_public)
		mark_secret(buf, size);
}

static uint32_t ct_random(void)
{
	uint32_t r;

	ct_random_buf(&r, sizeof(r));
	declassify(&r, sizeof(r)); /* libsodium-internal uses only (none on our paths) */
	return r;
}

static const char *ct_random_name(void)
{
	return "ct-test";
}

static struct randombytes_implementation ct_random_impl = {
    .implementation_name = ct_random_name,
    .random = ct_random,
    .buf = ct_random_buf,
};

/* Public test data: defined bytes. */
static void public_fill(uint8_t *buf, size_t len, uint8_t tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(tag + 7 * i);
}

/* ML-KEM dk = dk_PKE || ek || H(ek) || z: dk_PKE and z are secret. */
static void mark_mlkem_dk_secret(const uint8_t *dk)
{
	mark_secret(dk, 1536);
	mark_secret(dk + UM_MLKEM1024_DK_BYTES - 32, 32);
}

/* ML-DSA sk = rho || K || tr || s1 || s2 || t0: all but rho and tr secret. */
static void mark_mldsa_sk_secret(const uint8_t *sk)
{
	mark_secret(sk + 32, 32);
	mark_secret(sk + 128, UM_MLDSA87_SK_BYTES - 128);
}

static uint8_t ek[UM_MLKEM1024_EK_BYTES], dk[UM_MLKEM1024_DK_BYTES];
static uint8_t mlkem_ct[UM_MLKEM1024_CT_BYTES], ss[32];

static int op_mlkem_keygen(void)
{
	uint8_t d[32], z[32];

	ct_random_buf(d, sizeof(d));
	ct_random_buf(z, sizeof(z));
	if (check_rc(um_mlkem1024_keygen_derand(ek, dk, d, z), "ML-KEM keygen"))
		return 1;
	declassify(ek, sizeof(ek));
	return check_rc(um_mlkem1024_keygen(ek, dk), "ML-KEM keygen (randomised)");
}

/* Key pair made from public randomness: keygen is not what is under test. */
static int mlkem_setup(void)
{
	int rc;

	rng_public = 1;
	rc = check_rc(um_mlkem1024_keygen(ek, dk), "ML-KEM keygen");
	rng_public = 0;
	return rc;
}

static int op_mlkem_encaps(void)
{
	uint8_t m[32];

	if (mlkem_setup())
		return 1;
	ct_random_buf(m, sizeof(m));
	if (check_rc(um_mlkem1024_encaps_derand(mlkem_ct, ss, ek, m), "ML-KEM encaps"))
		return 1;
	declassify(mlkem_ct, sizeof(mlkem_ct));
	return check_rc(um_mlkem1024_encaps(mlkem_ct, ss, ek), "ML-KEM encaps (randomised)");
}

static int op_mlkem_decaps(void)
{
	uint8_t m[32] = {1};

	if (mlkem_setup() || check_rc(um_mlkem1024_encaps_derand(mlkem_ct, ss, ek, m), "ML-KEM encaps"))
		return 1;
	mark_mlkem_dk_secret(dk);
	if (check_rc(um_mlkem1024_decaps(ss, mlkem_ct, dk), "ML-KEM decaps"))
		return 1;
	/* Implicit rejection path: a ciphertext that does not re-encrypt. */
	mlkem_ct[5] ^= 1;
	return check_rc(um_mlkem1024_decaps(ss, mlkem_ct, dk), "ML-KEM decaps (reject)");
}

static uint8_t dsa_pk[UM_MLDSA87_PK_BYTES], dsa_sk[UM_MLDSA87_SK_BYTES], dsa_sig[UM_MLDSA87_SIG_BYTES];

static int op_mldsa_keygen(void)
{
	uint8_t xi[32];

	ct_random_buf(xi, sizeof(xi));
	if (check_rc(um_mldsa87_keygen_seed(dsa_pk, dsa_sk, xi), "ML-DSA keygen"))
		return 1;
	declassify(dsa_pk, sizeof(dsa_pk));
	return 0;
}

static int op_mldsa_sign(void)
{
	uint8_t msg[64], rnd[32];

	if (op_mldsa_keygen())
		return 1;
	declassify(dsa_sk, sizeof(dsa_sk));
	mark_mldsa_sk_secret(dsa_sk);
	/* Several messages, hedged and deterministic, so that rejections occur. */
	for (int i = 0; i < 4; i++) {
		public_fill(msg, sizeof(msg), (uint8_t)i);
		if (check_rc(um_mldsa87_sign(dsa_sig, msg, sizeof(msg), (const uint8_t *)"ct", 2, dsa_sk, i & 1),
			     "ML-DSA sign"))
			return 1;
		declassify(dsa_sig, sizeof(dsa_sig));
	}
	ct_random_buf(rnd, sizeof(rnd));
	if (check_rc(um_mldsa87_sign_internal(dsa_sig, msg, sizeof(msg), dsa_sk, rnd), "ML-DSA sign_internal"))
		return 1;
	declassify(dsa_sig, sizeof(dsa_sig));
	/* Verification of the (now public) signature must succeed. */
	return check_rc(um_mldsa87_verify_internal(dsa_sig, sizeof(dsa_sig), msg, sizeof(msg), dsa_pk),
			"ML-DSA verify");
}

static uint8_t hkem_pk[UM_HKEM_PK_BYTES], hkem_sk[UM_HKEM_SK_BYTES], hkem_ct[UM_HKEM_CT_BYTES];

static int hkem_setup(void)
{
	int rc;

	rng_public = 1;
	rc = check_rc(um_hkem_keygen(hkem_pk, hkem_sk), "hybrid keygen");
	rng_public = 0;
	return rc;
}

/* Secret randomness: the X25519 ephemeral and the ML-KEM message. */
static int op_hkem_encaps(void)
{
	uint8_t ss1[32];

	if (hkem_setup() || check_rc(um_hkem_encaps(hkem_ct, ss1, hkem_pk), "hybrid encaps"))
		return 1;
	declassify(hkem_ct, sizeof(hkem_ct));
	return 0;
}

static int op_hkem_decaps(void)
{
	uint8_t ss1[32], ss2[32];

	if (hkem_setup())
		return 1;
	rng_public = 1;
	if (check_rc(um_hkem_encaps(hkem_ct, ss1, hkem_pk), "hybrid encaps"))
		return 1;
	rng_public = 0;
	/* Secret: dk_PKE, z, the X25519 scalar. Public: ek, H(ek), X25519 pk. */
	mark_mlkem_dk_secret(hkem_sk);
	mark_secret(hkem_sk + UM_MLKEM1024_DK_BYTES, 32);
	if (check_rc(um_hkem_decaps(ss2, hkem_ct, hkem_sk), "hybrid decaps"))
		return 1;
	hkem_ct[7] ^= 1; /* ML-KEM implicit rejection inside the hybrid */
	return check_rc(um_hkem_decaps(ss2, hkem_ct, hkem_sk), "hybrid decaps (reject)");
}

static int op_hsig_sign(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES], pk[UM_HSIG_PK_BYTES], sk[UM_HSIG_SK_BYTES], sig[UM_HSIG_BYTES];
	uint8_t msg[48];

	ct_random_buf(seed, sizeof(seed));
	if (check_rc(um_hsig_keygen_seed(pk, sk, seed), "hybrid signature keygen"))
		return 1;
	declassify(pk, sizeof(pk));
	public_fill(msg, sizeof(msg), 3);
	if (check_rc(um_hsig_sign(sig, msg, sizeof(msg), "ct", sk), "hybrid sign"))
		return 1;
	declassify(sig, sizeof(sig));
	return check_rc(um_hsig_verify(sig, msg, sizeof(msg), "ct", pk), "hybrid verify");
}

/* ChaCha20-Poly1305: lengths with empty, partial and whole 16- and 64-byte
 * blocks, up to the data plane's small-message limit and past it. */
static const size_t aead_lens[] = {0, 1, 15, 16, 63, 64, 84, 128, 200};

/* Secret: key and plaintext. Public: nonce, ad, and the outputs. */
static int op_aead_seal(void)
{
	uint8_t key[32], nonce[12], ad[13], buf[200], tag[16];

	public_fill(nonce, sizeof(nonce), 1);
	public_fill(ad, sizeof(ad), 2);
	for (size_t i = 0; i < sizeof(aead_lens) / sizeof(aead_lens[0]); i++) {
		ct_random_buf(key, sizeof(key));
		ct_random_buf(buf, aead_lens[i]);
		um_chacha20poly1305_seal(key, nonce, ad, i % 2 ? sizeof(ad) : 0, buf, aead_lens[i], tag);
		declassify(buf, aead_lens[i]);
		declassify(tag, sizeof(tag));
	}
	return 0;
}

/* Secret: key (and the plaintext open produces). Public: nonce, ad,
 * ciphertext, tag, and whether the tag verified. */
static int op_aead_open(void)
{
	uint8_t key[32], nonce[12], ad[13], buf[200], tag[16];

	public_fill(nonce, sizeof(nonce), 3);
	public_fill(ad, sizeof(ad), 4);
	for (size_t i = 0; i < sizeof(aead_lens) / sizeof(aead_lens[0]); i++) {
		size_t len = aead_lens[i], ad_len = i % 2 ? sizeof(ad) : 0;

		rng_public = 1;
		ct_random_buf(key, sizeof(key));
		ct_random_buf(buf, len);
		rng_public = 0;
		um_chacha20poly1305_seal(key, nonce, ad, ad_len, buf, len, tag);
		mark_secret(key, sizeof(key));
		if (check_rc(um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag), "AEAD open"))
			return 1;
		/* Failure path: the tag no longer verifies (buf is ciphertext again). */
		declassify(key, sizeof(key));
		um_chacha20poly1305_seal(key, nonce, ad, ad_len, buf, len, tag);
		mark_secret(key, sizeof(key));
		tag[i % 16] ^= 1;
		int rc = um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag);
		declassify(&rc, sizeof(rc));
		if (rc != -UM_EBADMSG) {
			fprintf(stderr, "ct: AEAD open of a wrong tag returned %d\n", rc);
			return 1;
		}
	}
	return 0;
}

/* Secret: the one-time key and (here) the message too. */
static int op_poly1305(void)
{
	uint8_t key[32], msg[200], tag[16];

	for (size_t i = 0; i < sizeof(aead_lens) / sizeof(aead_lens[0]); i++) {
		ct_random_buf(key, sizeof(key));
		ct_random_buf(msg, aead_lens[i]);
		um_poly1305(key, msg, aead_lens[i], tag);
		declassify(tag, sizeof(tag));
	}
	return 0;
}

static const struct {
	const char *name;
	int (*run)(void);
} operations[] = {
    {"mlkem-keygen", op_mlkem_keygen}, {"mlkem-encaps", op_mlkem_encaps}, {"mlkem-decaps", op_mlkem_decaps},
    {"mldsa-keygen", op_mldsa_keygen}, {"mldsa-sign", op_mldsa_sign},     {"hkem-encaps", op_hkem_encaps},
    {"hkem-decaps", op_hkem_decaps},   {"hsig-sign", op_hsig_sign},       {"aead-seal", op_aead_seal},
    {"aead-open", op_aead_open},       {"poly1305", op_poly1305},
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: ct_crypto OPERATION\n");
		return 2;
	}
	if (randombytes_set_implementation(&ct_random_impl) != 0 || sodium_init() < 0)
		return 2;
	if (!RUNNING_ON_VALGRIND)
		fprintf(stderr, "ct_crypto: not under valgrind: nothing is checked\n");
	for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
		if (!strcmp(argv[1], operations[i].name)) {
			int rc = operations[i].run();

			if (!rc)
				printf("ct_crypto: %s ran (valgrind judges)\n", argv[1]);
			return rc;
		}
	}
	fprintf(stderr, "ct_crypto: unknown operation '%s'\n", argv[1]);
	return 2;
}
