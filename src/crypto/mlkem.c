/* SPDX-License-Identifier: MIT */
/* ML-KEM-1024 (FIPS 203, August 2024): K-PKE (Alg. 13-15) and the KEM
 * (Alg. 16-18) with the §7.2 / §7.3 input checks. The matrix A is sampled
 * one entry at a time where it is used, so no k x k matrix sits on the stack.
 * Every buffer that held a secret is wiped before returning. */
#include <sodium.h>
#include <string.h>

#include "crypto/mlkem.h"
#include "crypto/mlkem_internal.h"
#include "crypto/sha3.h"
#include "util/error.h"

enum {
	EK_RHO_OFFSET = MLKEM_POLYVEC_BYTES,                   /* rho in ek */
	DK_EK_OFFSET = MLKEM_POLYVEC_BYTES,                    /* ek in dk */
	DK_HASH_OFFSET = DK_EK_OFFSET + UM_MLKEM1024_EK_BYTES, /* H(ek) in dk */
	DK_Z_OFFSET = DK_HASH_OFFSET + 32,                     /* z in dk */
	CT_V_OFFSET = MLKEM_K * MLKEM_POLY_DU_BYTES,           /* c2 in ct */
};

_Static_assert(CT_V_OFFSET + MLKEM_POLY_DV_BYTES == UM_MLKEM1024_CT_BYTES, "ct layout");
_Static_assert(DK_Z_OFFSET + 32 == UM_MLKEM1024_DK_BYTES, "dk layout");
/* The 4-way samplers below fill exactly one vector of k polynomials. */
_Static_assert(MLKEM_K == 4, "k = 4 for the 4-way sampling");
_Static_assert(EK_RHO_OFFSET + 32 == UM_MLKEM1024_EK_BYTES, "ek layout");

/* K-PKE.KeyGen(d): writes ek and dk_PKE = ByteEncode12(s_hat). */
static void kpke_keygen(uint8_t ek[UM_MLKEM1024_EK_BYTES], uint8_t dk_pke[MLKEM_POLYVEC_BYTES], const uint8_t d[32])
{
	struct {
		struct mlkem_poly s[MLKEM_K];
		struct mlkem_poly_mulcache s_cache[MLKEM_K];
		struct mlkem_poly a_row[MLKEM_K];
		struct mlkem_poly e[MLKEM_K];
		struct mlkem_poly acc;
		uint8_t seed[33];
		uint8_t rho_sigma[64];
	} w;
	const uint8_t *rho = w.rho_sigma, *sigma = w.rho_sigma + 32;

	/* (rho, sigma) = G(d || k): the final standard's domain separation. */
	memcpy(w.seed, d, 32);
	w.seed[32] = MLKEM_K;
	um_sha3_512(w.rho_sigma, w.seed, sizeof(w.seed));
	/* rho is public (it ends up in ek); A's rejection sampling may branch on it. */
	MLKEM_DECLASSIFY(w.rho_sigma, 32);

	/* s[i] from nonce i, e[i] from nonce k + i: four PRF streams at a time. */
	mlkem_poly_sample_cbd2_x4(w.s, sigma, 0);
	mlkem_poly_sample_cbd2_x4(w.e, sigma, MLKEM_K);
	for (unsigned i = 0; i < MLKEM_K; i++) {
		mlkem_poly_ntt(&w.s[i]);
		mlkem_poly_mulcache(&w.s_cache[i], &w.s[i]);
	}
	for (unsigned i = 0; i < MLKEM_K; i++) {
		/* t_hat[i] = sum_j A[i][j] s_hat[j] + e_hat[i], A[i][j] = SampleNTT(rho || j || i). */
		const uint8_t columns[MLKEM_K] = {0, 1, 2, 3};
		const uint8_t rows[MLKEM_K] = {(uint8_t)i, (uint8_t)i, (uint8_t)i, (uint8_t)i};

		mlkem_poly_sample_ntt_x4(w.a_row, rho, columns, rows);
		mlkem_polyvec_basemul(&w.acc, w.a_row, w.s, w.s_cache);
		mlkem_poly_tomont(&w.acc);
		mlkem_poly_ntt(&w.e[i]);
		mlkem_poly_add(&w.acc, &w.e[i]);
		mlkem_poly_encode12(ek + i * MLKEM_POLY_BYTES, &w.acc);
	}
	memcpy(ek + EK_RHO_OFFSET, rho, 32);
	for (unsigned i = 0; i < MLKEM_K; i++)
		mlkem_poly_encode12(dk_pke + i * MLKEM_POLY_BYTES, &w.s[i]);
	sodium_memzero(&w, sizeof(w));
}

