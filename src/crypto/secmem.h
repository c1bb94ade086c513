/* SPDX-License-Identifier: MIT */
/* Buffers for secrets: kept out of swap where the OS permits (mlock is best
 * effort: RLIMIT_MEMLOCK or a container may refuse it, and that is not an
 * error) and always zeroed when released. */
#ifndef UM_CRYPTO_SECMEM_H
#define UM_CRYPTO_SECMEM_H

#include <stddef.h>

/* Zeroed, page-guarded allocation (libsodium's sodium_malloc), locked in
 * memory when permitted. Returns NULL when out of memory. The caller owns
 * the buffer and releases it with um_secmem_free(). */
void *um_secmem_alloc(size_t len);
/* Zeroes and frees a buffer from um_secmem_alloc(); NULL is a no-op. */
void um_secmem_free(void *ptr);

/* Best-effort mlock of caller memory: 0 if locked, -errno if the OS refused
 * (the caller carries on either way). Locks do not nest: unlocking any range
 * unlocks its whole pages, so lock long-lived objects, not stack scraps. */
int um_secmem_lock(void *ptr, size_t len);
/* Zeroes the range, then unlocks it (harmless if it was never locked). */
void um_secmem_unlock(void *ptr, size_t len);

#endif
