/* SPDX-License-Identifier: MIT */
/* Hybrid KEM and signature: round trips, each half bound, every tampering
 * detected. Bit-flip sweeps step through the big ML-KEM/ML-DSA parts with a
 * stride (every bit of the small parts) to stay fast under ASan. */
#include <sodium.h>
#include <stdlib.h>

#include "crypto/hybrid.h"
#include "crypto/sha3.h"
#include "test.h"
#include "util/error.h"

/* Bit-flip sweeps are thinned out under ASan, which slows ML-DSA ~10x. */
#if defined(__SANITIZE_ADDRESS__)
#define SWEEP_SCALE 3
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SWEEP_SCALE 3
#endif
#endif
#ifndef SWEEP_SCALE
#define SWEEP_SCALE 1
#endif

static uint8_t kem_pk[UM_HKEM_PK_BYTES], kem_sk[UM_HKEM_SK_BYTES];
static uint8_t sig_pk[UM_HSIG_PK_BYTES], sig_sk[UM_HSIG_SK_BYTES];

static void flip(uint8_t *buf, size_t bit)
{
	buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void test_kem_round_trip(void)
{
	uint8_t ct[UM_HKEM_CT_BYTES], ss1[UM_HKEM_SS_BYTES], ss2[UM_HKEM_SS_BYTES], ss3[UM_HKEM_SS_BYTES];
	uint8_t ct2[UM_HKEM_CT_BYTES];

	for (int i = 0; i < 5; i++) {
		CHECK_EQ(um_hkem_encaps(ct, ss1, kem_pk), 0);
		CHECK_EQ(um_hkem_decaps(ss2, ct, kem_sk), 0);
		CHECK_MEM(ss1, ss2, sizeof(ss1));
	}
	/* Fresh randomness every time. */
	CHECK_EQ(um_hkem_encaps(ct2, ss3, kem_pk), 0);
	CHECK(memcmp(ct, ct2, sizeof(ct)) != 0);
	CHECK(memcmp(ss1, ss3, sizeof(ss1)) != 0);
	/* The public key is ek || x25519 pk, the secret key dk || x25519 sk || pk. */
	CHECK_MEM(kem_pk + UM_MLKEM1024_EK_BYTES, kem_sk + UM_MLKEM1024_DK_BYTES + 32, 32);
}

/* The combiner is exactly the documented formula. */
static void test_kem_combiner(void)
{
	uint8_t ct[UM_HKEM_CT_BYTES], ss[UM_HKEM_SS_BYTES], ss_m[32], ss_x[32], expect[32];
	uint8_t input[13 + 4 * 32];

	CHECK_EQ(um_hkem_encaps(ct, ss, kem_pk), 0);
	CHECK_EQ(um_mlkem1024_decaps(ss_m, ct, kem_sk), 0);
	CHECK_EQ(crypto_scalarmult(ss_x, kem_sk + UM_MLKEM1024_DK_BYTES, ct + UM_MLKEM1024_CT_BYTES), 0);
	memcpy(input, "umbra-hkem-v1", 13);
	memcpy(input + 13, ss_m, 32);
	memcpy(input + 45, ss_x, 32);
	memcpy(input + 77, ct + UM_MLKEM1024_CT_BYTES, 32);
	memcpy(input + 109, kem_pk + UM_MLKEM1024_EK_BYTES, 32);
	um_sha3_256(expect, input, sizeof(input));
	CHECK_MEM(ss, expect, 32);
}

/* Either half failing gives a different secret. */
static void test_kem_each_half_bound(void)
{
	uint8_t ct[UM_HKEM_CT_BYTES], ss[UM_HKEM_SS_BYTES], ss2[UM_HKEM_SS_BYTES];
	uint8_t pk2[UM_HKEM_PK_BYTES], sk2[UM_HKEM_SK_BYTES], mixed[UM_HKEM_SK_BYTES];

	CHECK_EQ(um_hkem_encaps(ct, ss, kem_pk), 0);
	CHECK_EQ(um_hkem_keygen(pk2, sk2), 0);
	/* Right ML-KEM key, wrong X25519 key. */
	memcpy(mixed, kem_sk, UM_MLKEM1024_DK_BYTES);
	memcpy(mixed + UM_MLKEM1024_DK_BYTES, sk2 + UM_MLKEM1024_DK_BYTES, 64);
	CHECK_EQ(um_hkem_decaps(ss2, ct, mixed), 0);
	CHECK(memcmp(ss, ss2, sizeof(ss)) != 0);
	/* Wrong ML-KEM key (implicit rejection), right X25519 key. */
	memcpy(mixed, sk2, UM_MLKEM1024_DK_BYTES);
	memcpy(mixed + UM_MLKEM1024_DK_BYTES, kem_sk + UM_MLKEM1024_DK_BYTES, 64);
	CHECK_EQ(um_hkem_decaps(ss2, ct, mixed), 0);
	CHECK(memcmp(ss, ss2, sizeof(ss)) != 0);
	/* Tampered ML-KEM ciphertext alone. */
	memcpy(ss2, ss, sizeof(ss));
	ct[100] ^= 0x10;
	CHECK_EQ(um_hkem_decaps(ss2, ct, kem_sk), 0);
	CHECK(memcmp(ss, ss2, sizeof(ss)) != 0);
	sodium_memzero(mixed, sizeof(mixed));
}

static void test_kem_ciphertext_bit_flips(void)
{
	uint8_t ct[UM_HKEM_CT_BYTES], ss[UM_HKEM_SS_BYTES], ss2[UM_HKEM_SS_BYTES];
	int undetected = 0, count = 0;

	CHECK_EQ(um_hkem_encaps(ct, ss, kem_pk), 0);
	for (size_t bit = 0; bit < UM_HKEM_CT_BYTES * 8; bit++) {
		/* Every bit of the X25519 part (including bit 255, which X25519
		 * itself ignores: only the transcript hash catches it), every
		 * 13th bit of the ML-KEM part. */
		if (bit < UM_MLKEM1024_CT_BYTES * 8 && bit % (13 * SWEEP_SCALE))
			continue;
		flip(ct, bit);
		int rc = um_hkem_decaps(ss2, ct, kem_sk);

		if (rc == 0 && !memcmp(ss, ss2, sizeof(ss)))
			undetected++;
		count++;
		flip(ct, bit);
	}
	CHECK_EQ(undetected, 0);
	CHECK(count > 1000 / SWEEP_SCALE);
}

static void test_kem_public_key_bit_flips(void)
{
	uint8_t pk[UM_HKEM_PK_BYTES], ct[UM_HKEM_CT_BYTES], ss[UM_HKEM_SS_BYTES], ss2[UM_HKEM_SS_BYTES];
	int undetected = 0;

	memcpy(pk, kem_pk, sizeof(pk));
	for (size_t bit = 0; bit < UM_HKEM_PK_BYTES * 8; bit += 41 * SWEEP_SCALE) {
		flip(pk, bit);
		/* Encapsulating to a damaged key either fails (non-canonical ek,
		 * low-order point) or gives a secret the real owner cannot get. */
		if (um_hkem_encaps(ct, ss, pk) == 0 && um_hkem_decaps(ss2, ct, kem_sk) == 0 &&
		    !memcmp(ss, ss2, sizeof(ss)))
			undetected++;
		flip(pk, bit);
	}
	CHECK_EQ(undetected, 0);
}

static void test_kem_low_order_rejected(void)
{
	uint8_t pk[UM_HKEM_PK_BYTES], ct[UM_HKEM_CT_BYTES], ss[UM_HKEM_SS_BYTES];
	static const uint8_t low_order[2][32] = {{0}, {1}}; /* u = 0 and u = 1 */

	for (int i = 0; i < 2; i++) {
		memcpy(pk, kem_pk, sizeof(pk));
		memcpy(pk + UM_MLKEM1024_EK_BYTES, low_order[i], 32);
		CHECK_EQ(um_hkem_encaps(ct, ss, pk), -UM_EINVAL);
		CHECK_EQ(um_hkem_encaps(ct, ss, kem_pk), 0);
		memcpy(ct + UM_MLKEM1024_CT_BYTES, low_order[i], 32);
		memset(ss, 0xaa, sizeof(ss));
		CHECK_EQ(um_hkem_decaps(ss, ct, kem_sk), -UM_EBADMSG);
		CHECK(sodium_is_zero(ss, sizeof(ss))); /* nothing usable left behind */
	}
}

static void test_kem_bad_keys(void)
{
	uint8_t pk[UM_HKEM_PK_BYTES], sk[UM_HKEM_SK_BYTES], ct[UM_HKEM_CT_BYTES], ss[UM_HKEM_SS_BYTES];

	/* Non-canonical ek coefficient (12 bits all set = 4095 >= q). */
	memcpy(pk, kem_pk, sizeof(pk));
	pk[0] = 0xff;
	pk[1] |= 0x0f;
	CHECK_EQ(um_hkem_encaps(ct, ss, pk), -UM_EINVAL);
	/* dk whose stored H(ek) does not match. */
	CHECK_EQ(um_hkem_encaps(ct, ss, kem_pk), 0);
	memcpy(sk, kem_sk, sizeof(sk));
	sk[UM_MLKEM1024_DK_BYTES - 64] ^= 1;
	CHECK_EQ(um_hkem_decaps(ss, ct, sk), -UM_EINVAL);
	sodium_memzero(sk, sizeof(sk));
}

static const uint8_t message[] = "handshake transcript hash, 32+ bytes long.";
static const char context[] = "umbra-test";

static void test_sig_round_trip(void)
{
	uint8_t pk[UM_HSIG_PK_BYTES], sk[UM_HSIG_SK_BYTES], seed[UM_HSIG_SEED_BYTES];
	uint8_t sig[UM_HSIG_BYTES];
	char long_ctx[300];

	/* Deterministic from the seed; the halves come from their own seed. */
	for (int i = 0; i < UM_HSIG_SEED_BYTES; i++)
		seed[i] = (uint8_t)i;
	CHECK_EQ(um_hsig_keygen_seed(pk, sk, seed), 0);
	uint8_t pk_again[UM_HSIG_PK_BYTES], sk_again[UM_HSIG_SK_BYTES], ed_pk[32], ed_sk[64];

	CHECK_EQ(um_hsig_keygen_seed(pk_again, sk_again, seed), 0);
	CHECK_MEM(pk, pk_again, sizeof(pk));
	CHECK_MEM(sk, sk_again, sizeof(sk));
	crypto_sign_seed_keypair(ed_pk, ed_sk, seed);
	CHECK_MEM(pk, ed_pk, 32);

	CHECK_EQ(um_hsig_sign(sig, message, sizeof(message), context, sk), 0);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message), context, pk), 0);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message), "umbra-tesT", pk), -UM_EBADMSG);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message), NULL, pk), -UM_EBADMSG);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message) - 1, context, pk), -UM_EBADMSG);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message), context, sig_pk), -UM_EBADMSG);

	/* Empty message and NULL context (same as ""). */
	CHECK_EQ(um_hsig_sign(sig, NULL, 0, NULL, sk), 0);
	CHECK_EQ(um_hsig_verify(sig, NULL, 0, "", pk), 0);

	/* Context limit: 255 bytes. */
	memset(long_ctx, 'c', sizeof(long_ctx));
	long_ctx[255] = '\0';
	CHECK_EQ(um_hsig_sign(sig, message, sizeof(message), long_ctx, sk), 0);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message), long_ctx, pk), 0);
	long_ctx[255] = 'c';
	long_ctx[256] = '\0';
	CHECK_EQ(um_hsig_sign(sig, message, sizeof(message), long_ctx, sk), -UM_EINVAL);
	CHECK_EQ(um_hsig_verify(sig, message, sizeof(message), long_ctx, pk), -UM_EINVAL);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sk_again, sizeof(sk_again));
	sodium_memzero(ed_sk, sizeof(ed_sk));
}