/* ByteDecode12 of t_hat from ek; returns nonzero if the modulus check fails. */
static unsigned decode_t_hat(struct mlkem_poly t_hat[MLKEM_K], const uint8_t ek[UM_MLKEM1024_EK_BYTES])
{
	unsigned unreduced = 0;

	for (unsigned i = 0; i < MLKEM_K; i++)
		unreduced |= mlkem_poly_decode12(&t_hat[i], ek + i * MLKEM_POLY_BYTES);
	return unreduced;
}

/* K-PKE.Encrypt(ek, m, r), with t_hat already decoded from ek (so decoding
 * and the modulus check happen once). */
static void kpke_encrypt(uint8_t ct[UM_MLKEM1024_CT_BYTES], const struct mlkem_poly t_hat[MLKEM_K],
			 const uint8_t ek[UM_MLKEM1024_EK_BYTES], const uint8_t m[32], const uint8_t coins[32])
{
	struct {
		struct mlkem_poly r[MLKEM_K];
		struct mlkem_poly_mulcache r_cache[MLKEM_K];
		struct mlkem_poly a_column[MLKEM_K];
		struct mlkem_poly e1[MLKEM_K];
		struct mlkem_poly acc, noise;
	} w;
	const uint8_t *rho = ek + EK_RHO_OFFSET;

	/* r[i] from nonce i, e1[i] from nonce k + i: four PRF streams at a time. */
	mlkem_poly_sample_cbd2_x4(w.r, coins, 0);
	mlkem_poly_sample_cbd2_x4(w.e1, coins, MLKEM_K);
	for (unsigned i = 0; i < MLKEM_K; i++) {
		mlkem_poly_ntt(&w.r[i]);
		mlkem_poly_mulcache(&w.r_cache[i], &w.r[i]);
	}
	for (unsigned i = 0; i < MLKEM_K; i++) {
		/* u[i] = NTT^-1(sum_j A[j][i] r_hat[j]) + e1[i]; A[j][i] = SampleNTT(rho || i || j). */
		const uint8_t columns[MLKEM_K] = {(uint8_t)i, (uint8_t)i, (uint8_t)i, (uint8_t)i};
		const uint8_t rows[MLKEM_K] = {0, 1, 2, 3};

		mlkem_poly_sample_ntt_x4(w.a_column, rho, columns, rows);
		mlkem_polyvec_basemul(&w.acc, w.a_column, w.r, w.r_cache);
		mlkem_poly_invntt_from_basemul(&w.acc);
		mlkem_poly_add(&w.acc, &w.e1[i]);
		mlkem_poly_compress_encode(ct + i * MLKEM_POLY_DU_BYTES, &w.acc, MLKEM_DU);
	}
	/* v = NTT^-1(t_hat . r_hat) + e2 + Decompress_1(m). */
	mlkem_polyvec_basemul(&w.acc, t_hat, w.r, w.r_cache);
	mlkem_poly_invntt_from_basemul(&w.acc);
	mlkem_poly_sample_cbd2(&w.noise, coins, (uint8_t)(2 * MLKEM_K));
	mlkem_poly_add(&w.acc, &w.noise);
	mlkem_poly_from_message(&w.noise, m);
	mlkem_poly_add(&w.acc, &w.noise);
	mlkem_poly_compress_encode(ct + CT_V_OFFSET, &w.acc, MLKEM_DV);
	sodium_memzero(&w, sizeof(w));
}

