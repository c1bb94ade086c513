/* SPDX-License-Identifier: MIT */
/* ML-DSA-87 (FIPS 204): KeyGen_internal (Alg. 6), Sign_internal (Alg. 7),
 * Verify_internal (Alg. 8) and the pure external interface (Alg. 2/3).
 *
 * Constant time: s1, s2, t0, K, rnd, rho', rho'' and y only meet
 * branch-free arithmetic (c s1, c s2 and c t0 are sums of rotations of the
 * secrets whose offsets come from the public challenge c). What FIPS 204
 * lets us reveal is marked UM_MLDSA_DECLASSIFY (a no-op unless built with
 * -DUM_CTGRIND for the valgrind test): the public rho and t1, which nibbles
 * RejBoundedPoly rejects (independent of the accepted values), the
 * commitment hash c_tilde of each attempt, the per-attempt accept/reject bit (one branch, in
 * mldsa_sign_attempt), and z / h once accepted.
 *
 * Speed: signing expands A and the secrets once, outside the rejection
 * loop; per attempt only y, w and the challenge products are computed, the
 * latter without NTTs. Stack use: signing holds A (56 KiB) plus about
 * 57 KiB of vectors. */
#include <string.h>

#include <sodium.h>

#include "crypto/mldsa.h"
#include "crypto/mldsa_internal.h"
#include "crypto/sha3.h"
#include "util/error.h"

typedef struct um_mldsa_poly mldsa_poly;

enum {
	MLDSA_PK_T1_OFFSET = 32,
	MLDSA_SK_KEY_OFFSET = 32,
	MLDSA_SK_TR_OFFSET = 64,
	MLDSA_SK_S1_OFFSET = 128,
	MLDSA_SK_S2_OFFSET = MLDSA_SK_S1_OFFSET + UM_MLDSA_L * UM_MLDSA_ETA_POLY_BYTES,
	MLDSA_SK_T0_OFFSET = MLDSA_SK_S2_OFFSET + UM_MLDSA_K * UM_MLDSA_ETA_POLY_BYTES,
	MLDSA_SIG_Z_OFFSET = UM_MLDSA_CTILDE_BYTES,
	MLDSA_SIG_H_OFFSET = MLDSA_SIG_Z_OFFSET + UM_MLDSA_L * UM_MLDSA_Z_POLY_BYTES,
	MLDSA_W1_BYTES = UM_MLDSA_K * UM_MLDSA_W1_POLY_BYTES,
	MLDSA_T0_OFFSET = 1 << (UM_MLDSA_D - 1),
};

_Static_assert(MLDSA_SK_T0_OFFSET + UM_MLDSA_K * UM_MLDSA_T0_POLY_BYTES == UM_MLDSA87_SK_BYTES, "sk layout");
_Static_assert(MLDSA_SIG_H_OFFSET + UM_MLDSA_HINT_BYTES == UM_MLDSA87_SIG_BYTES, "sig layout");
_Static_assert(MLDSA_PK_T1_OFFSET + UM_MLDSA_K * UM_MLDSA_T1_POLY_BYTES == UM_MLDSA87_PK_BYTES, "pk layout");

/* ---- key generation ---- */

struct mldsa_keygen_secret {
	uint8_t seed[34];      /* xi || k || l */
	uint8_t expanded[128]; /* rho || rho' || K */
	mldsa_poly s1[UM_MLDSA_L];
	mldsa_poly s1hat[UM_MLDSA_L];
	mldsa_poly s2[UM_MLDSA_K];
	mldsa_poly t[UM_MLDSA_K];
	mldsa_poly t0[UM_MLDSA_K];
};