/* Ed25519 signs "umbra-hsig-v1" || len(ctx) || ctx || msg. */
static void test_sig_ed25519_message(void)
{
	uint8_t sig[UM_HSIG_BYTES], m[13 + 1 + sizeof(context) - 1 + sizeof(message)];

	CHECK_EQ(um_hsig_sign(sig, message, sizeof(message), context, sig_sk), 0);
	memcpy(m, "umbra-hsig-v1", 13);
	m[13] = sizeof(context) - 1;
	memcpy(m + 14, context, sizeof(context) - 1);
	memcpy(m + 14 + sizeof(context) - 1, message, sizeof(message));
	CHECK_EQ(crypto_sign_verify_detached(sig, m, sizeof(m), sig_pk), 0);
	CHECK_EQ(um_mldsa87_verify(sig + 64, UM_MLDSA87_SIG_BYTES, m, sizeof(m), (const uint8_t *)context,
				   sizeof(context) - 1, sig_pk + 32),
		 0);
}

/* A signature with one good half and one half from elsewhere fails. */
static void test_sig_needs_both_halves(void)
{
	uint8_t sig[UM_HSIG_BYTES], other[UM_HSIG_BYTES], mixed[UM_HSIG_BYTES];
	static const uint8_t other_message[] = "another message";

	CHECK_EQ(um_hsig_sign(sig, message, sizeof(message), context, sig_sk), 0);
	CHECK_EQ(um_hsig_sign(other, other_message, sizeof(other_message), context, sig_sk), 0);
	memcpy(mixed, sig, 64);
	memcpy(mixed + 64, other + 64, UM_MLDSA87_SIG_BYTES);
	CHECK_EQ(um_hsig_verify(mixed, message, sizeof(message), context, sig_pk), -UM_EBADMSG);
	memcpy(mixed, other, 64);
	memcpy(mixed + 64, sig + 64, UM_MLDSA87_SIG_BYTES);
	CHECK_EQ(um_hsig_verify(mixed, message, sizeof(message), context, sig_pk), -UM_EBADMSG);
	memset(mixed, 0, 64);
	CHECK_EQ(um_hsig_verify(mixed, message, sizeof(message), context, sig_pk), -UM_EBADMSG);
}

