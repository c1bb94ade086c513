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
	EK_RHO_OFFSET = MLKEM_POLYVEC_BYTES,                          /* rho in ek */
	DK_EK_OFFSET = MLKEM_POLYVEC_BYTES,                           /* ek in dk */
	DK_HASH_OFFSET = DK_EK_OFFSET + UM_MLKEM1024_EK_BYTES,        /* H(ek) in dk */
	DK_Z_OFFSET = DK_HASH_OFFSET + 32,                            /* z in dk */
	CT_V_OFFSET = MLKEM_K * MLKEM_POLY_DU_BYTES,                  /* c2 in ct */
};

_Static_assert(CT_V_OFFSET + MLKEM_POLY_DV_BYTES == UM_MLKEM1024_CT_BYTES, "ct layout");
_Static_assert(DK_Z_OFFSET + 32 == UM_MLKEM1024_DK_BYTES, "dk layout");
_Static_assert(EK_RHO_OFFSET + 32 == UM_MLKEM1024_EK_BYTES, "ek layout");

/* K-PKE.KeyGen(d): writes ek and dk_PKE = ByteEncode12(s_hat). */
static void kpke_keygen(uint8_t ek[UM_MLKEM1024_EK_BYTES], uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
			const uint8_t d[32])
{
	struct {
		struct mlkem_poly s[MLKEM_K];
		struct mlkem_poly acc, tmp;
		uint8_t seed[33];
		uint8_t rho_sigma[64];
	} w;
	const uint8_t *rho = w.rho_sigma, *sigma = w.rho_sigma + 32;

	/* (rho, sigma) = G(d || k): the final standard's domain separation. */
	memcpy(w.seed, d, 32);
	w.seed[32] = MLKEM_K;
	um_sha3_512(w.rho_sigma, w.seed, sizeof(w.seed));

	for (unsigned i = 0; i < MLKEM_K; i++) {
		mlkem_poly_sample_cbd2(&w.s[i], sigma, (uint8_t)i);
		mlkem_poly_ntt(&w.s[i]);
	}
	for (unsigned i = 0; i < MLKEM_K; i++) {
		/* t_hat[i] = sum_j A[i][j] s_hat[j] + e_hat[i], A[i][j] = SampleNTT(rho || j || i). */
		memset(&w.acc, 0, sizeof(w.acc));
		for (unsigned j = 0; j < MLKEM_K; j++) {
			mlkem_poly_sample_ntt(&w.tmp, rho, (uint8_t)j, (uint8_t)i);
			mlkem_poly_basemul_acc(&w.acc, &w.tmp, &w.s[j]);
		}
		mlkem_poly_tomont(&w.acc);
		mlkem_poly_sample_cbd2(&w.tmp, sigma, (uint8_t)(MLKEM_K + i));
		mlkem_poly_ntt(&w.tmp);
		mlkem_poly_add(&w.acc, &w.tmp);
		mlkem_poly_encode12(ek + i * MLKEM_POLY_BYTES, &w.acc);
	}
	memcpy(ek + EK_RHO_OFFSET, rho, 32);
	for (unsigned i = 0; i < MLKEM_K; i++)
		mlkem_poly_encode12(dk_pke + i * MLKEM_POLY_BYTES, &w.s[i]);
	sodium_memzero(&w, sizeof(w));
}

/* K-PKE.Encrypt(ek, m, r). ek must already have passed the modulus check
 * (or come from dk, where the hash check vouches for it). */
static void kpke_encrypt(uint8_t ct[UM_MLKEM1024_CT_BYTES], const uint8_t ek[UM_MLKEM1024_EK_BYTES],
			 const uint8_t m[32], const uint8_t coins[32])
{
	struct {
		struct mlkem_poly r[MLKEM_K];
		struct mlkem_poly acc, tmp;
	} w;
	const uint8_t *rho = ek + EK_RHO_OFFSET;

	for (unsigned i = 0; i < MLKEM_K; i++) {
		mlkem_poly_sample_cbd2(&w.r[i], coins, (uint8_t)i);
		mlkem_poly_ntt(&w.r[i]);
	}
	for (unsigned i = 0; i < MLKEM_K; i++) {
		/* u[i] = NTT^-1(sum_j A[j][i] r_hat[j]) + e1[i]; A[j][i] = SampleNTT(rho || i || j). */
		memset(&w.acc, 0, sizeof(w.acc));
		for (unsigned j = 0; j < MLKEM_K; j++) {
			mlkem_poly_sample_ntt(&w.tmp, rho, (uint8_t)i, (uint8_t)j);
			mlkem_poly_basemul_acc(&w.acc, &w.tmp, &w.r[j]);
		}
		mlkem_poly_reduce(&w.acc);
		mlkem_poly_invntt_from_basemul(&w.acc);
		mlkem_poly_sample_cbd2(&w.tmp, coins, (uint8_t)(MLKEM_K + i));
		mlkem_poly_add(&w.acc, &w.tmp);
		mlkem_poly_compress_encode(ct + i * MLKEM_POLY_DU_BYTES, &w.acc, MLKEM_DU);
	}
	/* v = NTT^-1(t_hat . r_hat) + e2 + Decompress_1(m). */
	memset(&w.acc, 0, sizeof(w.acc));
	for (unsigned i = 0; i < MLKEM_K; i++) {
		(void)mlkem_poly_decode12(&w.tmp, ek + i * MLKEM_POLY_BYTES);
		mlkem_poly_basemul_acc(&w.acc, &w.tmp, &w.r[i]);
	}
	mlkem_poly_reduce(&w.acc);
	mlkem_poly_invntt_from_basemul(&w.acc);
	mlkem_poly_sample_cbd2(&w.tmp, coins, (uint8_t)(2 * MLKEM_K));
	mlkem_poly_add(&w.acc, &w.tmp);
	mlkem_poly_from_message(&w.tmp, m);
	mlkem_poly_add(&w.acc, &w.tmp);
	mlkem_poly_compress_encode(ct + CT_V_OFFSET, &w.acc, MLKEM_DV);
	sodium_memzero(&w, sizeof(w));
}