int um_mldsa87_keygen_seed(uint8_t pk[UM_MLDSA87_PK_BYTES], uint8_t sk[UM_MLDSA87_SK_BYTES],
			   const uint8_t xi[UM_MLDSA87_SEED_BYTES])
{
	struct mldsa_keygen_secret sec;
	mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L];
	mldsa_poly t1[UM_MLDSA_K];
	const uint8_t *rho = sec.expanded, *rhoprime = sec.expanded + 32, *key = sec.expanded + 96;

	/* H(xi || IntegerToBytes(k, 1) || IntegerToBytes(l, 1), 128). */
	memcpy(sec.seed, xi, 32);
	sec.seed[32] = UM_MLDSA_K;
	sec.seed[33] = UM_MLDSA_L;
	um_shake256(sec.expanded, sizeof sec.expanded, sec.seed, sizeof sec.seed);
	UM_MLDSA_DECLASSIFY(sec.expanded, 32); /* rho goes into pk */

	um_mldsa_expand_a(a, rho);
	um_mldsa_expand_s(sec.s1, sec.s2, rhoprime);

	memcpy(sec.s1hat, sec.s1, sizeof sec.s1hat);
	for (unsigned r = 0; r < UM_MLDSA_L; r++)
		um_mldsa_ntt(&sec.s1hat[r]);
	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		um_mldsa_poly_dot(&sec.t[i], a[i], sec.s1hat, UM_MLDSA_L);
		um_mldsa_invntt_tomont(&sec.t[i]);
		um_mldsa_poly_add(&sec.t[i], &sec.t[i], &sec.s2[i]);
		for (unsigned j = 0; j < UM_MLDSA_N; j++) {
			int32_t coeff = um_mldsa_freeze(sec.t[i].coeffs[j]);
			um_mldsa_power2round(&t1[i].coeffs[j], &sec.t0[i].coeffs[j], coeff);
		}
	}
	UM_MLDSA_DECLASSIFY(t1, sizeof t1);

	memcpy(pk, rho, 32);
	for (unsigned i = 0; i < UM_MLDSA_K; i++)
		um_mldsa_pack(pk + MLDSA_PK_T1_OFFSET + i * UM_MLDSA_T1_POLY_BYTES, &t1[i], 10, 0, 0);

	memcpy(sk, rho, 32);
	memcpy(sk + MLDSA_SK_KEY_OFFSET, key, 32);
	um_shake256(sk + MLDSA_SK_TR_OFFSET, UM_MLDSA_TR_BYTES, pk, UM_MLDSA87_PK_BYTES);
	for (unsigned r = 0; r < UM_MLDSA_L; r++)
		um_mldsa_pack(sk + MLDSA_SK_S1_OFFSET + r * UM_MLDSA_ETA_POLY_BYTES, &sec.s1[r], 3, UM_MLDSA_ETA, 1);
	for (unsigned r = 0; r < UM_MLDSA_K; r++)
		um_mldsa_pack(sk + MLDSA_SK_S2_OFFSET + r * UM_MLDSA_ETA_POLY_BYTES, &sec.s2[r], 3, UM_MLDSA_ETA, 1);
	for (unsigned r = 0; r < UM_MLDSA_K; r++)
		um_mldsa_pack(sk + MLDSA_SK_T0_OFFSET + r * UM_MLDSA_T0_POLY_BYTES, &sec.t0[r], UM_MLDSA_D,
			      MLDSA_T0_OFFSET, 1);

	sodium_memzero(&sec, sizeof sec);
	return 0;
}

int um_mldsa87_keygen(uint8_t pk[UM_MLDSA87_PK_BYTES], uint8_t sk[UM_MLDSA87_SK_BYTES])
{
	uint8_t xi[UM_MLDSA87_SEED_BYTES];
	int ret;

	randombytes_buf(xi, sizeof xi);
	ret = um_mldsa87_keygen_seed(pk, sk, xi);
	sodium_memzero(xi, sizeof xi);
	return ret;
}

/* ---- signing ---- */

struct mldsa_sign_secret {
	uint8_t hash_in[32 + 32 + UM_MLDSA87_MU_BYTES]; /* K || rnd || mu */
	uint8_t rhopp[64];
	uint8_t w1_bytes[MLDSA_W1_BYTES];
	/* s1, s2, t0 as um_mldsa_small_extend / um_mldsa_t0_extend output. */
	int8_t s1ext[UM_MLDSA_L][2 * UM_MLDSA_N];
	int8_t s2ext[UM_MLDSA_K][2 * UM_MLDSA_N];
	int32_t t0ext[UM_MLDSA_K][2 * UM_MLDSA_N];
	mldsa_poly y[UM_MLDSA_L];
	mldsa_poly z[UM_MLDSA_L];
	mldsa_poly w[UM_MLDSA_K]; /* w, then w - cs2 */
	mldsa_poly h[UM_MLDSA_K];
	mldsa_poly tmp;
	mldsa_poly low;
};

