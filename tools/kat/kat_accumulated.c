/* SPDX-License-Identifier: MIT */
/* accumulated.json: C2SP/CCTV-style long-run tests that keep only a hash.
 * The procedures (as stated in the file):
 *   ML-KEM: rng = SHAKE-128(""), read sequentially; per iteration draw d(32),
 *     z(32), m(32), ct(1568); (ek, dk) = KeyGen_internal(d, z); (k, c) =
 *     Encaps_internal(ek, m); absorb ek, dk, c, k, Decaps(dk, ct) into a
 *     second SHAKE-128; after N iterations squeeze 32 bytes.
 *   ML-DSA: s = SHAKE-128(""), a = SHAKE-128; per iteration seed = read(s,
 *     32); (pk, sk) = KeyGen(seed); absorb pk; sig = deterministic external
 *     Sign(sk, "", ctx ""); absorb sig; Verify(pk, sig) must pass; result =
 *     read(a, 32). */
#include <stdio.h>
#include <string.h>

#include "crypto/mldsa.h"
#include "crypto/mlkem.h"
#include "crypto/sha3.h"
#include "kat/kat.h"

enum { KAT_ACC_MAX_ITERATIONS = 1000000 };

struct kat_acc_kem {
	uint8_t d[32], z[32], m[32], ct_random[UM_MLKEM1024_CT_BYTES];
	uint8_t ek[UM_MLKEM1024_EK_BYTES], dk[UM_MLKEM1024_DK_BYTES];
	uint8_t ct[UM_MLKEM1024_CT_BYTES], k[UM_MLKEM1024_SS_BYTES], k_reject[UM_MLKEM1024_SS_BYTES];
};

static int kat_acc_mlkem(struct kat_case *c, int64_t iterations, uint8_t out[32])
{
	struct kat_acc_kem *w = kat_alloc(c, sizeof(*w));
	struct um_keccak rng, acc;
	int rc;

	if (!w)
		return -1;
	um_shake128_init(&rng);
	um_shake128_init(&acc);
	for (int64_t i = 0; i < iterations; i++) {
		um_keccak_squeeze(&rng, w->d, sizeof(w->d));
		um_keccak_squeeze(&rng, w->z, sizeof(w->z));
		um_keccak_squeeze(&rng, w->m, sizeof(w->m));
		um_keccak_squeeze(&rng, w->ct_random, sizeof(w->ct_random));
		rc = um_mlkem1024_keygen_derand(w->ek, w->dk, w->d, w->z);
		if (rc == 0)
			rc = um_mlkem1024_encaps_derand(w->ct, w->k, w->ek, w->m);
		if (rc == 0)
			rc = um_mlkem1024_decaps(w->k_reject, w->ct_random, w->dk);
		if (rc < 0) {
			kat_fail(c, "iteration %lld: ML-KEM call returned %d", (long long)i, rc);
			return -1;
		}
		um_keccak_absorb(&acc, w->ek, sizeof(w->ek));
		um_keccak_absorb(&acc, w->dk, sizeof(w->dk));
		um_keccak_absorb(&acc, w->ct, sizeof(w->ct));
		um_keccak_absorb(&acc, w->k, sizeof(w->k));
		um_keccak_absorb(&acc, w->k_reject, sizeof(w->k_reject));
	}
	um_keccak_squeeze(&acc, out, 32);
	return 0;
}

static int kat_acc_mldsa(struct kat_case *c, int64_t iterations, uint8_t out[32])
{
	uint8_t *pk = kat_alloc(c, UM_MLDSA87_PK_BYTES), *sk = kat_alloc(c, UM_MLDSA87_SK_BYTES);
	uint8_t *sig = kat_alloc(c, UM_MLDSA87_SIG_BYTES);
	uint8_t seed[UM_MLDSA87_SEED_BYTES];
	static const uint8_t empty[1]; /* message and context are empty; never pass NULL */
	struct um_keccak rng, acc;
	int rc;

	if (!pk || !sk || !sig)
		return -1;
	um_shake128_init(&rng);
	um_shake128_init(&acc);
	for (int64_t i = 0; i < iterations; i++) {
		um_keccak_squeeze(&rng, seed, sizeof(seed));
		rc = um_mldsa87_keygen_seed(pk, sk, seed);
		if (rc < 0) {
			kat_fail(c, "iteration %lld: keygen_seed returned %d", (long long)i, rc);
			return -1;
		}
		um_keccak_absorb(&acc, pk, UM_MLDSA87_PK_BYTES);
		rc = um_mldsa87_sign(sig, empty, 0, empty, 0, sk, 1);
		if (rc < 0) {
			kat_fail(c, "iteration %lld: sign returned %d", (long long)i, rc);
			return -1;
		}
		um_keccak_absorb(&acc, sig, UM_MLDSA87_SIG_BYTES);
		rc = um_mldsa87_verify(sig, UM_MLDSA87_SIG_BYTES, empty, 0, empty, 0, pk);
		if (rc < 0) {
			kat_fail(c, "iteration %lld: verify of the fresh signature returned %d", (long long)i, rc);
			return -1;
		}
	}
	um_keccak_squeeze(&acc, out, 32);
	return 0;
}

int kat_run_accumulated(struct kat_ctx *ctx, const struct um_json_value *root)
{
	const struct um_json_value *cases = um_json_get(root, "cases");

	for (size_t i = 0; i < um_json_length(cases); i++) {
		const struct um_json_value *entry = um_json_index(cases, i);
		const char *algorithm = um_json_string(um_json_get(entry, "algorithm"), NULL);
		int is_kem = kat_str_ieq(algorithm, "ML-KEM-1024"), is_dsa = kat_str_ieq(algorithm, "ML-DSA-87");
		const char *procedure = is_kem ? "procedure_mlkem" : "procedure_mldsa";

		if (!is_kem && !is_dsa)
			return kat_file_error(ctx, "cases[%zu]: unsupported algorithm '%s'", i,
					      algorithm ? algorithm : "(none)");
		/* The procedure text must be there: we implement exactly that text. */
		if (!um_json_string(um_json_get(root, procedure), NULL))
			return kat_file_error(ctx, "cases[%zu]: no '%s' describing the procedure", i, procedure);

		struct kat_case c;
		int64_t iterations;
		size_t want_len;
		uint8_t got[32];

		kat_case_begin(&c, ctx, NULL, 0, entry, i);
		snprintf(c.label, sizeof(c.label), "cases[%zu] %s", i, algorithm);
		const uint8_t *want = kat_hex_req(&c, "expected", &want_len);
		if (um_json_int64(um_json_get(entry, "iterations"), &iterations) < 0 || iterations < 0 ||
		    iterations > KAT_ACC_MAX_ITERATIONS)
			kat_fail(&c, "'iterations' missing or out of range");
		else if (want &&
			 (is_kem ? kat_acc_mlkem(&c, iterations, got) : kat_acc_mldsa(&c, iterations, got)) == 0 &&
			 kat_compare(&c, "accumulated hash", got, sizeof(got), want, want_len))
			kat_pass(&c);
		kat_case_end(&c);
	}
	return 0;
}
