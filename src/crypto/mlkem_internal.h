/* SPDX-License-Identifier: MIT */
/* ML-KEM internals shared by mlkem.c and mlkem_poly.c (and the unit test).
 * Coefficients are int16_t representatives of Z_q; which range a function
 * accepts and returns is stated next to it. Not part of the public API. */
#ifndef UM_CRYPTO_MLKEM_INTERNAL_H
#define UM_CRYPTO_MLKEM_INTERNAL_H

#include <stdint.h>

#ifdef UM_CTGRIND
#include <valgrind/memcheck.h>
/* Marks a value public for the valgrind constant-time test (tests/ct): used
 * only where FIPS 203 makes the value public (rho, which ek carries). */
#define MLKEM_DECLASSIFY(ptr, len) VALGRIND_MAKE_MEM_DEFINED((ptr), (len))
#else
#define MLKEM_DECLASSIFY(ptr, len) ((void)(ptr), (void)(len))
#endif

enum {
	MLKEM_N = 256,
	MLKEM_Q = 3329,
	MLKEM_K = 4,
	MLKEM_DU = 11,
	MLKEM_DV = 5,
	MLKEM_POLY_BYTES = 384,                           /* ByteEncode12 of one poly */
	MLKEM_POLYVEC_BYTES = MLKEM_K * MLKEM_POLY_BYTES, /* 1536 */
	MLKEM_POLY_DU_BYTES = 32 * MLKEM_DU,              /* 352 */
	MLKEM_POLY_DV_BYTES = 32 * MLKEM_DV,              /* 160 */
	MLKEM_CBD_BYTES = 128,                            /* PRF output for eta = 2 */
};

struct mlkem_poly {
	int16_t coeffs[MLKEM_N];
};

/* Montgomery multiplication: a * b * 2^-16 mod q, result in (-q, q). */
int16_t mlkem_fqmul(int16_t a, int16_t b);
/* Any int16_t to its representative in [-(q-1)/2, (q-1)/2]. */
int16_t mlkem_barrett_reduce(int16_t a);
/* Compress_d of x in [0, q) for d <= 11, without a division instruction. */
uint16_t mlkem_compress(uint16_t x, unsigned d);
/* Decompress_d of y in [0, 2^d). */
int16_t mlkem_decompress(uint16_t y, unsigned d);

/* Forward NTT (FIPS 203 Alg. 9). Input |c| <= q; output Barrett-reduced. */
void mlkem_poly_ntt(struct mlkem_poly *p);
/* Inverse NTT (Alg. 10) times 2^16: undoes the 2^-16 of a basemul product.
 * Input any int16_t with |c| <= 2q; output in (-q, q). */
void mlkem_poly_invntt_from_basemul(struct mlkem_poly *p);
/* b[2i+1] * gamma_i for the odd half of each degree-one product; computed
 * once per vector b that is multiplied by several a. */
struct mlkem_poly_mulcache {
	int16_t coeffs[MLKEM_N / 2];
};

void mlkem_poly_mulcache(struct mlkem_poly_mulcache *cache, const struct mlkem_poly *b);
/* r = sum_j a[j] o b[j] (MultiplyNTTs, Alg. 11, summed) times 2^-16, in
 * (-q, q). Needs |a| < q and |b| <= q/2 (b Barrett-reduced or NTT output). */
void mlkem_polyvec_basemul(struct mlkem_poly *r, const struct mlkem_poly a[MLKEM_K], const struct mlkem_poly b[MLKEM_K],
			   const struct mlkem_poly_mulcache cache[MLKEM_K]);
/* Multiplies every coefficient by 2^16 (cancels one basemul factor). */
void mlkem_poly_tomont(struct mlkem_poly *p);
void mlkem_poly_reduce(struct mlkem_poly *p);
void mlkem_poly_add(struct mlkem_poly *r, const struct mlkem_poly *a);
void mlkem_poly_sub(struct mlkem_poly *r, const struct mlkem_poly *a);

/* ByteEncode12 after reducing to [0, q). */
void mlkem_poly_encode12(uint8_t out[MLKEM_POLY_BYTES], const struct mlkem_poly *p);
/* ByteDecode12 reduced into [0, q). Returns 1 if some encoded value was
 * >= q (the modulus check fails), else 0; constant time either way. */
unsigned mlkem_poly_decode12(struct mlkem_poly *p, const uint8_t in[MLKEM_POLY_BYTES]);
/* ByteEncode_d(Compress_d(p)) and Decompress_d(ByteDecode_d(in)), d in 1..11. */
void mlkem_poly_compress_encode(uint8_t *out, const struct mlkem_poly *p, unsigned d);
void mlkem_poly_decode_decompress(struct mlkem_poly *p, const uint8_t *in, unsigned d);
/* Decompress_1(ByteDecode_1(m)) and ByteEncode_1(Compress_1(p)). */
void mlkem_poly_from_message(struct mlkem_poly *p, const uint8_t m[32]);
void mlkem_poly_to_message(uint8_t m[32], const struct mlkem_poly *p);

/* SamplePolyCBD_2(PRF_2(seed, nonce)) (Alg. 8 with eta = 2). */
void mlkem_poly_sample_cbd2(struct mlkem_poly *p, const uint8_t seed[32], uint8_t nonce);
/* SampleNTT(rho || b0 || b1) (Alg. 7); coefficients in [0, q). */
void mlkem_poly_sample_ntt(struct mlkem_poly *p, const uint8_t rho[32], uint8_t b0, uint8_t b1);
/* Four at once (same results) through the 4-way Keccak (AVX2, or two
 * 2-way portable permutations, faster than four scalar streams):
 * p[j] = SamplePolyCBD_2(PRF_2(seed, nonce + j)) and
 * p[j] = SampleNTT(rho || b0[j] || b1[j]). */
void mlkem_poly_sample_cbd2_x4(struct mlkem_poly p[4], const uint8_t seed[32], uint8_t nonce);
void mlkem_poly_sample_ntt_x4(struct mlkem_poly p[4], const uint8_t rho[32], const uint8_t b0[4], const uint8_t b1[4]);

#endif
