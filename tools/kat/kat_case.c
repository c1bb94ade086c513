/* SPDX-License-Identifier: MIT */
/* Per-case bookkeeping for umbra-kat: labels, verdicts, field access. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kat/kat.h"

void kat_case_begin(struct kat_case *c, struct kat_ctx *ctx, const struct um_json_value *group, size_t group_index,
		    const struct um_json_value *test, size_t test_index)
{
	int64_t tg, tc;
	char gpart[48], tpart[48];

	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->group = group;
	c->test = test;
	if (um_json_int64(um_json_get(group, "tgId"), &tg) == 0)
		snprintf(gpart, sizeof(gpart), "tgId %lld", (long long)tg);
	else
		snprintf(gpart, sizeof(gpart), "group %zu", group_index + 1);
	if (um_json_int64(um_json_get(test, "tcId"), &tc) == 0)
		snprintf(tpart, sizeof(tpart), "tcId %lld", (long long)tc);
	else
		snprintf(tpart, sizeof(tpart), "test %zu", test_index + 1);
	snprintf(c->label, sizeof(c->label), "%s %s", gpart, tpart);
}

void kat_case_end(struct kat_case *c)
{
	switch (c->verdict) {
	case KAT_PASS:
		c->ctx->passed++;
		break;
	case KAT_SKIP:
		c->ctx->skipped++;
		break;
	case KAT_UNDECIDED:
		kat_fail(c, "internal error: the runner reached no verdict");
		/* fall through */
	case KAT_FAIL:
		c->ctx->failed++;
		break;
	}
	for (size_t i = 0; i < c->nbuffers; i++)
		free(c->buffers[i]);
	c->nbuffers = 0;
}

void kat_pass(struct kat_case *c)
{
	if (c->verdict == KAT_UNDECIDED)
		c->verdict = KAT_PASS;
}

void kat_skip(struct kat_case *c, const char *why)
{
	if (c->verdict == KAT_FAIL)
		return;
	c->verdict = KAT_SKIP;
	if (c->ctx->verbose)
		printf("%s: %s: skipped: %s\n", c->ctx->file, c->label, why);
}

void kat_fail(struct kat_case *c, const char *fmt, ...)
{
	va_list ap;

	/* One line per failing case: the first failure is the informative one. */
	if (c->verdict == KAT_FAIL)
		return;
	c->verdict = KAT_FAIL;
	printf("%s: %s: ", c->ctx->file, c->label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int kat_file_error(const struct kat_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "umbra-kat: %s: error: ", ctx->file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

const struct um_json_value *kat_field(const struct kat_case *c, const char *key)
{
	const struct um_json_value *v = um_json_get(c->test, key);

	return v ? v : um_json_get(c->group, key);
}

void *kat_alloc(struct kat_case *c, size_t size)
{
	if (c->nbuffers == KAT_MAX_BUFFERS) {
		kat_fail(c, "internal error: too many buffers for one case");
		return NULL;
	}
	void *p = calloc(1, size ? size : 1);
	if (!p) {
		kat_fail(c, "out of memory");
		return NULL;
	}
	c->buffers[c->nbuffers++] = p;
	return p;
}

const uint8_t *kat_hex(struct kat_case *c, const char *key, size_t *len, int *bad)
{
	const struct um_json_value *v = kat_field(c, key);
	size_t hex_len;
	const char *hex;

	if (bad)
		*bad = 0;
	if (!v || um_json_type(v) == UM_JSON_NULL)
		return NULL;
	hex = um_json_string(v, &hex_len);
	if (!hex) {
		kat_fail(c, "field '%s' is not a string", key);
		goto bad;
	}
	uint8_t *out = kat_alloc(c, hex_len / 2);
	if (!out)
		goto bad;
	if (um_json_hex_decode(out, hex_len / 2, len, hex, hex_len) < 0) {
		kat_fail(c, "field '%s' is not valid hex", key);
		goto bad;
	}
	return out;
bad:
	if (bad)
		*bad = 1;
	return NULL;
}

const uint8_t *kat_hex_req(struct kat_case *c, const char *key, size_t *len)
{
	int bad;
	const uint8_t *p = kat_hex(c, key, len, &bad);

	if (!p && !bad)
		kat_fail(c, "required field '%s' is missing", key);
	return p;
}

int kat_bool_req(struct kat_case *c, const char *key)
{
	int b;

	if (um_json_bool(kat_field(c, key), &b) < 0) {
		kat_fail(c, "required boolean field '%s' is missing or not a boolean", key);
		return -1;
	}
	return b;
}

const char *kat_str(const struct kat_case *c, const char *key)
{
	return um_json_string(kat_field(c, key), NULL);
}

int kat_str_ieq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

int kat_compare(struct kat_case *c, const char *name, const uint8_t *got, size_t got_len, const uint8_t *want,
		size_t want_len)
{
	size_t n = got_len < want_len ? got_len : want_len, i;

	if (got_len == want_len && memcmp(got, want, n) == 0)
		return 1;
	for (i = 0; i < n && got[i] == want[i]; i++)
		;
	if (got_len != want_len)
		kat_fail(c, "%s: length %zu, expected %zu", name, got_len, want_len);
	else
		kat_fail(c, "%s differs from byte %zu (got %02x, expected %02x)", name, i, got[i], want[i]);
	return 0;
}

char kat_wycheproof_result(struct kat_case *c)
{
	const char *r = um_json_string(um_json_get(c->test, "result"), NULL);

	if (kat_str_ieq(r, "valid"))
		return 'v';
	if (kat_str_ieq(r, "invalid"))
		return 'i';
	if (kat_str_ieq(r, "acceptable"))
		return 'a';
	kat_fail(c, "missing or unknown 'result' (expected valid, invalid or acceptable)");
	return 0;
}

/* Wycheproof: 'valid' must succeed with exactly the outputs; 'invalid' must
 * be rejected, or (decaps of a bad ciphertext) give the expected K;
 * 'acceptable' allows either. match: the outputs equal the expected ones. */
void kat_wycheproof_verdict(struct kat_case *c, char result, int accepted, int match, const char *what)
{
	if (c->verdict == KAT_FAIL)
		return;
	if (!accepted) {
		if (result == 'v')
			kat_fail(c, "valid case rejected: %s", what);
		else
			kat_pass(c);
		return;
	}
	if (match) {
		kat_pass(c);
		return;
	}
	if (result == 'i')
		kat_fail(c, "invalid case accepted: %s", what);
	else
		kat_fail(c, "outputs differ: %s", what);
}
