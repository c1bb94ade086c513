/* SPDX-License-Identifier: MIT */
/* 4-way Keccak: the permutation and 4-way SHAKE128/256 equal four scalar
 * runs (random inputs, many lengths, multi-block absorb and squeeze, split
 * squeezes), on both the AVX2 and the portable path; and full ML-KEM-1024 /
 * ML-DSA-87 operations give identical bytes on both paths. Without AVX2 on
 * the host both runs take the portable path (reported, still checked). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sodium.h>

#include "crypto/cpu.h"
#include "crypto/keccak4x.h"
#include "crypto/mldsa.h"
#include "crypto/mlkem.h"
#include "crypto/sha3.h"
#include "test.h"

static void check_permutation(void)
{
	for (unsigned iteration = 0; iteration < 20; iteration++) {
		struct um_keccak4x ctx;
		uint64_t expect[4][25];

		randombytes_buf(ctx.state, sizeof(ctx.state));
		for (unsigned j = 0; j < 4; j++) {
			for (unsigned i = 0; i < 25; i++)
				expect[j][i] = ctx.state[i][j];
			/* A few rounds of chaining catch state that leaks between calls. */
			for (unsigned k = 0; k <= iteration % 3; k++)
				um_keccak_f1600(expect[j]);
		}
		for (unsigned k = 0; k <= iteration % 3; k++)
			um_keccak4x_f1600(ctx.state);
		for (unsigned j = 0; j < 4; j++)
			for (unsigned i = 0; i < 25; i++)
				CHECK(ctx.state[i][j] == expect[j][i]);
	}
}

enum { MAX_IN = 700, MAX_OUT = 1200 };

/* One 4-way SHAKE run against four scalar runs; the squeeze is split into
 * chunks of `chunk` bytes (0: one call) to exercise partial blocks. */
static void check_shake_case(int wide, size_t inlen, size_t outlen, size_t chunk)
{
	static uint8_t in[4][MAX_IN], out[4][MAX_OUT], expect[MAX_OUT];
	const uint8_t *const ins[4] = {in[0], in[1], in[2], in[3]};
	struct um_keccak4x ctx;
	size_t done = 0;

	for (unsigned j = 0; j < 4; j++)
		randombytes_buf(in[j], inlen);
	if (wide)
		um_shake256x4_absorb_once(&ctx, ins, inlen);
	else
		um_shake128x4_absorb_once(&ctx, ins, inlen);
	while (done < outlen) {
		size_t n = chunk == 0 || outlen - done < chunk ? outlen - done : chunk;
		uint8_t *const outs[4] = {out[0] + done, out[1] + done, out[2] + done, out[3] + done};

		um_keccak4x_squeeze(&ctx, outs, n);
		done += n;
	}
	um_keccak4x_wipe(&ctx);
	for (unsigned j = 0; j < 4; j++) {
		if (wide)
			um_shake256(expect, outlen, in[j], inlen);
		else
			um_shake128(expect, outlen, in[j], inlen);
		if (memcmp(expect, out[j], outlen) != 0) {
			fprintf(stderr, "shake%d x4 mismatch: inlen %zu outlen %zu chunk %zu lane %u\n",
				wide ? 256 : 128, inlen, outlen, chunk, j);
			CHECK(0);
			return;
		}
		um_test_checks++;
	}
}

static void check_shake(void)
{
	static const size_t inlens[] = {0,   1,   7,   8,   31,  32,  33,  34,  66,  135, 136, 137,
					167, 168, 169, 271, 272, 273, 335, 336, 337, 500, 680};
	static const size_t outlens[] = {1, 8, 32, 128, 135, 136, 137, 167, 168, 169, 504, 640, 1100};
	static const size_t chunks[] = {0, 1, 3, 8, 13, 136, 168};

	for (int wide = 0; wide < 2; wide++)
		for (size_t a = 0; a < sizeof(inlens) / sizeof(inlens[0]); a++)
			for (size_t b = 0; b < sizeof(outlens) / sizeof(outlens[0]); b++)
				check_shake_case(wide, inlens[a], outlens[b], chunks[(a + b) % 7]);
}

static void on_both_paths(void (*check)(void))
{
	um_crypto_force_portable(true);
	CHECK(!um_crypto_use_avx2());
	check();
	um_crypto_force_portable(false);
	check();
}