/* c_tilde = H(mu || w1Encode(w1), 64). */
static void mldsa_commitment_hash(uint8_t ctilde[UM_MLDSA_CTILDE_BYTES], const uint8_t mu[UM_MLDSA87_MU_BYTES],
				  const uint8_t w1_bytes[MLDSA_W1_BYTES])
{
	struct um_keccak xof;

	um_shake256_init(&xof);
	um_keccak_absorb(&xof, mu, UM_MLDSA87_MU_BYTES);
	um_keccak_absorb(&xof, w1_bytes, MLDSA_W1_BYTES);
	um_keccak_squeeze(&xof, ctilde, UM_MLDSA_CTILDE_BYTES);
	um_keccak_wipe(&xof);
}

/* One attempt of the Alg. 7 loop body after y: fills sig on acceptance.
 * Returns the public reject bit. */
static int mldsa_sign_attempt(uint8_t sig[UM_MLDSA87_SIG_BYTES], struct mldsa_sign_secret *s,
			      const mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L], const uint8_t mu[UM_MLDSA87_MU_BYTES])
{
	uint8_t ctilde[UM_MLDSA_CTILDE_BYTES];
	struct um_mldsa_challenge challenge;
	int32_t hint_count = 0;
	int reject = 0;

	/* w = NTT^-1(A * NTT(y)), w1 = HighBits(w). */
	memcpy(s->z, s->y, sizeof s->z);
	for (unsigned r = 0; r < UM_MLDSA_L; r++)
		um_mldsa_ntt(&s->z[r]);
	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		um_mldsa_poly_dot(&s->w[i], a[i], s->z, UM_MLDSA_L);
		um_mldsa_invntt_tomont(&s->w[i]);
		um_mldsa_poly_caddq(&s->w[i]);
		for (unsigned j = 0; j < UM_MLDSA_N; j++) {
			int32_t low;
			s->tmp.coeffs[j] = um_mldsa_decompose(&low, s->w[i].coeffs[j]);
		}
		um_mldsa_pack(s->w1_bytes + i * UM_MLDSA_W1_POLY_BYTES, &s->tmp, 4, 0, 0);
	}
	mldsa_commitment_hash(ctilde, mu, s->w1_bytes);
	/* c_tilde is public: output on acceptance, a random-oracle value of an
	 * unrevealed commitment on rejection (FIPS 204 lets it be revealed). */
	UM_MLDSA_DECLASSIFY(ctilde, sizeof ctilde);
	/* c has only tau nonzero +-1 coefficients: c s1, c s2 and c t0 are
	 * computed exactly as sums of rotations (no NTTs). s->tmp holds c. */
	um_mldsa_sample_in_ball(&s->tmp, ctilde);
	um_mldsa_challenge_from_poly(&challenge, &s->tmp);

	/* z = y + c s1; reject when ||z|| >= gamma1 - beta. */
	for (unsigned r = 0; r < UM_MLDSA_L; r++) {
		um_mldsa_small_mul(&s->z[r], &challenge, s->s1ext[r]);
		um_mldsa_poly_add(&s->z[r], &s->z[r], &s->y[r]);
		reject |= um_mldsa_poly_exceeds(&s->z[r], UM_MLDSA_GAMMA1 - UM_MLDSA_BETA);
	}

	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		/* w - c s2 and its low bits: ||r0|| >= gamma2 - beta rejects. */
		um_mldsa_small_mul(&s->tmp, &challenge, s->s2ext[i]);
		for (unsigned j = 0; j < UM_MLDSA_N; j++) {
			s->w[i].coeffs[j] = um_mldsa_freeze(s->w[i].coeffs[j] - s->tmp.coeffs[j]);
			/* HighBits(w - c s2) parked in h for the hint below. */
			s->h[i].coeffs[j] = um_mldsa_decompose(&s->low.coeffs[j], s->w[i].coeffs[j]);
		}
		reject |= um_mldsa_poly_exceeds(&s->low, UM_MLDSA_GAMMA2 - UM_MLDSA_BETA);

		/* c t0: ||c t0|| >= gamma2 rejects; hint = MakeHint(-ct0,
		 * w - cs2 + ct0), i.e. whether adding ct0 moves the high bits. */
		um_mldsa_t0_mul(&s->tmp, &challenge, s->t0ext[i]);
		reject |= um_mldsa_poly_exceeds(&s->tmp, UM_MLDSA_GAMMA2);
		for (unsigned j = 0; j < UM_MLDSA_N; j++) {
			int32_t low;
			int32_t base = s->h[i].coeffs[j];
			int32_t moved = um_mldsa_decompose(&low, um_mldsa_freeze(s->w[i].coeffs[j] + s->tmp.coeffs[j]));
			int32_t bit = (int32_t)((uint32_t) - (base ^ moved) >> 31);
			s->h[i].coeffs[j] = bit;
			hint_count += bit;
		}
	}
	reject |= (UM_MLDSA_OMEGA - hint_count) >> 31 & 1;

	/* The one secret-derived branch of the loop: the accept/reject bit,
	 * which FIPS 204 allows to be public. The ct-test declassifies it here. */
	UM_MLDSA_DECLASSIFY(&reject, sizeof reject);
	if (reject)
		return 1;

	/* Accepted: z and h are part of the output signature. */
	UM_MLDSA_DECLASSIFY(s->z, sizeof s->z);
	UM_MLDSA_DECLASSIFY(s->h, sizeof s->h);
	memcpy(sig, ctilde, UM_MLDSA_CTILDE_BYTES);
	for (unsigned r = 0; r < UM_MLDSA_L; r++)
		um_mldsa_pack(sig + MLDSA_SIG_Z_OFFSET + r * UM_MLDSA_Z_POLY_BYTES, &s->z[r], 20, UM_MLDSA_GAMMA1, 1);
	um_mldsa_hint_pack(sig + MLDSA_SIG_H_OFFSET, s->h);
	return 0;
}

