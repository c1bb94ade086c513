/* SPDX-License-Identifier: MIT */
/* ML-DSA-87 (FIPS 204, final). Byte arrays use the standard's encodings.
 * Functions return 0 or a negative -UM_E* code: -UM_EBADMSG when a
 * signature does not verify, -UM_EINVAL for malformed arguments (context
 * longer than 255 bytes, a secret key whose s1/s2 fields are out of
 * range). Signing is hedged unless the caller asks for
 * determinism; the rejection loop is bounded (FIPS 204 permits a bound; we
 * give up with -UM_ELIMIT after UM_MLDSA87_MAX_ATTEMPTS, which is
 * astronomically unlikely). Secrets on the stack are zeroed before return.
 * Constant-time testing: building the library with -DUM_CTGRIND turns the
 * values FIPS 204 lets us reveal (per-attempt reject bit, c_tilde, outputs)
 * into VALGRIND_MAKE_MEM_DEFINED calls; see UM_MLDSA_DECLASSIFY in
 * mldsa_internal.h. Signing uses about 120 KiB of stack. */
#ifndef UM_CRYPTO_MLDSA_H
#define UM_CRYPTO_MLDSA_H

#include <stddef.h>
#include <stdint.h>

enum {
	UM_MLDSA87_PK_BYTES = 2592,
	UM_MLDSA87_SK_BYTES = 4896,
	UM_MLDSA87_SIG_BYTES = 4627,
	UM_MLDSA87_SEED_BYTES = 32,
	UM_MLDSA87_MU_BYTES = 64,
	UM_MLDSA87_MAX_ATTEMPTS = 814, /* FIPS 204 Appendix C bound */
};

/* ML-DSA.KeyGen_internal(xi). */
int um_mldsa87_keygen_seed(uint8_t pk[UM_MLDSA87_PK_BYTES], uint8_t sk[UM_MLDSA87_SK_BYTES],
			   const uint8_t xi[UM_MLDSA87_SEED_BYTES]);
int um_mldsa87_keygen(uint8_t pk[UM_MLDSA87_PK_BYTES], uint8_t sk[UM_MLDSA87_SK_BYTES]);

/* Internal interface (Alg. 7/8): mprime is M' exactly as given. rnd is the
 * 32-byte hedge (all zero for deterministic signing). */
int um_mldsa87_sign_internal(uint8_t sig[UM_MLDSA87_SIG_BYTES], const uint8_t *mprime, size_t mprime_len,
			     const uint8_t sk[UM_MLDSA87_SK_BYTES], const uint8_t rnd[32]);
/* External-mu variant: mu = H(tr || M', 64) given directly. */
int um_mldsa87_sign_mu(uint8_t sig[UM_MLDSA87_SIG_BYTES], const uint8_t mu[UM_MLDSA87_MU_BYTES],
		       const uint8_t sk[UM_MLDSA87_SK_BYTES], const uint8_t rnd[32]);
int um_mldsa87_verify_internal(const uint8_t *sig, size_t sig_len, const uint8_t *mprime, size_t mprime_len,
			       const uint8_t pk[UM_MLDSA87_PK_BYTES]);
int um_mldsa87_verify_mu(const uint8_t *sig, size_t sig_len, const uint8_t mu[UM_MLDSA87_MU_BYTES],
			 const uint8_t pk[UM_MLDSA87_PK_BYTES]);

/* External "pure" interface (Alg. 2/3): M' = 0x00 || len(ctx) || ctx || msg.
 * deterministic != 0 uses rnd = 0^32, otherwise rnd comes from the OS. */
int um_mldsa87_sign(uint8_t sig[UM_MLDSA87_SIG_BYTES], const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
		    size_t ctx_len, const uint8_t sk[UM_MLDSA87_SK_BYTES], int deterministic);
int um_mldsa87_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
		      size_t ctx_len, const uint8_t pk[UM_MLDSA87_PK_BYTES]);

#endif