/* K-PKE.Decrypt(dk_PKE, c). */
static void kpke_decrypt(uint8_t m[32], const uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
			 const uint8_t ct[UM_MLKEM1024_CT_BYTES])
{
	struct {
		struct mlkem_poly acc, u, s;
	} w;

	memset(&w.acc, 0, sizeof(w.acc));
	for (unsigned i = 0; i < MLKEM_K; i++) {
		mlkem_poly_decode_decompress(&w.u, ct + i * MLKEM_POLY_DU_BYTES, MLKEM_DU);
		mlkem_poly_ntt(&w.u);
		(void)mlkem_poly_decode12(&w.s, dk_pke + i * MLKEM_POLY_BYTES);
		mlkem_poly_basemul_acc(&w.acc, &w.s, &w.u);
	}
	mlkem_poly_reduce(&w.acc);
	mlkem_poly_invntt_from_basemul(&w.acc);
	/* w = v - NTT^-1(s_hat . NTT(u)); m = ByteEncode_1(Compress_1(w)). */
	mlkem_poly_decode_decompress(&w.u, ct + CT_V_OFFSET, MLKEM_DV);
	mlkem_poly_sub(&w.u, &w.acc);
	mlkem_poly_to_message(m, &w.u);
	sodium_memzero(&w, sizeof(w));
}

int um_mlkem1024_check_ek(const uint8_t ek[UM_MLKEM1024_EK_BYTES])
{
	struct mlkem_poly p;
	unsigned unreduced = 0;

	/* ByteEncode12(ByteDecode12(ek)) == ek exactly when every value is < q. */
	for (unsigned i = 0; i < MLKEM_K; i++)
		unreduced |= mlkem_poly_decode12(&p, ek + i * MLKEM_POLY_BYTES);
	return unreduced ? -UM_EINVAL : 0;
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
	uint8_t m_hash[64]; /* m || H(ek) */
	uint8_t key_coins[64]; /* (K, r) = G(m || H(ek)) */
	int ret = um_mlkem1024_check_ek(ek);

	if (ret < 0)
		return ret;
	memcpy(m_hash, m, 32);
	um_sha3_256(m_hash + 32, ek, UM_MLKEM1024_EK_BYTES);
	um_sha3_512(key_coins, m_hash, sizeof(m_hash));
	kpke_encrypt(ct, ek, m, key_coins + 32);
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
	struct {
		uint8_t m_hash[64];    /* m' || h */
		uint8_t key_coins[64]; /* (K', r') = G(m' || h) */
		uint8_t reject_key[32];
		uint8_t ct_again[UM_MLKEM1024_CT_BYTES];
		struct um_keccak j;
	} w;
	uint8_t diff = 0, mask;
	int ret = um_mlkem1024_check_dk(dk);

	if (ret < 0)
		return ret;
	kpke_decrypt(w.m_hash, dk, ct);
	memcpy(w.m_hash + 32, dk + DK_HASH_OFFSET, 32);
	um_sha3_512(w.key_coins, w.m_hash, sizeof(w.m_hash));

	/* K-bar = J(z || c) = SHAKE256(z || c, 32). */
	um_shake256_init(&w.j);
	um_keccak_absorb(&w.j, dk + DK_Z_OFFSET, 32);
	um_keccak_absorb(&w.j, ct, UM_MLKEM1024_CT_BYTES);
	um_keccak_squeeze(&w.j, w.reject_key, sizeof(w.reject_key));

	kpke_encrypt(w.ct_again, dk + DK_EK_OFFSET, w.m_hash, w.key_coins + 32);
	for (size_t i = 0; i < UM_MLKEM1024_CT_BYTES; i++)
		diff |= (uint8_t)(ct[i] ^ w.ct_again[i]);
	mask = mask_if_nonzero(diff);
	for (size_t i = 0; i < UM_MLKEM1024_SS_BYTES; i++)
		ss[i] = (uint8_t)(w.key_coins[i] ^ (mask & (w.key_coins[i] ^ w.reject_key[i])));
	sodium_memzero(&w, sizeof(w));
	return 0;
}