int um_mldsa87_sign_mu(uint8_t sig[UM_MLDSA87_SIG_BYTES], const uint8_t mu[UM_MLDSA87_MU_BYTES],
		       const uint8_t sk[UM_MLDSA87_SK_BYTES], const uint8_t rnd[32])
{
	struct mldsa_sign_secret sec;
	mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L];
	uint8_t rho[32];
	int malformed = 0, ret = -UM_ELIMIT;

	memcpy(rho, sk, sizeof rho);
	UM_MLDSA_DECLASSIFY(rho, sizeof rho); /* also in pk */
	/* A 3-bit field above 2 eta gives |s| > eta: not an skEncode output.
	 * Checked branch-free; only the validity bit is revealed. */
	for (unsigned r = 0; r < UM_MLDSA_L; r++) {
		um_mldsa_unpack(&sec.tmp, sk + MLDSA_SK_S1_OFFSET + r * UM_MLDSA_ETA_POLY_BYTES, 3, UM_MLDSA_ETA, 1);
		malformed |= um_mldsa_poly_exceeds(&sec.tmp, UM_MLDSA_ETA + 1);
		um_mldsa_small_extend(sec.s1ext[r], &sec.tmp);
	}
	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		um_mldsa_unpack(&sec.tmp, sk + MLDSA_SK_S2_OFFSET + i * UM_MLDSA_ETA_POLY_BYTES, 3, UM_MLDSA_ETA, 1);
		malformed |= um_mldsa_poly_exceeds(&sec.tmp, UM_MLDSA_ETA + 1);
		um_mldsa_small_extend(sec.s2ext[i], &sec.tmp);
		um_mldsa_unpack(&sec.tmp, sk + MLDSA_SK_T0_OFFSET + i * UM_MLDSA_T0_POLY_BYTES, UM_MLDSA_D,
				MLDSA_T0_OFFSET, 1);
		um_mldsa_t0_extend(sec.t0ext[i], &sec.tmp);
	}
	UM_MLDSA_DECLASSIFY(&malformed, sizeof malformed);
	if (malformed) {
		ret = -UM_EINVAL;
		goto out;
	}
	um_mldsa_expand_a(a, rho);

	/* rho'' = H(K || rnd || mu, 64). */
	memcpy(sec.hash_in, sk + MLDSA_SK_KEY_OFFSET, 32);
	memcpy(sec.hash_in + 32, rnd, 32);
	memcpy(sec.hash_in + 64, mu, UM_MLDSA87_MU_BYTES);
	um_shake256(sec.rhopp, sizeof sec.rhopp, sec.hash_in, sizeof sec.hash_in);

	for (unsigned attempt = 0; attempt < UM_MLDSA87_MAX_ATTEMPTS; attempt++) {
		um_mldsa_expand_mask(sec.y, sec.rhopp, (uint16_t)(attempt * UM_MLDSA_L));
		if (mldsa_sign_attempt(sig, &sec, a, mu) == 0) {
			ret = 0;
			break;
		}
	}
