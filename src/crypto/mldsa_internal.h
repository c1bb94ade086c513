/* SPDX-License-Identifier: MIT */
/* ML-DSA-87 internals shared by mldsa.c, mldsa_poly.c, mldsa_pack.c and
 * mldsa_sample.c. Not a public API: only the ML-DSA files and its unit test
 * include this.
 *
 * Representation: a polynomial is 256 int32 coefficients. Functions state
 * the coefficient range they expect and produce; "small" means |a| < q. */
#ifndef UM_CRYPTO_MLDSA_INTERNAL_H
#define UM_CRYPTO_MLDSA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef UM_CTGRIND
#include <valgrind/memcheck.h>
/* Marks a value as public for the valgrind constant-time test: each use is a
 * place where FIPS 204 lets the value be revealed. */
#define UM_MLDSA_DECLASSIFY(ptr, len) VALGRIND_MAKE_MEM_DEFINED((ptr), (len))
#else
#define UM_MLDSA_DECLASSIFY(ptr, len) ((void)(ptr), (void)(len))
#endif

enum {
	UM_MLDSA_N = 256,
	UM_MLDSA_Q = 8380417,
	UM_MLDSA_K = 8,
	UM_MLDSA_L = 7,
	UM_MLDSA_ETA = 2,
	UM_MLDSA_TAU = 60,
	UM_MLDSA_CTILDE_BYTES = 64, /* lambda / 4 */
	UM_MLDSA_GAMMA1 = 1 << 19,
	UM_MLDSA_GAMMA2 = (UM_MLDSA_Q - 1) / 32,
	UM_MLDSA_OMEGA = 75,
	UM_MLDSA_BETA = 120, /* tau * eta */
	UM_MLDSA_D = 13,
	UM_MLDSA_TR_BYTES = 64,

	/* Packed sizes. */
	UM_MLDSA_T1_POLY_BYTES = 320, /* 10 bits per coefficient */
	UM_MLDSA_ETA_POLY_BYTES = 96, /* 3 bits */
	UM_MLDSA_T0_POLY_BYTES = 416, /* 13 bits */
	UM_MLDSA_Z_POLY_BYTES = 640,  /* 20 bits */
	UM_MLDSA_W1_POLY_BYTES = 128, /* 4 bits */
	UM_MLDSA_HINT_BYTES = UM_MLDSA_OMEGA + UM_MLDSA_K,
};

struct um_mldsa_poly {
	int32_t coeffs[UM_MLDSA_N];
};

/* ---- mldsa_poly.c: arithmetic mod q ---- */

/* a * 2^-32 mod q for |a| < q * 2^31; result in (-q, q). */
int32_t um_mldsa_montgomery_reduce(int64_t a);
/* Any int32 to a representative in [-6283009, 6283008]. */
int32_t um_mldsa_reduce32(int32_t a);
/* |a| < 2^31 - q to [0, q). */
int32_t um_mldsa_freeze(int32_t a);
/* Coefficients with |a| < q to [0, q). */
void um_mldsa_poly_caddq(struct um_mldsa_poly *p);
/* Any coefficients to the centered representative in [-(q-1)/2, (q-1)/2]. */
void um_mldsa_poly_center(struct um_mldsa_poly *p);
void um_mldsa_poly_reduce(struct um_mldsa_poly *p);
void um_mldsa_poly_add(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b);
void um_mldsa_poly_sub(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b);

/* Forward NTT (FIPS 204 Alg. 41), input |a| < q, output |a| < 9q. */
void um_mldsa_ntt(struct um_mldsa_poly *p);
/* Inverse NTT (Alg. 42) that also multiplies by 2^32 (undoing one
 * Montgomery factor of the pointwise product). Input |a| < q, output |a| < q. */
void um_mldsa_invntt_tomont(struct um_mldsa_poly *p);
/* r = a * b * 2^-32 pointwise (NTT domain); |a|, |b| < 9q, result |r| < q. */
void um_mldsa_poly_pointwise(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b);
/* r = sum_i a[i] * b[i] * 2^-32 with one reduction per coefficient;
 * count <= 8, |a| < q, |b| < 9q; result |r| < q. */
void um_mldsa_poly_dot(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b,
		       size_t count);

/* The challenge c (SampleInBall output: tau coefficients +-1, public) as
 * the lists of its +1 and -1 positions, for multiplying it with the
 * secrets s1, s2 and t0 directly instead of through the NTT. */
struct um_mldsa_challenge {
	uint8_t plus[UM_MLDSA_TAU], minus[UM_MLDSA_TAU];
	unsigned plus_count, minus_count;
};

void um_mldsa_challenge_from_poly(struct um_mldsa_challenge *ch, const struct um_mldsa_poly *c);
/* ext = (-s, s): the negacyclic extension whose 256-wide windows are the
 * rotations X^p s. Bytes for |s| <= eta, int32 for t0. */
