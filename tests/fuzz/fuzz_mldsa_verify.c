/* SPDX-License-Identifier: MIT */
/* ML-DSA-87 (and hybrid) verification on arbitrary input.
 * Input: 1 mode byte, then:
 *   mode 0: sig (4627, zero padded) || msg, against a fixed key. Must verify
 *           only for the reference signature on the reference message (a
 *           deterministic signature made at start-up): any mutation of the
 *           signature or message is rejected (strong unforgeability, strict
 *           hint decoding).
 *   mode 1: pk (2592) || sig (4627) || msg, all arbitrary: no crash.
 *   mode 2: hybrid signature (4691) || msg against a fixed hybrid key: only
 *           the (deterministic) reference hybrid signature verifies.
 *   other:  ML-DSA with a short signature (length from the next byte). */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hybrid.h"
#include "crypto/mldsa.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ref_msg[] = "umbra fuzz reference message";
static const uint8_t ref_ctx[] = "fuzz";
static uint8_t pk[UM_MLDSA87_PK_BYTES], sk[UM_MLDSA87_SK_BYTES], ref_sig[UM_MLDSA87_SIG_BYTES];
static uint8_t hpk[UM_HSIG_PK_BYTES], hsk[UM_HSIG_SK_BYTES], ref_hsig[UM_HSIG_BYTES];
static int ready;

/* um_hsig_sign is hedged, so build the reference hybrid signature by hand,
 * deterministically, from the documented construction; that it verifies
 * also checks um_hsig_verify against the documentation. */
static void sign_hybrid_reference(void)
{
	uint8_t m[13 + 1 + 4 + sizeof(ref_msg)];

	memcpy(m, "umbra-hsig-v1", 13);
	m[13] = 4;
	memcpy(m + 14, ref_ctx, 4);
	memcpy(m + 18, ref_msg, sizeof(ref_msg));
	if (crypto_sign_detached(ref_hsig, NULL, m, sizeof(m), hsk) != 0 ||
	    um_mldsa87_sign(ref_hsig + 64, m, sizeof(m), ref_ctx, 4, hsk + 64, 1) != 0 ||
	    um_hsig_verify(ref_hsig, ref_msg, sizeof(ref_msg), "fuzz", hpk) != 0)
		abort();
}

static void setup(void)
{
	uint8_t xi[32], seed[UM_HSIG_SEED_BYTES];

	if (sodium_init() < 0)
		abort();
	memset(xi, 7, sizeof(xi));
	memset(seed, 9, sizeof(seed));
	if (um_mldsa87_keygen_seed(pk, sk, xi) != 0 ||
	    um_mldsa87_sign(ref_sig, ref_msg, sizeof(ref_msg), ref_ctx, 4, sk, 1) != 0 ||
	    um_hsig_keygen_seed(hpk, hsk, seed) != 0)
		abort();
	sign_hybrid_reference();
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t sig[UM_HSIG_BYTES], key[UM_MLDSA87_PK_BYTES];
	size_t n, sig_len;
	uint8_t mode;
	int rc;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode == 1) {
		n = size < sizeof(key) ? size : sizeof(key);
		memset(key, 0, sizeof(key));
		memcpy(key, data, n);
		data += n;
		size -= n;
	}
	sig_len = mode == 2 ? UM_HSIG_BYTES : UM_MLDSA87_SIG_BYTES;
	if (mode > 2 && size) {
		sig_len = data[0] * 19u % UM_MLDSA87_SIG_BYTES;
		data++;
		size--;
	}
	n = size < sig_len ? size : sig_len;
	memset(sig, 0, sizeof(sig));
	if (n)
		memcpy(sig, data, n);
	data += n;
	size -= n;
	/* data/size is now the message. */
	switch (mode) {
	case 0:
		rc = um_mldsa87_verify(sig, UM_MLDSA87_SIG_BYTES, data, size, ref_ctx, 4, pk);
		if (rc == 0 && (size != sizeof(ref_msg) || memcmp(data, ref_msg, size) != 0 ||
				memcmp(sig, ref_sig, sizeof(ref_sig)) != 0))
			abort(); /* a mutated signature or message verified */
		if (rc != 0 && rc != -UM_EBADMSG)
			abort();
		break;
	case 1:
		rc = um_mldsa87_verify(sig, UM_MLDSA87_SIG_BYTES, data, size, ref_ctx, 4, key);
		if (rc != 0 && rc != -UM_EBADMSG && rc != -UM_EINVAL)
			abort();
		break;
	case 2:
		rc = um_hsig_verify(sig, data, size, "fuzz", hpk);
		if (rc == 0 && (size != sizeof(ref_msg) || memcmp(data, ref_msg, size) != 0 ||
				memcmp(sig, ref_hsig, sizeof(ref_hsig)) != 0))
			abort();
		break;
	default:
		rc = um_mldsa87_verify(sig, sig_len, data, size, ref_ctx, 4, pk);
		if (rc == 0 && sig_len != UM_MLDSA87_SIG_BYTES)
			abort(); /* a short signature never verifies */
		break;
	}
	return 0;
}