out:
	sodium_memzero(&sec, sizeof sec);
	return ret;
}

/* mu = H(tr || prefix || msg, 64); prefix may be empty. */
static void mldsa_message_hash(uint8_t mu[UM_MLDSA87_MU_BYTES], const uint8_t tr[UM_MLDSA_TR_BYTES],
			       const uint8_t *prefix, size_t prefix_len, const uint8_t *ctx, size_t ctx_len,
			       const uint8_t *msg, size_t msg_len)
{
	struct um_keccak xof;

	um_shake256_init(&xof);
	um_keccak_absorb(&xof, tr, UM_MLDSA_TR_BYTES);
	if (prefix_len)
		um_keccak_absorb(&xof, prefix, prefix_len);
	if (ctx_len)
		um_keccak_absorb(&xof, ctx, ctx_len);
	if (msg_len)
		um_keccak_absorb(&xof, msg, msg_len);
	um_keccak_squeeze(&xof, mu, UM_MLDSA87_MU_BYTES);
	um_keccak_wipe(&xof);
}

int um_mldsa87_sign_internal(uint8_t sig[UM_MLDSA87_SIG_BYTES], const uint8_t *mprime, size_t mprime_len,
			     const uint8_t sk[UM_MLDSA87_SK_BYTES], const uint8_t rnd[32])
{
	uint8_t mu[UM_MLDSA87_MU_BYTES];

	mldsa_message_hash(mu, sk + MLDSA_SK_TR_OFFSET, NULL, 0, NULL, 0, mprime, mprime_len);
	return um_mldsa87_sign_mu(sig, mu, sk, rnd);
}

int um_mldsa87_sign(uint8_t sig[UM_MLDSA87_SIG_BYTES], const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
		    size_t ctx_len, const uint8_t sk[UM_MLDSA87_SK_BYTES], int deterministic)
{
	uint8_t mu[UM_MLDSA87_MU_BYTES];
	uint8_t rnd[32] = {0};
	uint8_t prefix[2];
	int ret;

	if (ctx_len > 255)
		return -UM_EINVAL;
	prefix[0] = 0; /* pure ML-DSA domain separator */
	prefix[1] = (uint8_t)ctx_len;
	mldsa_message_hash(mu, sk + MLDSA_SK_TR_OFFSET, prefix, sizeof prefix, ctx, ctx_len, msg, msg_len);
	if (!deterministic)
		randombytes_buf(rnd, sizeof rnd);
	ret = um_mldsa87_sign_mu(sig, mu, sk, rnd);
	sodium_memzero(rnd, sizeof rnd);
	return ret;
}

/* ---- verification (public data only) ---- */

