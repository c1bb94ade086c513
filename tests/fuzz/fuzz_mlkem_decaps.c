/* SPDX-License-Identifier: MIT */
/* ML-KEM-1024 (and hybrid) decapsulation on arbitrary input.
 * Input: 1 mode byte, then bytes (zero padded to the needed length):
 *   mode even: ct (1600: ML-KEM ct || X25519 point) against a fixed key. Decaps must succeed, be
 *              deterministic, and give the real shared secret only for the
 *              real ciphertext (anything else gets the implicit-rejection
 *              secret). The hybrid decaps runs on all 1600 bytes.
 *   mode odd:  ct (1600) || dk (3168), both arbitrary. Decaps must either
 *              reject dk (-UM_EINVAL, the FIPS 203 §7.3 hash check) or
 *              succeed; never crash or read out of bounds. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hybrid.h"
#include "crypto/mlkem.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ek[UM_MLKEM1024_EK_BYTES], dk[UM_MLKEM1024_DK_BYTES];
static uint8_t real_ct[UM_MLKEM1024_CT_BYTES], real_ss[32];
static uint8_t hkem_pk[UM_HKEM_PK_BYTES], hkem_sk[UM_HKEM_SK_BYTES];
static int ready;

static void setup(void)
{
	uint8_t d[32], z[32], m[32];

	if (sodium_init() < 0)
		abort();
	memset(d, 1, 32);
	memset(z, 2, 32);
	memset(m, 3, 32);
	/* Fixed keys; the seed corpus holds real_ct made from the same constants. */
	if (um_mlkem1024_keygen_derand(ek, dk, d, z) != 0 || um_mlkem1024_encaps_derand(real_ct, real_ss, ek, m) != 0)
		abort();
	/* Hybrid key: the fixed ML-KEM key plus a fixed X25519 scalar. */
	memcpy(hkem_pk, ek, sizeof(ek));
	memcpy(hkem_sk, dk, sizeof(dk));
	memset(hkem_sk + UM_MLKEM1024_DK_BYTES, 4, 32);
	crypto_scalarmult_base(hkem_sk + UM_MLKEM1024_DK_BYTES + 32, hkem_sk + UM_MLKEM1024_DK_BYTES);
	memcpy(hkem_pk + UM_MLKEM1024_EK_BYTES, hkem_sk + UM_MLKEM1024_DK_BYTES + 32, 32);
	ready = 1;
}

static void take(uint8_t *out, size_t out_len, const uint8_t **data, size_t *size)
{
	size_t n = *size < out_len ? *size : out_len;

	memset(out, 0, out_len);
	if (n)
		memcpy(out, *data, n);
	*data += n;
	*size -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ct[UM_HKEM_CT_BYTES], key[UM_MLKEM1024_DK_BYTES];
	uint8_t ss[32], ss2[32];
	uint8_t mode;
	int rc;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	take(ct, sizeof(ct), &data, &size);
	if (mode & 1) {
		take(key, sizeof(key), &data, &size);
		rc = um_mlkem1024_decaps(ss, ct, key);
		if (rc != 0 && rc != -UM_EINVAL)
			abort();
		if (rc == 0 && um_mlkem1024_check_dk(key) != 0)
			abort();
		return 0;
	}
	if (um_mlkem1024_decaps(ss, ct, dk) != 0 || um_mlkem1024_decaps(ss2, ct, dk) != 0)
		abort();
	if (memcmp(ss, ss2, 32) != 0)
		abort(); /* deterministic */
	if ((memcmp(ss, real_ss, 32) == 0) != (memcmp(ct, real_ct, UM_MLKEM1024_CT_BYTES) == 0))
		abort(); /* the real secret only for the real ciphertext */
	rc = um_hkem_decaps(ss, ct, hkem_sk);
	if (rc != 0 && rc != -UM_EBADMSG)
		abort();
	return 0;
}
