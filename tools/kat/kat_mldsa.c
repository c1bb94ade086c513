/* SPDX-License-Identifier: MIT */
/* ML-DSA-87 vectors: ACVP keyGen / sigGen / sigVer (group flags
 * signatureInterface, preHash, deterministic, externalMu, keyFormat) and the
 * Wycheproof groups MlDsaSign (privateSeed or privateKey) and MlDsaVerify.
 * HashML-DSA (pre-hash) is not part of umbra: those cases are counted as skipped. */
#include <string.h>

#include "crypto/mldsa.h"
#include "kat/kat.h"
#include "util/error.h"

enum kat_dsa_op { KAT_DSA_KEYGEN, KAT_DSA_SIGGEN, KAT_DSA_SIGVER, KAT_DSA_WP_SIGN, KAT_DSA_WP_VERIFY };

/* What is signed: M with a context (external), M' as is (internal) or mu. */
enum kat_dsa_input { KAT_DSA_EXTERNAL, KAT_DSA_INTERNAL, KAT_DSA_MU };

struct kat_dsa_msg {
	enum kat_dsa_input kind;
	const uint8_t *msg; /* M, M' or mu */
	size_t msg_len;
	const uint8_t *ctx;
	size_t ctx_len;
};

static const uint8_t kat_zero_rnd[32];
static const uint8_t kat_empty[1]; /* an absent context: never pass NULL to the API */

/* Signs through the API that matches the input kind. rnd NULL means
 * deterministic; external hedged signing builds M' itself and uses the
 * internal interface, since the external API draws its own randomness. */
static int kat_dsa_sign(struct kat_case *c, uint8_t *sig, const struct kat_dsa_msg *m, const uint8_t *sk,
			const uint8_t *rnd)
{
	switch (m->kind) {
	case KAT_DSA_EXTERNAL:
		if (!rnd)
			return um_mldsa87_sign(sig, m->msg, m->msg_len, m->ctx, m->ctx_len, sk, 1);
		if (m->ctx_len > 255)
			return -UM_EINVAL;
		uint8_t *mprime = kat_alloc(c, 2 + m->ctx_len + m->msg_len);
		if (!mprime)
			return -UM_ENOMEM;
		mprime[0] = 0;
		mprime[1] = (uint8_t)m->ctx_len;
		if (m->ctx_len)
			memcpy(mprime + 2, m->ctx, m->ctx_len);
		if (m->msg_len)
			memcpy(mprime + 2 + m->ctx_len, m->msg, m->msg_len);
		return um_mldsa87_sign_internal(sig, mprime, 2 + m->ctx_len + m->msg_len, sk, rnd);
	case KAT_DSA_INTERNAL:
		return um_mldsa87_sign_internal(sig, m->msg, m->msg_len, sk, rnd ? rnd : kat_zero_rnd);
	case KAT_DSA_MU:
		if (m->msg_len != UM_MLDSA87_MU_BYTES)
			return -UM_EINVAL;
		return um_mldsa87_sign_mu(sig, m->msg, sk, rnd ? rnd : kat_zero_rnd);
	}
	return -UM_EINVAL;
}

static int kat_dsa_verify(const uint8_t *sig, size_t sig_len, const struct kat_dsa_msg *m, const uint8_t *pk)
{
	switch (m->kind) {
	case KAT_DSA_EXTERNAL:
		return um_mldsa87_verify(sig, sig_len, m->msg, m->msg_len, m->ctx, m->ctx_len, pk);
	case KAT_DSA_INTERNAL:
		return um_mldsa87_verify_internal(sig, sig_len, m->msg, m->msg_len, pk);
	case KAT_DSA_MU:
		if (m->msg_len != UM_MLDSA87_MU_BYTES)
			return -UM_EINVAL;
		return um_mldsa87_verify_mu(sig, sig_len, m->msg, pk);
	}
	return -UM_EINVAL;
}

/* ACVP message input from the group flags; 0, or -1 with a verdict recorded. */
static int kat_dsa_acvp_msg(struct kat_case *c, struct kat_dsa_msg *m)
{
	const char *interface = kat_str(c, "signatureInterface");
	const struct um_json_value *mu_flag = kat_field(c, "externalMu");
	int external_mu = 0;

	memset(m, 0, sizeof(*m));
	if (mu_flag && um_json_bool(mu_flag, &external_mu) < 0) {
		kat_fail(c, "'externalMu' is not a boolean");
		return -1;
	}
	if (kat_str_ieq(interface, "external")) {
		m->kind = KAT_DSA_EXTERNAL;
		m->msg = kat_hex_req(c, "message", &m->msg_len);
		m->ctx = kat_hex(c, "context", &m->ctx_len, NULL);
		if (!m->ctx) {
			m->ctx = kat_empty;
			m->ctx_len = 0;
		}
	} else if (kat_str_ieq(interface, "internal")) {
		m->kind = external_mu ? KAT_DSA_MU : KAT_DSA_INTERNAL;
		m->msg = kat_hex_req(c, external_mu ? "mu" : "message", &m->msg_len);
	} else {
		kat_fail(c, "unknown signatureInterface '%s'", interface ? interface : "(none)");
		return -1;
	}
	return m->msg && c->verdict != KAT_FAIL ? 0 : -1;
}