int um_mldsa87_verify_mu(const uint8_t *sig, size_t sig_len, const uint8_t mu[UM_MLDSA87_MU_BYTES],
			 const uint8_t pk[UM_MLDSA87_PK_BYTES])
{
	mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L];
	mldsa_poly z[UM_MLDSA_L];
	mldsa_poly h[UM_MLDSA_K];
	mldsa_poly c, w, t1;
	uint8_t w1_bytes[MLDSA_W1_BYTES];
	uint8_t ctilde[UM_MLDSA_CTILDE_BYTES];

	if (sig_len != UM_MLDSA87_SIG_BYTES)
		return -UM_EBADMSG;
	if (um_mldsa_hint_unpack(h, sig + MLDSA_SIG_H_OFFSET) != 0)
		return -UM_EBADMSG;
	for (unsigned r = 0; r < UM_MLDSA_L; r++) {
		um_mldsa_unpack(&z[r], sig + MLDSA_SIG_Z_OFFSET + r * UM_MLDSA_Z_POLY_BYTES, 20, UM_MLDSA_GAMMA1, 1);
		if (um_mldsa_poly_exceeds(&z[r], UM_MLDSA_GAMMA1 - UM_MLDSA_BETA))
			return -UM_EBADMSG;
		um_mldsa_ntt(&z[r]);
	}

	um_mldsa_expand_a(a, pk);
	um_mldsa_sample_in_ball(&c, sig);
	um_mldsa_ntt(&c);

	/* w'approx = NTT^-1(A z - c t1 2^d); w1' = UseHint(h, w'approx). */
	for (unsigned i = 0; i < UM_MLDSA_K; i++) {
		um_mldsa_unpack(&t1, pk + MLDSA_PK_T1_OFFSET + i * UM_MLDSA_T1_POLY_BYTES, 10, 0, 0);
		for (unsigned j = 0; j < UM_MLDSA_N; j++)
			t1.coeffs[j] *= 1 << UM_MLDSA_D;
		um_mldsa_ntt(&t1);
		um_mldsa_poly_dot_minus(&w, a[i], z, UM_MLDSA_L, &c, &t1);
		um_mldsa_invntt_tomont(&w);
		um_mldsa_poly_caddq(&w);
		for (unsigned j = 0; j < UM_MLDSA_N; j++)
			w.coeffs[j] = um_mldsa_use_hint(h[i].coeffs[j], w.coeffs[j]);
		um_mldsa_pack(w1_bytes + i * UM_MLDSA_W1_POLY_BYTES, &w, 4, 0, 0);
	}
	mldsa_commitment_hash(ctilde, mu, w1_bytes);
	return sodium_memcmp(ctilde, sig, sizeof ctilde) == 0 ? 0 : -UM_EBADMSG;
}

int um_mldsa87_verify_internal(const uint8_t *sig, size_t sig_len, const uint8_t *mprime, size_t mprime_len,
			       const uint8_t pk[UM_MLDSA87_PK_BYTES])
{
	uint8_t tr[UM_MLDSA_TR_BYTES];
	uint8_t mu[UM_MLDSA87_MU_BYTES];

	if (sig_len != UM_MLDSA87_SIG_BYTES)
		return -UM_EBADMSG;
	um_shake256(tr, sizeof tr, pk, UM_MLDSA87_PK_BYTES);
	mldsa_message_hash(mu, tr, NULL, 0, NULL, 0, mprime, mprime_len);
	return um_mldsa87_verify_mu(sig, sig_len, mu, pk);
}

int um_mldsa87_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
		      size_t ctx_len, const uint8_t pk[UM_MLDSA87_PK_BYTES])
{
	uint8_t tr[UM_MLDSA_TR_BYTES];
	uint8_t mu[UM_MLDSA87_MU_BYTES];
	uint8_t prefix[2];

	if (ctx_len > 255)
		return -UM_EINVAL;
	if (sig_len != UM_MLDSA87_SIG_BYTES)
		return -UM_EBADMSG;
	prefix[0] = 0;
	prefix[1] = (uint8_t)ctx_len;
	um_shake256(tr, sizeof tr, pk, UM_MLDSA87_PK_BYTES);
	mldsa_message_hash(mu, tr, prefix, sizeof prefix, ctx, ctx_len, msg, msg_len);
	return um_mldsa87_verify_mu(sig, sig_len, mu, pk);
}