static void test_permutation(void)
{
	on_both_paths(check_permutation);
}

static void test_shake(void)
{
	on_both_paths(check_shake);
}

/* Everything one ML-KEM round produces, on the current path. */
struct kem_run {
	uint8_t ek[UM_MLKEM1024_EK_BYTES], dk[UM_MLKEM1024_DK_BYTES];
	uint8_t ct[UM_MLKEM1024_CT_BYTES], ss[32], ss_dec[32], ss_bad[32];
};

static void kem_run(struct kem_run *r, const uint8_t seed[64], const uint8_t m[32])
{
	CHECK_EQ(um_mlkem1024_keygen_derand(r->ek, r->dk, seed, seed + 32), 0);
	CHECK_EQ(um_mlkem1024_encaps_derand(r->ct, r->ss, r->ek, m), 0);
	CHECK_EQ(um_mlkem1024_decaps(r->ss_dec, r->ct, r->dk), 0);
	r->ct[5] ^= 1; /* implicit rejection path */
	CHECK_EQ(um_mlkem1024_decaps(r->ss_bad, r->ct, r->dk), 0);
	r->ct[5] ^= 1;
}

static void test_mlkem_paths(void)
{
	static struct kem_run portable, fast;

	for (unsigned iteration = 0; iteration < 10; iteration++) {
		uint8_t seed[64], m[32];

		randombytes_buf(seed, sizeof(seed));
		randombytes_buf(m, sizeof(m));
		um_crypto_force_portable(true);
		kem_run(&portable, seed, m);
		um_crypto_force_portable(false);
		kem_run(&fast, seed, m);
		CHECK_MEM(&portable, &fast, sizeof(fast));
		CHECK_MEM(fast.ss, fast.ss_dec, 32);
	}
}

struct dsa_run {
	uint8_t pk[UM_MLDSA87_PK_BYTES], sk[UM_MLDSA87_SK_BYTES], sig[UM_MLDSA87_SIG_BYTES];
	int verified, tampered;
};

static void dsa_run(struct dsa_run *r, const uint8_t seed[32], const uint8_t rnd[32], const uint8_t *msg, size_t len)
{
	CHECK_EQ(um_mldsa87_keygen_seed(r->pk, r->sk, seed), 0);
	CHECK_EQ(um_mldsa87_sign_internal(r->sig, msg, len, r->sk, rnd), 0);
	r->verified = um_mldsa87_verify_internal(r->sig, sizeof(r->sig), msg, len, r->pk);
	r->sig[100] ^= 4;
	r->tampered = um_mldsa87_verify_internal(r->sig, sizeof(r->sig), msg, len, r->pk);
	r->sig[100] ^= 4;
}

static void test_mldsa_paths(void)
{
	static struct dsa_run portable, fast;

	/* Random messages: signing needs ~4 attempts on average, so the
	 * ExpandMask batches at several kappa values are covered. */
	for (unsigned iteration = 0; iteration < 8; iteration++) {
		uint8_t seed[32], rnd[32], msg[64];

		randombytes_buf(seed, sizeof(seed));
		randombytes_buf(rnd, sizeof(rnd));
		randombytes_buf(msg, sizeof(msg));
		um_crypto_force_portable(true);
		dsa_run(&portable, seed, rnd, msg, iteration * 8);
		um_crypto_force_portable(false);
		dsa_run(&fast, seed, rnd, msg, iteration * 8);
		CHECK_MEM(portable.pk, fast.pk, sizeof(fast.pk));
		CHECK_MEM(portable.sk, fast.sk, sizeof(fast.sk));
		CHECK_MEM(portable.sig, fast.sig, sizeof(fast.sig));
		CHECK_EQ(portable.verified, fast.verified);
		CHECK_EQ(portable.tampered, fast.tampered);
		CHECK_EQ(fast.verified, 0);
		CHECK(fast.tampered != 0);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	um_crypto_force_portable(false);
	fprintf(stderr, "AVX2 path %s\n", um_crypto_use_avx2() ? "available" : "NOT available: portable only");
	RUN(test_permutation);
	RUN(test_shake);
	RUN(test_mlkem_paths);
	RUN(test_mldsa_paths);
	return um_test_end();
}
