/* SPDX-License-Identifier: MIT */
/* ACVP SHA3-256 / SHA3-512 / SHAKE128 / SHAKE256 groups: AFT, VOT and the
 * standard SHA-3 Monte Carlo test. Bit-oriented lengths, LDT groups and the
 * SHAKE Monte Carlo test cannot be expressed with our byte API or are not
 * implemented: those cases are counted as skipped. */
#include <stdio.h>
#include <string.h>

#include "crypto/sha3.h"
#include "kat/kat.h"

enum kat_hash { KAT_SHA3_256, KAT_SHA3_512, KAT_SHAKE128, KAT_SHAKE256 };

enum {
	KAT_MCT_ROUNDS = 100,
	KAT_MCT_ITERATIONS = 1000,
	KAT_MAX_XOF_BYTES = 1 << 20, /* a sanity bound on outLen */
};

static void kat_hash(enum kat_hash h, uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	switch (h) {
	case KAT_SHA3_256:
		um_sha3_256(out, in, in_len);
		break;
	case KAT_SHA3_512:
		um_sha3_512(out, in, in_len);
		break;
	case KAT_SHAKE128:
		um_shake128(out, out_len, in, in_len);
		break;
	case KAT_SHAKE256:
		um_shake256(out, out_len, in, in_len);
		break;
	}
}

/* The message: its first len/8 bytes when 'len' (bits) is given. Returns
 * NULL with a verdict recorded (fail, or skip for bit-oriented input). */
static const uint8_t *kat_message(struct kat_case *c, size_t *msg_len)
{
	const uint8_t *msg = kat_hex_req(c, "msg", msg_len);
	const struct um_json_value *len_v = um_json_get(c->test, "len");
	int64_t bits;

	if (!msg)
		return NULL;
	if (!len_v)
		return msg;
	if (um_json_int64(len_v, &bits) < 0 || bits < 0) {
		kat_fail(c, "field 'len' is not a non-negative integer");
		return NULL;
	}
	if (bits % 8) {
		kat_skip(c, "bit-oriented message");
		return NULL;
	}
	if ((uint64_t)bits / 8 > *msg_len) {
		kat_fail(c, "'len' (%lld bits) exceeds the message (%zu bytes)", (long long)bits, *msg_len);
		return NULL;
	}
	*msg_len = (size_t)bits / 8; /* ACVP writes the empty message as "00" with len 0 */
	return msg;
}

/* Output length in bytes for this case; 0 with a verdict recorded if unusable. */
static size_t kat_out_len(struct kat_case *c, enum kat_hash h, size_t want_len)
{
	int64_t bits;

	if (h == KAT_SHA3_256)
		return UM_SHA3_256_BYTES;
	if (h == KAT_SHA3_512)
		return UM_SHA3_512_BYTES;
	if (um_json_int64(kat_field(c, "outLen"), &bits) < 0)
		return want_len; /* no outLen: as long as the expected output */
	if (bits <= 0 || bits / 8 > KAT_MAX_XOF_BYTES) {
		kat_fail(c, "field 'outLen' out of range");
		return 0;
	}
	if (bits % 8) {
		kat_skip(c, "bit-oriented output length");
		return 0;
	}
	return (size_t)bits / 8;
}

static void kat_sha3_aft(struct kat_case *c, enum kat_hash h)
{
	size_t msg_len, want_len;
	const uint8_t *msg = kat_message(c, &msg_len);
	const uint8_t *want;

	if (!msg)
		return;
	want = kat_hex_req(c, "md", &want_len);
	if (!want)
		return;
	size_t out_len = kat_out_len(c, h, want_len);
	if (!out_len)
		return;
	uint8_t *out = kat_alloc(c, out_len);
	if (!out)
		return;
	kat_hash(h, out, out_len, msg, msg_len);
	if (kat_compare(c, "md", out, out_len, want, want_len))
		kat_pass(c);
}

