/* SPDX-License-Identifier: MIT */
/* ML-KEM-1024: round trips, implicit rejection, the FIPS 203 §7.2/§7.3 input
 * checks, one ACVP key-generation answer (pinned by SHA3-256), and exhaustive
 * checks of the internal field arithmetic. UM_TEST_ITERATIONS sets the number
 * of round trips (default 10000, 1000 under AddressSanitizer). */
#include <sodium.h>
#include <stdlib.h>

#include "crypto/mlkem.h"
#include "crypto/mlkem_internal.h"
#include "crypto/sha3.h"
#include "test.h"
#include "util/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define UM_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UM_TEST_SANITIZED 1
#endif
#endif

enum {
	EK_BYTES = UM_MLKEM1024_EK_BYTES,
	DK_BYTES = UM_MLKEM1024_DK_BYTES,
	CT_BYTES = UM_MLKEM1024_CT_BYTES,
	SS_BYTES = UM_MLKEM1024_SS_BYTES,
	DK_EK_OFFSET = 1536,
	DK_HASH_OFFSET = DK_EK_OFFSET + EK_BYTES,
	DK_Z_OFFSET = DK_HASH_OFFSET + 32,
};

static uint8_t ek[EK_BYTES], dk[DK_BYTES], ct[CT_BYTES];

static long iterations(void)
{
	const char *env = getenv("UM_TEST_ITERATIONS");

	if (env && atol(env) > 0)
		return atol(env);
#ifdef UM_TEST_SANITIZED
	return 1000;
#else
	return 10000;
#endif
}

static void test_round_trips(void)
{
	uint8_t ss_enc[SS_BYTES], ss_dec[SS_BYTES], ss_checked[SS_BYTES];
	long n = iterations(), failures = 0;

	for (long i = 0; i < n; i++) {
		int rk = um_mlkem1024_keygen(ek, dk);
		int re = um_mlkem1024_encaps(ct, ss_enc, ek);
		int rd = um_mlkem1024_decaps(ss_dec, ct, dk);
		/* Algorithm 21 alone agrees on a key from keygen. */
		int rc = um_mlkem1024_decaps_checked(ss_checked, ct, dk);

		if (rk || re || rd || rc || memcmp(ss_enc, ss_dec, SS_BYTES) != 0 ||
		    memcmp(ss_dec, ss_checked, SS_BYTES) != 0)
			failures++;
	}
	fprintf(stderr, "  %ld round trips\n", n);
	CHECK_EQ(failures, 0);
	CHECK_EQ(um_mlkem1024_check_ek(ek), 0);
	CHECK_EQ(um_mlkem1024_check_dk(dk), 0);
}

/* J(z || c) computed here from the outside, for comparison with decaps. */
static void rejection_key(uint8_t out[SS_BYTES], const uint8_t *z, const uint8_t *c)
{
	struct um_keccak j;

	um_shake256_init(&j);
	um_keccak_absorb(&j, z, 32);
	um_keccak_absorb(&j, c, CT_BYTES);
	um_keccak_squeeze(&j, out, SS_BYTES);
	um_keccak_wipe(&j);
}