/* K-PKE.Decrypt(dk_PKE, c). */
static void kpke_decrypt(uint8_t m[32], const uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
			 const uint8_t ct[UM_MLKEM1024_CT_BYTES])
{
	struct {
		struct mlkem_poly u[MLKEM_K], s[MLKEM_K];
		struct mlkem_poly_mulcache u_cache[MLKEM_K];
		struct mlkem_poly acc, v;
	} w;

	for (unsigned i = 0; i < MLKEM_K; i++) {
		mlkem_poly_decode_decompress(&w.u[i], ct + i * MLKEM_POLY_DU_BYTES, MLKEM_DU);
		mlkem_poly_ntt(&w.u[i]);
		mlkem_poly_mulcache(&w.u_cache[i], &w.u[i]);
		(void)mlkem_poly_decode12(&w.s[i], dk_pke + i * MLKEM_POLY_BYTES);
	}
	mlkem_polyvec_basemul(&w.acc, w.s, w.u, w.u_cache);
	mlkem_poly_invntt_from_basemul(&w.acc);
	/* w = v - NTT^-1(s_hat . NTT(u)); m = ByteEncode_1(Compress_1(w)). */
	mlkem_poly_decode_decompress(&w.v, ct + CT_V_OFFSET, MLKEM_DV);
	mlkem_poly_sub(&w.v, &w.acc);
	mlkem_poly_to_message(m, &w.v);
	sodium_memzero(&w, sizeof(w));
}

int um_mlkem1024_check_ek(const uint8_t ek[UM_MLKEM1024_EK_BYTES])
{
	struct mlkem_poly t_hat[MLKEM_K];

	/* ByteEncode12(ByteDecode12(ek)) == ek exactly when every value is < q. */
	return decode_t_hat(t_hat, ek) ? -UM_EINVAL : 0;
}

int um_mlkem1024_check_dk(const uint8_t dk[UM_MLKEM1024_DK_BYTES])
{
	uint8_t hash[32];

	um_sha3_256(hash, dk + DK_EK_OFFSET, UM_MLKEM1024_EK_BYTES);
	return sodium_memcmp(hash, dk + DK_HASH_OFFSET, 32) == 0 ? 0 : -UM_EINVAL;
}

int um_mlkem1024_keygen_derand(uint8_t ek[UM_MLKEM1024_EK_BYTES], uint8_t dk[UM_MLKEM1024_DK_BYTES],
			       const uint8_t d[32], const uint8_t z[32])
{
	/* dk = dk_PKE || ek || H(ek) || z. */
	kpke_keygen(ek, dk, d);
	memcpy(dk + DK_EK_OFFSET, ek, UM_MLKEM1024_EK_BYTES);
	um_sha3_256(dk + DK_HASH_OFFSET, ek, UM_MLKEM1024_EK_BYTES);
	memcpy(dk + DK_Z_OFFSET, z, 32);
	return 0;
}

int um_mlkem1024_keygen(uint8_t ek[UM_MLKEM1024_EK_BYTES], uint8_t dk[UM_MLKEM1024_DK_BYTES])
{
	uint8_t seed[UM_MLKEM1024_SEED_BYTES];
	int ret;

	randombytes_buf(seed, sizeof(seed));
	ret = um_mlkem1024_keygen_derand(ek, dk, seed, seed + 32);
	sodium_memzero(seed, sizeof(seed));
	return ret;
}

