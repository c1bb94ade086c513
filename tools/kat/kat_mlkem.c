/* SPDX-License-Identifier: MIT */
/* ML-KEM-1024 vectors: ACVP keyGen and encapDecap (encapsulation,
 * decapsulation, encapsulationKeyCheck, decapsulationKeyCheck; tr1 keyFormat
 * seed or expanded) and the Wycheproof groups MLKEMKeyGen, MLKEMEncapsTest,
 * MLKEMDecapsValidationTest and MLKEMTest (keygen from seed, then decaps).
 *
 * Inputs of the wrong length never reach the API: the runner rejects them
 * itself (the API takes fixed-size arrays), which is the correct outcome for
 * a Wycheproof 'invalid' case or an ACVP check with testPassed = false. */
#include <string.h>

#include "crypto/mlkem.h"
#include "kat/kat.h"

enum kat_mlkem_op {
	KAT_KEM_ACVP_KEYGEN,
	KAT_KEM_ACVP_ENCAP_DECAP,
	KAT_KEM_WP_KEYGEN,
	KAT_KEM_WP_ENCAPS,
	KAT_KEM_WP_DECAPS,      /* expanded dk */
	KAT_KEM_WP_SEED_DECAPS, /* keygen(seed) then decaps */
};

struct kat_kem_keys {
	uint8_t ek[UM_MLKEM1024_EK_BYTES];
	uint8_t dk[UM_MLKEM1024_DK_BYTES];
};

/* ACVP keyGen: (d, z) -> (ek, dk). */
static void kat_kem_acvp_keygen(struct kat_case *c)
{
	size_t d_len, z_len, ek_len, dk_len;
	const uint8_t *d = kat_hex_req(c, "d", &d_len), *z = kat_hex_req(c, "z", &z_len);
	const uint8_t *ek = kat_hex_req(c, "ek", &ek_len), *dk = kat_hex_req(c, "dk", &dk_len);
	struct kat_kem_keys *k = kat_alloc(c, sizeof(*k));
	int rc;

	if (!d || !z || !ek || !dk || !k)
		return;
	if (d_len != 32 || z_len != 32) {
		kat_fail(c, "d and z must be 32 bytes (got %zu, %zu)", d_len, z_len);
		return;
	}
	rc = um_mlkem1024_keygen_derand(k->ek, k->dk, d, z);
	if (rc < 0) {
		kat_fail(c, "keygen_derand returned %d", rc);
		return;
	}
	if (kat_compare(c, "ek", k->ek, sizeof(k->ek), ek, ek_len) &&
	    kat_compare(c, "dk", k->dk, sizeof(k->dk), dk, dk_len))
		kat_pass(c);
}

static void kat_kem_acvp_encapsulation(struct kat_case *c)
{
	size_t ek_len, m_len, c_len, k_len, dk_len;
	const uint8_t *ek = kat_hex_req(c, "ek", &ek_len), *m = kat_hex_req(c, "m", &m_len);
	const uint8_t *want_c = kat_hex_req(c, "c", &c_len), *want_k = kat_hex_req(c, "k", &k_len);
	const uint8_t *dk = kat_hex(c, "dk", &dk_len, NULL);
	uint8_t ct[UM_MLKEM1024_CT_BYTES], ss[UM_MLKEM1024_SS_BYTES];
	int rc;

	if (!ek || !m || !want_c || !want_k || c->verdict == KAT_FAIL)
		return;
	if (ek_len != UM_MLKEM1024_EK_BYTES || m_len != 32) {
		kat_fail(c, "ek or m has the wrong length (%zu, %zu)", ek_len, m_len);
		return;
	}
	rc = um_mlkem1024_encaps_derand(ct, ss, ek, m);
	if (rc < 0) {
		kat_fail(c, "encaps_derand returned %d", rc);
		return;
	}
	if (!kat_compare(c, "c", ct, sizeof(ct), want_c, c_len) || !kat_compare(c, "k", ss, sizeof(ss), want_k, k_len))
		return;
	/* The file gives dk "for convenience": decapsulating c must give k too. */
	if (dk && dk_len == UM_MLKEM1024_DK_BYTES) {
		rc = um_mlkem1024_decaps(ss, ct, dk);
		if (rc < 0) {
			kat_fail(c, "decaps of the encapsulation returned %d", rc);
			return;
		}
		if (!kat_compare(c, "k (decaps of c)", ss, sizeof(ss), want_k, k_len))
			return;
	}
	kat_pass(c);
}