static void test_implicit_rejection(void)
{
	uint8_t ss[SS_BYTES], ss_bad[SS_BYTES], expect[SS_BYTES];
	int wrong = 0;

	CHECK_EQ(um_mlkem1024_keygen(ek, dk), 0);
	CHECK_EQ(um_mlkem1024_encaps(ct, ss, ek), 0);
	/* The first and last bits of both parts of c, then a random sample. */
	for (unsigned trial = 0; trial < 300; trial++) {
		static const unsigned fixed[] = {0, 7, 1408 * 8 - 1, 1408 * 8, CT_BYTES * 8 - 1};
		unsigned bit = trial < 5 ? fixed[trial] : randombytes_uniform(CT_BYTES * 8);

		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_EQ(um_mlkem1024_decaps(ss_bad, ct, dk), 0);
		rejection_key(expect, dk + DK_Z_OFFSET, ct);
		if (memcmp(ss_bad, ss, SS_BYTES) == 0 || memcmp(ss_bad, expect, SS_BYTES) != 0)
			wrong++;
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_EQ(wrong, 0);
	/* Restored ciphertext decapsulates to the real key again. */
	CHECK_EQ(um_mlkem1024_decaps(ss_bad, ct, dk), 0);
	CHECK_MEM(ss_bad, ss, SS_BYTES);
}

/* Overwrites 12-bit value index (0..1023) of ek's t_hat encoding. */
static void set_coefficient(uint8_t *key, unsigned index, unsigned value)
{
	uint8_t *p = key + 3 * (index / 2);

	if (index % 2 == 0) {
		p[0] = (uint8_t)value;
		p[1] = (uint8_t)((p[1] & 0xf0) | (value >> 8));
	} else {
		p[1] = (uint8_t)((p[1] & 0x0f) | (value << 4));
		p[2] = (uint8_t)(value >> 4);
	}
}

static void test_ek_modulus_check(void)
{
	static uint8_t bad[EK_BYTES];
	uint8_t ss[SS_BYTES], m[32] = {1};
	int accepted = 0, wrote = 0;

	CHECK_EQ(um_mlkem1024_keygen(ek, dk), 0);
	for (unsigned trial = 0; trial < 200; trial++) {
		unsigned index = trial < 2 ? trial * 1023 : randombytes_uniform(1024);
		unsigned value = trial % 3 == 0   ? MLKEM_Q
				 : trial % 3 == 1 ? 4095
						  : MLKEM_Q + randombytes_uniform(4096 - MLKEM_Q);

		memcpy(bad, ek, EK_BYTES);
		set_coefficient(bad, index, value);
		memset(ct, 0xa5, CT_BYTES);
		memset(ss, 0xa5, SS_BYTES);
		if (um_mlkem1024_check_ek(bad) != -UM_EINVAL ||
		    um_mlkem1024_encaps_derand(ct, ss, bad, m) != -UM_EINVAL ||
		    um_mlkem1024_encaps(ct, ss, bad) != -UM_EINVAL)
			accepted++;
		/* On failure nothing is written. */
		for (size_t i = 0; i < CT_BYTES; i++)
			wrote |= ct[i] != 0xa5;
		for (size_t i = 0; i < SS_BYTES; i++)
			wrote |= ss[i] != 0xa5;
	}
	CHECK_EQ(accepted, 0);
	CHECK_EQ(wrote, 0);

	/* q - 1 is the largest canonical value; rho is not range checked. */
	memcpy(bad, ek, EK_BYTES);
	set_coefficient(bad, 517, MLKEM_Q - 1);
	memset(bad + 1536, 0xff, 32);
	CHECK_EQ(um_mlkem1024_check_ek(bad), 0);
	CHECK_EQ(um_mlkem1024_encaps(ct, ss, bad), 0);
}

static void test_dk_hash_check(void)
{
	static uint8_t bad[DK_BYTES];
	uint8_t ss[SS_BYTES], ss2[SS_BYTES];

	CHECK_EQ(um_mlkem1024_keygen(ek, dk), 0);
	CHECK_EQ(um_mlkem1024_encaps(ct, ss, ek), 0);
	/* A flipped bit in the stored hash or in the embedded ek is caught. */
	for (unsigned trial = 0; trial < 64; trial++) {
		size_t offset = trial < 32 ? DK_HASH_OFFSET + trial : DK_EK_OFFSET + randombytes_uniform(EK_BYTES);

		memcpy(bad, dk, DK_BYTES);
		bad[offset] ^= (uint8_t)(1u << (trial % 8));
		CHECK_EQ(um_mlkem1024_check_dk(bad), -UM_EINVAL);
		CHECK_EQ(um_mlkem1024_decaps(ss2, ct, bad), -UM_EINVAL);
	}
	/* z and dk_PKE are not covered by the hash: the check passes (and a
	 * wrong s then yields the rejection key, not an error). */
	memcpy(bad, dk, DK_BYTES);
	bad[DK_Z_OFFSET] ^= 1;
	bad[0] ^= 1;
	CHECK_EQ(um_mlkem1024_check_dk(bad), 0);
	CHECK_EQ(um_mlkem1024_decaps(ss2, ct, bad), 0);
	CHECK(memcmp(ss2, ss, SS_BYTES) != 0);
}

static void test_keygen_known_answer(void)
{
	/* ACVP ML-KEM-keyGen-FIPS203, ML-KEM-1024 tcId 51; the expected ek and
	 * dk are pinned by their SHA3-256 (computed from the vector file). */
	static const uint8_t d[32] = {
	    0xf3, 0xa7, 0x06, 0xfa, 0xf0, 0x90, 0xc0, 0x3d, 0xb5, 0x06, 0x86, 0x3a, 0xb0, 0xb2, 0x0b, 0xd8,
	    0xa1, 0x62, 0x79, 0x56, 0x31, 0x8e, 0x88, 0xc6, 0x7e, 0xb8, 0x75, 0xe8, 0xe7, 0x26, 0x60, 0x09,
	};
	static const uint8_t z[32] = {
	    0x35, 0xd2, 0xbc, 0x43, 0xdd, 0x1c, 0xc8, 0x79, 0xf7, 0x65, 0xbf, 0x2a, 0x0c, 0x5e, 0x29, 0x78,
	    0x89, 0xdd, 0xe9, 0x10, 0xe5, 0x7e, 0x2b, 0xb0, 0xea, 0xe4, 0x17, 0xb9, 0x0a, 0xb7, 0xa2, 0x75,
	};
	static const uint8_t ek_hash[32] = {
	    0x93, 0x70, 0xfe, 0x5b, 0x05, 0xdd, 0xc9, 0x2c, 0x93, 0x9f, 0x62, 0xcb, 0xde, 0x4c, 0x0f, 0xea,
	    0x36, 0xf4, 0x5c, 0xd2, 0x0c, 0x57, 0x48, 0xcf, 0x3a, 0xc8, 0x91, 0xa4, 0xc2, 0x60, 0x44, 0x96,
	};
	static const uint8_t dk_hash[32] = {
	    0xb8, 0xc6, 0x83, 0xc7, 0x15, 0x64, 0xff, 0x8e, 0x23, 0x91, 0xc5, 0x7b, 0x68, 0xc3, 0xa1, 0xff,
	    0x18, 0x67, 0x34, 0xb1, 0x3e, 0x31, 0xd2, 0xa0, 0x75, 0xb6, 0x53, 0x07, 0xc8, 0xb8, 0x08, 0x88,
	};
	uint8_t hash[32];

	CHECK_EQ(um_mlkem1024_keygen_derand(ek, dk, d, z), 0);
	um_sha3_256(hash, ek, EK_BYTES);
	CHECK_MEM(hash, ek_hash, 32);
	um_sha3_256(hash, dk, DK_BYTES);
	CHECK_MEM(hash, dk_hash, 32);
}

static void test_deterministic_variants(void)
{
	uint8_t d[32], z[32], m[32], ss1[SS_BYTES], ss2[SS_BYTES];
	static uint8_t ek2[EK_BYTES], dk2[DK_BYTES], ct2[CT_BYTES];

	randombytes_buf(d, 32);
	randombytes_buf(z, 32);
	randombytes_buf(m, 32);
	CHECK_EQ(um_mlkem1024_keygen_derand(ek, dk, d, z), 0);
	CHECK_EQ(um_mlkem1024_keygen_derand(ek2, dk2, d, z), 0);
	CHECK_MEM(ek, ek2, EK_BYTES);
	CHECK_MEM(dk, dk2, DK_BYTES);
	CHECK_MEM(dk + DK_EK_OFFSET, ek, EK_BYTES);
	CHECK_MEM(dk + DK_Z_OFFSET, z, 32);
	CHECK_EQ(um_mlkem1024_encaps_derand(ct, ss1, ek, m), 0);
	CHECK_EQ(um_mlkem1024_encaps_derand(ct2, ss2, ek, m), 0);
	CHECK_MEM(ct, ct2, CT_BYTES);
	CHECK_MEM(ss1, ss2, SS_BYTES);
	CHECK_EQ(um_mlkem1024_decaps(ss2, ct, dk), 0);
	CHECK_MEM(ss1, ss2, SS_BYTES);
}

static void test_field_arithmetic(void)
{
	int bad_compress = 0, bad_barrett = 0, bad_fqmul = 0;
	static const unsigned widths[] = {1, 5, 11};

	/* Division-free Compress_d against the exact rounding, for every x. */
	for (unsigned w = 0; w < 3; w++) {
		unsigned d = widths[w];

		for (uint32_t x = 0; x < MLKEM_Q; x++) {
			uint32_t exact = ((x << d) * 2 + MLKEM_Q) / (2 * MLKEM_Q) % (1u << d);

			bad_compress += mlkem_compress((uint16_t)x, d) != exact;
		}
		for (uint32_t y = 0; y < (1u << d); y++)
			bad_compress += mlkem_compress((uint16_t)mlkem_decompress((uint16_t)y, d), d) != y;
	}
	for (int32_t a = INT16_MIN; a <= INT16_MAX; a++) {
		int16_t r = mlkem_barrett_reduce((int16_t)a);

		bad_barrett += r < -(MLKEM_Q - 1) / 2 || r > (MLKEM_Q - 1) / 2 || (a - r) % MLKEM_Q != 0;
	}
	/* fqmul(a, b) = a b 2^-16 mod q, i.e. fqmul(a, b) 2^16 = a b. */
	for (int32_t a = -MLKEM_Q; a <= MLKEM_Q; a += 7) {
		for (int32_t b = -MLKEM_Q / 2; b <= MLKEM_Q / 2; b += 13) {
			int32_t r = mlkem_fqmul((int16_t)a, (int16_t)b);
			int64_t diff = (int64_t)r * 65536 - (int64_t)a * b;

			bad_fqmul += r <= -MLKEM_Q || r >= MLKEM_Q || diff % MLKEM_Q != 0;
		}
	}
	CHECK_EQ(bad_compress, 0);
	CHECK_EQ(bad_barrett, 0);
	CHECK_EQ(bad_fqmul, 0);
}

static int32_t mod_q(int32_t v)
{
	v %= MLKEM_Q;
	return v < 0 ? v + MLKEM_Q : v;
}

static void test_ntt_multiplication(void)
{
	/* NTT^-1(NTT(a) o NTT(b)) equals schoolbook multiplication mod X^256 + 1. */
	static struct mlkem_poly a[MLKEM_K], b[MLKEM_K], product;
	static struct mlkem_poly_mulcache cache[MLKEM_K];
	int32_t expect[MLKEM_N];
	int bad = 0;

	for (unsigned trial = 0; trial < 20; trial++) {
		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		for (unsigned i = 0; i < MLKEM_N; i++) {
			a[0].coeffs[i] = (int16_t)randombytes_uniform(MLKEM_Q);
			b[0].coeffs[i] = (int16_t)((int)randombytes_uniform(MLKEM_Q) - MLKEM_Q / 2);
		}
		memset(expect, 0, sizeof(expect));
		for (unsigned i = 0; i < MLKEM_N; i++) {
			for (unsigned j = 0; j < MLKEM_N; j++) {
				int32_t term = mod_q(a[0].coeffs[i] * b[0].coeffs[j]);
				unsigned k = (i + j) % MLKEM_N;

				expect[k] = mod_q(expect[k] + (i + j < MLKEM_N ? term : -term));
			}
		}
		mlkem_poly_ntt(&a[0]);
		mlkem_poly_ntt(&b[0]);
		for (unsigned j = 0; j < MLKEM_K; j++)
			mlkem_poly_mulcache(&cache[j], &b[j]);
		mlkem_polyvec_basemul(&product, a, b, cache);
		mlkem_poly_invntt_from_basemul(&product);
		for (unsigned i = 0; i < MLKEM_N; i++)
			bad += mod_q(product.coeffs[i]) != expect[i];
	}
	CHECK_EQ(bad, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_field_arithmetic);
	RUN(test_ntt_multiplication);
	RUN(test_keygen_known_answer);
	RUN(test_deterministic_variants);
	RUN(test_implicit_rejection);
	RUN(test_ek_modulus_check);
	RUN(test_dk_hash_check);
	RUN(test_round_trips);
	return um_test_end();
}