/* HashML-DSA groups and tests are skipped; returns 1 if this case is one. */
static int kat_dsa_is_prehash(struct kat_case *c)
{
	const char *pre = kat_str(c, "preHash");
	const char *type = um_json_string(um_json_get(c->group, "type"), NULL);

	if (kat_str_ieq(pre, "preHash") || (type && strcasestr(type, "hash")) || (!pre && kat_field(c, "hashAlg"))) {
		kat_skip(c, "HashML-DSA (pre-hash) is not supported");
		return 1;
	}
	return 0;
}

static void kat_dsa_acvp_keygen(struct kat_case *c)
{
	size_t seed_len, pk_len, sk_len;
	const uint8_t *seed = kat_hex_req(c, "seed", &seed_len);
	const uint8_t *pk = kat_hex_req(c, "pk", &pk_len), *sk = kat_hex_req(c, "sk", &sk_len);
	uint8_t *got_pk = kat_alloc(c, UM_MLDSA87_PK_BYTES), *got_sk = kat_alloc(c, UM_MLDSA87_SK_BYTES);
	int rc;

	if (!seed || !pk || !sk || !got_pk || !got_sk)
		return;
	if (seed_len != UM_MLDSA87_SEED_BYTES) {
		kat_fail(c, "seed is %zu bytes, expected 32", seed_len);
		return;
	}
	rc = um_mldsa87_keygen_seed(got_pk, got_sk, seed);
	if (rc < 0) {
		kat_fail(c, "keygen_seed returned %d", rc);
		return;
	}
	if (kat_compare(c, "pk", got_pk, UM_MLDSA87_PK_BYTES, pk, pk_len) &&
	    kat_compare(c, "sk", got_sk, UM_MLDSA87_SK_BYTES, sk, sk_len))
		kat_pass(c);
}

static void kat_dsa_acvp_siggen(struct kat_case *c)
{
	struct kat_dsa_msg m;
	const struct um_json_value *det_v = kat_field(c, "deterministic");
	size_t sk_len, rnd_len = 0, want_len;
	const uint8_t *sk, *rnd = NULL, *want;
	uint8_t *sig = kat_alloc(c, UM_MLDSA87_SIG_BYTES);
	int deterministic, rc;

	if (!sig || kat_dsa_is_prehash(c) || kat_dsa_acvp_msg(c, &m) < 0)
		return;
	if (um_json_bool(det_v, &deterministic) < 0) {
		kat_fail(c, "group flag 'deterministic' missing or not a boolean");
		return;
	}
	if (!deterministic) {
		rnd = kat_hex_req(c, "rnd", &rnd_len);
		if (!rnd)
			return;
		if (rnd_len != 32) {
			kat_fail(c, "rnd is %zu bytes, expected 32", rnd_len);
			return;
		}
	}
	if (kat_str_ieq(kat_str(c, "keyFormat"), "seed")) {
		size_t seed_len;
		const uint8_t *seed = kat_hex_req(c, "seed", &seed_len);
		uint8_t *pk = kat_alloc(c, UM_MLDSA87_PK_BYTES), *expanded = kat_alloc(c, UM_MLDSA87_SK_BYTES);

		if (!seed || !pk || !expanded)
			return;
		if (seed_len != UM_MLDSA87_SEED_BYTES) {
			kat_fail(c, "seed is %zu bytes, expected 32", seed_len);
			return;
		}
		rc = um_mldsa87_keygen_seed(pk, expanded, seed);
		if (rc < 0) {
			kat_fail(c, "keygen_seed returned %d", rc);
			return;
		}
		sk = expanded;
		sk_len = UM_MLDSA87_SK_BYTES;
	} else {
		sk = kat_hex_req(c, "sk", &sk_len);
		if (!sk)
			return;
	}
	want = kat_hex_req(c, "signature", &want_len);
	if (!want)
		return;
	if (sk_len != UM_MLDSA87_SK_BYTES) {
		kat_fail(c, "sk is %zu bytes, expected %d", sk_len, UM_MLDSA87_SK_BYTES);
		return;
	}
	rc = kat_dsa_sign(c, sig, &m, sk, rnd);
	if (rc < 0) {
		kat_fail(c, "signing returned %d", rc);
		return;
	}
	if (kat_compare(c, "signature", sig, UM_MLDSA87_SIG_BYTES, want, want_len))
		kat_pass(c);
}