/* Decapsulation key from the case: 'dk', or with keyFormat seed from d, z. */
static const uint8_t *kat_kem_acvp_dk(struct kat_case *c, size_t *dk_len)
{
	if (!kat_str_ieq(kat_str(c, "keyFormat"), "seed"))
		return kat_hex_req(c, "dk", dk_len);

	size_t d_len, z_len, ek_len, given_len;
	const uint8_t *d = kat_hex_req(c, "d", &d_len), *z = kat_hex_req(c, "z", &z_len);
	const uint8_t *ek = kat_hex(c, "ek", &ek_len, NULL), *given = kat_hex(c, "dk", &given_len, NULL);
	struct kat_kem_keys *k = kat_alloc(c, sizeof(*k));
	int rc;

	if (!d || !z || !k || c->verdict == KAT_FAIL)
		return NULL;
	if (d_len != 32 || z_len != 32) {
		kat_fail(c, "d and z must be 32 bytes (got %zu, %zu)", d_len, z_len);
		return NULL;
	}
	rc = um_mlkem1024_keygen_derand(k->ek, k->dk, d, z);
	if (rc < 0) {
		kat_fail(c, "keygen_derand returned %d", rc);
		return NULL;
	}
	/* ek and dk may be given as well; they must match what the seed gives. */
	if ((ek && !kat_compare(c, "ek (from seed)", k->ek, sizeof(k->ek), ek, ek_len)) ||
	    (given && !kat_compare(c, "dk (from seed)", k->dk, sizeof(k->dk), given, given_len)))
		return NULL;
	*dk_len = sizeof(k->dk);
	return k->dk;
}

static void kat_kem_acvp_decapsulation(struct kat_case *c)
{
	size_t dk_len, c_len, k_len;
	const uint8_t *dk = kat_kem_acvp_dk(c, &dk_len);
	const uint8_t *ct = kat_hex_req(c, "c", &c_len), *want_k = kat_hex_req(c, "k", &k_len);
	uint8_t ss[UM_MLKEM1024_SS_BYTES];
	int rc;

	if (!dk || !ct || !want_k || c->verdict == KAT_FAIL)
		return;
	if (dk_len != UM_MLKEM1024_DK_BYTES || c_len != UM_MLKEM1024_CT_BYTES) {
		kat_fail(c, "dk or c has the wrong length (%zu, %zu)", dk_len, c_len);
		return;
	}
	rc = um_mlkem1024_decaps(ss, ct, dk);
	if (rc < 0) {
		kat_fail(c, "decaps returned %d", rc);
		return;
	}
	if (kat_compare(c, "k", ss, sizeof(ss), want_k, k_len))
		kat_pass(c);
}

/* encapsulationKeyCheck / decapsulationKeyCheck: FIPS 203 §7.2 / §7.3. */
static void kat_kem_acvp_key_check(struct kat_case *c, int is_dk)
{
	const char *name = is_dk ? "dk" : "ek";
	size_t len;
	const uint8_t *key = kat_hex_req(c, name, &len);
	int expected = kat_bool_req(c, "testPassed");
	int ok;

	if (!key || expected < 0)
		return;
	if (is_dk)
		ok = len == UM_MLKEM1024_DK_BYTES && um_mlkem1024_check_dk(key) == 0;
	else
		ok = len == UM_MLKEM1024_EK_BYTES && um_mlkem1024_check_ek(key) == 0;
	if (ok != expected)
		kat_fail(c, "%s check %s, expected testPassed=%s", name, ok ? "passed" : "failed",
			 expected ? "true" : "false");
	else
		kat_pass(c);
}

/* Compares without recording a failure: the verdict helper decides. */
static int kat_same(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	return want && got_len == want_len && memcmp(got, want, got_len) == 0;
}