/* Standard SHA-3 MCT: MD = seed; 100 times { 1000 times MD = SHA3(MD); check }. */
static void kat_sha3_mct(struct kat_case *c, enum kat_hash h)
{
	const struct um_json_value *results = um_json_get(c->test, "resultsArray");
	size_t md_len = h == KAT_SHA3_256 ? UM_SHA3_256_BYTES : UM_SHA3_512_BYTES;
	uint8_t md[UM_SHA3_512_BYTES];
	size_t seed_len;
	const uint8_t *seed = kat_message(c, &seed_len);

	if (!seed)
		return;
	if (seed_len != md_len) {
		kat_fail(c, "MCT seed is %zu bytes, expected %zu", seed_len, md_len);
		return;
	}
	if (um_json_type(results) != UM_JSON_ARRAY || um_json_length(results) == 0 ||
	    um_json_length(results) > KAT_MCT_ROUNDS) {
		kat_fail(c, "'resultsArray' missing or not an array of 1..100 entries");
		return;
	}
	memcpy(md, seed, md_len);
	for (size_t round = 0; round < um_json_length(results); round++) {
		const char *hex;
		size_t hex_len, want_len;
		uint8_t want[UM_SHA3_512_BYTES];

		for (int i = 0; i < KAT_MCT_ITERATIONS; i++)
			kat_hash(h, md, md_len, md, md_len);
		/* Entries are the digest itself or an object {"md": ...}. */
		const struct um_json_value *entry = um_json_index(results, round);
		hex =
		    um_json_string(um_json_type(entry) == UM_JSON_STRING ? entry : um_json_get(entry, "md"), &hex_len);
		if (!hex || um_json_hex_decode(want, sizeof(want), &want_len, hex, hex_len) < 0) {
			kat_fail(c, "resultsArray[%zu].md missing or not valid hex", round);
			return;
		}
		char name[40];
		snprintf(name, sizeof(name), "resultsArray[%zu].md", round);
		if (!kat_compare(c, name, md, md_len, want, want_len))
			return;
	}
	kat_pass(c);
}

int kat_run_sha3(struct kat_ctx *ctx, const struct um_json_value *root, const char *algorithm)
{
	const struct um_json_value *groups = um_json_get(root, "testGroups");
	enum kat_hash h;

	if (kat_str_ieq(algorithm, "SHA3-256"))
		h = KAT_SHA3_256;
	else if (kat_str_ieq(algorithm, "SHA3-512"))
		h = KAT_SHA3_512;
	else if (kat_str_ieq(algorithm, "SHAKE-128") || kat_str_ieq(algorithm, "SHAKE128"))
		h = KAT_SHAKE128;
	else if (kat_str_ieq(algorithm, "SHAKE-256") || kat_str_ieq(algorithm, "SHAKE256"))
		h = KAT_SHAKE256;
	else
		return kat_file_error(ctx, "unsupported algorithm '%s'", algorithm);
	const int xof = h == KAT_SHAKE128 || h == KAT_SHAKE256;

	for (size_t g = 0; g < um_json_length(groups); g++) {
		const struct um_json_value *group = um_json_index(groups, g);
		const struct um_json_value *tests = um_json_get(group, "tests");
		const char *type = um_json_string(um_json_get(group, "testType"), NULL);
		const char *mct_version = um_json_string(um_json_get(group, "mctVersion"), NULL);
		int kind; /* 0 AFT/VOT, 1 MCT, 2 skip */
		const char *skip_why = NULL;

		if (um_json_type(tests) != UM_JSON_ARRAY)
			return kat_file_error(ctx, "group %zu has no 'tests' array", g + 1);
		if (kat_str_ieq(type, "AFT") || (xof && kat_str_ieq(type, "VOT"))) {
			kind = 0;
		} else if (kat_str_ieq(type, "MCT")) {
			kind = 1;
			if (xof) {
				kind = 2;
				skip_why = "SHAKE Monte Carlo groups are not supported (none in the shipped vectors)";
			} else if (mct_version && !kat_str_ieq(mct_version, "standard")) {
				kind = 2;
				skip_why = "non-standard mctVersion is not supported";
			}
		} else if (kat_str_ieq(type, "LDT")) {
			kind = 2;
			skip_why = "large data test (multi-GiB) not run";
		} else {
			return kat_file_error(ctx, "group %zu: unknown testType '%s' for %s", g + 1,
					      type ? type : "(none)", algorithm);
		}
		for (size_t t = 0; t < um_json_length(tests); t++) {
			struct kat_case c;

			kat_case_begin(&c, ctx, group, g, um_json_index(tests, t), t);
			if (kind == 0)
				kat_sha3_aft(&c, h);
			else if (kind == 1)
				kat_sha3_mct(&c, h);
			else
				kat_skip(&c, skip_why);
			kat_case_end(&c);
		}
	}
	return 0;
}
