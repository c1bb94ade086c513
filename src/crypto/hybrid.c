/* SPDX-License-Identifier: MIT */
/* Hybrid KEM (X25519 + ML-KEM-1024) and hybrid signature (Ed25519 +
 * ML-DSA-87). See hybrid.h for the layouts.
 *
 * KEM combiner (X-Wing's, with ML-KEM-1024 and our own label first):
 *   ss = SHA3-256("umbra-hkem-v1" || ss_mlkem || ss_x25519 || ct_x25519 || pk_x25519)
 * The label is 13 bytes, no length prefix: every input has a fixed length.
 * ct_x25519 and pk_x25519 bind the X25519 transcript, so the secret depends
 * on the whole ciphertext even if ML-KEM alone were broken; ML-KEM binds its
 * own ciphertext internally (implicit rejection), as X-Wing argues.
 *
 * Signature: both halves sign the same message
 *   M = "umbra-hsig-v1" || len(ctx) (1 byte) || ctx || msg
 * Ed25519 signs M directly; ML-DSA-87 signs M through the external
 * ("pure") interface with context string ctx, so ctx is bound twice and a
 * half can never be presented as a signature under another label.
 * Signature = ed25519_sig (64) || mldsa_sig (4627). */
#include "crypto/hybrid.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/sha3.h"
#include "util/error.h"

static const char hkem_label[] = "umbra-hkem-v1";
static const char hsig_label[] = "umbra-hsig-v1";

enum {
	X25519_BYTES = 32,
	HKEM_SK_X25519_OFFSET = UM_MLKEM1024_DK_BYTES,
	HKEM_SK_X25519_PK_OFFSET = UM_MLKEM1024_DK_BYTES + X25519_BYTES,
	HKEM_PK_X25519_OFFSET = UM_MLKEM1024_EK_BYTES,
	HKEM_CT_X25519_OFFSET = UM_MLKEM1024_CT_BYTES,
	HSIG_ED_PK_BYTES = 32,
	HSIG_ED_SK_BYTES = 64,
	HSIG_ED_SIG_BYTES = 64,
	HSIG_MAX_CTX = 255,
};

static void hkem_combine(uint8_t ss[UM_HKEM_SS_BYTES], const uint8_t ss_mlkem[UM_MLKEM1024_SS_BYTES],
			 const uint8_t ss_x25519[X25519_BYTES], const uint8_t ct_x25519[X25519_BYTES],
			 const uint8_t pk_x25519[X25519_BYTES])
{
	struct um_keccak h;

	um_sha3_256_init(&h);
	um_keccak_absorb(&h, (const uint8_t *)hkem_label, sizeof(hkem_label) - 1);
	um_keccak_absorb(&h, ss_mlkem, UM_MLKEM1024_SS_BYTES);
	um_keccak_absorb(&h, ss_x25519, X25519_BYTES);
	um_keccak_absorb(&h, ct_x25519, X25519_BYTES);
	um_keccak_absorb(&h, pk_x25519, X25519_BYTES);
	um_keccak_squeeze(&h, ss, UM_HKEM_SS_BYTES);
	um_keccak_wipe(&h);
}

/* X25519 with the all-zero output (a low-order peer point) rejected. Whether
 * it is zero depends only on the public point (clamped scalars are multiples
 * of the cofactor), so branching on it leaks nothing secret. */
static int x25519(uint8_t out[X25519_BYTES], const uint8_t scalar[X25519_BYTES], const uint8_t point[X25519_BYTES])
{
	int rc = crypto_scalarmult(out, scalar, point);

	UM_CT_DECLASSIFY(&rc, sizeof(rc));
	return rc == 0 ? 0 : -1;
}