static void kat_kem_wp_keygen(struct kat_case *c)
{
	char result = kat_wycheproof_result(c);
	size_t seed_len, ek_len = 0, dk_len = 0;
	const uint8_t *seed = kat_hex_req(c, "seed", &seed_len);
	const uint8_t *ek = kat_hex(c, "ek", &ek_len, NULL), *dk = kat_hex(c, "dk", &dk_len, NULL);
	struct kat_kem_keys *k = kat_alloc(c, sizeof(*k));

	if (!result || !seed || !k || c->verdict == KAT_FAIL)
		return;
	if (seed_len != UM_MLKEM1024_SEED_BYTES) {
		kat_wycheproof_verdict(c, result, 0, 0, "seed length");
		return;
	}
	int rc = um_mlkem1024_keygen_derand(k->ek, k->dk, seed, seed + 32);
	int match = rc == 0 && kat_same(k->ek, sizeof(k->ek), ek, ek_len) && kat_same(k->dk, sizeof(k->dk), dk, dk_len);
	kat_wycheproof_verdict(c, result, rc == 0, match, "keygen ek/dk");
}

static void kat_kem_wp_encaps(struct kat_case *c)
{
	char result = kat_wycheproof_result(c);
	size_t ek_len, m_len, c_len = 0, k_len = 0;
	const uint8_t *ek = kat_hex_req(c, "ek", &ek_len), *m = kat_hex_req(c, "m", &m_len);
	const uint8_t *want_c = kat_hex(c, "c", &c_len, NULL), *want_k = kat_hex(c, "K", &k_len, NULL);
	uint8_t ct[UM_MLKEM1024_CT_BYTES], ss[UM_MLKEM1024_SS_BYTES];

	if (!result || !ek || !m || c->verdict == KAT_FAIL)
		return;
	if (ek_len != UM_MLKEM1024_EK_BYTES || m_len != 32) {
		kat_wycheproof_verdict(c, result, 0, 0, "ek/m length");
		return;
	}
	int rc = um_mlkem1024_encaps_derand(ct, ss, ek, m);
	int match = rc == 0 && kat_same(ct, sizeof(ct), want_c, c_len) && kat_same(ss, sizeof(ss), want_k, k_len);
	kat_wycheproof_verdict(c, result, rc == 0, match, "encaps c/K");
}

/* Decaps with expanded dk (MLKEMDecapsValidationTest) or with a key from
 * 'seed' (MLKEMTest, which also checks the derived ek when given). */
static void kat_kem_wp_decaps(struct kat_case *c, int from_seed)
{
	char result = kat_wycheproof_result(c);
	size_t dk_len, c_len, k_len = 0, ek_len = 0;
	const uint8_t *dk, *ct = kat_hex_req(c, "c", &c_len);
	const uint8_t *want_k = kat_hex(c, "K", &k_len, NULL), *ek = kat_hex(c, "ek", &ek_len, NULL);
	struct kat_kem_keys *k = kat_alloc(c, sizeof(*k));
	uint8_t ss[UM_MLKEM1024_SS_BYTES];
	int ek_ok = 1;

	dk = kat_hex_req(c, from_seed ? "seed" : "dk", &dk_len);
	if (!result || !dk || !ct || !k || c->verdict == KAT_FAIL)
		return;
	if (from_seed) {
		if (dk_len != UM_MLKEM1024_SEED_BYTES) {
			kat_wycheproof_verdict(c, result, 0, 0, "seed length");
			return;
		}
		int rc = um_mlkem1024_keygen_derand(k->ek, k->dk, dk, dk + 32);
		if (rc < 0) {
			kat_wycheproof_verdict(c, result, 0, 0, "keygen from seed");
			return;
		}
		ek_ok = !ek || kat_same(k->ek, sizeof(k->ek), ek, ek_len);
		dk = k->dk;
		dk_len = sizeof(k->dk);
	}
	if (dk_len != UM_MLKEM1024_DK_BYTES || c_len != UM_MLKEM1024_CT_BYTES) {
		kat_wycheproof_verdict(c, result, 0, 0, "dk/c length");
		return;
	}
	int rc = um_mlkem1024_decaps(ss, ct, dk);
	int match = rc == 0 && ek_ok && kat_same(ss, sizeof(ss), want_k, k_len);
	kat_wycheproof_verdict(c, result, rc == 0, match, ek_ok ? "decaps K" : "ek derived from seed");
}

