/* SPDX-License-Identifier: MIT */
/* CPU feature selection for the crypto code. The decision is cached in an
 * atomic so concurrent first calls are harmless (they compute the same). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cpu.h"

enum { CPU_UNKNOWN = 0, CPU_PORTABLE = 1, CPU_AVX2 = 2 };

static _Atomic int cpu_choice = CPU_UNKNOWN;

static int cpu_has_avx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	/* Also checks that the OS saves the YMM registers (XCR0). */
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
	return 0;
#endif
}

bool um_crypto_use_avx2(void)
{
	int choice = atomic_load_explicit(&cpu_choice, memory_order_relaxed);

	if (choice == CPU_UNKNOWN) {
		const char *env = getenv("UM_CRYPTO_PORTABLE");
		int portable = env && *env && strcmp(env, "0") != 0;

		choice = !portable && cpu_has_avx2() ? CPU_AVX2 : CPU_PORTABLE;
		atomic_store_explicit(&cpu_choice, choice, memory_order_relaxed);
	}
	return choice == CPU_AVX2;
}

void um_crypto_force_portable(bool portable)
{
	atomic_store_explicit(&cpu_choice, portable || !cpu_has_avx2() ? CPU_PORTABLE : CPU_AVX2, memory_order_relaxed);
}