int um_mlkem1024_encaps_derand(uint8_t ct[UM_MLKEM1024_CT_BYTES], uint8_t ss[UM_MLKEM1024_SS_BYTES],
			       const uint8_t ek[UM_MLKEM1024_EK_BYTES], const uint8_t m[32])
{
	struct mlkem_poly t_hat[MLKEM_K];
	uint8_t m_hash[64];    /* m || H(ek) */
	uint8_t key_coins[64]; /* (K, r) = G(m || H(ek)) */

	if (decode_t_hat(t_hat, ek))
		return -UM_EINVAL;
	memcpy(m_hash, m, 32);
	um_sha3_256(m_hash + 32, ek, UM_MLKEM1024_EK_BYTES);
	um_sha3_512(key_coins, m_hash, sizeof(m_hash));
	kpke_encrypt(ct, t_hat, ek, m, key_coins + 32);
	memcpy(ss, key_coins, UM_MLKEM1024_SS_BYTES);
	sodium_memzero(m_hash, sizeof(m_hash));
	sodium_memzero(key_coins, sizeof(key_coins));
	return 0;
}

int um_mlkem1024_encaps(uint8_t ct[UM_MLKEM1024_CT_BYTES], uint8_t ss[UM_MLKEM1024_SS_BYTES],
			const uint8_t ek[UM_MLKEM1024_EK_BYTES])
{
	uint8_t m[32];
	int ret;

	randombytes_buf(m, sizeof(m));
	ret = um_mlkem1024_encaps_derand(ct, ss, ek, m);
	sodium_memzero(m, sizeof(m));
	return ret;
}

/* 0xff if x != 0, else 0, without a branch. */
static uint8_t mask_if_nonzero(uint8_t x)
{
	uint32_t v = x;

	v = (v | (0u - v)) >> 31;
#if defined(__GNUC__)
	/* Hide the value from the optimiser so the select below stays arithmetic. */
	__asm__("" : "+r"(v));
#endif
	return (uint8_t)(0u - v);
}

int um_mlkem1024_decaps(uint8_t ss[UM_MLKEM1024_SS_BYTES], const uint8_t ct[UM_MLKEM1024_CT_BYTES],
			const uint8_t dk[UM_MLKEM1024_DK_BYTES])
{
	int ret = um_mlkem1024_check_dk(dk);

	return ret < 0 ? ret : um_mlkem1024_decaps_checked(ss, ct, dk);
}

int um_mlkem1024_decaps_checked(uint8_t ss[UM_MLKEM1024_SS_BYTES], const uint8_t ct[UM_MLKEM1024_CT_BYTES],
				const uint8_t dk[UM_MLKEM1024_DK_BYTES])
{
	struct {
		uint8_t m_hash[64];    /* m' || h */
		uint8_t key_coins[64]; /* (K', r') = G(m' || h) */
		uint8_t reject_key[32];
		uint8_t ct_again[UM_MLKEM1024_CT_BYTES];
		struct um_keccak j;
		struct mlkem_poly t_hat[MLKEM_K];
	} w;
	uint8_t diff = 0, mask;

	kpke_decrypt(w.m_hash, dk, ct);
	memcpy(w.m_hash + 32, dk + DK_HASH_OFFSET, 32);
	um_sha3_512(w.key_coins, w.m_hash, sizeof(w.m_hash));

	/* K-bar = J(z || c) = SHAKE256(z || c, 32). */
	um_shake256_init(&w.j);
	um_keccak_absorb(&w.j, dk + DK_Z_OFFSET, 32);
	um_keccak_absorb(&w.j, ct, UM_MLKEM1024_CT_BYTES);
	um_keccak_squeeze(&w.j, w.reject_key, sizeof(w.reject_key));

	/* ek inside dk is vouched for by the hash check; decode reduces mod q. */
	(void)decode_t_hat(w.t_hat, dk + DK_EK_OFFSET);
	kpke_encrypt(w.ct_again, w.t_hat, dk + DK_EK_OFFSET, w.m_hash, w.key_coins + 32);
	for (size_t i = 0; i < UM_MLKEM1024_CT_BYTES; i++)
		diff |= (uint8_t)(ct[i] ^ w.ct_again[i]);
	mask = mask_if_nonzero(diff);
	for (size_t i = 0; i < UM_MLKEM1024_SS_BYTES; i++)
		ss[i] = (uint8_t)(w.key_coins[i] ^ (mask & (w.key_coins[i] ^ w.reject_key[i])));
	sodium_memzero(&w, sizeof(w));
	return 0;
}