static int kat_kem_group_op(struct kat_ctx *ctx, const struct um_json_value *group, size_t g, const char *operation,
			    enum kat_mlkem_op *op)
{
	const char *type = um_json_string(um_json_get(group, "type"), NULL);

	if (type) {
		if (kat_str_ieq(type, "MLKEMKeyGen"))
			*op = KAT_KEM_WP_KEYGEN;
		else if (kat_str_ieq(type, "MLKEMEncapsTest"))
			*op = KAT_KEM_WP_ENCAPS;
		else if (kat_str_ieq(type, "MLKEMDecapsValidationTest"))
			*op = KAT_KEM_WP_DECAPS;
		else if (kat_str_ieq(type, "MLKEMTest"))
			*op = KAT_KEM_WP_SEED_DECAPS;
		else
			return kat_file_error(ctx, "group %zu: unknown Wycheproof ML-KEM test type '%s'", g + 1, type);
		return 0;
	}
	if (kat_str_ieq(operation, "keyGen"))
		*op = KAT_KEM_ACVP_KEYGEN;
	else if (kat_str_ieq(operation, "encapDecap"))
		*op = KAT_KEM_ACVP_ENCAP_DECAP;
	else
		return kat_file_error(ctx, "unknown ML-KEM operation '%s' (expected keyGen or encapDecap)",
				      operation[0] ? operation : "(none)");
	return 0;
}

int kat_run_mlkem(struct kat_ctx *ctx, const struct um_json_value *root, const char *operation)
{
	const struct um_json_value *groups = um_json_get(root, "testGroups");
	const char *algorithm = um_json_string(um_json_get(root, "algorithm"), NULL);

	for (size_t g = 0; g < um_json_length(groups); g++) {
		const struct um_json_value *group = um_json_index(groups, g);
		const struct um_json_value *tests = um_json_get(group, "tests");
		const char *set = um_json_string(um_json_get(group, "parameterSet"), NULL);
		const char *function = um_json_string(um_json_get(group, "function"), NULL);
		enum kat_mlkem_op op = KAT_KEM_ACVP_KEYGEN;

		if (kat_kem_group_op(ctx, group, g, operation, &op) < 0)
			return -1;
		if (set ? !kat_str_ieq(set, "ML-KEM-1024") : !kat_str_ieq(algorithm, "ML-KEM-1024"))
			return kat_file_error(ctx, "group %zu: unsupported parameter set '%s'", g + 1,
					      set ? set : algorithm);
		if (um_json_type(tests) != UM_JSON_ARRAY)
			return kat_file_error(ctx, "group %zu has no 'tests' array", g + 1);
		if (op == KAT_KEM_ACVP_ENCAP_DECAP &&
		    !(kat_str_ieq(function, "encapsulation") || kat_str_ieq(function, "decapsulation") ||
		      kat_str_ieq(function, "encapsulationKeyCheck") || kat_str_ieq(function, "decapsulationKeyCheck")))
			return kat_file_error(ctx, "group %zu: unknown encapDecap function '%s'", g + 1,
					      function ? function : "(none)");

		for (size_t t = 0; t < um_json_length(tests); t++) {
			struct kat_case c;

			kat_case_begin(&c, ctx, group, g, um_json_index(tests, t), t);
			switch (op) {
			case KAT_KEM_ACVP_KEYGEN:
				kat_kem_acvp_keygen(&c);
				break;
			case KAT_KEM_ACVP_ENCAP_DECAP:
				if (kat_str_ieq(function, "encapsulation"))
					kat_kem_acvp_encapsulation(&c);
				else if (kat_str_ieq(function, "decapsulation"))
					kat_kem_acvp_decapsulation(&c);
				else
					kat_kem_acvp_key_check(&c, kat_str_ieq(function, "decapsulationKeyCheck"));
				break;
			case KAT_KEM_WP_KEYGEN:
				kat_kem_wp_keygen(&c);
				break;
			case KAT_KEM_WP_ENCAPS:
				kat_kem_wp_encaps(&c);
				break;
			case KAT_KEM_WP_DECAPS:
				kat_kem_wp_decaps(&c, 0);
				break;
			case KAT_KEM_WP_SEED_DECAPS:
				kat_kem_wp_decaps(&c, 1);
				break;
			}
			kat_case_end(&c);
		}
	}
	return 0;
}
