/* SPDX-License-Identifier: MIT */
/* umbra-kat: runs known-answer test vector files (ACVP, Wycheproof and the
 * accumulated-hash layout described in shared/vectors/README.md) against
 * umbra's SHA-3, ML-KEM-1024 and ML-DSA-87.
 *
 *   umbra-kat [-v] FILE...
 *
 * Prints one line per failing case and finally "N passed, N failed,
 * N skipped". Exit status: 0 if nothing failed, 1 if a case failed, 2 if a
 * file could not be read/parsed or uses an unknown algorithm or operation.
 * Everything is driven by the JSON fields, never by the file name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "kat/kat.h"
#include "util/error.h"

#define KAT_MAX_FILE ((size_t)512 * 1024 * 1024)

static int kat_read_file(const struct kat_ctx *ctx, char **out, size_t *out_len)
{
	FILE *f = fopen(ctx->file, "rb");
	struct stat st;
	char *buf = NULL;
	int rc = -1;

	if (!f)
		return kat_file_error(ctx, "cannot open: %m");
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		kat_file_error(ctx, "not a regular file");
		goto out;
	}
	if ((size_t)st.st_size > KAT_MAX_FILE) {
		kat_file_error(ctx, "file too large (%lld bytes)", (long long)st.st_size);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		kat_file_error(ctx, "out of memory");
		goto out;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		kat_file_error(ctx, "read error");
		goto out;
	}
	*out = buf;
	*out_len = (size_t)st.st_size;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* The leading word of an operation text such as "keyGen (FIPS 203 ...)". */
static void kat_first_word(const char *s, char *out, size_t size)
{
	size_t n = 0;

	while (s && *s && isspace((unsigned char)*s))
		s++;
	while (s && *s && (isalnum((unsigned char)*s) || *s == '_') && n + 1 < size)
		out[n++] = *s++;
	out[n] = '\0';
}

static int kat_starts_with(const char *s, const char *prefix)
{
	return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int kat_run_doc(struct kat_ctx *ctx, const struct um_json_value *root)
{
	/* An original ACVP download is an array: [{acvVersion}, {vsId, algorithm, ..., testGroups}]. */
	if (um_json_type(root) == UM_JSON_ARRAY) {
		const struct um_json_value *found = NULL;
		for (size_t i = 0; i < um_json_length(root) && !found; i++)
			if (um_json_get(um_json_index(root, i), "testGroups"))
				found = um_json_index(root, i);
		root = found;
	}
	if (um_json_type(root) != UM_JSON_OBJECT)
		return kat_file_error(ctx, "top level is not an object with testGroups or cases");

	if (!um_json_get(root, "testGroups")) {
		if (um_json_type(um_json_get(root, "cases")) == UM_JSON_ARRAY)
			return kat_run_accumulated(ctx, root);
		return kat_file_error(ctx, "no 'testGroups' array and no 'cases' array: unknown layout");
	}
	if (um_json_type(um_json_get(root, "testGroups")) != UM_JSON_ARRAY)
		return kat_file_error(ctx, "'testGroups' is not an array");

	const char *algorithm = um_json_string(um_json_get(root, "algorithm"), NULL);
	const char *mode = um_json_string(um_json_get(root, "mode"), NULL);
	char operation[48];

	if (!algorithm)
		return kat_file_error(ctx, "missing top-level 'algorithm'");
	kat_first_word(mode ? mode : um_json_string(um_json_get(root, "operation"), NULL), operation,
		       sizeof(operation));

	if (kat_starts_with(algorithm, "SHA3-") || kat_starts_with(algorithm, "SHAKE"))
		return kat_run_sha3(ctx, root, algorithm);
	/* "ML-KEM" (Wycheproof style, parameter set per group) or "ML-KEM-1024". */
	if (kat_str_ieq(algorithm, "ML-KEM") || kat_str_ieq(algorithm, "ML-KEM-1024"))
		return kat_run_mlkem(ctx, root, operation);
	if (kat_str_ieq(algorithm, "ML-DSA") || kat_str_ieq(algorithm, "ML-DSA-87"))
		return kat_run_mldsa(ctx, root, operation);
	return kat_file_error(ctx, "unsupported algorithm '%s'", algorithm);
}

static int kat_run_file(struct kat_ctx *ctx)
{
	struct um_json_doc *doc = NULL;
	struct um_json_error err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (kat_read_file(ctx, &text, &len) < 0)
		return -1;
	rc = um_json_parse(&doc, text, len, NULL, &err);
	if (rc < 0) {
		if (rc == -UM_EINVAL)
			kat_file_error(ctx, "invalid JSON at line %zu (byte %zu): %s", err.line, err.offset,
				       err.message);
		else
			kat_file_error(ctx, "cannot parse JSON: %s", um_strerror(rc));
		rc = -1;
		goto out;
	}
	rc = kat_run_doc(ctx, um_json_root(doc));
out:
	um_json_free(doc);
	free(text);
	return rc;
}

static void kat_usage(FILE *f)
{
	fprintf(f, "usage: umbra-kat [-v] FILE...\n"
		   "Runs ACVP / Wycheproof / accumulated known-answer vector files.\n"
		   "  -v  also list skipped cases\n");
}

int main(int argc, char **argv)
{
	unsigned long passed = 0, failed = 0, skipped = 0;
	int verbose = 0, file_errors = 0, nfiles = 0;

	if (sodium_init() < 0) {
		fprintf(stderr, "umbra-kat: sodium_init failed\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0) {
			verbose = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			kat_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			kat_usage(stderr);
			return 2;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			continue;
		struct kat_ctx ctx = {.file = argv[i], .verbose = verbose};

		nfiles++;
		if (kat_run_file(&ctx) < 0)
			file_errors++;
		passed += ctx.passed;
		failed += ctx.failed;
		skipped += ctx.skipped;
		fflush(stdout);
	}
	if (!nfiles) {
		kat_usage(stderr);
		return 2;
	}
	if (file_errors)
		fprintf(stderr, "umbra-kat: %d file(s) could not be run completely\n", file_errors);
	printf("%lu passed, %lu failed, %lu skipped\n", passed, failed, skipped);
	if (file_errors)
		return 2;
	return failed ? 1 : 0;
}