int um_hkem_keygen(uint8_t pk[UM_HKEM_PK_BYTES], uint8_t sk[UM_HKEM_SK_BYTES])
{
	int rc = um_mlkem1024_keygen(pk, sk);

	if (rc < 0)
		goto out;
	randombytes_buf(sk + HKEM_SK_X25519_OFFSET, X25519_BYTES);
	if (crypto_scalarmult_base(sk + HKEM_SK_X25519_PK_OFFSET, sk + HKEM_SK_X25519_OFFSET) != 0) {
		rc = -UM_EINVAL; /* only for an all-zero scalar: never from randombytes in practice */
		goto out;
	}
	memcpy(pk + HKEM_PK_X25519_OFFSET, sk + HKEM_SK_X25519_PK_OFFSET, X25519_BYTES);
out:
	if (rc < 0) {
		sodium_memzero(sk, UM_HKEM_SK_BYTES);
		sodium_memzero(pk, UM_HKEM_PK_BYTES);
	}
	return rc;
}

int um_hkem_encaps(uint8_t ct[UM_HKEM_CT_BYTES], uint8_t ss[UM_HKEM_SS_BYTES], const uint8_t pk[UM_HKEM_PK_BYTES])
{
	uint8_t ephemeral[X25519_BYTES];
	uint8_t ss_x25519[X25519_BYTES];
	uint8_t ss_mlkem[UM_MLKEM1024_SS_BYTES];
	const uint8_t *pk_x25519 = pk + HKEM_PK_X25519_OFFSET;
	uint8_t *ct_x25519 = ct + HKEM_CT_X25519_OFFSET;
	int rc;

	randombytes_buf(ephemeral, sizeof(ephemeral));
	if (crypto_scalarmult_base(ct_x25519, ephemeral) != 0 || x25519(ss_x25519, ephemeral, pk_x25519) != 0) {
		rc = -UM_EINVAL; /* low-order recipient key */
		goto out;
	}
	rc = um_mlkem1024_encaps(ct, ss_mlkem, pk); /* -UM_EINVAL for a non-canonical ek */
	if (rc < 0)
		goto out;
	hkem_combine(ss, ss_mlkem, ss_x25519, ct_x25519, pk_x25519);
out:
	if (rc < 0) {
		sodium_memzero(ss, UM_HKEM_SS_BYTES);
		sodium_memzero(ct, UM_HKEM_CT_BYTES);
	}
	sodium_memzero(ephemeral, sizeof(ephemeral));
	sodium_memzero(ss_x25519, sizeof(ss_x25519));
	sodium_memzero(ss_mlkem, sizeof(ss_mlkem));
	return rc;
}

int um_hkem_decaps(uint8_t ss[UM_HKEM_SS_BYTES], const uint8_t ct[UM_HKEM_CT_BYTES], const uint8_t sk[UM_HKEM_SK_BYTES])
{
	uint8_t ss_x25519[X25519_BYTES];
	uint8_t ss_mlkem[UM_MLKEM1024_SS_BYTES];
	const uint8_t *ct_x25519 = ct + HKEM_CT_X25519_OFFSET;
	int rc;

	/* A tampered ML-KEM ciphertext gives the implicit-rejection secret, so
	 * the combined secret differs without any error being signalled. */
	rc = um_mlkem1024_decaps(ss_mlkem, ct, sk); /* -UM_EINVAL if dk fails its hash check */
	if (rc < 0)
		goto out;
	if (x25519(ss_x25519, sk + HKEM_SK_X25519_OFFSET, ct_x25519) != 0) {
		rc = -UM_EBADMSG; /* low-order ephemeral point */
		goto out;
	}
	hkem_combine(ss, ss_mlkem, ss_x25519, ct_x25519, sk + HKEM_SK_X25519_PK_OFFSET);
out:
	if (rc < 0)
		sodium_memzero(ss, UM_HKEM_SS_BYTES);
	sodium_memzero(ss_x25519, sizeof(ss_x25519));
	sodium_memzero(ss_mlkem, sizeof(ss_mlkem));
	return rc;
}

