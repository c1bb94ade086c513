/* SPDX-License-Identifier: MIT */
/* umbra selftest: quick checks of the crypto the node relies on, so a broken
 * build or CPU is caught before any key is used: known answers for SHA-3 and
 * ML-KEM-1024 key generation (ACVP tcId 51, pinned by hashes), and round
 * trips with tamper checks for the hybrid KEM and hybrid signature, on the
 * AVX2 path and on the portable path. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "crypto/cpu.h"
#include "crypto/hybrid.h"
#include "crypto/sha3.h"

static int check_sha3(void)
{
	/* FIPS 202 example: SHA3-256("abc"). */
	static const uint8_t expect[32] = {
	    0x3a, 0x98, 0x5d, 0xa7, 0x4f, 0xe2, 0x25, 0xb2, 0x04, 0x5c, 0x17, 0x2d, 0x6b, 0xd3, 0x90, 0xbd,
	    0x85, 0x5f, 0x08, 0x6e, 0x3e, 0x9d, 0x52, 0x5b, 0x46, 0xbf, 0xe2, 0x45, 0x11, 0x43, 0x15, 0x32,
	};
	uint8_t out[32];

	um_sha3_256(out, (const uint8_t *)"abc", 3);
	return memcmp(out, expect, 32) ? -1 : 0;
}

static int check_mlkem_keygen(void)
{
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
	static uint8_t ek[UM_MLKEM1024_EK_BYTES], dk[UM_MLKEM1024_DK_BYTES];
	uint8_t hash[32];
	int ret;

	ret = um_mlkem1024_keygen_derand(ek, dk, d, z);
	um_sha3_256(hash, ek, sizeof(ek));
	sodium_memzero(dk, sizeof(dk));
	return ret || memcmp(hash, ek_hash, 32) ? -1 : 0;
}

static int check_hybrid_kem(void)
{
	static uint8_t pk[UM_HKEM_PK_BYTES], sk[UM_HKEM_SK_BYTES], ct[UM_HKEM_CT_BYTES];
	uint8_t ss1[UM_HKEM_SS_BYTES], ss2[UM_HKEM_SS_BYTES];
	int ret = -1;

	if (um_hkem_keygen(pk, sk) || um_hkem_encaps(ct, ss1, pk) || um_hkem_decaps(ss2, ct, sk))
		goto out;
	if (memcmp(ss1, ss2, sizeof(ss1)))
		goto out;
	ct[17] ^= 0x01; /* a tampered ML-KEM ciphertext must give another secret */
	if (um_hkem_decaps(ss2, ct, sk) == 0 && !memcmp(ss1, ss2, sizeof(ss1)))
		goto out;
	ret = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(ss1, sizeof(ss1));
	sodium_memzero(ss2, sizeof(ss2));
	return ret;
}

static int check_hybrid_signature(void)
{
	static uint8_t pk[UM_HSIG_PK_BYTES], sk[UM_HSIG_SK_BYTES], sig[UM_HSIG_BYTES];
	uint8_t seed[UM_HSIG_SEED_BYTES];
	static const uint8_t msg[] = "umbra selftest";
	int ret = -1;

	randombytes_buf(seed, sizeof(seed));
	if (um_hsig_keygen_seed(pk, sk, seed) || um_hsig_sign(sig, msg, sizeof(msg), "selftest", sk))
		goto out;
	if (um_hsig_verify(sig, msg, sizeof(msg), "selftest", pk))
		goto out;
	sig[100] ^= 0x80; /* a flipped bit must not verify */
	if (um_hsig_verify(sig, msg, sizeof(msg), "selftest", pk) == 0)
		goto out;
	ret = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	return ret;
}

static const struct {
	const char *name;
	int (*check)(void);
} checks[] = {
    {"SHA3-256 known answer", check_sha3},
    {"ML-KEM-1024 KeyGen known answer (ACVP tcId 51)", check_mlkem_keygen},
    {"hybrid KEM X25519+ML-KEM-1024 round trip and tamper", check_hybrid_kem},
    {"hybrid signature Ed25519+ML-DSA-87 round trip and tamper", check_hybrid_signature},
};

static int run_checks(const char *path)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		int bad = checks[i].check() != 0;
		printf("selftest: [%s] %-58s %s\n", path, checks[i].name, bad ? "FAILED" : "ok");
		failed += bad;
	}
	return failed;
}

int selftest_main(int argc, char **argv)
{
	int failed;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		fprintf(stderr, "selftest: libsodium failed to initialise\n");
		return 1;
	}
	failed = run_checks(um_crypto_use_avx2() ? "avx2" : "portable");
	if (um_crypto_use_avx2()) {
		um_crypto_force_portable(true);
		failed += run_checks("portable");
		um_crypto_force_portable(false);
	}
	printf("selftest: %s\n", failed ? "FAILED" : "all passed");
	return failed ? 1 : 0;
}
