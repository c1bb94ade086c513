/* SPDX-License-Identifier: MIT */
/* umbra-kat internals: per-file context, per-case verdicts and field access.
 *
 * Each test case is bracketed by kat_case_begin() / kat_case_end(). A case
 * must reach an explicit verdict (kat_pass, kat_fail or kat_skip); one that
 * ends without a verdict counts as failed, so a forgotten check can never
 * pass silently. A failure overrides a pass; only a case's first failure is
 * printed (one line per failing case). */
#ifndef UM_TOOLS_KAT_H
#define UM_TOOLS_KAT_H

#include <stddef.h>
#include <stdint.h>

#include "util/json.h"

struct kat_ctx {
	const char *file; /* as given on the command line, for messages */
	int verbose;
	unsigned long passed;
	unsigned long failed;
	unsigned long skipped;
};

enum kat_verdict { KAT_UNDECIDED, KAT_PASS, KAT_SKIP, KAT_FAIL };

enum { KAT_MAX_BUFFERS = 24 };

struct kat_case {
	struct kat_ctx *ctx;
	const struct um_json_value *group;
	const struct um_json_value *test;
	char label[96]; /* "tgId 3 tcId 51" */
	enum kat_verdict verdict;
	void *buffers[KAT_MAX_BUFFERS]; /* freed by kat_case_end */
	size_t nbuffers;
};

/* group_index is used when the group has no tgId (Wycheproof). test may be
 * NULL for cases that are not a testGroups[].tests[] entry. */
void kat_case_begin(struct kat_case *c, struct kat_ctx *ctx, const struct um_json_value *group, size_t group_index,
		    const struct um_json_value *test, size_t test_index);
void kat_case_end(struct kat_case *c);

void kat_pass(struct kat_case *c);
void kat_skip(struct kat_case *c, const char *why);
__attribute__((format(printf, 2, 3))) void kat_fail(struct kat_case *c, const char *fmt, ...);

/* A file-level error (unknown algorithm, bad layout): printed with the file
 * name; the caller returns a negative code. Always returns -1. */
__attribute__((format(printf, 2, 3))) int kat_file_error(const struct kat_ctx *ctx, const char *fmt, ...);

/* Field lookup: the test first, then its group. */
const struct um_json_value *kat_field(const struct kat_case *c, const char *key);

/* Hex fields, decoded into a buffer owned by the case (freed at case end).
 * kat_hex: NULL if the field is absent or JSON null (no verdict recorded);
 * a present field that is not a valid hex string records a failure, sets
 * *bad (if bad is not NULL) and returns NULL. An empty string gives a
 * non-NULL pointer with *len = 0.
 * kat_hex_req: like kat_hex, but an absent field is a failure too. */
const uint8_t *kat_hex(struct kat_case *c, const char *key, size_t *len, int *bad);
const uint8_t *kat_hex_req(struct kat_case *c, const char *key, size_t *len);

/* Bool field (test, then group): 0/1, or -1 (failure recorded) if absent or not a bool. */
int kat_bool_req(struct kat_case *c, const char *key);
/* String field (test, then group), or NULL. */
const char *kat_str(const struct kat_case *c, const char *key);

/* Compares got with the expected bytes; on mismatch records a failure that
 * names the field and the first differing byte. Returns 1 if equal. */
int kat_compare(struct kat_case *c, const char *name, const uint8_t *got, size_t got_len, const uint8_t *want,
		size_t want_len);

/* Wycheproof 'result' of the test: 'v' valid, 'i' invalid, 'a' acceptable,
 * or 0 (failure recorded) if missing/unknown. */
char kat_wycheproof_result(struct kat_case *c);

/* Verdict for a Wycheproof case whose operation produces outputs: 'valid'
 * must be accepted with matching outputs; 'invalid' must be rejected, or
 * (ML-KEM decaps of a bad ciphertext) give exactly the expected output;
 * 'acceptable' allows either. what names the operation for messages. */
void kat_wycheproof_verdict(struct kat_case *c, char result, int accepted, int match, const char *what);

/* Allocation tied to the case (zeroed); NULL (failure recorded) on OOM. */
void *kat_alloc(struct kat_case *c, size_t size);

/* Case-insensitive equality of a JSON string with s (NULL-safe). */
int kat_str_ieq(const char *a, const char *b);

/* Algorithm runners: return 0, or -1 after a file-level error was printed. */
int kat_run_sha3(struct kat_ctx *ctx, const struct um_json_value *root, const char *algorithm);
int kat_run_mlkem(struct kat_ctx *ctx, const struct um_json_value *root, const char *operation);
int kat_run_mldsa(struct kat_ctx *ctx, const struct um_json_value *root, const char *operation);
int kat_run_accumulated(struct kat_ctx *ctx, const struct um_json_value *root);

#endif