static void kat_dsa_acvp_sigver(struct kat_case *c)
{
	struct kat_dsa_msg m;
	size_t pk_len, sig_len;
	const uint8_t *pk, *sig;
	int expected, ok;

	if (kat_dsa_is_prehash(c) || kat_dsa_acvp_msg(c, &m) < 0)
		return;
	pk = kat_hex_req(c, "pk", &pk_len);
	sig = kat_hex_req(c, "signature", &sig_len);
	expected = kat_bool_req(c, "testPassed");
	if (!pk || !sig || expected < 0)
		return;
	ok = pk_len == UM_MLDSA87_PK_BYTES && kat_dsa_verify(sig, sig_len, &m, pk) == 0;
	if (ok != expected)
		kat_fail(c, "verification %s, expected testPassed=%s", ok ? "passed" : "failed",
			 expected ? "true" : "false");
	else
		kat_pass(c);
}

/* Wycheproof message: msg (+ ctx) is external; mu alone is external-mu. */
static int kat_dsa_wp_msg(struct kat_case *c, struct kat_dsa_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->msg = kat_hex(c, "msg", &m->msg_len, NULL);
	if (m->msg) {
		m->kind = KAT_DSA_EXTERNAL;
		m->ctx = kat_hex(c, "ctx", &m->ctx_len, NULL);
		if (!m->ctx) {
			m->ctx = kat_empty;
			m->ctx_len = 0;
		}
	} else {
		m->kind = KAT_DSA_MU;
		m->msg = kat_hex(c, "mu", &m->msg_len, NULL);
		if (!m->msg && c->verdict != KAT_FAIL)
			kat_fail(c, "test has neither 'msg' nor 'mu'");
	}
	return m->msg && c->verdict != KAT_FAIL ? 0 : -1;
}

static void kat_dsa_wp_sign(struct kat_case *c)
{
	char result = kat_wycheproof_result(c);
	struct kat_dsa_msg m;
	size_t key_len, pk_len = 0, want_len, rnd_len = 0;
	const uint8_t *seed = kat_hex(c, "privateSeed", &key_len, NULL);
	const uint8_t *sk = seed ? NULL : kat_hex_req(c, "privateKey", &key_len);
	const uint8_t *pk = kat_hex(c, "publicKey", &pk_len, NULL);
	const uint8_t *want = kat_hex_req(c, "sig", &want_len), *rnd = kat_hex(c, "rnd", &rnd_len, NULL);
	uint8_t *sig = kat_alloc(c, UM_MLDSA87_SIG_BYTES);
	uint8_t *derived_pk = kat_alloc(c, UM_MLDSA87_PK_BYTES);
	int rc;

	if (!result || (!seed && !sk) || !want || !sig || !derived_pk || kat_dsa_is_prehash(c) ||
	    kat_dsa_wp_msg(c, &m) < 0)
		return;
	if (rnd && rnd_len != 32) {
		kat_fail(c, "rnd is %zu bytes, expected 32", rnd_len);
		return;
	}
	if (seed) {
		uint8_t *expanded = kat_alloc(c, UM_MLDSA87_SK_BYTES);
		if (!expanded)
			return;
		if (key_len != UM_MLDSA87_SEED_BYTES) {
			kat_wycheproof_verdict(c, result, 0, 0, "private seed length");
			return;
		}
		rc = um_mldsa87_keygen_seed(derived_pk, expanded, seed);
		if (rc < 0) {
			kat_wycheproof_verdict(c, result, 0, 0, "keygen from seed");
			return;
		}
		if (pk && !kat_compare(c, "publicKey (from seed)", derived_pk, UM_MLDSA87_PK_BYTES, pk, pk_len))
			return;
		sk = expanded;
	} else if (key_len != UM_MLDSA87_SK_BYTES) {
		kat_wycheproof_verdict(c, result, 0, 0, "private key length");
		return;
	}

	rc = kat_dsa_sign(c, sig, &m, sk, rnd);
	int match = rc == 0 && want_len == UM_MLDSA87_SIG_BYTES && memcmp(sig, want, want_len) == 0;
	kat_wycheproof_verdict(c, result, rc == 0, match, "signature");
	if (c->verdict != KAT_PASS || !match)
		return;

	/* Extra checks on a good signature: signing the given mu must agree,
	 * and the signature must verify under the group's public key. */
	size_t mu_len;
	const uint8_t *mu = m.kind == KAT_DSA_MU ? NULL : kat_hex(c, "mu", &mu_len, NULL);
	if (mu) {
		struct kat_dsa_msg mm = {.kind = KAT_DSA_MU, .msg = mu, .msg_len = mu_len};
		uint8_t *sig2 = kat_alloc(c, UM_MLDSA87_SIG_BYTES);

		if (!sig2)
			return;
		rc = kat_dsa_sign(c, sig2, &mm, sk, rnd);
		if (rc < 0) {
			kat_fail(c, "signing the given mu returned %d", rc);
			return;
		}
		if (!kat_compare(c, "signature (from mu)", sig2, UM_MLDSA87_SIG_BYTES, want, want_len))
			return;
	}
	if (pk && pk_len == UM_MLDSA87_PK_BYTES) {
		rc = kat_dsa_verify(want, want_len, &m, pk);
		if (rc < 0)
			kat_fail(c, "expected signature does not verify under publicKey (%d)", rc);
	}
}

