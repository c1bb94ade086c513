/* SPDX-License-Identifier: MIT */
/* Proof that the constant-time test can fail: a deliberately leaky compare
 * (early exit on the first differing secret byte, plus a table lookup
 * indexed by a secret byte). Under valgrind with the secret marked undefined
 * this must be reported; expect_report.sh fails the test if it is not. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

/* noinline + volatile: the branch and the load must reach the binary. */
__attribute__((noinline)) static int leaky_compare(const volatile uint8_t *secret, const uint8_t *guess, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (secret[i] != guess[i])
			return 0;
	}
	return 1;
}

__attribute__((noinline)) static uint8_t leaky_lookup(const volatile uint8_t *secret)
{
	static const uint8_t sbox[256] = {1, 2, 3};

	return sbox[secret[0]];
}

int main(void)
{
	uint8_t secret[16], guess[16] = {0};
	int same;
	uint8_t looked_up;

	memset(secret, 0x5a, sizeof(secret));
	VALGRIND_MAKE_MEM_UNDEFINED(secret, sizeof(secret));
	same = leaky_compare(secret, guess, sizeof(secret));
	looked_up = leaky_lookup(secret);
	VALGRIND_MAKE_MEM_DEFINED(&same, sizeof(same));
	VALGRIND_MAKE_MEM_DEFINED(&looked_up, sizeof(looked_up));
	printf("ct_selfcheck: compare=%d lookup=%u (valgrind must have reported both)\n", same, looked_up);
	return 0;
}
