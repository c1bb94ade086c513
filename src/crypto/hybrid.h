/* SPDX-License-Identifier: MIT */
/* Hybrid primitives: a flaw in one half never exposes a session.
 *
 * Hybrid KEM = X25519 + ML-KEM-1024, combined X-Wing style:
 *   ss = SHA3-256(label || ss_mlkem || ss_x25519 || ct_x25519 || pk_x25519)
 * where ct_x25519 is the sender's ephemeral X25519 public key and pk_x25519
 * the recipient's. Hybrid signature = Ed25519 + ML-DSA-87 over the same
 * domain-separated message; it verifies only if both halves verify.
 * All functions return 0 or a negative -UM_E* code. */
#ifndef UM_CRYPTO_HYBRID_H
#define UM_CRYPTO_HYBRID_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/mldsa.h"
#include "crypto/mlkem.h"

enum {
	UM_HKEM_PK_BYTES = UM_MLKEM1024_EK_BYTES + 32,
	UM_HKEM_SK_BYTES = UM_MLKEM1024_DK_BYTES + 32 + 32, /* dk || x25519 sk || x25519 pk */
	UM_HKEM_CT_BYTES = UM_MLKEM1024_CT_BYTES + 32,
	UM_HKEM_SS_BYTES = 32,
	UM_HSIG_PK_BYTES = 32 + UM_MLDSA87_PK_BYTES,
	UM_HSIG_SK_BYTES = 64 + UM_MLDSA87_SK_BYTES, /* libsodium ed25519 sk || ML-DSA sk */
	UM_HSIG_BYTES = 64 + UM_MLDSA87_SIG_BYTES,
	UM_HSIG_SEED_BYTES = 64, /* ed25519 seed || ML-DSA xi */
};

/* Key pair for the hybrid KEM; pk = ek || x25519_pk. */
int um_hkem_keygen(uint8_t pk[UM_HKEM_PK_BYTES], uint8_t sk[UM_HKEM_SK_BYTES]);
/* ct = mlkem_ct || x25519 ephemeral pk. */
int um_hkem_encaps(uint8_t ct[UM_HKEM_CT_BYTES], uint8_t ss[UM_HKEM_SS_BYTES], const uint8_t pk[UM_HKEM_PK_BYTES]);
int um_hkem_decaps(uint8_t ss[UM_HKEM_SS_BYTES], const uint8_t ct[UM_HKEM_CT_BYTES],
		   const uint8_t sk[UM_HKEM_SK_BYTES]);

/* Hybrid signature keys derived from two 32-byte seeds. pk = ed_pk || mldsa_pk. */
int um_hsig_keygen_seed(uint8_t pk[UM_HSIG_PK_BYTES], uint8_t sk[UM_HSIG_SK_BYTES],
			const uint8_t seed[UM_HSIG_SEED_BYTES]);
/* ctx is a domain-separation label (<= 255 bytes) bound into both halves. */
int um_hsig_sign(uint8_t sig[UM_HSIG_BYTES], const uint8_t *msg, size_t msg_len, const char *ctx,
		 const uint8_t sk[UM_HSIG_SK_BYTES]);
int um_hsig_verify(const uint8_t sig[UM_HSIG_BYTES], const uint8_t *msg, size_t msg_len, const char *ctx,
		   const uint8_t pk[UM_HSIG_PK_BYTES]);

#endif
