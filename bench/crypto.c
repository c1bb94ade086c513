/* SPDX-License-Identifier: MIT */
/* bench-crypto: median and p99 time per operation of the post-quantum and
 * hybrid primitives, with libsodium's X25519 / Ed25519 for scale. Prints a
 * markdown table with the portable C path and, when the CPU has it, the AVX2
 * path side by side (see crypto/cpu.h).
 * Usage: bench-crypto [ITERATIONS [FILTER [portable|avx2]]]
 * ITERATIONS defaults to 1000 (the slow operations run a quarter as often);
 * FILTER keeps the operations whose name contains it ("" or "all" keeps
 * every one); the last argument measures one path only, e.g. for perf. */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/cpu.h"
#include "crypto/hybrid.h"
#include "crypto/mldsa.h"
#include "crypto/mlkem.h"

static uint8_t ek[UM_MLKEM1024_EK_BYTES], dk[UM_MLKEM1024_DK_BYTES], kem_ct[UM_MLKEM1024_CT_BYTES], ss[32];
static uint8_t dsa_pk[UM_MLDSA87_PK_BYTES], dsa_sk[UM_MLDSA87_SK_BYTES], dsa_sig[UM_MLDSA87_SIG_BYTES];
static uint8_t hkem_pk[UM_HKEM_PK_BYTES], hkem_sk[UM_HKEM_SK_BYTES], hkem_ct[UM_HKEM_CT_BYTES];
static uint8_t hsig_pk[UM_HSIG_PK_BYTES], hsig_sk[UM_HSIG_SK_BYTES], hsig[UM_HSIG_BYTES];
static uint8_t x_sk[32], x_pk[32], x_peer[32], ed_pk[32], ed_sk[64], ed_sig[64];
static const uint8_t msg[32] = "a handshake transcript hash.....";
static volatile int sink;

static void op_mlkem_keygen(void)
{
	sink += um_mlkem1024_keygen(ek, dk);
}
static void op_mlkem_encaps(void)
{
	sink += um_mlkem1024_encaps(kem_ct, ss, ek);
}
static void op_mlkem_decaps(void)
{
	sink += um_mlkem1024_decaps_checked(ss, kem_ct, dk);
}
static void op_mlkem_decaps_check(void)
{
	sink += um_mlkem1024_decaps(ss, kem_ct, dk);
}
static void op_mldsa_keygen(void)
{
	sink += um_mldsa87_keygen(dsa_pk, dsa_sk);
}
static void op_mldsa_sign(void)
{
	sink += um_mldsa87_sign(dsa_sig, msg, sizeof(msg), NULL, 0, dsa_sk, 0);
}
static void op_mldsa_verify(void)
{
	sink += um_mldsa87_verify(dsa_sig, sizeof(dsa_sig), msg, sizeof(msg), NULL, 0, dsa_pk);
}
static void op_hkem_keygen(void)
{
	sink += um_hkem_keygen(hkem_pk, hkem_sk);
}
static void op_hkem_encaps(void)
{
	sink += um_hkem_encaps(hkem_ct, ss, hkem_pk);
}
static void op_hkem_decaps(void)
{
	sink += um_hkem_decaps(ss, hkem_ct, hkem_sk);
}
static void op_hsig_sign(void)
{
	sink += um_hsig_sign(hsig, msg, sizeof(msg), "bench", hsig_sk);
}
static void op_hsig_verify(void)
{
	sink += um_hsig_verify(hsig, msg, sizeof(msg), "bench", hsig_pk);
}
static void op_x25519_base(void)
{
	sink += crypto_scalarmult_base(x_pk, x_sk);
}
static void op_x25519(void)
{
	sink += crypto_scalarmult(ss, x_sk, x_peer);
}
static void op_ed25519_sign(void)
{
	sink += crypto_sign_detached(ed_sig, NULL, msg, sizeof(msg), ed_sk);
}
static void op_ed25519_verify(void)
{
	sink += crypto_sign_verify_detached(ed_sig, msg, sizeof(msg), ed_pk);
}

