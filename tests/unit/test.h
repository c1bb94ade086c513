/* SPDX-License-Identifier: MIT */
/* A deliberately tiny unit-test helper: CHECK records a failure and goes on,
 * so one run reports every broken expectation; main returns um_test_end(). */
#ifndef UM_TEST_H
#define UM_TEST_H

#include <stdio.h>
#include <string.h>

static int um_test_checks;
static int um_test_failures;

#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		um_test_checks++;                                                                                      \
		if (!(cond)) {                                                                                         \
			um_test_failures++;                                                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                       \
		}                                                                                                      \
	} while (0)

#define CHECK_EQ(a, b)                                                                                                 \
	do {                                                                                                           \
		long long um_a_ = (long long)(a), um_b_ = (long long)(b);                                              \
		um_test_checks++;                                                                                      \
		if (um_a_ != um_b_) {                                                                                  \
			um_test_failures++;                                                                            \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a,   \
				#b, um_a_, um_b_);                                                                     \
		}                                                                                                      \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define RUN(fn)                                                                                                        \
	do {                                                                                                           \
		int um_before_ = um_test_failures;                                                                     \
		fn();                                                                                                  \
		fprintf(stderr, "%s %s\n", um_test_failures == um_before_ ? "ok  " : "FAIL", #fn);                     \
	} while (0)

static inline int um_test_end(void)
{
	fprintf(stderr, "%d checks, %d failed\n", um_test_checks, um_test_failures);
	return um_test_failures ? 1 : 0;
}

#endif