static void test_sig_bit_flips(void)
{
	uint8_t sig[UM_HSIG_BYTES], msg[sizeof(message)], pk[UM_HSIG_PK_BYTES];
	int accepted = 0, tried = 0;

	memcpy(msg, message, sizeof(msg));
	memcpy(pk, sig_pk, sizeof(pk));
	CHECK_EQ(um_hsig_sign(sig, msg, sizeof(msg), context, sig_sk), 0);
	CHECK_EQ(um_hsig_verify(sig, msg, sizeof(msg), context, pk), 0);
	/* Signature: every bit of Ed25519, every 29th bit of ML-DSA. */
	for (size_t bit = 0; bit < UM_HSIG_BYTES * 8; bit++) {
		if (bit >= 64 * 8 && bit % (29 * SWEEP_SCALE))
			continue;
		flip(sig, bit);
		accepted += um_hsig_verify(sig, msg, sizeof(msg), context, pk) == 0;
		tried++;
		flip(sig, bit);
	}
	/* Message: every bit. */
	for (size_t bit = 0; bit < sizeof(msg) * 8; bit++) {
		flip(msg, bit);
		accepted += um_hsig_verify(sig, msg, sizeof(msg), context, pk) == 0;
		tried++;
		flip(msg, bit);
	}
	/* Public key: every bit of Ed25519, every 37th bit of ML-DSA. */
	for (size_t bit = 0; bit < UM_HSIG_PK_BYTES * 8; bit++) {
		if (bit >= 32 * 8 && bit % (37 * SWEEP_SCALE))
			continue;
		flip(pk, bit);
		accepted += um_hsig_verify(sig, msg, sizeof(msg), context, pk) == 0;
		tried++;
		flip(pk, bit);
	}
	CHECK_EQ(accepted, 0);
	CHECK(tried > 2500 / SWEEP_SCALE);
	CHECK_EQ(um_hsig_verify(sig, msg, sizeof(msg), context, pk), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	if (um_hkem_keygen(kem_pk, kem_sk) != 0 ||
	    um_hsig_keygen_seed(sig_pk, sig_sk,
				(const uint8_t *)"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") !=
		0) {
		fprintf(stderr, "key generation failed\n");
		return 1;
	}
	RUN(test_kem_round_trip);
	RUN(test_kem_combiner);
	RUN(test_kem_each_half_bound);
	RUN(test_kem_ciphertext_bit_flips);
	RUN(test_kem_public_key_bit_flips);
	RUN(test_kem_low_order_rejected);
	RUN(test_kem_bad_keys);
	RUN(test_sig_round_trip);
	RUN(test_sig_ed25519_message);
	RUN(test_sig_needs_both_halves);
	RUN(test_sig_bit_flips);
	sodium_memzero(kem_sk, sizeof(kem_sk));
	sodium_memzero(sig_sk, sizeof(sig_sk));
	return um_test_end();
}