void um_mldsa_small_extend(int8_t ext[2 * UM_MLDSA_N], const struct um_mldsa_poly *s);
void um_mldsa_t0_extend(int32_t ext[2 * UM_MLDSA_N], const struct um_mldsa_poly *t0);
/* r = c * s exactly (|r| <= tau * eta) and r = c * t0 exactly (|r| <=
 * tau * 2^12), from the extensions above. Additions only, branching and
 * indexing only on the public c. */
void um_mldsa_small_mul(struct um_mldsa_poly *r, const struct um_mldsa_challenge *ch, const int8_t ext[2 * UM_MLDSA_N]);
void um_mldsa_t0_mul(struct um_mldsa_poly *r, const struct um_mldsa_challenge *ch, const int32_t ext[2 * UM_MLDSA_N]);

/* r = (sum_i a[i] * b[i] - c * t) * 2^-32, one reduction per coefficient
 * (verification's A z - c t1): count <= 7, |a| < q, |b|, |c|, |t| < 9q;
 * result |r| < q. */
void um_mldsa_poly_dot_minus(struct um_mldsa_poly *r, const struct um_mldsa_poly *a, const struct um_mldsa_poly *b,
			     size_t count, const struct um_mldsa_poly *c, const struct um_mldsa_poly *t);

/* Power2Round (Alg. 35) of r in [0, q): r1 to r1, r0 to r0. Branch-free. */
void um_mldsa_power2round(int32_t *r1, int32_t *r0, int32_t r);
/* Decompose (Alg. 36) of r in [0, q): returns r1 = HighBits, *r0 = LowBits.
 * Branch-free. */
int32_t um_mldsa_decompose(int32_t *r0, int32_t r);
/* UseHint (Alg. 40), r in [0, q); public data only. */
int32_t um_mldsa_use_hint(int32_t hint, int32_t r);
/* 1 when some |coeff| >= bound (coefficients |a| < q, centered), else 0.
 * Branch-free: only the returned bit depends on the data. */
int um_mldsa_poly_exceeds(const struct um_mldsa_poly *p, int32_t bound);

/* ---- mldsa_pack.c: FIPS 204 bit packing (little-endian bit order) ---- */

/* Writes 256 values of `bits` bits each; value = offset - coeff
 * (offset 0 and negated coefficients give SimpleBitPack). */
void um_mldsa_pack(uint8_t *out, const struct um_mldsa_poly *p, unsigned bits, int32_t offset, int negate);
/* Inverse: coeff = offset - value (negate) or value (offset ignored). */
void um_mldsa_unpack(struct um_mldsa_poly *p, const uint8_t *in, unsigned bits, int32_t offset, int negate);
/* HintBitPack (Alg. 20): h holds 0/1 coefficients, at most omega ones. */
void um_mldsa_hint_pack(uint8_t out[UM_MLDSA_HINT_BYTES], const struct um_mldsa_poly h[UM_MLDSA_K]);
/* HintBitUnpack (Alg. 21) with every malformation check; 0 or -UM_EBADMSG. */
int um_mldsa_hint_unpack(struct um_mldsa_poly h[UM_MLDSA_K], const uint8_t in[UM_MLDSA_HINT_BYTES]);

/* ---- mldsa_sample.c: XOF-based sampling ---- */

/* ExpandA (Alg. 32): A[r][s] in the NTT domain, coefficients in [0, q). */
void um_mldsa_expand_a(struct um_mldsa_poly a[UM_MLDSA_K][UM_MLDSA_L], const uint8_t rho[32]);
/* RejBoundedPoly (Alg. 31) for eta = 2 from rho' (64 bytes) and a 16-bit nonce. */
void um_mldsa_rej_bounded(struct um_mldsa_poly *p, const uint8_t rhoprime[64], uint16_t nonce);
/* ExpandS (Alg. 33): s1[r] = RejBoundedPoly(rho' || r), s2[r] =
 * RejBoundedPoly(rho' || l + r); four streams at a time. */
void um_mldsa_expand_s(struct um_mldsa_poly s1[UM_MLDSA_L], struct um_mldsa_poly s2[UM_MLDSA_K],
		       const uint8_t rhoprime[64]);
/* ExpandMask (Alg. 34): y[r] for r < l, from rho'' and kappa. */
void um_mldsa_expand_mask(struct um_mldsa_poly y[UM_MLDSA_L], const uint8_t rhopp[64], uint16_t kappa);
/* SampleInBall (Alg. 29) from the public c_tilde. */
void um_mldsa_sample_in_ball(struct um_mldsa_poly *c, const uint8_t ctilde[UM_MLDSA_CTILDE_BYTES]);

#endif