static void kat_dsa_wp_verify(struct kat_case *c)
{
	char result = kat_wycheproof_result(c);
	struct kat_dsa_msg m;
	size_t pk_len = 0, sig_len;
	const uint8_t *pk = kat_hex(c, "publicKey", &pk_len, NULL), *sig = kat_hex_req(c, "sig", &sig_len);

	if (!result || !sig || kat_dsa_is_prehash(c) || kat_dsa_wp_msg(c, &m) < 0)
		return;
	/* A missing (null) or wrong-length public key cannot verify anything. */
	int ok = pk && pk_len == UM_MLDSA87_PK_BYTES && kat_dsa_verify(sig, sig_len, &m, pk) == 0;
	if (result == 'v' && !ok)
		kat_fail(c, "valid signature rejected");
	else if (result == 'i' && ok)
		kat_fail(c, "invalid signature accepted");
	else
		kat_pass(c);
}

static int kat_dsa_group_op(struct kat_ctx *ctx, const struct um_json_value *group, size_t g, const char *operation,
			    enum kat_dsa_op *op)
{
	const char *type = um_json_string(um_json_get(group, "type"), NULL);

	if (type) {
		/* Prehash variants (if any) are recognised per case and skipped. */
		if (strcasestr(type, "Sign"))
			*op = KAT_DSA_WP_SIGN;
		else if (strcasestr(type, "Verify"))
			*op = KAT_DSA_WP_VERIFY;
		else
			return kat_file_error(ctx, "group %zu: unknown Wycheproof ML-DSA test type '%s'", g + 1, type);
		return 0;
	}
	if (kat_str_ieq(operation, "keyGen"))
		*op = KAT_DSA_KEYGEN;
	else if (kat_str_ieq(operation, "sigGen"))
		*op = KAT_DSA_SIGGEN;
	else if (kat_str_ieq(operation, "sigVer"))
		*op = KAT_DSA_SIGVER;
	else
		return kat_file_error(ctx, "unknown ML-DSA operation '%s' (expected keyGen, sigGen or sigVer)",
				      operation[0] ? operation : "(none)");
	return 0;
}

int kat_run_mldsa(struct kat_ctx *ctx, const struct um_json_value *root, const char *operation)
{
	const struct um_json_value *groups = um_json_get(root, "testGroups");
	const char *algorithm = um_json_string(um_json_get(root, "algorithm"), NULL);

	for (size_t g = 0; g < um_json_length(groups); g++) {
		const struct um_json_value *group = um_json_index(groups, g);
		const struct um_json_value *tests = um_json_get(group, "tests");
		const char *set = um_json_string(um_json_get(group, "parameterSet"), NULL);
		enum kat_dsa_op op = KAT_DSA_KEYGEN;

		if (kat_dsa_group_op(ctx, group, g, operation, &op) < 0)
			return -1;
		if (set ? !kat_str_ieq(set, "ML-DSA-87") : !kat_str_ieq(algorithm, "ML-DSA-87"))
			return kat_file_error(ctx, "group %zu: unsupported parameter set '%s'", g + 1,
					      set ? set : algorithm);
		if (um_json_type(tests) != UM_JSON_ARRAY)
			return kat_file_error(ctx, "group %zu has no 'tests' array", g + 1);

		for (size_t t = 0; t < um_json_length(tests); t++) {
			struct kat_case c;

			kat_case_begin(&c, ctx, group, g, um_json_index(tests, t), t);
			switch (op) {
			case KAT_DSA_KEYGEN:
				kat_dsa_acvp_keygen(&c);
				break;
			case KAT_DSA_SIGGEN:
				kat_dsa_acvp_siggen(&c);
				break;
			case KAT_DSA_SIGVER:
				kat_dsa_acvp_sigver(&c);
				break;
			case KAT_DSA_WP_SIGN:
				kat_dsa_wp_sign(&c);
				break;
			case KAT_DSA_WP_VERIFY:
				kat_dsa_wp_verify(&c);
				break;
			}
			kat_case_end(&c);
		}
	}
	return 0;
}
