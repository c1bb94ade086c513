/* SPDX-License-Identifier: MIT */
/* SHA-3 / SHAKE: differential test against OpenSSL's EVP implementation on
 * every input length 0..2000, absorbing and squeezing in random chunk sizes.
 * The PRNG is seeded from UM_TEST_SEED (or the clock) and the seed is printed
 * so a failure can be replayed. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/sha3.h"
#include "test.h"

enum { TEST_MAX_INPUT = 2000, TEST_MAX_OUTPUT = 1200 };

static uint64_t prng_state;

static uint64_t prng_next(void)
{
	/* splitmix64: reproducible, good enough for picking lengths and data. */
	uint64_t z = (prng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t prng_below(size_t bound)
{
	return (size_t)(prng_next() % bound);
}

static void prng_fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)prng_next();
}

struct algorithm {
	const char *name;
	void (*init)(struct um_keccak *ctx);
	const EVP_MD *(*evp)(void);
	int xof;
	size_t digest_len; /* fixed-output functions only */
};

static const struct algorithm algorithms[] = {
    {"SHA3-256", um_sha3_256_init, EVP_sha3_256, 0, UM_SHA3_256_BYTES},
    {"SHA3-512", um_sha3_512_init, EVP_sha3_512, 0, UM_SHA3_512_BYTES},
    {"SHAKE128", um_shake128_init, EVP_shake128, 1, 0},
    {"SHAKE256", um_shake256_init, EVP_shake256, 1, 0},
};

static int openssl_hash(const struct algorithm *alg, const uint8_t *in, size_t len, uint8_t *out, size_t outlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int got = 0;
	int ok = md && EVP_DigestInit_ex(md, alg->evp(), NULL) == 1 && EVP_DigestUpdate(md, in, len) == 1;

	if (ok && alg->xof)
		ok = EVP_DigestFinalXOF(md, out, outlen) == 1;
	else if (ok)
		ok = EVP_DigestFinal_ex(md, out, &got) == 1 && got == outlen;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* Absorbs in random chunks (sometimes empty) and squeezes in random chunks. */
static void chunked_hash(const struct algorithm *alg, const uint8_t *in, size_t len, uint8_t *out, size_t outlen)
{
	struct um_keccak ctx;
	size_t done = 0;

	alg->init(&ctx);
	while (done < len) {
		size_t chunk = prng_below(prng_below(4) == 0 ? 400 : 40);

		if (chunk > len - done)
			chunk = len - done;
		um_keccak_absorb(&ctx, in + done, chunk);
		done += chunk;
	}
	done = 0;
	while (done < outlen) {
		size_t chunk = prng_below(prng_below(4) == 0 ? 400 : 24);

		if (chunk > outlen - done)
			chunk = outlen - done;
		um_keccak_squeeze(&ctx, out + done, chunk);
		done += chunk;
	}
	um_keccak_wipe(&ctx);
}

static uint8_t input[TEST_MAX_INPUT];
static uint8_t expect[TEST_MAX_OUTPUT], got[TEST_MAX_OUTPUT];

static void test_every_length_against_openssl(void)
{
	/* SHAKE output lengths around the rates, and several blocks long. */
	static const size_t xof_lengths[] = {1, 16, 32, 64, 135, 136, 137, 167, 168, 169, 300, 1100};

	for (size_t a = 0; a < sizeof(algorithms) / sizeof(algorithms[0]); a++) {
		const struct algorithm *alg = &algorithms[a];
		int mismatches = 0;

		for (size_t len = 0; len <= TEST_MAX_INPUT; len++) {
			size_t outlen = alg->xof ? xof_lengths[len % (sizeof(xof_lengths) / sizeof(xof_lengths[0]))]
						 : alg->digest_len;

			prng_fill(input, len);
			CHECK(openssl_hash(alg, input, len, expect, outlen) == 0);
			chunked_hash(alg, input, len, got, outlen);
			if (memcmp(expect, got, outlen) != 0) {
				if (mismatches++ < 5)
					fprintf(stderr, "%s mismatch at input length %zu, output %zu\n", alg->name, len,
						outlen);
			}
		}
		CHECK_EQ(mismatches, 0);
	}
}

static void test_oneshot_helpers(void)
{
	static const uint8_t abc_sha3_256[32] = {
	    0x3a, 0x98, 0x5d, 0xa7, 0x4f, 0xe2, 0x25, 0xb2, 0x04, 0x5c, 0x17, 0x2d, 0x6b, 0xd3, 0x90, 0xbd,
	    0x85, 0x5f, 0x08, 0x6e, 0x3e, 0x9d, 0x52, 0x5b, 0x46, 0xbf, 0xe2, 0x45, 0x11, 0x43, 0x15, 0x32,
	};
	uint8_t out[64];

	um_sha3_256(out, (const uint8_t *)"abc", 3);
	CHECK_MEM(out, abc_sha3_256, 32);

	for (size_t len = 0; len <= 600; len += 37) {
		prng_fill(input, len);
		um_sha3_256(got, input, len);
		CHECK(openssl_hash(&algorithms[0], input, len, expect, 32) == 0);
		CHECK_MEM(got, expect, 32);
		um_sha3_512(got, input, len);
		CHECK(openssl_hash(&algorithms[1], input, len, expect, 64) == 0);
		CHECK_MEM(got, expect, 64);
		um_shake128(got, 500, input, len);
		CHECK(openssl_hash(&algorithms[2], input, len, expect, 500) == 0);
		CHECK_MEM(got, expect, 500);
		um_shake256(got, 500, input, len);
		CHECK(openssl_hash(&algorithms[3], input, len, expect, 500) == 0);
		CHECK_MEM(got, expect, 500);
	}
}

static void test_squeeze_is_a_stream(void)
{
	/* Byte-at-a-time squeezing equals one long squeeze. */
	struct um_keccak ctx;
	uint8_t one[700], many[700];

	um_shake128(one, sizeof(one), (const uint8_t *)"stream", 6);
	um_shake128_init(&ctx);
	um_keccak_absorb(&ctx, (const uint8_t *)"stream", 6);
	for (size_t i = 0; i < sizeof(many); i++)
		um_keccak_squeeze(&ctx, many + i, 1);
	CHECK_MEM(one, many, sizeof(one));
}

static void test_wipe_zeroes(void)
{
	struct um_keccak ctx;
	const uint8_t *bytes = (const uint8_t *)&ctx;
	int nonzero = 0;

	um_shake256_init(&ctx);
	um_keccak_absorb(&ctx, (const uint8_t *)"secret", 6);
	um_keccak_squeeze(&ctx, got, 10);
	um_keccak_wipe(&ctx);
	for (size_t i = 0; i < sizeof(ctx); i++)
		nonzero |= bytes[i];
	CHECK_EQ(nonzero, 0);
}

static void test_permutation_zero_state(void)
{
	/* Keccak-f[1600] on the all-zero state: first lane of the known result. */
	uint64_t state[25] = {0};

	um_keccak_f1600(state);
	CHECK(state[0] == 0xf1258f7940e1dde7ULL);
	CHECK(state[24] == 0xeaf1ff7b5ceca249ULL);
}

int main(void)
{
	const char *seed = getenv("UM_TEST_SEED");

	prng_state = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);
	fprintf(stderr, "UM_TEST_SEED=%llu\n", (unsigned long long)prng_state);
	RUN(test_oneshot_helpers);
	RUN(test_every_length_against_openssl);
	RUN(test_squeeze_is_a_stream);
	RUN(test_wipe_zeroes);
	RUN(test_permutation_zero_state);
	return um_test_end();
}
