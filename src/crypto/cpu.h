/* SPDX-License-Identifier: MIT */
/* Run-time choice between the portable C crypto code and the AVX2 paths.
 * Both give bit-identical results; the choice only changes speed. The
 * environment variable UM_CRYPTO_PORTABLE=1 (read once, on first use) or
 * um_crypto_force_portable(true) selects the portable code, for tests and
 * benchmarks. */
#ifndef UM_CRYPTO_CPU_H
#define UM_CRYPTO_CPU_H

#include <stdbool.h>

/* True when the AVX2 code may be used: the CPU and OS support it, and the
 * portable path is not forced. Cheap after the first call; thread safe. */
bool um_crypto_use_avx2(void);

/* Forces the portable path (true) or returns to automatic selection (false,
 * which still honours the CPU but no longer the environment variable). */
void um_crypto_force_portable(bool portable);

#endif
