/* SPDX-License-Identifier: MIT */
/* ML-KEM-1024 (FIPS 203, final). Byte arrays have the standard's encodings.
 * All functions return 0 or a negative -UM_E* code (util/error.h).
 * Randomised variants draw from libsodium's randombytes_buf (the caller must
 * have called sodium_init()). Secrets on the stack are zeroed before return. */
#ifndef UM_CRYPTO_MLKEM_H
#define UM_CRYPTO_MLKEM_H

#include <stdint.h>

enum {
	UM_MLKEM1024_EK_BYTES = 1568,
	UM_MLKEM1024_DK_BYTES = 3168,
	UM_MLKEM1024_CT_BYTES = 1568,
	UM_MLKEM1024_SS_BYTES = 32,
	UM_MLKEM1024_SEED_BYTES = 64, /* d || z */
};

/* ML-KEM.KeyGen_internal(d, z). */
int um_mlkem1024_keygen_derand(uint8_t ek[UM_MLKEM1024_EK_BYTES], uint8_t dk[UM_MLKEM1024_DK_BYTES],
			       const uint8_t d[32], const uint8_t z[32]);
int um_mlkem1024_keygen(uint8_t ek[UM_MLKEM1024_EK_BYTES], uint8_t dk[UM_MLKEM1024_DK_BYTES]);

/* ML-KEM.Encaps_internal(ek, m). Performs the FIPS 203 §7.2 modulus check:
 * returns -UM_EINVAL (and writes nothing) if ek is not canonical. */
int um_mlkem1024_encaps_derand(uint8_t ct[UM_MLKEM1024_CT_BYTES], uint8_t ss[UM_MLKEM1024_SS_BYTES],
			       const uint8_t ek[UM_MLKEM1024_EK_BYTES], const uint8_t m[32]);
int um_mlkem1024_encaps(uint8_t ct[UM_MLKEM1024_CT_BYTES], uint8_t ss[UM_MLKEM1024_SS_BYTES],
			const uint8_t ek[UM_MLKEM1024_EK_BYTES]);

/* ML-KEM.Decaps with implicit rejection (constant time: the rejection key is
 * selected without a branch). Performs the §7.3 hash check on dk first:
 * returns -UM_EINVAL if H(ek) stored in dk does not match. */
int um_mlkem1024_decaps(uint8_t ss[UM_MLKEM1024_SS_BYTES], const uint8_t ct[UM_MLKEM1024_CT_BYTES],
			const uint8_t dk[UM_MLKEM1024_DK_BYTES]);
/* FIPS 203 Algorithm 21 alone, for a dk that already passed
 * um_mlkem1024_check_dk (or came from keygen in this process): §7.3 asks
 * for checked inputs, not for re-hashing ek (12 Keccak permutations, about
 * an eighth of Decaps) on every call with the same key. */
int um_mlkem1024_decaps_checked(uint8_t ss[UM_MLKEM1024_SS_BYTES], const uint8_t ct[UM_MLKEM1024_CT_BYTES],
				const uint8_t dk[UM_MLKEM1024_DK_BYTES]);

/* Input checks alone (FIPS 203 §7.2, §7.3); 0 if the key passes. */
int um_mlkem1024_check_ek(const uint8_t ek[UM_MLKEM1024_EK_BYTES]);
int um_mlkem1024_check_dk(const uint8_t dk[UM_MLKEM1024_DK_BYTES]);

#endif