int um_hsig_keygen_seed(uint8_t pk[UM_HSIG_PK_BYTES], uint8_t sk[UM_HSIG_SK_BYTES],
			const uint8_t seed[UM_HSIG_SEED_BYTES])
{
	int rc;

	if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
		rc = -UM_EINVAL;
		goto out;
	}
	rc = um_mldsa87_keygen_seed(pk + HSIG_ED_PK_BYTES, sk + HSIG_ED_SK_BYTES, seed + 32);
out:
	if (rc < 0) {
		sodium_memzero(sk, UM_HSIG_SK_BYTES);
		sodium_memzero(pk, UM_HSIG_PK_BYTES);
	}
	return rc;
}

/* M = label || len(ctx) || ctx || msg in a fresh heap buffer the caller
 * frees; *ctx_len gets strlen(ctx). Messages are public, so no wiping. */
static int hsig_message(uint8_t **out, size_t *out_len, size_t *ctx_len, const uint8_t *msg, size_t msg_len,
			const char *ctx)
{
	size_t label_len = sizeof(hsig_label) - 1;
	size_t clen = ctx ? strlen(ctx) : 0;
	uint8_t *m;

	if (clen > HSIG_MAX_CTX || (msg_len && !msg))
		return -UM_EINVAL;
	if (msg_len > SIZE_MAX - label_len - 1 - clen)
		return -UM_ENOMEM;
	m = malloc(label_len + 1 + clen + msg_len);
	if (!m)
		return -UM_ENOMEM;
	memcpy(m, hsig_label, label_len);
	m[label_len] = (uint8_t)clen;
	if (clen)
		memcpy(m + label_len + 1, ctx, clen);
	if (msg_len)
		memcpy(m + label_len + 1 + clen, msg, msg_len);
	*out = m;
	*out_len = label_len + 1 + clen + msg_len;
	*ctx_len = clen;
	return 0;
}

int um_hsig_sign(uint8_t sig[UM_HSIG_BYTES], const uint8_t *msg, size_t msg_len, const char *ctx,
		 const uint8_t sk[UM_HSIG_SK_BYTES])
{
	uint8_t *m = NULL;
	size_t m_len, ctx_len;
	int rc = hsig_message(&m, &m_len, &ctx_len, msg, msg_len, ctx);

	if (rc < 0)
		goto out;
	if (crypto_sign_detached(sig, NULL, m, m_len, sk) != 0) {
		rc = -UM_EINVAL;
		goto out;
	}
	/* Hedged ML-DSA: fresh randomness mixed with the key, as FIPS 204 advises. */
	rc =
	    um_mldsa87_sign(sig + HSIG_ED_SIG_BYTES, m, m_len, (const uint8_t *)ctx, ctx_len, sk + HSIG_ED_SK_BYTES, 0);
out:
	if (rc < 0)
		sodium_memzero(sig, UM_HSIG_BYTES);
	free(m);
	return rc;
}

int um_hsig_verify(const uint8_t sig[UM_HSIG_BYTES], const uint8_t *msg, size_t msg_len, const char *ctx,
		   const uint8_t pk[UM_HSIG_PK_BYTES])
{
	uint8_t *m = NULL;
	size_t m_len, ctx_len;
	int rc = hsig_message(&m, &m_len, &ctx_len, msg, msg_len, ctx);
	int ed_rc, mldsa_rc;

	if (rc < 0)
		return rc;
	/* Evaluate both halves every time: the result never tells which one
	 * failed, and a broken half cannot skip the other. */
	ed_rc = crypto_sign_verify_detached(sig, m, m_len, pk);
	mldsa_rc = um_mldsa87_verify(sig + HSIG_ED_SIG_BYTES, UM_MLDSA87_SIG_BYTES, m, m_len, (const uint8_t *)ctx,
				     ctx_len, pk + HSIG_ED_PK_BYTES);
	free(m);
	return (ed_rc == 0 && mldsa_rc == 0) ? 0 : -UM_EBADMSG;
}