static const struct {
	const char *name;
	void (*run)(void);
	int slow; /* run a quarter as many iterations */
} operations[] = {
    {"ML-KEM-1024 KeyGen", op_mlkem_keygen, 0},
    {"ML-KEM-1024 Encaps", op_mlkem_encaps, 0},
    {"ML-KEM-1024 Decaps", op_mlkem_decaps, 0},
    {"ML-KEM-1024 Decaps + dk check", op_mlkem_decaps_check, 0},
    {"ML-DSA-87 KeyGen", op_mldsa_keygen, 1},
    {"ML-DSA-87 Sign", op_mldsa_sign, 1},
    {"ML-DSA-87 Verify", op_mldsa_verify, 0},
    {"Hybrid KEM KeyGen", op_hkem_keygen, 0},
    {"Hybrid KEM Encaps", op_hkem_encaps, 0},
    {"Hybrid KEM Decaps", op_hkem_decaps, 0},
    {"Hybrid Sign", op_hsig_sign, 1},
    {"Hybrid Verify", op_hsig_verify, 0},
    {"X25519 base (libsodium)", op_x25519_base, 0},
    {"X25519 (libsodium)", op_x25519, 0},
    {"Ed25519 Sign (libsodium)", op_ed25519_sign, 0},
    {"Ed25519 Verify (libsodium)", op_ed25519_verify, 0},
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median and p99 of n timed runs of op (after a warm-up), in µs. */
static void measure(void (*run)(void), int n, double *samples, double *median, double *p99)
{
	for (int w = 0; w < n / 10 + 1; w++) /* warm-up: caches, branch predictors, clocks */
		run();
	for (int k = 0; k < n; k++) {
		double start = now_us();

		run();
		samples[k] = now_us() - start;
	}
	qsort(samples, (size_t)n, sizeof(*samples), compare_double);
	*median = samples[n / 2];
	*p99 = samples[(size_t)((n - 1) * 0.99)];
}

static int setup(void)
{
	static const uint8_t seed[UM_HSIG_SEED_BYTES] = {1, 2, 3};

	randombytes_buf(x_sk, sizeof(x_sk));
	randombytes_buf(x_peer, sizeof(x_peer));
	crypto_scalarmult_base(x_peer, x_peer);
	crypto_sign_keypair(ed_pk, ed_sk);
	crypto_sign_detached(ed_sig, NULL, msg, sizeof(msg), ed_sk);
	return um_mlkem1024_keygen(ek, dk) || um_mlkem1024_encaps(kem_ct, ss, ek) ||
	       um_mldsa87_keygen(dsa_pk, dsa_sk) || um_mldsa87_sign(dsa_sig, msg, sizeof(msg), NULL, 0, dsa_sk, 0) ||
	       um_hkem_keygen(hkem_pk, hkem_sk) || um_hkem_encaps(hkem_ct, ss, hkem_pk) ||
	       um_hsig_keygen_seed(hsig_pk, hsig_sk, seed) || um_hsig_sign(hsig, msg, sizeof(msg), "bench", hsig_sk);
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 1000;
	const char *filter = argc > 2 && strcmp(argv[2], "all") != 0 ? argv[2] : "";
	const char *path = argc > 3 ? argv[3] : "";
	bool run_portable = strcmp(path, "avx2") != 0, run_avx2 = strcmp(path, "portable") != 0;
	double *samples;
	bool have_avx2;

	if (iterations < 10 || sodium_init() < 0 || setup() != 0) {
		fprintf(stderr, "usage: bench-crypto [ITERATIONS >= 10]\n");
		return 1;
	}
	samples = calloc((size_t)iterations, sizeof(*samples));
	if (!samples)
		return 1;
	um_crypto_force_portable(false);
	have_avx2 = um_crypto_use_avx2() && run_avx2;
	printf("| operation | iterations | portable median µs | portable p99 µs | AVX2 median µs | AVX2 p99 µs |\n"
	       "|---|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
		int n = operations[i].slow ? iterations / 4 : iterations;
		double median, p99;

		if (!strstr(operations[i].name, filter))
			continue;
		printf("| %s | %d |", operations[i].name, n);
		if (run_portable) {
			um_crypto_force_portable(true);
			measure(operations[i].run, n, samples, &median, &p99);
			printf(" %.1f | %.1f |", median, p99);
		} else {
			printf(" n/a | n/a |");
		}
		if (have_avx2) {
			um_crypto_force_portable(false);
			measure(operations[i].run, n, samples, &median, &p99);
			printf(" %.1f | %.1f |\n", median, p99);
		} else {
			printf(" n/a | n/a |\n");
		}
		fflush(stdout);
	}
	um_crypto_force_portable(false);
	free(samples);
	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(dsa_sk, sizeof(dsa_sk));
	sodium_memzero(hkem_sk, sizeof(hkem_sk));
	sodium_memzero(hsig_sk, sizeof(hsig_sk));
	sodium_memzero(ed_sk, sizeof(ed_sk));
	sodium_memzero(x_sk, sizeof(x_sk));
	return sink == 0 ? 0 : 1;
}
